/** Process plumbing: spawning with a raised fd limit, and CPU/RSS of process trees from /proc. */
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let clkTck = 0;
function ticksPerSecond(): number {
  if (!clkTck) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

/** Spawns `cmd args` with the soft fd limit raised to the hard limit (10,000 connections need it). */
export function spawnUnlimited(cmd: string, args: string[], options: SpawnOptions): ChildProcess {
  return spawn('sh', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null || true; exec "$@"', 'sh', cmd, ...args], options);
}

interface StatFields {
  ppid: number;
  utime: number;
  stime: number;
  cutime: number;
  cstime: number;
}

function stat(pid: number): StatFields | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // Fields after the parenthesised command name: state is field 3, ppid 4, utime 14 ... cstime 17.
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { ppid: Number(f[1]), utime: Number(f[11]), stime: Number(f[12]), cutime: Number(f[13]), cstime: Number(f[14]) };
}

/**
 * CPU seconds (user + system) of `pid`; with `withReapedChildren` also the children it has waited
 * for (sshd: the per-connection processes and the commands they ran, once they have exited).
 */
export function cpuSeconds(pid: number, withReapedChildren = false): number {
  const s = stat(pid);
  if (!s) return NaN;
  const ticks = s.utime + s.stime + (withReapedChildren ? s.cutime + s.cstime : 0);
  return ticks / ticksPerSecond();
}

/** User and system CPU seconds of `pid` apart (the kernel's share is where socket writes and reads go). */
export function cpuSplit(pid: number): { user: number; system: number } {
  const s = stat(pid);
  if (!s) return { user: NaN, system: NaN };
  return { user: s.utime / ticksPerSecond(), system: s.stime / ticksPerSecond() };
}

/** `pid` and all its live descendants. */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = stat(Number(name));
    if (!s) continue;
    const list = children.get(s.ppid) ?? [];
    list.push(Number(name));
    children.set(s.ppid, list);
  }
  const out: number[] = [];
  const stack = [pid];
  while (stack.length) {
    const p = stack.pop()!;
    out.push(p);
    stack.push(...(children.get(p) ?? []));
  }
  return out;
}

function kbField(path: string, field: string): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(path, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Resident set size of one process, bytes. */
export function rssBytes(pid: number): number {
  return kbField(`/proc/${pid}/status`, 'VmRSS');
}

/** Proportional set size (shared pages split between their users), bytes. */
export function pssBytes(pid: number): number {
  return kbField(`/proc/${pid}/smaps_rollup`, 'Pss');
}

/** Sum of RSS and of PSS over a process tree, and how many processes it has. */
export function treeMemory(pid: number): { rss: number; pss: number; processes: number } {
  const pids = processTree(pid);
  let rss = 0;
  let pss = 0;
  for (const p of pids) {
    rss += rssBytes(p);
    pss += pssBytes(p);
  }
  return { rss, pss, processes: pids.length };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
