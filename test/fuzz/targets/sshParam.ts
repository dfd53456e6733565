/**
 * getSSHParam / getSSHParamBytes / setSSHParam (src/packet): the layouts of CHANNEL_OPEN and
 * CHANNEL_REQUEST payloads handed to applications, which read client bytes by field name.
 * Contract:
 * - any payload, tagged with any layout the daemon uses or untagged, and any field name: the result
 *   is a string, or SSHDaemonError UnknownField (130) / MalformedPayload (131); nothing else;
 * - getSSHParam is the text of getSSHParamBytes (decimal, 'true'/'false', hex, UTF-8);
 * - the positional fields '#0'..'#n-1' re-encode to exactly the payload (nothing skipped or read twice),
 *   and, in a payload tagged with its layout, a named field is one of them;
 * - setSSHParam: throws only InvalidFieldValue (132); never changes its input; a channel request
 *   built field by field reads back to the values given; an mpint is the minimal two's complement
 *   (RFC 4251 section 5) of its value; 'i'/'l'/'b' take 0..max in decimal or 0x-hex.
 */
import { ErrorCodes, type SSHDaemonError } from '../../../src/errors/SSHDaemonError';
import {
  CHANNEL_OPEN_FIELDS,
  CHANNEL_REQUEST_FIELDS,
  CHANNEL_REQUEST_HEADER,
  type PayloadLayout,
  tagPayload,
} from '../../../src/packet/layouts';
import { getSSHParam, getSSHParamBytes, setSSHParam, type SSHParamFieldType } from '../../../src/packet/sshParam';
import { check, daemonError, describe, refusedOnly, split } from './contract';

const REQUEST_TYPES = Object.keys(CHANNEL_REQUEST_FIELDS);
// Names of Object.prototype members too: client-chosen names must not reach the prototype.
const OPEN_TYPES = [...Object.keys(CHANNEL_OPEN_FIELDS), 'x-unknown@example.com', 'constructor', '__proto__'];
const NAMES = [
  ...new Set(
    [...CHANNEL_REQUEST_HEADER, ...Object.values(CHANNEL_REQUEST_FIELDS).flat(), ...Object.values(CHANNEL_OPEN_FIELDS).flat()].map(
      (f) => f.name,
    ),
  ),
  ...Array.from({ length: 12 }, (_, i) => `#${i}`),
  'command',
  'COMMAND',
  '#',
  '#-1',
  '#1e3',
  '__proto__',
  'constructor',
  'toString',
];
const readRefusal = daemonError(ErrorCodes.UnknownField, ErrorCodes.MalformedPayload);

function layoutFor(mode: number): PayloadLayout | undefined {
  const pick = mode >> 2;
  if (pick % 3 === 0) return undefined;
  if (pick % 3 === 1) return { kind: 'channel-request' };
  return { kind: 'channel-open', channelType: OPEN_TYPES[(pick >> 2) % OPEN_TYPES.length] };
}

function text(type: string, raw: Buffer): string | undefined {
  switch (type) {
    case 'uint32':
      return String(raw.readUInt32BE(0));
    case 'boolean':
      return raw[0] ? 'true' : 'false';
    case 'byte':
      return String(raw[0]);
    default:
      return undefined;
  }
}

function readAll(payload: Buffer, extraName: string, tagged: boolean): void {
  const positional: Buffer[] = [];
  for (let i = 0; ; i++) {
    const r = refusedOnly(() => getSSHParamBytes(payload, `#${i}`), readRefusal, `getSSHParamBytes('#${i}')`);
    if ('error' in r) {
      if ((r.error as SSHDaemonError).code === ErrorCodes.MalformedPayload) {
        check(i === 0, 'a malformed payload is refused for every field, not from some index on');
        for (const name of tagged ? NAMES : []) {
          const e = refusedOnly(() => getSSHParam(payload, name), readRefusal, `getSSHParam('${name}')`);
          check(
            'error' in e && (e.error as SSHDaemonError).code === ErrorCodes.MalformedPayload,
            `a malformed payload gave a value for '${name}'`,
          );
        }
        return;
      }
      break;
    }
    positional.push(r.value);
    check(i < payload.length + 1, 'more fields than bytes');
  }
  // Re-encode: every field but a trailing unstructured tail is length-prefixed or fixed-size; try
  // both readings and require one to rebuild the payload exactly.
  const rebuilt = reencode(payload, positional);
  check(rebuilt, () => `the positional fields do not re-encode to the payload (${positional.length} fields of ${payload.length} bytes)`);
  for (const name of [...NAMES, extraName]) {
    const bytes = refusedOnly(() => getSSHParamBytes(payload, name), readRefusal, `getSSHParamBytes('${name}')`);
    const value = refusedOnly(() => getSSHParam(payload, name), readRefusal, `getSSHParam('${name}')`);
    check('value' in bytes === 'value' in value, `getSSHParam and getSSHParamBytes disagree on whether '${name}' exists`);
    if (!('value' in bytes) || !('value' in value)) continue;
    check(typeof value.value === 'string', 'a string');
    // An untagged payload's layout is guessed from the field name (an open-only name reads it as a
    // CHANNEL_OPEN), so only a tagged payload's named fields must be among its positional ones.
    if (tagged)
      check(
        positional.some((p) => p.equals(bytes.value)),
        `field '${name}' is none of the positional fields`,
      );
  }
}

/** Whether the fields, each read as length-prefixed or as fixed-size raw bytes, rebuild the payload. */
function reencode(payload: Buffer, fields: Buffer[]): boolean {
  const failed = new Set<string>();
  const from = (i: number, offset: number): boolean => {
    if (i === fields.length) return offset === payload.length;
    if (failed.has(`${i}:${offset}`)) return false;
    const f = fields[i];
    const prefixed =
      offset + 4 + f.length <= payload.length &&
      payload.readUInt32BE(offset) === f.length &&
      payload.subarray(offset + 4, offset + 4 + f.length).equals(f);
    if (prefixed && from(i + 1, offset + 4 + f.length)) return true;
    if (f.length > 0 && payload.subarray(offset, offset + f.length).equals(f) && from(i + 1, offset + f.length)) return true;
    failed.add(`${i}:${offset}`);
    return false;
  };
  return from(0, 0);
}

/** RFC 4251 mpint: minimal two's complement, big-endian, zero as the empty string. */
function referenceMpint(n: bigint): Buffer {
  if (n === 0n) return Buffer.alloc(0);
  let bytes = 1;
  while (n < -(1n << BigInt(8 * bytes - 1)) || n >= 1n << BigInt(8 * bytes - 1)) bytes++;
  const hex = BigInt.asUintN(8 * bytes, n)
    .toString(16)
    .padStart(2 * bytes, '0');
  return Buffer.from(hex, 'hex');
}

class Cursor {
  private at = 0;
  constructor(private readonly b: Buffer) {}
  byte(): number {
    return this.at < this.b.length ? this.b[this.at++] : 0;
  }
  take(n: number): Buffer {
    const v = this.b.subarray(this.at, this.at + n);
    this.at += v.length;
    return v;
  }
  uint32(): number {
    return Buffer.concat([this.take(4), Buffer.alloc(4)]).readUInt32BE(0);
  }
  text(): string {
    return this.take(this.byte() % 48).toString('utf8');
  }
}

const TYPE_OF: Record<string, SSHParamFieldType> = {
  string: 's',
  uint32: 'i',
  boolean: 'f',
  bytes: 'sb',
  byte: 'b',
  uint64: 'l',
  mpint: 'm',
};
const setRefusal = daemonError(ErrorCodes.InvalidFieldValue);

function build(body: Buffer): void {
  const c = new Cursor(body);
  const requestType = REQUEST_TYPES[c.byte() % REQUEST_TYPES.length];
  const specs = [...CHANNEL_REQUEST_HEADER, ...CHANNEL_REQUEST_FIELDS[requestType]];
  let payload: Buffer | null = null;
  const expected: Array<[string, string]> = [];
  for (const spec of specs) {
    const type = TYPE_OF[spec.type];
    let value: string;
    let shown: string;
    if (spec.name === 'RequestType') value = shown = requestType;
    else if (type === 'i') {
      const n = c.uint32();
      value = c.byte() & 1 ? `0x${n.toString(16)}` : String(n);
      shown = String(n);
    } else if (type === 'f') shown = value = c.byte() & 1 ? 'true' : 'false';
    else if (type === 'sb') {
      const raw = c.take(c.byte() % 16);
      value = raw.toString('hex');
      shown = raw.toString('hex');
    } else value = shown = c.text();
    const before: Buffer | null = payload ? Buffer.from(payload) : null;
    const next: Buffer = setSSHParam(payload, type, value);
    check(!payload || payload.equals(before!), 'setSSHParam changed its input');
    payload = next;
    expected.push([spec.name, shown]);
  }
  const out = tagPayload(Buffer.from(payload!), { kind: 'channel-request' });
  for (const [name, shown] of expected) {
    const got = refusedOnly(
      () => getSSHParam(out, name),
      () => false,
      `getSSHParam('${name}') of a built request`,
    );
    check(
      'value' in got && got.value === shown,
      () =>
        `'${name}' was set to ${JSON.stringify(shown)} and read back as ${JSON.stringify('value' in got ? got.value : describe(got.error))}`,
    );
  }
  // Free-form values of every type: a refusal is InvalidFieldValue; an accepted value has its encoding.
  const type = (['s', 'sb', 'm', 'i', 'l', 'b', 'f', 'x', 'constructor', 'toString'] as const)[c.byte() % 10];
  const value = c.text();
  const r = refusedOnly(
    () => setSSHParam(null, type as SSHParamFieldType, value),
    setRefusal,
    `setSSHParam('${type}', ${JSON.stringify(value)})`,
  );
  if (!('value' in r)) return;
  const enc = r.value;
  const v = value.trim();
  const fixed = (max: bigint, size: number) => {
    check(/^(0x[0-9a-f]+|\d+)$/i.test(v), `'${type}' accepted ${JSON.stringify(value)}`);
    const n = BigInt(v);
    check(
      n <= max && enc.length === size && BigInt('0x' + enc.toString('hex')) === n,
      `'${type}' encoded ${JSON.stringify(value)} as ${enc.toString('hex')}`,
    );
  };
  if (type === 'i') fixed(0xffffffffn, 4);
  else if (type === 'l') fixed(0xffffffffffffffffn, 8);
  else if (type === 'b') fixed(255n, 1);
  else if (type === 'f')
    check(
      enc.length === 1 && enc[0] === (v.toLowerCase() === 'true' ? 1 : 0),
      `'f' encoded ${JSON.stringify(value)} as ${enc.toString('hex')}`,
    );
  else if (type === 'm') {
    const want = referenceMpint(BigInt(v));
    check(
      enc.readUInt32BE(0) === want.length && enc.subarray(4).equals(want),
      () => `mpint ${v} encoded as ${enc.toString('hex')}, RFC 4251 wants ${want.toString('hex')}`,
    );
  } else if (type === 's') check(enc.readUInt32BE(0) === enc.length - 4 && enc.subarray(4).toString('utf8') === value, 'string encoding');
  else if (type === 'sb') check(enc.subarray(4).toString('hex') === v.replace(/\s+/g, '').toLowerCase(), 'sb encoding');
  else check(false, `unknown field type '${type}' was accepted`);
}

export function fuzz(data: Buffer): void {
  const { mode, body } = split(data);
  if ((mode & 3) === 3) return build(body);
  const layout = layoutFor(mode);
  const payload = Buffer.from(body);
  if (layout) tagPayload(payload, layout);
  readAll(payload, body.subarray(0, 8).toString('latin1'), layout !== undefined);
  check(payload.equals(body), 'reading changed the payload');
}
