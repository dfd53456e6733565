/**
 * The client's byte stream as the SCP sink and source read it: a status byte, a `\n`-terminated
 * line, or up to N bytes of file data. Chunks wait here until read; past {@link HIGH_WATER}
 * buffered bytes the channel window is held shut (the client can then send at most what is left
 * of it), and reopened once the reader has caught up, so memory per transfer stays bounded
 * however fast the client sends and however slow the filesystem is.
 */

/** Buffered bytes above which the client's window is held. */
export const HIGH_WATER = 1024 * 1024;
const LOW_WATER = HIGH_WATER / 2;

/** The stream ended inside a line or the session is over; `message` is what the client is told. */
export class InputEndedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputEndedError';
  }
}

export class InputBuffer {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private ended = false;
  private failure?: Error;
  private wake?: () => void;
  private held = false;
  /** Bytes received so far (progress, for the stall timer). */
  received = 0;

  constructor(private readonly hold: (hold: boolean) => void) {}

  /** Bytes waiting to be read. */
  get buffered(): number {
    return this.size;
  }

  /** Channel data from the client. */
  push(chunk: Buffer): void {
    if (this.ended || this.failure || chunk.length === 0) return;
    this.chunks.push(chunk);
    this.size += chunk.length;
    this.received += chunk.length;
    if (!this.held && this.size >= HIGH_WATER) this.setHold(true);
    this.notify();
  }

  /** The client sent EOF. */
  end(): void {
    this.ended = true;
    this.notify();
  }

  /** The session is over: pending and later reads fail with `err`; buffered data is dropped. */
  abort(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    this.chunks.length = 0;
    this.size = 0;
    if (this.held) this.setHold(false);
    this.notify();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private setHold(hold: boolean): void {
    this.held = hold;
    this.hold(hold);
  }

  private async more(): Promise<void> {
    if (this.failure) throw this.failure;
    await new Promise<void>((resolve) => (this.wake = resolve));
    if (this.failure) throw this.failure;
  }

  private consumed(n: number): void {
    this.size -= n;
    if (this.held && this.size < LOW_WATER) this.setHold(false);
  }

  /** One byte, or undefined at EOF. */
  async byte(): Promise<number | undefined> {
    for (;;) {
      if (this.failure) throw this.failure;
      if (this.size > 0) {
        const head = this.chunks[0];
        const b = head[0];
        if (head.length === 1) this.chunks.shift();
        else this.chunks[0] = head.subarray(1);
        this.consumed(1);
        return b;
      }
      if (this.ended) return undefined;
      await this.more();
    }
  }

  /**
   * A line without its `\n`, or undefined at EOF before its first byte.
   * @throws InputEndedError "protocol error: lost connection" at EOF inside the line; "line too long" past `max` bytes
   */
  async line(max: number): Promise<Buffer | undefined> {
    for (;;) {
      if (this.failure) throw this.failure;
      let scanned = 0;
      for (let i = 0; i < this.chunks.length; i++) {
        const nl = this.chunks[i].indexOf(0x0a);
        if (nl >= 0) {
          if (scanned + nl + 1 > max) throw new InputEndedError('protocol error: line too long');
          return this.take(scanned + nl + 1).subarray(0, scanned + nl);
        }
        scanned += this.chunks[i].length;
      }
      if (scanned >= max) throw new InputEndedError('protocol error: line too long');
      if (this.ended) {
        if (this.size === 0) return undefined;
        throw new InputEndedError('protocol error: lost connection');
      }
      await this.more();
    }
  }

  /** Between 1 and `max` bytes (whatever is buffered, up to `max`), or undefined at EOF. */
  async data(max: number): Promise<Buffer | undefined> {
    for (;;) {
      if (this.failure) throw this.failure;
      if (this.size > 0) return this.take(Math.min(max, this.size));
      if (this.ended) return undefined;
      await this.more();
    }
  }

  private take(n: number): Buffer {
    const head = this.chunks[0];
    let out: Buffer;
    if (head.length >= n) {
      out = head.subarray(0, n);
      if (head.length === n) this.chunks.shift();
      else this.chunks[0] = head.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let filled = 0;
      while (filled < n) {
        const c = this.chunks[0];
        const k = Math.min(c.length, n - filled);
        c.copy(out, filled, 0, k);
        filled += k;
        if (k === c.length) this.chunks.shift();
        else this.chunks[0] = c.subarray(k);
      }
    }
    this.consumed(n);
    return out;
  }
}
