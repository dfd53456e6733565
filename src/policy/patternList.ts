import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { normaliseAddress } from './addressMatch';
import { globMatch } from './glob';

/** Whether a CIDR pattern holds the address; undefined when the pattern is no CIDR; 'invalid' for a bad mask length. */
function cidrContains(pattern: string, address: string): boolean | 'invalid' | undefined {
  const [net, bits] = pattern.split('/');
  if (bits === undefined || !(isIPv4(net) || isIPv6(net)) || !/^\d+$/.test(bits)) return undefined;
  const family = isIPv6(net) ? 'ipv6' : 'ipv4';
  if (Number(bits) > (family === 'ipv6' ? 128 : 32)) return 'invalid';
  if (!(family === 'ipv6' ? isIPv6(address) : isIPv4(address))) return false;
  const list = new BlockList();
  list.addSubnet(net, Number(bits), family);
  return list.check(address, family);
}

/**
 * OpenSSH pattern-list semantics (match_pattern_list, addr_match_list): comma-separated globs or
 * CIDR blocks, `!` negates; a negated match wins over any positive one.
 * Returns 1 for a positive match, -1 for a negated match or a CIDR block with a mask length beyond
 * its family (as sshd, which refuses then), 0 for no match.
 */
export function matchPatternList(value: string, list: string): 1 | 0 | -1 {
  const subject = normaliseAddress(value);
  let found: 1 | 0 = 0;
  for (const raw of list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const negated = raw.startsWith('!');
    const pattern = negated ? raw.slice(1) : raw;
    const cidr = cidrContains(pattern, subject);
    // sshd's addr_match_list fails on a bad mask length, and a failed match refuses (match_host_and_ip).
    if (cidr === 'invalid') return -1;
    const hit = cidr ?? globMatch(pattern, subject);
    if (hit && negated) return -1;
    if (hit) found = 1;
  }
  return found;
}

/** True when `value` matches the list positively and no negated entry. */
export function patternListAllows(value: string, list: string): boolean {
  return matchPatternList(value, list) === 1;
}
