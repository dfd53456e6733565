import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { globMatch } from './glob';

/** Strips the IPv4-mapped IPv6 prefix so '::ffff:127.0.0.1' matches '127.0.0.1' rules. */
export function normaliseAddress(address: string): string {
  return address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
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
