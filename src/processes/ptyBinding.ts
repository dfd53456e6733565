/**
 * The one module that reaches into node-pty (an optional dependency, pinned to exactly 1.1.0). We
 * use its native binding only: `fork` (forkpty(3) with the size, the environment and an exit
 * callback) and `resize` (TIOCSWINSZ). Its JavaScript `spawn()` reads the pty master through a
 * libuv stream, which ends the output at the first POLLHUP after a short read and then destroys the
 * socket 200 ms after the exit (or at once on EIO while paused), dropping up to a pipe's worth of
 * the program's last output; we read the master ourselves (ptyOutput.ts). `test/processes-units.test.ts`
 * fails when the installed version or the binding's shape changes.
 */
import { ErrorCodes, SSHDaemonError } from '../errors/SSHDaemonError';

/** The exact node-pty version this adapter was written and tested against. */
export const PINNED_NODE_PTY_VERSION = '1.1.0';

/** What the native `fork` returns: the master's descriptor (non-blocking), the child's pid, the slave's name. */
export interface PtyFork {
  readonly fd: number;
  readonly pid: number;
  readonly pty: string;
}

/** The native calls used (node-pty's `native` export; its signature in 1.1.0). */
interface NativePty {
  fork(
    file: string,
    args: string[],
    env: string[],
    cwd: string,
    cols: number,
    rows: number,
    uid: number,
    gid: number,
    utf8: boolean,
    helperPath: string,
    onExit: (code: number, signal: number) => void,
  ): PtyFork;
  resize(fd: number, cols: number, rows: number): void;
}

/** The pty calls the process service makes. */
export interface PtyBinding {
  /**
   * Runs `file args` (execvp) in a new pseudo-terminal of `cols` x `rows` as the leader of a new
   * session with the pty as its controlling terminal; `onExit` gets the exit code and the signal
   * number (0 if none) once the child has been reaped.
   */
  fork(
    file: string,
    args: string[],
    env: Record<string, string>,
    cwd: string,
    cols: number,
    rows: number,
    onExit: (code: number, signal: number) => void,
  ): PtyFork;
  /** Sets the terminal size (the kernel sends SIGWINCH to the foreground process group). */
  resize(fd: number, cols: number, rows: number): void;
  /** The installed node-pty version. */
  readonly version: string;
}

/** What a user needs to have node-pty built (it compiles C++ with node-gyp at install). */
export const PTY_TOOLCHAIN_HINT =
  'node-pty (an optional dependency of sshdaemon) compiles a native module at install, which needs python3, make and g++ ' +
  '(Debian/Ubuntu: apt-get install python3 make g++; npm 11 also needs "node-pty": true in package.json "allowScripts"), then `npm rebuild node-pty`';

let loaded: PtyBinding | Error | undefined;

/** node-pty's binding, loaded once; throws SSHDaemonError (InvalidArgument) naming the missing toolchain when it cannot load. */
export function ptyBinding(): PtyBinding {
  loaded ??= load();
  if (loaded instanceof Error) throw loaded;
  return loaded;
}

/** Why pseudo-terminals are unavailable, or undefined when node-pty loads. */
export function ptyProblem(): string | undefined {
  try {
    ptyBinding();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

function load(): PtyBinding | Error {
  let native: NativePty | null | undefined;
  let version = '';
  try {
    /* eslint-disable @typescript-eslint/no-require-imports */
    version = (require('node-pty/package.json') as { version: string }).version;
    native = (require('node-pty') as { native?: NativePty | null }).native;
    /* eslint-enable @typescript-eslint/no-require-imports */
  } catch (err) {
    return new SSHDaemonError(
      ErrorCodes.InvalidArgument,
      `Pseudo-terminals are unavailable: node-pty cannot be loaded (${(err as Error).message.split('\n')[0]}). ${PTY_TOOLCHAIN_HINT}.`,
    );
  }
  if (!native || typeof native.fork !== 'function' || typeof native.resize !== 'function') {
    return new SSHDaemonError(
      ErrorCodes.InvalidArgument,
      `Pseudo-terminals are unavailable: node-pty ${version} has no native fork/resize (this adapter is written for node-pty ${PINNED_NODE_PTY_VERSION}).`,
    );
  }
  const binding = native;
  return {
    version,
    fork(file, args, env, cwd, cols, rows, onExit) {
      const pairs = Object.entries(env).map(([k, v]) => `${k}=${v}`);
      // uid/gid -1: node-pty's own switch skips setgroups(2) (the daemon's groups would stay); see runAs.ts.
      // helperPath is used on macOS only.
      return binding.fork(file, args, pairs, cwd, cols, rows, -1, -1, true, '', onExit);
    },
    resize: (fd, cols, rows) => binding.resize(fd, cols, rows),
  };
}
