import { ErrorCodes, SSHDaemonError } from '../errors/SSHDaemonError';
import {
  CHANNEL_OPEN_FIELDS,
  CHANNEL_REQUEST_FIELDS,
  CHANNEL_REQUEST_HEADER,
  type FieldSpec,
  isChannelOpenFieldName,
  type PayloadLayout,
  payloadLayout,
} from './layouts';
import { decodeMpint, encodeMpint, encodeString, encodeUint32, WireReader, type WireType } from './wire';

/** Field type codes accepted by {@link setSSHParam}, as in IPWorks. */
export type SSHParamFieldType = 's' | 'sb' | 'm' | 'i' | 'l' | 'b' | 'f';

interface DecodedField {
  readonly spec: FieldSpec;
  /** The field's bytes: string contents without the length prefix, or the fixed-size encoding. */
  readonly raw: Buffer;
}

/**
 * A table entry by a name that comes from outside (a client's request or channel type, a caller's
 * field type): own properties only, so that 'constructor' or '__proto__' is no entry.
 */
function ownEntry<T>(table: Readonly<Record<string, T>>, name: string): T | undefined {
  return Object.hasOwn(table, name) ? table[name] : undefined;
}

function guessLayout(payload: Buffer, field: string): PayloadLayout {
  if (isChannelOpenFieldName(field)) {
    const channelType = /socketpath|reserved/i.test(field) ? 'direct-streamlocal@openssh.com' : 'direct-tcpip';
    return { kind: 'channel-open', channelType };
  }
  void payload;
  return { kind: 'channel-request' };
}

/** Reads what follows a known layout: strings while they parse, then the rest as bytes. */
function readUnknownTail(r: WireReader, out: DecodedField[]): void {
  while (r.remaining >= 4) {
    const len = r.buf.readUInt32BE(r.offset);
    if (len > r.remaining - 4) break;
    out.push({ spec: { name: `#${out.length}`, type: 'string' }, raw: r.bytes() });
  }
  if (r.remaining > 0) out.push({ spec: { name: `#${out.length}`, type: 'bytes' }, raw: r.rest() });
}

function decodeFields(payload: Buffer, layout: PayloadLayout): DecodedField[] {
  const r = new WireReader(payload);
  const out: DecodedField[] = [];
  const readAll = (specs: readonly FieldSpec[]) => {
    for (const spec of specs) {
      if (r.remaining === 0) return;
      out.push({ spec, raw: r.raw(spec.type) });
    }
  };
  let known: readonly FieldSpec[] | undefined;
  if (layout.kind === 'channel-request') {
    readAll(CHANNEL_REQUEST_HEADER);
    const requestType = out[1]?.raw.toString('utf8') ?? '';
    known = ownEntry(CHANNEL_REQUEST_FIELDS, requestType);
  } else {
    known = ownEntry(CHANNEL_OPEN_FIELDS, layout.channelType);
  }
  if (known) readAll(known);
  readUnknownTail(r, out);
  return out;
}

function findField(payload: Buffer, field: string): DecodedField {
  if (!Buffer.isBuffer(payload) && !((payload as unknown) instanceof Uint8Array)) {
    throw new SSHDaemonError(ErrorCodes.InvalidArgument, 'getSSHParam: payload must be a Buffer or Uint8Array');
  }
  const buf = Buffer.isBuffer(payload) ? payload : Buffer.from(payload as Uint8Array);
  const layout = payloadLayout(buf) ?? guessLayout(buf, field);
  const fields = decodeFields(buf, layout);
  const positional = /^#(\d+)$/.exec(field);
  const found = positional ? fields[Number(positional[1])] : fields.find((f) => f.spec.name.toLowerCase() === field.toLowerCase());
  if (!found) {
    const names = fields.map((f) => f.spec.name).join(', ');
    throw new SSHDaemonError(
      ErrorCodes.UnknownField,
      `Unknown field '${field}' in this payload; it has: ${names || '(no fields)'} (or use '#0'..'#${Math.max(fields.length - 1, 0)}')`,
    );
  }
  return found;
}

const TEXT_OF: Record<WireType, (raw: Buffer) => string> = {
  string: (raw) => raw.toString('utf8'),
  bytes: (raw) => raw.toString('hex'),
  uint32: (raw) => String(raw.readUInt32BE(0)),
  uint64: (raw) => raw.readBigUInt64BE(0).toString(),
  byte: (raw) => String(raw[0]),
  boolean: (raw) => (raw[0] ? 'true' : 'false'),
  mpint: (raw) => decodeMpint(raw).toString(),
};

/**
 * Reads a named (case-insensitive) or positional (`'#0'`) field of a payload from an event:
 * numbers as decimal text, booleans as `'true'`/`'false'`, binary fields as hex.
 */
export function getSSHParam(payload: Buffer | Uint8Array, field: string): string {
  const f = findField(payload as Buffer, field);
  return TEXT_OF[f.spec.type](f.raw);
}

/** Reads a field's raw bytes (string contents without the length prefix, or the integer's encoding). */
export function getSSHParamBytes(payload: Buffer | Uint8Array, field: string): Buffer {
  return Buffer.from(findField(payload as Buffer, field).raw);
}

function parseInteger(value: string, fieldType: string, max: bigint): bigint {
  const text = value.trim();
  let n: bigint;
  try {
    if (!/^(0x[0-9a-f]+|\d+)$/i.test(text)) throw new Error('not a number');
    n = BigInt(text);
  } catch {
    throw new SSHDaemonError(
      ErrorCodes.InvalidFieldValue,
      `setSSHParam: '${value}' is not a valid value for field type '${fieldType}' (decimal or 0x-hex, 0..${max})`,
    );
  }
  if (n > max) {
    throw new SSHDaemonError(
      ErrorCodes.InvalidFieldValue,
      `setSSHParam: ${value} is out of range for field type '${fieldType}' (0..${max})`,
    );
  }
  return n;
}

const ENCODERS: Record<SSHParamFieldType, (value: string) => Buffer> = {
  s: (value) => encodeString(value),
  sb: (value) => {
    const hex = value.replace(/\s+/g, '');
    if (!/^([0-9a-f]{2})*$/i.test(hex)) {
      throw new SSHDaemonError(ErrorCodes.InvalidFieldValue, `setSSHParam: field type 'sb' takes hex text, got '${value}'`);
    }
    return encodeString(Buffer.from(hex, 'hex'));
  },
  m: (value) => {
    if (!/^-?\d+$/.test(value.trim())) {
      throw new SSHDaemonError(ErrorCodes.InvalidFieldValue, `setSSHParam: field type 'm' takes a decimal integer, got '${value}'`);
    }
    return encodeMpint(BigInt(value.trim()));
  },
  i: (value) => encodeUint32(Number(parseInteger(value, 'i', 0xffffffffn))),
  l: (value) => {
    const b = Buffer.allocUnsafe(8);
    b.writeBigUInt64BE(parseInteger(value, 'l', 0xffffffffffffffffn));
    return b;
  },
  b: (value) => Buffer.from([Number(parseInteger(value, 'b', 255n))]),
  f: (value) => {
    const v = value.trim().toLowerCase();
    if (v !== 'true' && v !== 'false') {
      throw new SSHDaemonError(ErrorCodes.InvalidFieldValue, `setSSHParam: field type 'f' takes 'true' or 'false', got '${value}'`);
    }
    return Buffer.from([v === 'true' ? 1 : 0]);
  },
};

/**
 * Appends one encoded field to `payload` and returns the new buffer (the input is not modified).
 * Types: `s` string, `sb` bytes given as hex, `m` mpint, `i` uint32, `l` uint64, `b` byte, `f` boolean.
 */
export function setSSHParam(
  payload: Buffer | Uint8Array | null | undefined,
  fieldType: SSHParamFieldType,
  value: string | number | boolean | bigint,
): Buffer {
  const encode = ownEntry(ENCODERS, fieldType);
  if (!encode) {
    throw new SSHDaemonError(
      ErrorCodes.InvalidFieldValue,
      `setSSHParam: unknown field type '${String(fieldType)}' (valid: ${Object.keys(ENCODERS).join(', ')})`,
    );
  }
  const head = payload ? Buffer.from(payload) : Buffer.alloc(0);
  return Buffer.concat([head, encode(String(value))]);
}
