import { ErrorCodes, SSHDaemonError } from '../errors/SSHDaemonError';
import { ANY_ONE, literalToken, matchWildcards, STAR, type WildcardToken } from '../policy/glob';

/** sshd's AcceptEnv in Debian's default sshd_config. */
export const DEFAULT_ACCEPT_ENV: readonly string[] = ['LANG', 'LC_*'];

/**
 * OpenSSH `AcceptEnv`: which variable names a client's `env` request may set. Each pattern is
 * matched as sshd does (`match_pattern`: `*` any run, `?` one character, case-sensitive, no
 * negation), in linear time.
 */
export class AcceptEnv {
  private readonly patterns: WildcardToken[][];

  constructor(patterns: readonly string[] = DEFAULT_ACCEPT_ENV) {
    if (!Array.isArray(patterns) || patterns.some((p) => typeof p !== 'string')) {
      throw new SSHDaemonError(
        ErrorCodes.InvalidArgument,
        `acceptEnv must be an array of patterns such as 'LC_*', got ${JSON.stringify(patterns)}`,
      );
    }
    this.patterns = patterns.map((p: string) => Array.from(p, (c) => (c === '*' ? STAR : c === '?' ? ANY_ONE : literalToken(c))));
  }

  /** True when `name` matches one of the patterns. */
  accepts(name: string): boolean {
    const chars = Array.from(name);
    return this.patterns.some((tokens) => matchWildcards(tokens, chars));
  }
}
