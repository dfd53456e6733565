/**
 * The SCP protocol's records, as OpenSSH's scp.c reads and writes them (there is no other spec):
 *
 * - `C<mode> <size> <name>\n` a file, followed by `size` bytes and one status byte;
 * - `D<mode> 0 <name>\n` ... `E\n` a directory and its end;
 * - `T<mtime> <usec> <atime> <usec>\n` the times of the next C or D (`-p`);
 * - acknowledgements: `\0` (ok), `\x01message\n` (error, go on), `\x02message\n` (fatal).
 *
 * `<mode>` is exactly four octal digits; names are bytes (decodeFileName), never empty, `.`, `..`
 * or holding `/` (OpenSSH refuses them since CVE-2018-20685). The parse errors use OpenSSH's
 * wording, so a client prints what it would print against OpenSSH.
 */
import { decodeFileName, encodeFileName } from '../sftp/fileNames';

/** The positive acknowledgement. */
export const ACK = Buffer.from([0]);
/** End of a directory. */
export const END_RECORD = Buffer.from('E\n', 'latin1');
/** Longest record or message line read, `\n` included (OpenSSH reads into 2048-byte buffers). */
export const MAX_LINE = 2048;
/** Longest message sent: OpenSSH's client reads at most 2047 bytes of one, the rest would desynchronise it. */
const MAX_MESSAGE = 1024;

/** A record from the peer. */
export type SCPRecord =
  | { kind: 'C' | 'D'; mode: number; size: number; name: string }
  | {
      kind: 'T';
      mtime: number;
      atime: number;
      /** false when a time is beyond what can be set (OpenSSH then ignores them). */ inRange: boolean;
    }
  | { kind: 'E' }
  | { kind: 'error'; fatal: boolean; message: string };

/** A fatal protocol violation; the message is what the client is told (after `scp: `). */
export class SCPProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SCPProtocolError';
  }
}

const protocolError = (why: string) => new SCPProtocolError(`protocol error: ${why}`);

/** Decimal digits at `at` of an ASCII header: the value and where it ends (value NaN when there are none). */
function digits(text: string, at: number): { value: number; end: number } {
  let end = at;
  while (end < text.length && text.charCodeAt(end) >= 0x30 && text.charCodeAt(end) <= 0x39) end++;
  return { value: end > at ? Number(text.slice(at, end)) : Number.NaN, end };
}

function parseTimes(text: string): SCPRecord {
  // T<mtime.sec> <mtime.usec> <atime.sec> <atime.usec>, each check as OpenSSH's sink.
  const steps: Array<[string, string, boolean]> = [
    ['mtime.sec not present', 'mtime.sec not delimited', true],
    ['mtime.usec not present', 'mtime.usec not delimited', false],
    ['atime.sec not present', 'atime.sec not delimited', true],
    ['atime.usec not present', 'atime.usec not delimited', false],
  ];
  const values: number[] = [];
  let at = 1;
  steps.forEach(([missing, undelimited, seconds], i) => {
    const { value, end } = digits(text, at);
    if (Number.isNaN(value)) throw protocolError(seconds ? missing : undelimited);
    if (!seconds && value > 999_999) throw protocolError(undelimited);
    const last = i === steps.length - 1;
    if (last ? end !== text.length : text[end] !== ' ') throw protocolError(undelimited);
    values.push(value);
    at = end + 1;
  });
  const [mtime, , atime] = values;
  return { kind: 'T', mtime, atime, inRange: Number.isSafeInteger(mtime) && Number.isSafeInteger(atime) };
}

function parseFileOrDir(line: Buffer): SCPRecord {
  // The header is ASCII; the name is everything after the second space, as bytes.
  const headerEnd = Math.min(line.length, 64);
  const text = line.subarray(0, headerEnd).toString('latin1');
  let mode = 0;
  for (let i = 1; i < 5; i++) {
    const c = text.charCodeAt(i);
    if (!(c >= 0x30 && c <= 0x37)) throw protocolError('bad mode');
    mode = (mode << 3) | (c - 0x30);
  }
  if (text[5] !== ' ') throw protocolError('mode not delimited');
  const size = digits(text, 6);
  if (Number.isNaN(size.value)) throw protocolError('size not present');
  // Digits running past the header we read: far beyond any off_t.
  if (size.end === headerEnd && line.length > headerEnd) throw protocolError('size out of range');
  if (text[size.end] !== ' ') throw protocolError('size not delimited');
  if (!Number.isSafeInteger(size.value)) throw protocolError('size out of range');
  const nameBytes = line.subarray(size.end + 1);
  const name = decodeFileName(nameBytes);
  if (nameBytes.length === 0 || nameBytes.includes(0x2f) || nameBytes.includes(0) || name === '.' || name === '..') {
    throw new SCPProtocolError(`error: unexpected filename: ${name}`);
  }
  return { kind: text[0] as 'C' | 'D', mode, size: size.value, name };
}

/**
 * Parses one record line (without its `\n`).
 * @throws SCPProtocolError as OpenSSH's sink would stop ("protocol error: bad mode", ...)
 */
export function parseRecord(line: Buffer): SCPRecord {
  if (line.length === 0) throw protocolError('unexpected <newline>');
  const kind = line[0];
  if (kind === 1 || kind === 2) return { kind: 'error', fatal: kind === 2, message: decodeFileName(line.subarray(1)) };
  if (kind === 0x45 /* E */) return { kind: 'E' };
  if (kind === 0x54 /* T */) return parseTimes(line.toString('latin1'));
  if (kind === 0x43 /* C */ || kind === 0x44 /* D */) return parseFileOrDir(line);
  throw protocolError('expected control record');
}

function octal4(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}

/**
 * `C<mode> <size> <name>\n` or `D<mode> 0 <name>\n`; undefined when the name cannot travel in a
 * record (a newline in it, or too long for the peer's line buffer).
 */
export function fileRecord(kind: 'C' | 'D', mode: number, size: number, name: string): Buffer | undefined {
  const nameBytes = encodeFileName(name);
  if (nameBytes.includes(0x0a)) return undefined;
  const line = Buffer.concat([Buffer.from(`${kind}${octal4(mode)} ${kind === 'D' ? 0 : size} `, 'latin1'), nameBytes, Buffer.from('\n')]);
  return line.length < MAX_LINE ? line : undefined;
}

/** `T<mtime> 0 <atime> 0\n` (whole seconds, as OpenSSH sends). */
export function timeRecord(mtime: number, atime: number): Buffer {
  const clamp = (t: number) => Math.max(0, Math.trunc(t));
  return Buffer.from(`T${clamp(mtime)} 0 ${clamp(atime)} 0\n`, 'latin1');
}

/** The bytes of a message: names as the bytes they stand for, other text as UTF-8. */
function messageBytes(text: string): Buffer {
  try {
    return encodeFileName(text);
  } catch {
    return Buffer.from(text, 'utf8');
  }
}

/** `\x01scp: message\n` (fatal false) or `\x02scp: message\n`: one line, at most 1 KiB, newlines blanked. */
export function errorRecord(fatal: boolean, message: string): Buffer {
  let body = messageBytes(`scp: ${message}`);
  if (body.length > MAX_MESSAGE) body = body.subarray(0, MAX_MESSAGE);
  const out = Buffer.alloc(body.length + 2);
  out[0] = fatal ? 2 : 1;
  body.copy(out, 1);
  for (let i = 1; i <= body.length; i++) if (out[i] === 0x0a || out[i] === 0x0d) out[i] = 0x20;
  out[out.length - 1] = 0x0a;
  return out;
}
