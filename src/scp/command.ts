/**
 * The server side of an `scp` command line: `scp [-r] [-p] [-d] [-v] -t|-f [--] PATH...`, as
 * OpenSSH's scp (before 9.0, and `scp -O` since), PuTTY's pscp and WinSCP send it in an `exec`
 * request. Options are read as OpenSSH's getopt does (clustered flags, `--`, no reordering).
 */
import { type ShellWord, ShellSyntaxError, splitShellWords } from './shellWords';

/** A parsed server-side scp invocation. */
export interface SCPCommand {
  /** `-t` (to): the client uploads and the server is the sink; `-f` (from): the server is the source. */
  direction: 'sink' | 'source';
  /** `-r`: directories (D/E records) may be sent. */
  recursive: boolean;
  /** `-p`: times (T records) and modes are kept. */
  preserve: boolean;
  /** `-d`: the target must be a directory (sink). */
  targetShouldBeDirectory: boolean;
  /** `-v`: accepted; the server writes no diagnostics. */
  verbose: boolean;
  /** The path arguments: one target for `-t`, sources (glob patterns allowed) for `-f`. */
  paths: ShellWord[];
}

/** A command line that names scp but cannot be served (bad option, shell syntax, no -t/-f). */
export class SCPUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SCPUsageError';
  }
}

/** Flags that matter to the server. */
const FLAGS: Record<string, keyof Omit<SCPCommand, 'paths' | 'direction'> | 'to' | 'from'> = {
  r: 'recursive',
  p: 'preserve',
  d: 'targetShouldBeDirectory',
  v: 'verbose',
  t: 'to',
  f: 'from',
};
/** OpenSSH scp's other options (client-side ones, accepted and ignored as its getopt does). */
const IGNORED_FLAGS = new Set([...'12346ABCTOqRs']);
const WITH_ARGUMENT = new Set([...'DFJMPSciloX']);

/** The program word names scp (`scp`, `/usr/bin/scp`). */
function namesScp(word: ShellWord | undefined): boolean {
  return word !== undefined && word.tilde === undefined && /(^|\/)scp$/.test(word.text);
}

/**
 * Whether an exec command runs scp: the first word is `scp` (or a path ending in `/scp`). Quick
 * and lenient: a line that names scp but fails {@link parseSCPCommand} is still scp's to refuse.
 */
export function isSCPCommand(command: string): boolean {
  const m = /^[ \t\n]*(\S+)/.exec(command);
  if (!m) return false;
  try {
    return namesScp(splitShellWords(m[1])[0]);
  } catch {
    return false;
  }
}

/**
 * Parses a server-side scp command line.
 * @throws SCPUsageError when it is not `scp ... -t|-f ...` or holds shell syntax no plain exec can run
 */
export function parseSCPCommand(command: string): SCPCommand {
  let words: ShellWord[];
  try {
    words = splitShellWords(command);
  } catch (err) {
    if (err instanceof ShellSyntaxError) throw new SCPUsageError(err.message);
    throw err;
  }
  if (!namesScp(words[0])) throw new SCPUsageError('not an scp command');
  const cmd: SCPCommand = {
    direction: 'sink',
    recursive: false,
    preserve: false,
    targetShouldBeDirectory: false,
    verbose: false,
    paths: [],
  };
  let to = false;
  let from = false;
  let i = 1;
  for (; i < words.length; i++) {
    const word = words[i];
    const text = word.text;
    if (word.tilde !== undefined || !text.startsWith('-') || text === '-') break;
    if (text === '--') {
      i++;
      break;
    }
    for (let j = 1; j < text.length; j++) {
      const c = text[j];
      const flag = Object.hasOwn(FLAGS, c) ? FLAGS[c] : undefined;
      if (flag === 'to') to = true;
      else if (flag === 'from') from = true;
      else if (flag) cmd[flag] = true;
      else if (WITH_ARGUMENT.has(c)) {
        // The rest of the word, or the next word, is the option's value.
        if (j === text.length - 1) i++;
        if (i >= words.length) throw new SCPUsageError(`option requires an argument -- ${c}`);
        break;
      } else if (!IGNORED_FLAGS.has(c)) throw new SCPUsageError(`unknown option -- ${c}`);
    }
  }
  if (!to && !from) throw new SCPUsageError('a server needs -t (upload) or -f (download)');
  // OpenSSH checks -f first.
  cmd.direction = from ? 'source' : 'sink';
  cmd.paths = words.slice(i);
  return cmd;
}
