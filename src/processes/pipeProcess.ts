import { spawn } from 'node:child_process';
import type { ProcessEnd, ProcessLaunch, RunningProcess } from './RunningProcess';

/**
 * Starts a program on pipes (child_process.spawn) as the leader of a new session and process group
 * (`detached`: setsid), so that it and everything it starts can be signalled together.
 */
export function startPipeProcess(launch: ProcessLaunch): RunningProcess {
  const child = spawn(launch.file, [...launch.args], {
    argv0: launch.argv0,
    cwd: launch.cwd,
    env: { ...launch.env },
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const exited = new Promise<ProcessEnd>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', (error) => resolve({ code: null, signal: null, error }));
  });
  child.stdin.on('error', () => undefined); // EPIPE when the program exits before reading its input
  return {
    pid: child.pid ?? 0,
    stdin: child.stdin,
    stdout: child.stdout,
    stderr: child.stderr,
    exited,
    release() {
      child.stdin.destroy();
      child.stdout.destroy();
      child.stderr.destroy();
    },
  };
}
