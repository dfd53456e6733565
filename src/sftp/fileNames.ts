/**
 * File names as bytes, carried in strings without loss.
 *
 * SFTP v3 and SCP names are byte strings, and a POSIX file name is any bytes but `/` and NUL:
 * `caf\xe9.txt` (Latin-1, as FileZilla with a legacy charset writes it) is a real name that is not
 * UTF-8. The filesystem interface keeps `string` paths, so such bytes are carried as Python's
 * `surrogateescape` does (PEP 383): every byte of an ill-formed UTF-8 sequence becomes the lone
 * surrogate U+DC80-U+DCFF, valid UTF-8 decodes as usual. The mapping is one-to-one: no valid UTF-8
 * sequence decodes to a lone surrogate, so {@link encodeFileName} gives back the exact bytes. See
 * docs/decisions.md.
 */

const ESCAPE_BASE = 0xdc00;

function isContinuation(b: number | undefined): boolean {
  return b !== undefined && (b & 0xc0) === 0x80;
}

/** Length of the well-formed UTF-8 sequence at `i` (Unicode Table 3-7), or 0 when ill-formed. */
function sequenceLength(bytes: Uint8Array, i: number): number {
  const b0 = bytes[i];
  if (b0 < 0x80) return 1;
  const b1 = bytes[i + 1];
  if (b0 >= 0xc2 && b0 <= 0xdf) return isContinuation(b1) ? 2 : 0;
  const b2 = bytes[i + 2];
  if (b0 >= 0xe0 && b0 <= 0xef) {
    if (b1 === undefined) return 0;
    const lowOk = b0 === 0xe0 ? b1 >= 0xa0 && b1 <= 0xbf : b0 === 0xed ? b1 >= 0x80 && b1 <= 0x9f : isContinuation(b1);
    return lowOk && isContinuation(b2) ? 3 : 0;
  }
  if (b0 >= 0xf0 && b0 <= 0xf4) {
    if (b1 === undefined) return 0;
    const lowOk = b0 === 0xf0 ? b1 >= 0x90 && b1 <= 0xbf : b0 === 0xf4 ? b1 >= 0x80 && b1 <= 0x8f : isContinuation(b1);
    return lowOk && isContinuation(b2) && isContinuation(bytes[i + 3]) ? 4 : 0;
  }
  return 0;
}

/**
 * The string form of a name's bytes: UTF-8 where it is well-formed, each other byte as U+DC80-U+DCFF.
 * `decodeFileName(Buffer.from('caf\xe9', 'latin1'))` is `'caf\udce9'`.
 */
export function decodeFileName(bytes: Uint8Array): string {
  const fast = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  // No replacement character: the bytes were well-formed (the common case, one pass in C++).
  if (!fast.includes('\ufffd')) return fast;
  let out = '';
  let start = 0;
  let i = 0;
  while (i < bytes.length) {
    const n = sequenceLength(bytes, i);
    if (n > 0) {
      i += n;
      continue;
    }
    out += Buffer.from(bytes.buffer, bytes.byteOffset + start, i - start).toString('utf8');
    out += String.fromCharCode(ESCAPE_BASE + bytes[i]);
    i += 1;
    start = i;
  }
  return out + Buffer.from(bytes.buffer, bytes.byteOffset + start, i - start).toString('utf8');
}

/**
 * The bytes a name string stands for: the inverse of {@link decodeFileName}.
 * @throws TypeError for a lone surrogate outside U+DC80-U+DCFF (no byte sequence decodes to one).
 */
export function encodeFileName(name: string): Buffer {
  if (!/[\ud800-\udfff]/.test(name)) return Buffer.from(name, 'utf8');
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < name.length; i++) {
    const cu = name.charCodeAt(i);
    if (cu >= 0xd800 && cu <= 0xdbff) {
      const next = name.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++; // a surrogate pair: a character beyond the BMP, encoded normally
        continue;
      }
      throw new TypeError('file name holds a lone high surrogate');
    }
    if (cu >= 0xdc00 && cu <= 0xdfff) {
      if (cu < 0xdc80 || cu > 0xdcff) throw new TypeError('file name holds a lone surrogate that stands for no byte');
      parts.push(Buffer.from(name.slice(start, i), 'utf8'), Buffer.from([cu - ESCAPE_BASE]));
      start = i + 1;
    }
  }
  parts.push(Buffer.from(name.slice(start), 'utf8'));
  return Buffer.concat(parts);
}

/** True when the name's bytes are well-formed UTF-8 (it holds no escaped byte). */
export function isUtf8FileName(name: string): boolean {
  return !/[\udc80-\udcff]/.test(name.replace(/[\ud800-\udbff][\udc00-\udfff]/g, ''));
}
