/**
 * Wildcard matching without backtracking, for OpenSSH's pattern lists here and the SCP server's
 * fnmatch patterns (src/scp/glob.ts).
 *
 * A backtracking RegExp with `.*` per star takes exponential time on patterns such as
 * `*1*1*1*1*1*1*1*1*1*1*1*1*x` (a user can write one into their own authorized_keys `from=`, or send
 * one as an `scp -f` argument): tens of seconds per match, blocking every connection of the daemon.
 * The greedy matcher below keeps one resume point, the last `*`, and takes at most pattern length x
 * subject length steps.
 */

/** One element of a compiled pattern: `*`, or a test of exactly one character. */
export type WildcardToken = { readonly kind: 'star' } | { readonly kind: 'one'; test(ch: string): boolean };

/** The `*` token. */
export const STAR: WildcardToken = { kind: 'star' };
/** `?`: any one character. */
export const ANY_ONE: WildcardToken = { kind: 'one', test: () => true };
/** One literal character. */
export const literalToken = (c: string): WildcardToken => ({ kind: 'one', test: (ch) => ch === c });

/** Whether `chars` (one string per character) match `tokens`, in O(chars x tokens). */
export function matchWildcards(tokens: readonly WildcardToken[], chars: readonly string[]): boolean {
  let t = 0;
  let c = 0;
  let starAt = -1;
  let resume = 0;
  while (c < chars.length) {
    const token = tokens[t];
    if (token?.kind === 'star') {
      starAt = t++;
      resume = c;
    } else if (token && token.test(chars[c])) {
      t++;
      c++;
    } else if (starAt >= 0) {
      // Let the last '*' take one more character and retry from there.
      t = starAt + 1;
      c = ++resume;
    } else {
      return false;
    }
  }
  while (tokens[t]?.kind === 'star') t++;
  return t === tokens.length;
}

/**
 * OpenSSH's glob (match.c `match_pattern`): `*` any run of characters, `?` exactly one, the rest
 * literal; here case-insensitive, as the address and version lists have always matched.
 */
export function globMatch(pattern: string, subject: string): boolean {
  const tokens = Array.from(pattern.toLowerCase(), (c) => (c === '*' ? STAR : c === '?' ? ANY_ONE : literalToken(c)));
  return matchWildcards(tokens, Array.from(subject.toLowerCase()));
}
