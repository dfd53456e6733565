import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { globMatch } from './glob';

/** Folds an IPv4-mapped IPv6 address in any spelling to plain IPv4, so '::ffff:127.0.0.1' matches '127.0.0.1' rules. */
export function normaliseAddress(address: string): string {
  if (address.startsWith('::ffff:') && isIPv4(address.slice(7))) return address.slice(7);
  // Other spellings of an IPv4-mapped address ('::ffff:102:304' from a PROXY v2 AF_INET6 header, a
  // dual-stack balancer's IPv4 client; '0:0:0:0:0:ffff:…'; upper case): the URL parser folds them
  // all to '::ffff:hhhh:hhhh'.
  if (!isIPv6(address) || !/ffff/i.test(address)) return address;
  const canonical = new URL(`http://[${address}]/`).hostname.slice(1, -1);
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(canonical);
  if (!mapped) return address;
  const [hi, lo] = [parseInt(mapped[1], 16), parseInt(mapped[2], 16)];
  return [hi >> 8, hi & 255, lo >> 8, lo & 255].join('.');
}

/** An address list as in AllowedClients: exact addresses, `*`/`?` wildcards and CIDR blocks, comma separated. */
export class AddressList {
  private readonly cidr = new BlockList();
  private readonly patterns: string[] = [];
  readonly empty: boolean;

  constructor(spec: string) {
    const items = spec.split(',').map((s) => s.trim()).filter(Boolean);
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
  const list = patterns.split(',').map((s) => s.trim()).filter(Boolean);
  return list.length === 0 || list.some((p) => globMatch(p, identification));
}
