import { Duplex, Writable } from 'node:stream';
import { ErrorCodes, SSHDaemonError } from '../errors/SSHDaemonError';
import { markHandled } from '../errors/unawaited';
import { exitSignalPayload, exitStatusPayload } from '../packet/messages';
import { type ChannelState, QUEUED_ITEM_COST } from './ChannelState';

/** Options of {@link SSHDaemon.channelStream}, read when the stream is first made. */
export interface ChannelStreamOptions {
  /**
   * Bytes of client data the readable side buffers before the client's window is held (default
   * 64 KiB); the client may still send what is left of its window (at most 2 MiB).
   */
  readableHighWaterMark?: number;
  /**
   * Bytes the writable sides (stdout and `.stderr`) buffer before `write()` returns false (default
   * 64 KiB). What they buffer counts against `OutBufferHardLimit` (16 MiB), so keep it well below that.
   */
  writableHighWaterMark?: number;
}

/** How `signal()` describes the end of a program killed by a signal (RFC 4254 6.10 `exit-signal`). */
export interface ExitSignalOptions {
  /** A core dump was written (default false). */
  coreDumped?: boolean;
  /** A message for the user (default ''). */
  message?: string;
}

const DEFAULT_HIGH_WATER = 64 * 1024;

/** One writable direction's progress, so that exit() waits for what was written before it. */
interface WriteProgress {
  /** Bytes handed to the channel's queue so far. */
  passed: number;
  /** Bytes whose write callback ran. */
  completed: number;
  /** write() calls so far, and the writes handed to the channel: the difference waits in the buffer. */
  writes: number;
  writesPassed: number;
}

/**
 * The writable side of `.stderr`: a write that leaves the buffer above its high-water mark has the
 * channel check what waits against OutBufferHardLimit (the stream's own buffer counts, as sends do).
 */
class StderrWritable extends Writable {
  /** @internal */
  onBuffered?: () => void;
  /** @internal */
  onWrite?: () => void;

  override write(
    chunk: unknown,
    encoding?: BufferEncoding | ((error: Error | null | undefined) => void),
    callback?: (error: Error | null | undefined) => void,
  ): boolean {
    this.onWrite?.();
    const ok = super.write(chunk, encoding as BufferEncoding, callback);
    if (!ok) this.onBuffered?.();
    return ok;
  }
}

/**
 * A channel as a Node.js `Duplex`, made by {@link SSHDaemon.channelStream}.
 *
 * - Readable side: the client's data (extended data from the client is not part of it), ending at
 *   the client's EOF. Backpressure reaches the client: while the buffer is above
 *   `readableHighWaterMark` the channel's window is not reopened. Once a stream is taken, data and
 *   EOF go to it instead of `SSHChannelDataIn` / `SSHChannelEOF`.
 * - Writable side: channel data (stdout); a write completes when it is handed to the transport, so
 *   `write()` returns false past `writableHighWaterMark` while the client's window or the socket is
 *   full. `.stderr` is a Writable for extended data (stderr).
 * - `end()` sends EOF after what was written; when `.stderr` is in use (written to or piped into),
 *   only once it has ended too, since no extended data may follow EOF (sshd waits for the program's
 *   stderr the same way). `exit(code)` / `signal(name)` send `exit-status` /
 *   `exit-signal` after everything written before (on both sides), then EOF and CLOSE.
 * - `destroy()` (also by `pipeline()` on an error) closes the channel: CLOSE after the output already
 *   handed to the channel. When the client closes the channel, the stream ends and emits `close`.
 */
export class ChannelStream extends Duplex {
  /** Extended data (stderr, RFC 4254 5.2 type 1). */
  readonly stderr: Writable;
  private readonly out: WriteProgress = { passed: 0, completed: 0, writes: 0, writesPassed: 0 };
  private readonly err: WriteProgress = { passed: 0, completed: 0, writes: 0, writesPassed: 0 };
  /** exit() / signal() waiting for earlier writes: what each side must have passed first. */
  private ending?: { out: number; err: number; send: () => void };
  private inputEnded = false;
  private outEnded = false;
  private errEnded = false;
  /** `.stderr` was written to or piped into: EOF then also waits for its end (as sshd waits for the program's stderr). */
  private errUsed = false;
  /** The channel finished while input was still buffered: writes are dropped, the stream goes once read. */
  private lingering = false;

  /** @internal */
  constructor(
    private readonly state: ChannelState,
    options: ChannelStreamOptions = {},
  ) {
    super({
      allowHalfOpen: true,
      autoDestroy: false,
      readableHighWaterMark: options.readableHighWaterMark ?? DEFAULT_HIGH_WATER,
      writableHighWaterMark: options.writableHighWaterMark ?? DEFAULT_HIGH_WATER,
    });
    const stream = this;
    const stderr = new StderrWritable({
      highWaterMark: options.writableHighWaterMark ?? DEFAULT_HIGH_WATER,
      write(chunk: Buffer, _encoding, callback) {
        stream.errUsed = true;
        stream.err.writesPassed++;
        stream.pass(chunk, 1, stream.err, callback);
      },
      writev(chunks, callback) {
        stream.errUsed = true;
        stream.err.writesPassed += chunks.length;
        stream.passAll(chunks, 1, stream.err, callback);
      },
      final(callback) {
        stream.errEnded = true;
        stream.maybeEof();
        callback();
      },
    });
    stderr.onWrite = () => void this.err.writes++;
    stderr.onBuffered = () => state.checkBacklog();
    this.stderr = stderr;
    this.stderr.on('pipe', () => (this.errUsed = true));
    this.stderr.on('error', () => undefined); // reported on the stream itself through the channel
    // A writer that ignores write()'s return value is bounded like one that ignores sendChannelData's promise.
    state.outputBuffered = () => this.buffered(this, this.out) + this.buffered(this.stderr, this.err);
  }

  /** What waits in one writable side's buffer, not yet handed to the channel: bytes plus a cost per write. */
  private buffered(side: Writable, progress: WriteProgress): number {
    const bytes = side.writableLength - (progress.passed - progress.completed);
    const writes = progress.writes - progress.writesPassed;
    return Math.max(0, bytes) + Math.max(0, writes) * QUEUED_ITEM_COST;
  }

  /** The channel's id. */
  get channelId(): string {
    return this.state.id;
  }

  // ---- from the channel -----------------------------------------------------------------------

  /** @internal Client data. */
  deliverData(data: Buffer): void {
    if (this.destroyed || this.inputEnded) return;
    if (!this.push(data)) this.state.holdWindow(true);
  }

  /** @internal The client's EOF. */
  deliverEnd(): void {
    if (this.inputEnded) return;
    this.inputEnded = true;
    if (!this.destroyed) this.push(null);
  }

  /** @internal The channel is closed both ways. */
  channelClosed(): void {
    if (this.destroyed) return;
    const reading = this.listenerCount('data') > 0 || this.listenerCount('readable') > 0;
    if (this.inputEnded && this.readableLength > 0 && !this.readableEnded && reading) {
      // Input a reader has not taken yet is still delivered (as sshd drains it after a CLOSE).
      this.lingering = true;
      this.once('end', () => this.destroy());
      return;
    }
    this.destroy();
  }

  // ---- Duplex ----------------------------------------------------------------------------------

  /** @internal */
  override _read(): void {
    this.state.holdWindow(false);
  }

  /**
   * Writes channel data (stdout), as `Writable.write`. Past `writableHighWaterMark` it returns false;
   * a writer that goes on regardless is bounded by `OutBufferHardLimit`, as unawaited sends are: what
   * waits in this buffer and `.stderr`'s counts with the channel's queue (`Error` 1022 past it).
   */
  override write(
    chunk: unknown,
    encoding?: BufferEncoding | ((error: Error | null | undefined) => void),
    callback?: (error: Error | null | undefined) => void,
  ): boolean {
    this.out.writes++;
    const ok = super.write(chunk, encoding as BufferEncoding, callback);
    if (!ok) this.state.checkBacklog();
    return ok;
  }

  /** @internal */
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.out.writesPassed++;
    this.pass(chunk, 0, this.out, callback);
  }

  /** @internal */
  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    this.out.writesPassed += chunks.length;
    this.passAll(chunks, 0, this.out, callback);
  }

  /** @internal */
  override _final(callback: (error?: Error | null) => void): void {
    this.outEnded = true;
    this.maybeEof();
    callback();
  }

  /** EOF once stdout has ended, and stderr too if it is in use: no extended data may follow EOF. */
  private maybeEof(): void {
    if (this.outEnded && (this.errEnded || !this.errUsed) && !this.lingering) this.state.eof();
  }

  /** @internal */
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.ending = undefined;
    if (!this.state.finished && !this.state.closingOrClosed) markHandled(this.state.close());
    this.stderr.destroy();
    callback(error);
  }

  /** Hands one chunk to the channel; the write completes once the transport has it. */
  private pass(chunk: Buffer, extended: number, progress: WriteProgress, callback: (error?: Error | null) => void): void {
    if (this.lingering) return callback();
    const n = chunk.length;
    const sent = this.state.send(chunk, extended);
    progress.passed += n;
    this.checkEnding();
    sent.then(
      () => {
        progress.completed += n;
        callback();
      },
      (err: Error) => {
        progress.completed += n;
        // The client closed the channel: nobody can receive this any more, which is no error of the writer.
        callback(this.state.closeReceived ? null : err);
      },
    );
  }

  /** Many buffered writes (a shell's small outputs) cost one queue entry, not one each. */
  private passAll(
    chunks: ReadonlyArray<{ chunk: Buffer }>,
    extended: number,
    progress: WriteProgress,
    callback: (error?: Error | null) => void,
  ): void {
    this.pass(Buffer.concat(chunks.map((c) => c.chunk)), extended, progress, callback);
  }

  // ---- the end of the program ------------------------------------------------------------------

  /**
   * The program exited with `code`: sends `exit-status` (RFC 4254 6.10) after everything written
   * before (stdout and `.stderr`, also what still waits in their buffers), then EOF and CLOSE.
   * Writing afterwards is an error, as after `end()`.
   */
  exit(code: number): this {
    if (!Number.isInteger(code) || code < 0 || code > 0xffffffff) {
      throw new SSHDaemonError(ErrorCodes.InvalidArgument, `exit(code): code must be an integer from 0 to 4294967295, got ${code}`);
    }
    return this.finishWith(() => exitStatusPayload(this.state.remoteId, code));
  }

  /**
   * The program was killed by `name` (`'TERM'` or `'SIGTERM'`; RFC 4254 6.10 `exit-signal`), after
   * everything written before, then EOF and CLOSE. OpenSSH's `ssh` then exits with 255.
   */
  signal(name: string, options: ExitSignalOptions = {}): this {
    if (typeof name !== 'string' || !/^(SIG)?[A-Z0-9@._-]+$/i.test(name)) {
      throw new SSHDaemonError(
        ErrorCodes.InvalidArgument,
        `signal(name): expected a signal name such as 'TERM', got ${JSON.stringify(name)}`,
      );
    }
    // Plain names are upper case ('term' is TERM); a name with a domain ('SIG@openssh.com') is kept as given.
    const wire = name.includes('@') ? name : name.toUpperCase();
    return this.finishWith(() => exitSignalPayload(this.state.remoteId, wire, options.coreDumped ?? false, options.message ?? ''));
  }

  private finishWith(payload: () => Buffer): this {
    if (this.ending || this.destroyed || this.state.closingOrClosed) return this;
    // What the writable buffers still hold has not reached the channel: wait until it has.
    const waitingOut = this.writableLength - (this.out.passed - this.out.completed);
    const waitingErr = this.stderr.writableLength - (this.err.passed - this.err.completed);
    this.ending = {
      out: this.out.passed + Math.max(0, waitingOut),
      err: this.err.passed + Math.max(0, waitingErr),
      send: () => {
        // The client may have closed the channel meanwhile (its CLOSE fails what is still queued):
        // nobody is left to tell, and an unhandled rejection would end the process.
        if (this.state.closeReceived || this.state.finished) return;
        markHandled(this.state.sendPacket(payload()));
        markHandled(this.state.close());
      },
    };
    if (!this.writableEnded) this.end();
    if (!this.stderr.writableEnded) this.stderr.end();
    this.checkEnding();
    return this;
  }

  private checkEnding(): void {
    const ending = this.ending;
    if (!ending || this.out.passed < ending.out || this.err.passed < ending.err) return;
    this.ending = undefined;
    ending.send();
  }
}

/**
 * The channel's stream, made on the first call (SSHDaemon.channelStream, built-in services): from
 * then on the channel's data and EOF go to it, and its input no longer waits for asynchronous
 * SSHChannelRequested handlers. Throws InvalidArgument when another service reads the channel.
 */
export function channelStreamOf(state: ChannelState, options?: ChannelStreamOptions): ChannelStream {
  if (state.stream) return state.stream as ChannelStream;
  if (state.consumer) throw new SSHDaemonError(ErrorCodes.InvalidArgument, `Channel ${state.id} is already served by a built-in service`);
  const stream = new ChannelStream(state, options);
  state.stream = stream;
  state.consumer = {
    ownsInput: true,
    data: (data, extended) => {
      if (extended === 0) stream.deliverData(data);
    },
    end: () => stream.deliverEnd(),
    closed: () => stream.channelClosed(),
  };
  if (state.eofReceived) stream.deliverEnd();
  state.releaseRequested();
  return stream;
}
