import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { globMatch } from './glob';

/** The URL parser's canonical IPv6 text ('2001:db8::1': lower case, compressed), or undefined when it refuses it. */
function canonicalIPv6(address: string): string | undefined {
  try {
    return new URL(`http://[${address}]/`).hostname.slice(1, -1);
  } catch {
    return undefined;
  }
}

/**
 * One spelling per address, so rules and penalty records match however a peer or a PROXY header
 * wrote it: IPv4-mapped IPv6 in any spelling ('::ffff:1.2.3.4', '::ffff:102:304' from a PROXY v2
 * AF_INET6 header, '0:0:0:0:0:ffff:…', upper case) folds to IPv4; other IPv6 text becomes its
 * canonical form ('2001:0DB8:0::1' to '2001:db8::1', as socket.remoteAddress prints it), a zone id
 * kept after it. Never throws: text that is no address comes back unchanged.
 */
export function normaliseAddress(address: string): string {
  if (address.startsWith('::ffff:') && isIPv4(address.slice(7))) return address.slice(7);
  if (!isIPv6(address)) return address;
  // The URL parser refuses zone ids ('fe80::1%eth0'): canonicalise the address part only.
  const zoneAt = address.indexOf('%');
  const zone = zoneAt < 0 ? '' : address.slice(zoneAt);
  const canonical = canonicalIPv6(zoneAt < 0 ? address : address.slice(0, zoneAt));
  if (canonical === undefined) return address;
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(canonical);
  if (!mapped) return canonical + zone;
  const [hi, lo] = [parseInt(mapped[1], 16), parseInt(mapped[2], 16)];
  return [hi >> 8, hi & 255, lo >> 8, lo & 255].join('.');
}

/** An address list as in AllowedClients: exact addresses, `*`/`?` wildcards and CIDR blocks, comma separated. */
export class AddressList {
  private readonly cidr = new BlockList();
  private readonly patterns: string[] = [];
  readonly empty: boolean;

  constructor(spec: string) {
    const items = spec
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    this.empty = items.length === 0;
    for (const item of items) {
      const [net, bits] = item.split('/');
      if (bits !== undefined && (isIPv4(net) || isIPv6(net))) {
        this.cidr.addSubnet(net, Number(bits), isIPv6(net) ? 'ipv6' : 'ipv4');
      } else if (isIPv4(item) || isIPv6(item)) {
        this.cidr.addAddress(item, isIPv6(item) ? 'ipv6' : 'ipv4');
      } else {
        this.patterns.push(item);
      }
    }
  }

  matches(address: string): boolean {
    const a = normaliseAddress(address);
    const family = isIPv6(a) ? 'ipv6' : 'ipv4';
    if ((isIPv4(a) || isIPv6(a)) && this.cidr.check(a, family)) return true;
    return this.patterns.some((p) => globMatch(p, a));
  }
}

/** Glob match of the client identification against SSHVersionPattern. */
export function versionMatches(patterns: string, identification: string): boolean {
  const list = patterns
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return list.length === 0 || list.some((p) => globMatch(p, identification));
}
