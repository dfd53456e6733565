/**
 * The PROXY protocol header a load balancer (HAProxy `send-proxy` / `send-proxy-v2`, AWS NLB,
 * nginx) puts before the client's bytes, carrying the real client address (haproxy.org
 * proxy-protocol.txt, versions 1 and 2).
 */
import { isIPv4, isIPv6 } from 'node:net';

const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
/** Longest v1 line (107 bytes) and the v2 maximum we accept (header plus TLVs). */
const V1_MAX = 107;
const V2_MAX = 16 + 2048;

/** What the header says; `address` undefined for LOCAL / UNKNOWN (a health check: use the TCP peer). */
export interface ProxyHeader {
  readonly version: 1 | 2;
  readonly address?: string;
  readonly port?: number;
  /** Bytes after the header: the client's first SSH bytes. */
  readonly rest: Buffer;
}

export type ProxyParse = { readonly done: true; readonly header: ProxyHeader } | { readonly done: false; readonly error?: string };

/** A v1 address is what inet_ntop prints: no zone id ('fe80::1%eth0' is refused, it names no remote host). */
const V1_FAMILIES: ReadonlyMap<string, (address: string) => boolean> = new Map([
  ['TCP4', isIPv4],
  ['TCP6', (a: string) => isIPv6(a) && !a.includes('%')],
]);
const isPort = (text: string) => /^\d{1,5}$/.test(text) && Number(text) <= 65535;

function v1(buf: Buffer): ProxyParse {
  const end = buf.indexOf('\r\n');
  // The 107-byte limit counts the CRLF; a longer line is refused even when its CRLF has arrived.
  if (end < 0 ? buf.length >= V1_MAX : end + 2 > V1_MAX) return { done: false, error: 'PROXY v1 line longer than 107 bytes' };
  if (end < 0) return { done: false };
  const line = buf.subarray(0, end).toString('latin1');
  const rest = buf.subarray(end + 2);
  const parts = line.split(' ');
  if (parts[1] === 'UNKNOWN') return { done: true, header: { version: 1, rest } };
  const [, family, src, dst, sport, dport] = parts;
  const isAddress = V1_FAMILIES.get(family);
  // Both addresses and both ports, as the specification requires (a receiver must not guess).
  const valid = parts.length === 6 && isAddress !== undefined && isAddress(src) && isAddress(dst) && isPort(sport) && isPort(dport);
  if (!valid) return { done: false, error: `malformed PROXY v1 line '${line.slice(0, 80)}'` };
  return { done: true, header: { version: 1, address: src, port: Number(sport), rest } };
}

function ipv6(b: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16));
  // The URL parser prints the canonical compressed form ('::1'), as socket.remoteAddress does.
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
}

function v2(buf: Buffer): ProxyParse {
  if (buf.length < 16) return { done: false };
  const verCmd = buf[12];
  if (verCmd >> 4 !== 2) return { done: false, error: `PROXY v2 with version ${verCmd >> 4}` };
  const length = buf.readUInt16BE(14);
  if (16 + length > V2_MAX) return { done: false, error: `PROXY v2 header of ${length} bytes` };
  if (buf.length < 16 + length) return { done: false };
  const body = buf.subarray(16, 16 + length);
  const rest = buf.subarray(16 + length);
  const command = verCmd & 0x0f;
  if (command === 0x0) return { done: true, header: { version: 2, rest } }; // LOCAL: the balancer's own check
  if (command !== 0x1) return { done: false, error: `PROXY v2 command ${command}` };
  const family = buf[13] >> 4;
  if (family === 0x1 && body.length >= 12)
    return { done: true, header: { version: 2, address: [...body.subarray(0, 4)].join('.'), port: body.readUInt16BE(8), rest } };
  if (family === 0x2 && body.length >= 36)
    return { done: true, header: { version: 2, address: ipv6(body.subarray(0, 16)), port: body.readUInt16BE(32), rest } };
  if (family === 0x0) return { done: true, header: { version: 2, rest } }; // AF_UNSPEC
  return { done: false, error: `PROXY v2 address family ${family} not supported` };
}

/** Parses what has arrived so far: the header, more needed, or why this is no PROXY header. */
export function parseProxyHeader(buf: Buffer): ProxyParse {
  if (buf.length === 0) return { done: false };
  if (buf[0] === 0x0d) {
    const n = Math.min(buf.length, V2_SIGNATURE.length);
    if (!buf.subarray(0, n).equals(V2_SIGNATURE.subarray(0, n))) return { done: false, error: 'no PROXY header' };
    return n < V2_SIGNATURE.length ? { done: false } : v2(buf);
  }
  const prefix = 'PROXY ';
  const n = Math.min(buf.length, prefix.length);
  if (buf.subarray(0, n).toString('latin1') !== prefix.slice(0, n)) return { done: false, error: 'no PROXY header' };
  return v1(buf);
}
