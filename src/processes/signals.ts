import { constants } from 'node:os';
import { readFileSync } from 'node:fs';

/**
 * The signal names of RFC 4254 6.10, the only ones a client's `signal` request may send and the
 * ones `exit-signal` names (sshd's `name2sig` / `sig2name`).
 */
const RFC_SIGNALS: ReadonlyMap<string, NodeJS.Signals> = new Map(
  (['ABRT', 'ALRM', 'FPE', 'HUP', 'ILL', 'INT', 'KILL', 'PIPE', 'QUIT', 'SEGV', 'TERM', 'USR1', 'USR2'] as const).map((n) => [
    n,
    `SIG${n}` as NodeJS.Signals,
  ]),
);

/** What sshd's `sig2name` sends for a signal without an RFC 4254 name. */
export const OTHER_SIGNAL = 'SIG@openssh.com';

/** The Node.js signal a `signal` request names (RFC 4254 6.9, without "SIG"), or undefined for any other name. */
export function signalOfRequest(name: string): NodeJS.Signals | undefined {
  return RFC_SIGNALS.get(name);
}

/** The `exit-signal` name of a signal that ended a program (RFC 4254 6.10), as sshd's `sig2name`. */
export function exitSignalName(signal: NodeJS.Signals | number): string {
  const node = typeof signal === 'number' ? signalName(signal) : signal;
  const rfc = node?.replace(/^SIG/, '');
  return rfc !== undefined && RFC_SIGNALS.has(rfc) ? rfc : OTHER_SIGNAL;
}

function signalName(n: number): NodeJS.Signals | undefined {
  for (const [name, value] of Object.entries(constants.signals)) if (value === n) return name as NodeJS.Signals;
  return undefined;
}

/** Signals whose default action writes a core file (signal(7) "Core"). */
const CORE_SIGNALS: ReadonlySet<string> = new Set([
  'SIGQUIT',
  'SIGILL',
  'SIGABRT',
  'SIGFPE',
  'SIGSEGV',
  'SIGBUS',
  'SIGSYS',
  'SIGTRAP',
  'SIGXCPU',
  'SIGXFSZ',
]);

let coreLimit: boolean | undefined;

/**
 * Whether a program killed by `signal` most likely dumped core: Node.js reports the signal but not
 * WCOREDUMP, so this is "the signal's default action dumps core and the daemon's soft core-file
 * limit (inherited by its programs) is not 0" (read once from /proc/self/limits; false without it).
 */
export function coreDumpLikely(signal: NodeJS.Signals | number): boolean {
  const name = typeof signal === 'number' ? signalName(signal) : signal;
  if (!name || !CORE_SIGNALS.has(name)) return false;
  if (coreLimit === undefined) {
    try {
      const line = readFileSync('/proc/self/limits', 'utf8')
        .split('\n')
        .find((l) => l.startsWith('Max core file size'));
      const soft = line?.slice('Max core file size'.length).trim().split(/\s+/)[0];
      coreLimit = soft !== undefined && soft !== '0';
    } catch {
      coreLimit = false;
    }
  }
  return coreLimit;
}
