import { isIPv4, isIPv6 } from 'node:net';
import { normaliseAddress } from './addressMatch';

function ipv6Groups(address: string): number[] | undefined {
  let text = address.split('%')[0];
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4[1].split('.').map(Number);
    text = text.slice(0, -v4[1].length) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail ? tail.split(':') : [];
  const fill = tail === undefined ? 0 : 8 - h.length - t.length;
  const groups = [...h, ...Array<string>(fill).fill('0'), ...t].map((g) => parseInt(g, 16));
  return groups.length === 8 && groups.every((g) => g >= 0 && g <= 0xffff) ? groups : undefined;
}

/**
 * The network block an address belongs to, as a map key: `a.b.c.d/bits` or a full IPv6 prefix
 * `x:x:...:x/bits` (OpenSSH PerSourceNetBlockSize), with its address family, which picks the table a
 * penalty goes in (OpenSSH keeps IPv4 and IPv6 apart). An IPv4-mapped IPv6 address is IPv4; anything
 * that is not an IP address is its own key and counts as IPv6, so it can never crowd out IPv4 records.
 */
export function sourceBlock(address: string, ipv4Bits: number, ipv6Bits: number): { key: string; family: 4 | 6 } {
  const a = normaliseAddress(address);
  if (isIPv4(a)) {
    const n = a.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
    const masked = ipv4Bits === 0 ? 0 : n - (n % 2 ** (32 - ipv4Bits));
    return { key: `${[24, 16, 8, 0].map((s) => Math.floor(masked / 2 ** s) % 256).join('.')}/${ipv4Bits}`, family: 4 };
  }
  const groups = isIPv6(a) ? ipv6Groups(a) : undefined;
  if (!groups) return { key: a, family: 6 };
  const masked = groups.map((g, i) => {
    const keep = Math.max(0, Math.min(16, ipv6Bits - i * 16));
    return keep === 0 ? 0 : g & (0xffff << (16 - keep)) & 0xffff;
  });
  return { key: `${masked.map((g) => g.toString(16)).join(':')}/${ipv6Bits}`, family: 6 };
}
