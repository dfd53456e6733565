/**
 * OpenSSH's glob (match.c `match_pattern`): `*` any run of characters, `?` exactly one, the rest
 * literal; here case-insensitive, as the address and version lists have always matched.
 *
 * Matched without a regular expression: a pattern such as `*1*1*1*1*1*1*1*1*1*1*1*1*x` (a user
 * can write one into their own authorized_keys `from=`) made the backtracking RegExp it replaces
 * take tens of seconds against an IPv6 address, blocking every connection of the daemon. This
 * greedy matcher with one resume point takes at most pattern length x subject length steps.
 */
export function globMatch(pattern: string, subject: string): boolean {
  const p = pattern.toLowerCase();
  const s = subject.toLowerCase();
  let pi = 0;
  let si = 0;
  let star = -1; // pattern index just after the last '*'
  let resume = 0; // subject index that star is currently matched up to
  while (si < s.length) {
    if (pi < p.length && (p[pi] === '?' || (p[pi] !== '*' && p[pi] === s[si]))) {
      pi++;
      si++;
    } else if (pi < p.length && p[pi] === '*') {
      star = ++pi;
      resume = si;
    } else if (star >= 0) {
      // Let the last '*' take one more character and retry from there.
      pi = star;
      si = ++resume;
    } else {
      return false;
    }
  }
  while (pi < p.length && p[pi] === '*') pi++;
  return pi === p.length;
}
