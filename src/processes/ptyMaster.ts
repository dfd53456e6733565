/**
 * The master side of a pseudo-terminal as two Node.js streams, without losing the end of the output.
 *
 * The trap (node-pty issues #72, #85, #726): a libuv stream on a pty master ends early. When the
 * last slave descriptor closes, the kernel raises POLLHUP while the program's last output may still
 * be on its way through the tty layer; libuv takes POLLHUP after a short read as end of file
 * (`uv__stream_io`), so up to a pipe's worth (about 4-16 KiB) of the tail is never read. node-pty's
 * own reader adds two more ways to lose it: a paused stream that reads EIO is destroyed with its
 * buffer, and 200 ms after the exit it destroys the socket whatever is left. Here:
 * - reads go through a tty.ReadStream in `onread` mode: nothing is buffered inside the socket, and
 *   pausing stops the reads at the handle (readStop), so a pause can never meet EIO;
 * - when libuv reports end of file, the rest is read with synchronous reads on the (non-blocking)
 *   descriptor until the kernel answers EIO, which it does only once every byte was delivered (after
 *   the slave closed a read returns data or EIO, never EAGAIN; `n_tty_read` flushes the tty buffers
 *   before it reports EIO). That tail is bounded: no process can write to the terminal any more.
 * - writes are synchronous non-blocking writes (a libuv TTY handle on a master falls back to
 *   blocking writes, which would stall the daemon on a program that does not read); EAGAIN retries
 *   after a short delay, and write() completes only when the bytes are in the terminal, so
 *   `pipe()` into it holds the channel's window while the program does not read.
 * The descriptor is closed once, by `close()`, after the reader stopped: no write can reach a
 * reused descriptor number.
 */
import { readSync, writeSync } from 'node:fs';
import { Readable, Writable } from 'node:stream';
import { ReadStream } from 'node:tty';

/** Bytes read per call. */
const READ_CHUNK = 64 * 1024;
/** First and longest wait before retrying a write the terminal had no room for (ms). */
const RETRY_FIRST_MS = 2;
const RETRY_MAX_MS = 50;

/** A tty.ReadStream that says when it is about to close its descriptor (Node closes it on a read error, before any event). */
class MasterSocket extends ReadStream {
  /** @internal */
  onClosing?: () => void;

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.onClosing?.();
    super._destroy(err, callback);
  }
}

/** The master side of a pty: `output` (the program's output, ending at EIO with nothing lost), `input` (keystrokes). */
export class PtyMaster {
  readonly output: Readable;
  readonly input: Writable;
  private readonly socket: MasterSocket;
  /** The descriptor is closed or closing: no read or write may use its number any more. */
  private closed = false;
  private retry?: { timer: NodeJS.Timeout; callback: () => void };

  constructor(private readonly fd: number) {
    const master = this;
    const scratch = Buffer.allocUnsafe(READ_CHUNK);
    let draining = false;
    this.output = new Readable({
      highWaterMark: READ_CHUNK,
      read() {
        if (!draining && !master.closed) master.socket.resume();
      },
      destroy(err, callback) {
        master.close();
        callback(err);
      },
    });
    this.socket = new MasterSocket(fd, {
      // Read EOF must not end (and close) the descriptor: the tail is read after it.
      allowHalfOpen: true,
      onread: {
        buffer: scratch,
        // false pauses the handle (readStop) until output's read() asks for more.
        callback: (n: number, buf: Buffer) => this.output.push(Buffer.from(buf.subarray(0, n))),
      },
    } as ConstructorParameters<typeof ReadStream>[1]);
    this.socket.onClosing = () => void (this.closed = true);
    this.socket.on('end', () => {
      draining = true;
      this.drainTail(scratch);
    });
    this.socket.on('error', (err: NodeJS.ErrnoException) => {
      // EIO: the slave is closed and everything was read. Anything else ends the output too.
      if (err.code === 'EIO') this.output.push(null);
      else this.output.destroy(err);
    });
    this.input = new Writable({
      highWaterMark: 16 * 1024,
      write: (chunk: Buffer, _encoding, callback) => this.writeAll(chunk, 0, RETRY_FIRST_MS, callback),
      destroy: (err, callback) => {
        this.stopRetry();
        callback(err);
      },
    });
    this.input.on('error', () => undefined); // input to a program that is gone is dropped
  }

  /** After libuv's early EOF: the rest, read until the kernel reports EIO (or end of file). */
  private drainTail(scratch: Buffer): void {
    try {
      for (;;) {
        if (this.closed) return;
        const n = readSync(this.fd, scratch, 0, scratch.length, null);
        if (n === 0) break;
        this.output.push(Buffer.from(scratch.subarray(0, n)));
      }
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') {
        // Not expected once the slave is closed; try again shortly rather than lose the rest.
        setTimeout(() => this.drainTail(scratch), RETRY_FIRST_MS);
        return;
      }
    }
    this.output.push(null);
  }

  private writeAll(chunk: Buffer, offset: number, wait: number, callback: (err?: Error | null) => void): void {
    while (offset < chunk.length) {
      if (this.closed) return callback(); // the terminal is gone: input is dropped
      try {
        offset += writeSync(this.fd, chunk, offset, chunk.length - offset);
        wait = RETRY_FIRST_MS;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'EAGAIN') return callback(); // EIO: nobody reads the terminal any more
        // The terminal's input buffer is full (the program does not read): retry after a while;
        // meanwhile write() stays pending, so the channel's window is held.
        const timer = setTimeout(() => {
          this.retry = undefined;
          this.writeAll(chunk, offset, Math.min(RETRY_MAX_MS, wait * 2), callback);
        }, wait);
        this.retry = { timer, callback: () => callback() };
        return;
      }
    }
    callback();
  }

  /** False once the descriptor is closed (or closing): its number may belong to another file by now. */
  get open(): boolean {
    return !this.closed;
  }

  /** Closes the master (the terminal hangs up); reading and writing stop. Idempotent. */
  close(): void {
    this.stopRetry();
    if (!this.socket.destroyed) this.socket.destroy(); // closes the descriptor
    this.closed = true;
    if (!this.output.readableEnded) this.output.push(null);
  }

  /** A write waiting for room completes (its bytes dropped): the terminal is gone. */
  private stopRetry(): void {
    const retry = this.retry;
    this.retry = undefined;
    if (!retry) return;
    clearTimeout(retry.timer);
    retry.callback();
  }
}
