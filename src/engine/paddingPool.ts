/**
 * Random padding for outbound packets, drawn from one block of CSPRNG output instead of one
 * `randomFillSync` call per packet (RFC 4253 section 6: padding "SHOULD consist of random bytes").
 *
 * ssh2 calls `randomFillSync(packet, offset, padLen)` for every packet it builds: 4 to 19 bytes per
 * call, and the call's fixed cost (argument checks, a trip into OpenSSL) was 11% of the server's
 * time in a bulk download (bench/notes.md). Here a 64 KiB block is filled at once and consumed in
 * slices; every byte is handed out exactly once, then the block is refilled. Process-wide: bytes
 * are never reused, so sharing one block between connections gives none of them a byte another got.
 */
import { randomFillSync } from 'node:crypto';

/** A block of random bytes handed out in slices, each byte once. */
export class RandomPool {
  private readonly block: Buffer;
  private offset: number;

  /** `fill` refills the whole block (randomFillSync; tests pass their own to see the refills). */
  constructor(
    size = 64 * 1024,
    private readonly fill: (block: Buffer) => void = (b) => void randomFillSync(b),
  ) {
    this.block = Buffer.allocUnsafe(size);
    this.offset = size; // filled on first use: no randomness is drawn by a process that never sends
  }

  /** Writes `n` (at most the block size) fresh random bytes into `dst` at `at`. */
  copyTo(dst: Uint8Array, at: number, n: number): void {
    const block = this.block;
    if (n > block.length) throw new RangeError(`padding of ${n} bytes exceeds the pool block (${block.length})`);
    let p = this.offset;
    if (p + n > block.length) {
      this.fill(block);
      p = 0;
    }
    for (let i = 0; i < n; i++) dst[at + i] = block[p + i];
    this.offset = p + n;
  }
}

/** The pool every patched cipher of the process draws its padding from. */
export const paddingPool = new RandomPool();
