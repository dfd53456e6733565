/** SSH message encoding for the sshAuth and sshChannel targets, and a cursor over the fuzz input. */

export const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};
export const str = (s: Buffer | string): Buffer => {
  const b = typeof s === 'string' ? Buffer.from(s) : s;
  return Buffer.concat([u32(b.length), b]);
};
export const bool = (v: boolean): Buffer => Buffer.from([v ? 1 : 0]);
export const msg = (type: number, ...fields: Buffer[]): Buffer => Buffer.concat([Buffer.from([type]), ...fields]);

export const MSG = {
  IGNORE: 2,
  DEBUG: 4,
  SERVICE_REQUEST: 5,
  USERAUTH_REQUEST: 50,
  USERAUTH_INFO_RESPONSE: 61,
  GLOBAL_REQUEST: 80,
  CHANNEL_OPEN: 90,
  CHANNEL_WINDOW_ADJUST: 93,
  CHANNEL_DATA: 94,
  CHANNEL_EXTENDED_DATA: 95,
  CHANNEL_EOF: 96,
  CHANNEL_CLOSE: 97,
  CHANNEL_REQUEST: 98,
} as const;

/** Reads the fuzz input front to back; past its end every read gives zeros. */
export class Cursor {
  private at = 0;
  constructor(private readonly b: Buffer) {}
  get done(): boolean {
    return this.at >= this.b.length;
  }
  byte(): number {
    return this.at < this.b.length ? this.b[this.at++] : 0;
  }
  uint32(): number {
    return Buffer.concat([this.take(4), Buffer.alloc(4)]).readUInt32BE(0);
  }
  take(n: number): Buffer {
    const v = this.b.subarray(this.at, this.at + n);
    this.at += v.length;
    return v;
  }
  /** Up to `max` bytes, the count from the input. */
  bytes(max: number): Buffer {
    return this.take(this.byte() % (max + 1));
  }
  text(max: number): string {
    return this.bytes(max).toString('utf8');
  }
  pick<T>(items: readonly T[]): T {
    return items[this.byte() % items.length];
  }
  /** A value that is usually interesting for a uint32 field. */
  interesting(): number {
    return this.pick([0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 32768, 2 ** 21, this.uint32()]);
  }
}
