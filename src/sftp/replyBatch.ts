/**
 * Small replies wait for the end of the current turn of the event loop and go on as one send.
 *
 * An upload's WRITEs finish in the thread pool, and libuv hands their completions to the main
 * thread together, but each completion is its own callback: sent at once, every 28-byte STATUS
 * was its own SSH packet, its own AES-GCM call and its own socket write (16,384 of each per
 * 512 MiB; the socket writes alone were 18% of the server's CPU). Batched, one packet carries
 * the STATUS replies of one turn. `setImmediate` runs after the poll phase that delivered those
 * completions, so a reply waits microseconds, not a timer.
 *
 * Order is kept: a reply too large to batch first sends the batch ahead of it.
 */

/** Replies up to this size are batched (STATUS, HANDLE, ATTRS, short NAME lists). */
export const SMALL_REPLY = 1024;
/** A batch goes as soon as it reaches this size: one SSH packet for OpenSSH's 32 KiB maximum. */
export const BATCH_LIMIT = 32 * 1024;

export class ReplyBatch {
  private parts: Buffer[] = [];
  private bytes = 0;
  private timer: NodeJS.Immediate | undefined;

  /** `transmit` sends one buffer (one or more whole replies, in order). */
  constructor(private readonly transmit: (data: Buffer) => void) {}

  /** Bytes waiting in the batch. */
  get pending(): number {
    return this.bytes;
  }

  send(reply: Buffer): void {
    if (reply.length > SMALL_REPLY) {
      this.flush();
      this.transmit(reply);
      return;
    }
    if (this.bytes + reply.length > BATCH_LIMIT) this.flush();
    this.parts.push(reply);
    this.bytes += reply.length;
    this.timer ??= setImmediate(this.flush);
  }

  /** Sends what is batched now (before a large reply, a close, or at the end of the turn). */
  readonly flush = (): void => {
    if (this.timer) clearImmediate(this.timer);
    this.timer = undefined;
    if (this.parts.length === 0) return;
    const parts = this.parts;
    const bytes = this.bytes;
    this.parts = [];
    this.bytes = 0;
    this.transmit(parts.length === 1 ? parts[0] : Buffer.concat(parts, bytes));
  };

  /** Forgets what is batched (the channel is gone). */
  drop(): void {
    if (this.timer) clearImmediate(this.timer);
    this.timer = undefined;
    this.parts = [];
    this.bytes = 0;
  }
}
