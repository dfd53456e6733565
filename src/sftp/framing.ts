/**
 * SFTP packet framing (draft-ietf-secsh-filexfer-02 §3: uint32 length, then the packet) over the
 * channel's data, which arrives in SSH packets that do not line up with SFTP packets.
 *
 * Every packet is copied once into a buffer of its own, and no view of the channel's data is kept
 * after `push()` returns: the connection may read the socket into one reused buffer
 * (src/engine/transientReads.ts), and a request that waits for the file system must not see its bytes
 * overwritten. When the file system is known to let go of WRITE data once the write has settled
 * (LocalFileSystem), packets go into buffers from process-wide pools that take them back when the
 * request finishes: OpenSSH's sftp uploads in 255 KiB WRITEs (the limits@openssh.com size), and an
 * upload then allocates nothing per packet, where it allocated each WRITE twice and V8 counts such
 * memory towards its next mark-compact (bench/notes.md, "The upload regime").
 *
 * Memory a client can make us hold before a packet's bytes arrive: one small pool buffer (33 KiB)
 * per channel for a length header; a longer packet takes a free pool buffer, or is kept as the copies
 * of what has arrived, never more. Only packets of at least half a pool buffer's size use one, so
 * a complete packet holds at most twice its bytes (the request limits count packet bytes).
 */

/** A free list of equal buffers, bounded in bytes (what it keeps is memory no request is using). */
export class BufferPool {
  private readonly free: Buffer[] = [];

  constructor(
    readonly size: number,
    private readonly maxFree: number,
  ) {}

  /** A free buffer, if there is one (no allocation). */
  take(): Buffer | undefined {
    return this.free.pop();
  }

  /** A buffer of the pool's size: a free one or a new one. */
  get(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafeSlow(this.size);
  }

  /** Takes back a buffer of this pool once nothing uses it. */
  give(buffer: Buffer): void {
    if (buffer.length === this.size && (this.free.length + 1) * this.size <= this.maxFree) this.free.push(buffer);
  }

  /** Bytes kept free. */
  get freeBytes(): number {
    return this.free.length * this.size;
  }
}

/** One WRITE of 32 KiB (OpenSSH without limits@openssh.com, WinSCP, rclone) with its header. */
export const SMALL_PACKET = 33 * 1024;
/** Free buffers kept per pool, process-wide. */
export const POOL_BYTES = 4 * 1024 * 1024;

/** A complete packet (without its length field) and the pool buffer it lives in, if any. */
export interface FramedPacket {
  packet: Buffer;
  pooled: Buffer | undefined;
}

export type FramingResult = FramedPacket | { tooLong: number } | undefined;

/** The packet being assembled: into one buffer, or as copies of its parts. */
interface Partial {
  length: number;
  buffer: Buffer | undefined;
  pooled: boolean;
  parts: Buffer[];
  /** Bytes used of the last part (it may have room for more). */
  tailUsed: number;
  filled: number;
}

/** Pieces of a packet without a buffer of its own are collected in parts of up to this size. */
const PART_SIZE = 16 * 1024;

export class SFTPFraming {
  private readonly header = Buffer.alloc(4);
  private headerFill = 0;
  private current: Partial | undefined;
  private readonly ready: FramedPacket[] = [];
  private failed: number | undefined;
  private readonly small: BufferPool;
  private readonly large: BufferPool;

  /** Raw input not framed yet: raw[rawStart, rawEnd). */
  private raw = Buffer.alloc(0);
  private rawStart = 0;
  private rawEnd = 0;

  /**
   * `maxLength`: the longest packet accepted; `pooling`: whether packets may use the pools (shared by
   * every framing with the same `maxLength`).
   */
  constructor(
    private readonly maxLength: number,
    private readonly pooling: boolean,
    /** Complete packets framed ahead of next(); the rest of the input waits as bytes. */
    private readonly maxReady = 32,
  ) {
    this.small = poolOf(SMALL_PACKET);
    this.large = poolOf(maxLength);
  }

  /** Takes a chunk of channel data; nothing of it is referenced once this returns. */
  push(chunk: Buffer): void {
    // Behind: the input waits as bytes, in order, until next() has room to frame it.
    if (this.rawEnd > this.rawStart || this.ready.length >= this.maxReady) return this.stash(chunk, 0);
    const stop = this.frame(chunk, 0, chunk.length);
    if (stop < chunk.length) this.stash(chunk, stop);
  }

  /** Input waiting for next() (packets, bytes not framed yet, or a length error): the session is behind. */
  get backlogged(): boolean {
    return this.ready.length > 0 || this.rawEnd > this.rawStart || this.failed !== undefined;
  }

  /** The next complete packet, `{ tooLong }` for a length out of range, or undefined until more data arrives. */
  next(): FramingResult {
    if (this.ready.length === 0 && this.rawEnd > this.rawStart) {
      this.rawStart = this.frame(this.raw, this.rawStart, this.rawEnd);
      if (this.rawStart === this.rawEnd) {
        this.rawStart = this.rawEnd = 0;
        // A burst's buffer (up to twice the window) is not kept for the channel's life.
        if (this.raw.length > 64 * 1024) this.raw = Buffer.alloc(0);
      }
    }
    const packet = this.ready.shift();
    if (packet) return packet;
    return this.failed === undefined ? undefined : { tooLong: this.failed };
  }

  /**
   * Frames `chunk[at, end)` into packets until `maxReady` are waiting; returns where it stopped. A
   * client's window of 9-byte requests framed at once held 25 times its bytes as parsed requests.
   */
  private frame(chunk: Buffer, at: number, end: number): number {
    while (at < end && this.failed === undefined && this.ready.length < this.maxReady) {
      let cur = this.current;
      if (!cur) {
        const n = Math.min(4 - this.headerFill, end - at);
        chunk.copy(this.header, this.headerFill, at, at + n);
        this.headerFill += n;
        at += n;
        if (this.headerFill < 4) return at;
        this.headerFill = 0;
        const length = this.header.readUInt32BE(0);
        if (length < 1 || length > this.maxLength) {
          this.failed = length;
          return end;
        }
        cur = this.current = { length, ...this.bufferFor(length), parts: [], tailUsed: 0, filled: 0 };
      }
      const n = Math.min(cur.length - cur.filled, end - at);
      if (cur.buffer) chunk.copy(cur.buffer, cur.filled, at, at + n);
      else this.collect(cur, chunk, at, n);
      cur.filled += n;
      at += n;
      if (cur.filled === cur.length) {
        this.current = undefined;
        this.ready.push(this.complete(cur));
      }
    }
    return this.failed === undefined ? at : end;
  }

  /**
   * Copies a piece of a packet that has no buffer of its own yet. Small pieces are merged into the
   * last part (up to PART_SIZE): a packet sent a byte per channel packet held one Buffer per byte.
   */
  private collect(cur: Partial, chunk: Buffer, at: number, n: number): void {
    const tail = cur.parts[cur.parts.length - 1];
    if (tail && cur.tailUsed + n <= tail.length) {
      chunk.copy(tail, cur.tailUsed, at, at + n);
      cur.tailUsed += n;
      return;
    }
    if (tail) cur.parts[cur.parts.length - 1] = tail.subarray(0, cur.tailUsed);
    const part = Buffer.allocUnsafe(Math.max(n, Math.min(PART_SIZE, cur.length - cur.filled)));
    chunk.copy(part, 0, at, at + n);
    cur.parts.push(part);
    cur.tailUsed = n;
  }

  /** Keeps `chunk[at..]` as raw input, after what waits already (one buffer, grown by doubling). */
  private stash(chunk: Buffer, at: number): void {
    const n = chunk.length - at;
    if (n === 0 || this.failed !== undefined) return;
    const waiting = this.rawEnd - this.rawStart;
    if (this.rawEnd + n > this.raw.length) {
      const target = waiting + n > this.raw.length ? Buffer.allocUnsafe(Math.max(4096, 2 * (waiting + n))) : this.raw;
      this.raw.copy(target, 0, this.rawStart, this.rawEnd);
      this.raw = target;
      this.rawStart = 0;
      this.rawEnd = waiting;
    }
    chunk.copy(this.raw, this.rawEnd, at);
    this.rawEnd += n;
  }

  /** A pool buffer whose packet is no longer used (its request has finished). */
  release(pooled: Buffer): void {
    (pooled.length === this.small.size ? this.small : this.large).give(pooled);
  }

  /** Forgets buffered input (the session ended). */
  clear(): void {
    this.current = undefined;
    this.headerFill = 0;
    this.ready.length = 0;
    this.raw = Buffer.alloc(0);
    this.rawStart = this.rawEnd = 0;
  }

  /** Where a packet of `length` bytes is assembled: a whole buffer now, or parts until it is complete. */
  private bufferFor(length: number): { buffer: Buffer | undefined; pooled: boolean } {
    // A pool buffer only for a packet of at least half its size: what a request holds stays within
    // twice its bytes (a 9-byte request in a 33 KiB buffer let 2 MiB of window hold 7.7 GB).
    if (length <= SMALL_PACKET)
      return this.pooling && length >= SMALL_PACKET / 2
        ? { buffer: this.small.get(), pooled: true }
        : { buffer: Buffer.allocUnsafe(length), pooled: false };
    // A large buffer only if one is free: a length header alone never makes us allocate 256 KiB.
    const free = this.pooling && length >= this.large.size / 2 ? this.large.take() : undefined;
    return { buffer: free, pooled: free !== undefined };
  }

  private complete(cur: Partial): FramedPacket {
    if (cur.buffer) return { packet: cur.buffer.subarray(0, cur.length), pooled: cur.pooled ? cur.buffer : undefined };
    cur.parts[cur.parts.length - 1] = cur.parts[cur.parts.length - 1].subarray(0, cur.tailUsed);
    // Pooling a packet of at least half the large size: assembled in a new pool buffer, which the pool
    // keeps when the request is done. Shorter ones get a buffer of their own length.
    const pool = this.pooling && cur.length >= this.large.size / 2;
    if (cur.parts.length === 1 && !pool) return { packet: cur.parts[0], pooled: undefined };
    const target = pool ? Buffer.allocUnsafeSlow(this.large.size) : Buffer.allocUnsafe(cur.length);
    let at = 0;
    for (const part of cur.parts) at += part.copy(target, at);
    return { packet: target.subarray(0, cur.length), pooled: pool ? target : undefined };
  }
}

const pools = new Map<number, BufferPool>();

/** The process-wide pool of `size`-byte buffers. */
function poolOf(size: number): BufferPool {
  let pool = pools.get(size);
  if (!pool) pools.set(size, (pool = new BufferPool(size, POOL_BYTES)));
  return pool;
}
