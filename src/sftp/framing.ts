/**
 * SFTP packet framing (draft-ietf-secsh-filexfer-02 §3: uint32 length, then the packet) over the
 * channel's data, which arrives in SSH packets that do not line up with SFTP packets.
 *
 * A packet inside one chunk is a view of it (no copy). A packet split over chunks, which is every
 * WRITE of an upload (32 KiB of data plus its header never fits OpenSSH's 32 KiB channel packets),
 * is copied once into a buffer of its own. When the file system is known to let go of WRITE data
 * once the write has settled (LocalFileSystem), those buffers come from a small pool and go back
 * when the request finishes: an upload then allocates no memory per packet, where it allocated a
 * 32 KiB ArrayBuffer per WRITE, and V8 counts such memory towards its next mark-compact
 * (bench/notes.md, "The upload regime").
 */

/** Pool buffers hold one WRITE of the largest size OpenSSH and WinSCP send, with its header. */
export const POOLED_PACKET_SIZE = 33 * 1024;
/** At most this many pooled buffers are kept free (64 WRITEs in flight is OpenSSH's default). */
export const PACKET_POOL_SIZE = 64;

export type FramingResult = { packet: Buffer; pooled: Buffer | undefined } | { tooLong: number } | undefined;

export class SFTPFraming {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private readonly pool: Buffer[] = [];

  /** `maxLength`: the longest packet accepted; `pooling`: whether split packets may use the pool. */
  constructor(
    private readonly maxLength: number,
    private readonly pooling: boolean,
  ) {}

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  /**
   * The next complete packet (without its length field), `{ tooLong }` for a length out of range,
   * or undefined until more data arrives. `pooled` is the pool buffer the packet lives in, to give
   * back with {@link release} once nothing uses the packet.
   */
  next(): FramingResult {
    if (this.buffered < 4) return undefined;
    const length = this.peekLength();
    if (length < 1 || length > this.maxLength) return { tooLong: length };
    if (this.buffered < 4 + length) return undefined;
    this.skip(4);
    const first = this.chunks[0];
    if (first.length >= length) {
      const packet = first.subarray(0, length);
      this.consume(length);
      return { packet, pooled: undefined };
    }
    const pooled =
      this.pooling && length <= POOLED_PACKET_SIZE ? (this.pool.pop() ?? Buffer.allocUnsafeSlow(POOLED_PACKET_SIZE)) : undefined;
    const packet = pooled ? pooled.subarray(0, length) : Buffer.allocUnsafe(length);
    let filled = 0;
    while (filled < length) {
      const c = this.chunks[0];
      const n = Math.min(c.length, length - filled);
      c.copy(packet, filled, 0, n);
      filled += n;
      this.consume(n);
    }
    return { packet, pooled };
  }

  /** A pool buffer whose packet is no longer used (its request has finished). */
  release(pooled: Buffer): void {
    if (this.pool.length < PACKET_POOL_SIZE) this.pool.push(pooled);
  }

  /** Forgets buffered input and the pool (the session ended). */
  clear(): void {
    this.chunks = [];
    this.buffered = 0;
    this.pool.length = 0;
  }

  private peekLength(): number {
    const first = this.chunks[0];
    if (first.length >= 4) return first.readUInt32BE(0);
    let value = 0;
    let got = 0;
    for (const c of this.chunks) {
      for (let i = 0; i < c.length && got < 4; i++, got++) value = value * 256 + c[i];
      if (got === 4) break;
    }
    return value;
  }

  private skip(n: number): void {
    while (n > 0) {
      const c = this.chunks[0];
      const k = Math.min(c.length, n);
      this.consume(k);
      n -= k;
    }
  }

  /** Drops n bytes (at most the first chunk's) from the front. */
  private consume(n: number): void {
    const c = this.chunks[0];
    if (n === c.length) this.chunks.shift();
    else this.chunks[0] = c.subarray(n);
    this.buffered -= n;
  }
}
