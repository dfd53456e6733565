/** Summarises a V8 .cpuprofile (from `node --cpu-prof`): self time per function, as `file:function`. */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** `window`: only samples taken in [from, to) seconds after the profile started (to compare early and late phases). */
export function topFunctions(
  file: string,
  root: string,
  limit = 25,
  window?: { from: number; to: number },
): { fn: string; selfMs: number; share: number }[] {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  let t = 0;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i] ?? 0;
    if (window && (t < window.from * 1e6 || t >= window.to * 1e6)) continue;
    self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
  }
  const byFn = new Map<string, number>();
  let total = 0;
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    const url = n.callFrame.url.replace(/^file:\/\//, '');
    if (n.callFrame.functionName === '(idle)') continue;
    const where = url ? relative(root, url) : '(native)';
    const key = `${where}:${n.callFrame.functionName || '(anonymous)'}`;
    byFn.set(key, (byFn.get(key) ?? 0) + us);
    total += us;
  }
  return [...byFn.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([fn, us]) => ({ fn, selfMs: Math.round(us / 100) / 10, share: total ? us / total : 0 }));
}

/** Self time grouped by file (src/..., node_modules/ssh2/..., node:...), to see where a wrapper's cost sits. */
export function byFile(file: string, root: string): { file: string; share: number }[] {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const acc = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const n = byId.get(p.samples[i])!;
    if (n.callFrame.functionName === '(idle)') continue;
    const url = n.callFrame.url.replace(/^file:\/\//, '');
    const key = url ? relative(root, url) : `(${n.callFrame.functionName || 'native'})`;
    acc.set(key, (acc.get(key) ?? 0) + (p.timeDeltas[i] ?? 0));
    total += p.timeDeltas[i] ?? 0;
  }
  return [...acc.entries()].sort((a, b) => b[1] - a[1]).map(([f, us]) => ({ file: f, share: us / total }));
}

if (require.main === module) {
  for (const f of process.argv.slice(2)) {
    console.log(`== ${f}`);
    for (const r of byFile(f, process.cwd()).slice(0, 15)) console.log(`${(r.share * 100).toFixed(1).padStart(5)}%  ${r.file}`);
    console.log('--');
    for (const r of topFunctions(f, process.cwd()))
      console.log(`${(r.share * 100).toFixed(1).padStart(5)}%  ${r.selfMs.toFixed(0).padStart(7)} ms  ${r.fn}`);
  }
}

/** Inclusive time (self + callees) of every function matching `pattern` (file:function), outermost frames only. */
export function inclusive(file: string, root: string, pattern: RegExp): { fn: string; totalMs: number; share: number }[] {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const name = (n: ProfileNode) =>
    `${n.callFrame.url ? relative(root, n.callFrame.url.replace(/^file:\/\//, '')) : '(native)'}:${n.callFrame.functionName || '(anonymous)'}`;
  const acc = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i] ?? 0;
    let id: number | undefined = p.samples[i];
    if (byId.get(id)!.callFrame.functionName === '(idle)') continue;
    total += dt;
    const seen = new Set<string>();
    while (id !== undefined) {
      const key = name(byId.get(id)!);
      if (pattern.test(key) && !seen.has(key)) {
        seen.add(key);
        acc.set(key, (acc.get(key) ?? 0) + dt);
      }
      id = parent.get(id);
    }
  }
  return [...acc.entries()].sort((a, b) => b[1] - a[1]).map(([fn, us]) => ({ fn, totalMs: Math.round(us / 1000), share: us / total }));
}
