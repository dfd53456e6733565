import { ptyBinding } from './ptyBinding';
import { PtyMaster } from './ptyMaster';
import type { ProcessEnd, ProcessLaunch, RunningProcess } from './RunningProcess';

/**
 * `SSH_TTY` must name the terminal, which forkpty(3) only allocates in the fork: a small `sh`
 * step sets it from `tty` and replaces itself with the program.
 */
const SET_SSH_TTY = 'SSH_TTY=$(tty) && export SSH_TTY; exec "$@"';

/**
 * Starts a program in a new pseudo-terminal of `cols` x `rows` (node-pty's forkpty): the leader of a
 * new session with the terminal as its controlling terminal, so ^C reaches the foreground job.
 * Throws SSHDaemonError when node-pty is unavailable.
 */
export function startPtyProcess(launch: ProcessLaunch, cols: number, rows: number): RunningProcess {
  const binding = ptyBinding();
  let resolveExit!: (end: ProcessEnd) => void;
  const exited = new Promise<ProcessEnd>((resolve) => (resolveExit = resolve));
  const fork = binding.fork(
    '/bin/sh',
    ['-c', SET_SSH_TTY, 'sh', launch.file, ...launch.args],
    launch.env,
    launch.cwd,
    cols,
    rows,
    (code, signal) => resolveExit(signal ? { code: null, signal } : { code, signal: null }),
  );
  const master = new PtyMaster(fork.fd);
  return {
    pid: fork.pid,
    stdin: master.input,
    stdout: master.output,
    exited,
    resize(c, r) {
      if (!master.open) return; // the number may name another file now
      try {
        binding.resize(fork.fd, c, r);
      } catch {
        // the terminal is going away
      }
    },
    release: () => master.close(),
  };
}
