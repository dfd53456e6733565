import { ErrorCodes, SSHDaemonError } from '../errors/SSHDaemonError';

/** The SSH field types of RFC 4251 section 5, as named by SetSSHParam. */
export type WireType = 'string' | 'bytes' | 'uint32' | 'uint64' | 'byte' | 'boolean' | 'mpint';

function truncated(what: string): SSHDaemonError {
  return new SSHDaemonError(ErrorCodes.MalformedPayload, `Malformed SSH payload: truncated ${what}`);
}

/** Sequential reader over an SSH payload; throws SSHDaemonError on truncation. */
export class WireReader {
  offset: number;
  constructor(
    readonly buf: Buffer,
    offset = 0,
  ) {
    this.offset = offset;
  }
  get remaining(): number {
    return this.buf.length - this.offset;
  }
  uint32(): number {
    if (this.remaining < 4) throw truncated('uint32');
    const v = this.buf.readUInt32BE(this.offset);
    this.offset += 4;
    return v;
  }
  uint64(): bigint {
    if (this.remaining < 8) throw truncated('uint64');
    const v = this.buf.readBigUInt64BE(this.offset);
    this.offset += 8;
    return v;
  }
  byte(): number {
    if (this.remaining < 1) throw truncated('byte');
    return this.buf[this.offset++];
  }
  boolean(): boolean {
    return this.byte() !== 0;
  }
  bytes(): Buffer {
    const len = this.uint32();
    if (this.remaining < len) throw truncated('string');
    const v = this.buf.subarray(this.offset, this.offset + len);
    this.offset += len;
    return v;
  }
  string(): string {
    return this.bytes().toString('utf8');
  }
  rest(): Buffer {
    const v = this.buf.subarray(this.offset);
    this.offset = this.buf.length;
    return v;
  }
  /** Reads one field of the given type and returns its raw encoding (without length prefix for strings). */
  raw(type: WireType): Buffer {
    const start = this.offset;
    switch (type) {
      case 'string':
      case 'bytes':
      case 'mpint':
        return this.bytes();
      case 'uint32':
        this.uint32();
        break;
      case 'uint64':
        this.uint64();
        break;
      case 'byte':
      case 'boolean':
        this.byte();
        break;
    }
    return this.buf.subarray(start, this.offset);
  }
}

export function encodeUint32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n >>> 0, 0);
  return b;
}

export function encodeString(data: Buffer | string): Buffer {
  const body = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  return Buffer.concat([encodeUint32(body.length), body]);
}

/** Two's-complement big-endian mpint per RFC 4251. */
export function encodeMpint(value: bigint): Buffer {
  if (value === 0n) return encodeString(Buffer.alloc(0));
  const negative = value < 0n;
  let hex = (negative ? -value : value).toString(16);
  if (hex.length % 2) hex = '0' + hex;
  let bytes = Buffer.from(hex, 'hex');
  if (negative) {
    // two's complement: invert and add one
    const inv = Buffer.from(bytes.map((b) => ~b & 0xff));
    let carry = 1;
    for (let i = inv.length - 1; i >= 0 && carry; i--) {
      const s = inv[i] + carry;
      inv[i] = s & 0xff;
      carry = s >> 8;
    }
    bytes = inv[0] & 0x80 ? inv : Buffer.concat([Buffer.from([0xff]), inv]);
  } else if (bytes[0] & 0x80) {
    bytes = Buffer.concat([Buffer.from([0]), bytes]);
  }
  return encodeString(bytes);
}

export function decodeMpint(bytes: Buffer): bigint {
  if (bytes.length === 0) return 0n;
  const unsigned = BigInt('0x' + bytes.toString('hex'));
  return bytes[0] & 0x80 ? unsigned - (1n << BigInt(bytes.length * 8)) : unsigned;
}
