/**
 * Exact CPU time of a process and every descendant, including the ones that already exited, through
 * a cgroup (v1 cpuacct, or v2 cpu.stat). Needed for sshd: its per-connection processes are not
 * reliably charged to the listener's cutime/cstime, so /proc/PID/stat of the listener undercounts.
 * Needs root (or a delegated cgroup); returns undefined when no cgroup can be made.
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export class CgroupCpu {
  private constructor(
    private readonly dir: string,
    private readonly read: () => number,
  ) {}

  /** Puts `pid` (and so every process it forks from now on) in a new cgroup. */
  static attach(pid: number, name: string): CgroupCpu | undefined {
    const candidates: { root: string; file: string; parse: (t: string) => number }[] = [
      { root: '/sys/fs/cgroup/cpuacct', file: 'cpuacct.usage', parse: (t) => Number(t.trim()) / 1e9 },
      { root: '/sys/fs/cgroup/cpu,cpuacct', file: 'cpuacct.usage', parse: (t) => Number(t.trim()) / 1e9 },
      { root: '/sys/fs/cgroup/unified', file: 'cpu.stat', parse: (t) => Number(/usage_usec (\d+)/.exec(t)?.[1] ?? NaN) / 1e6 },
      { root: '/sys/fs/cgroup', file: 'cpu.stat', parse: (t) => Number(/usage_usec (\d+)/.exec(t)?.[1] ?? NaN) / 1e6 },
    ];
    for (const c of candidates) {
      if (!existsSync(c.root)) continue;
      const dir = join(c.root, name);
      try {
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, 'cgroup.procs'), String(pid));
        const read = () => c.parse(readFileSync(join(dir, c.file), 'utf8'));
        if (!Number.isFinite(read())) throw new Error('unreadable');
        return new CgroupCpu(dir, read);
      } catch {
        try {
          rmdirSync(dir);
        } catch {
          /* not ours or not empty */
        }
      }
    }
    return undefined;
  }

  /** CPU seconds used by the group so far. */
  seconds(): number {
    return this.read();
  }

  /** Removes the group once its processes are gone. */
  remove(): void {
    try {
      rmdirSync(this.dir);
    } catch {
      /* still busy or gone */
    }
  }
}
