/**
 * PROXY protocol headers (src/policy/proxyProtocol.ts), the first bytes a connection sends when
 * UseProxyProtocol is on. Contract (haproxy proxy-protocol.txt):
 * - never throws, whatever arrives;
 * - a parsed header is a prefix of the bytes: `rest` is exactly what follows it; a v1 line is at most
 *   107 bytes with its CRLF, a v2 header 16 bytes plus its length field (at most 16 + 2048);
 * - the address is an IPv4/IPv6 literal of the header's family, the port 0..65535;
 * - incremental: every proper prefix of a header is "need more" (never refused), and bytes appended
 *   after a parsed header or after a refusal do not change the outcome (the daemon re-parses as
 *   chunks arrive);
 * - round trip: a header built from the fuzz input by a reference encoder parses back to its
 *   address and port (mode byte odd).
 */
import { isIP, isIPv4, isIPv6 } from 'node:net';
import { parseProxyHeader, type ProxyParse } from '../../../src/policy/proxyProtocol';
import { check, split } from './contract';

const V2_SIGNATURE = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');

function parse(buf: Buffer): ProxyParse {
  try {
    return parseProxyHeader(buf);
  } catch (err) {
    check(false, `parseProxyHeader threw ${(err as Error).stack}`);
  }
}

function checkParsed(buf: Buffer, p: ProxyParse): void {
  if (!p.done) {
    check(p.error === undefined || (typeof p.error === 'string' && p.error.length > 0), 'an error is a non-empty string');
    return;
  }
  const { header } = p;
  const headerLength = buf.length - header.rest.length;
  check(header.rest.equals(buf.subarray(headerLength)), 'rest is the tail of the input');
  check(header.version === 1 || header.version === 2, `version ${header.version}`);
  if (header.version === 1)
    check(headerLength <= 107, `a PROXY v1 header of ${headerLength} bytes was accepted (the limit is 107 with CRLF)`);
  else
    check(
      headerLength >= 16 && headerLength === 16 + buf.readUInt16BE(14) && headerLength <= 16 + 2048,
      `v2 header length ${headerLength}`,
    );
  if (header.address !== undefined) {
    check(isIP(header.address) !== 0, `address '${header.address}' is no IP literal`);
    check(Number.isInteger(header.port) && header.port! >= 0 && header.port! <= 65535, `port ${header.port}`);
  } else {
    check(header.port === undefined, 'a port without an address');
  }
  // Every proper prefix is "need more".
  for (let cut = 0; cut < headerLength; cut++) {
    const partial = parse(buf.subarray(0, cut));
    check(
      !partial.done && partial.error === undefined,
      () => `the first ${cut} of ${headerLength} header bytes gave ${JSON.stringify(partial)}`,
    );
  }
}

function raw(buf: Buffer): void {
  const p = parse(buf);
  checkParsed(buf, p);
  const extended = Buffer.concat([buf, Buffer.from('SSH-2.0-x\r\n')]);
  const q = parse(extended);
  if (p.done) {
    check(
      q.done &&
        q.header.address === p.header.address &&
        q.header.port === p.header.port &&
        q.header.rest.length === p.header.rest.length + 11,
      'appending bytes changed a parsed header',
    );
  } else if (p.error) {
    check(!q.done && q.error, 'appending bytes turned a refusal into a header');
  }
  checkParsed(extended, q);
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

/** A reference encoder: a v1 line or a v2 PROXY command header from fuzz bytes. */
function roundTrip(body: Buffer): void {
  if (body.length < 40) return;
  const kind = body[0] % 4;
  const port = body.readUInt16BE(1);
  const tlvs = body.subarray(40, 40 + (body[3] % 64));
  let header: Buffer;
  let address: string;
  if (kind === 0 || kind === 2) {
    address = [...body.subarray(4, 8)].join('.');
    header =
      kind === 0
        ? Buffer.from(`PROXY TCP4 ${address} 10.0.0.1 ${port} 22\r\n`, 'latin1')
        : Buffer.concat([
            V2_SIGNATURE,
            Buffer.from([0x21, 0x11]),
            u16(12 + tlvs.length),
            body.subarray(4, 8),
            Buffer.from([10, 0, 0, 1]),
            u16(port),
            u16(22),
            tlvs,
          ]);
  } else {
    const groups = [];
    for (let i = 0; i < 16; i += 2) groups.push(body.readUInt16BE(4 + i).toString(16));
    address = new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
    header =
      kind === 1
        ? Buffer.from(`PROXY TCP6 ${address} ::1 ${port} 22\r\n`, 'latin1')
        : Buffer.concat([
            V2_SIGNATURE,
            Buffer.from([0x21, 0x21]),
            u16(36 + tlvs.length),
            body.subarray(4, 20),
            Buffer.alloc(15),
            Buffer.from([1]),
            u16(port),
            u16(22),
            tlvs,
          ]);
  }
  const input = Buffer.concat([header, Buffer.from('SSH-2.0-client\r\n')]);
  const p = parse(input);
  check(p.done, () => `a well-formed header was not parsed: ${JSON.stringify(p)} for ${header.toString('latin1')}`);
  check(
    p.header.address === address && p.header.port === port,
    () => `round trip: ${address}:${port} came back as ${p.header.address}:${p.header.port}`,
  );
  check(p.header.rest.toString('latin1') === 'SSH-2.0-client\r\n', 'round trip: rest');
  check(kind % 2 === 0 ? isIPv4(p.header.address!) : isIPv6(p.header.address!), 'family');
  checkParsed(input, p);
}

export function fuzz(data: Buffer): void {
  const { mode, body } = split(data);
  if (mode % 2 === 1) roundTrip(body);
  else raw(body);
}
