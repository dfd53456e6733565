/**
 * Ending what a session started: every program runs as the leader of a session and process group of
 * its own (setsid: `detached` spawn, or forkpty), so its pid names the group and the session.
 */
import { readdir, readFile } from 'node:fs/promises';

/** The pids of the processes in session `sid` (Linux /proc; empty where there is none). */
export async function sessionMembers(sid: number): Promise<number[]> {
  let names: string[];
  try {
    names = await readdir('/proc');
  } catch {
    return [];
  }
  const members: number[] = [];
  await Promise.all(
    names.map(async (name) => {
      if (!/^\d+$/.test(name)) return;
      try {
        const stat = await readFile(`/proc/${name}/stat`, 'latin1');
        // pid (comm) state ppid pgrp session ...: comm may hold spaces and parentheses.
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        if (Number(fields[3]) === sid) members.push(Number(name));
      } catch {
        // gone meanwhile
      }
    }),
  );
  return members;
}

function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false; // ESRCH: the group is empty
  }
}

/**
 * Hangs up the session led by `leader`: SIGHUP to its process group now, then, if anything of the
 * session is left after `graceMs`, SIGKILL to the group and to every process of the session (jobs an
 * interactive shell put in groups of their own), as a terminal hang-up would not reach a program
 * that ignores SIGHUP. Call it while the number is still the session's: right when the program's
 * end is seen, or when the channel closes before that (a freed pid could name another group later).
 * `jobs`: the session may hold other process groups (a shell on a terminal does job control), so
 * /proc is searched even when the leader's group is empty.
 */
export function hangUpSession(leader: number, graceMs: number, jobs: boolean): void {
  if (!Number.isInteger(leader) || leader <= 1) return;
  const groupLeft = signalGroup(leader, 'SIGHUP');
  if (!groupLeft && !jobs) return;
  void sessionMembers(leader).then((members) => {
    if (!groupLeft && members.length === 0) return;
    setTimeout(() => {
      signalGroup(leader, 'SIGKILL');
      void sessionMembers(leader).then((rest) => {
        for (const pid of rest) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // gone meanwhile
          }
        }
      });
    }, graceMs);
  });
}
