/** Handshakes per second against one server: `processes` load processes sharing `concurrency` loops. */
import type { BenchKeys } from '../lib/keys';
import type { ServerHandle } from '../servers/handle';
import type { HandshakeClientResult } from './handshakeClient';
import { LoadProcess } from './loadProcess';

export interface HandshakeResult {
  perSecond: number;
  completed: number;
  errors: number;
  firstError?: string;
  teardownErrors: number;
  firstTeardownError?: string;
  p50Ms: number;
  p99Ms: number;
  serverCpuSeconds: number;
}

function percentile(xs: number[], p: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

export async function handshakes(
  server: ServerHandle,
  keys: BenchKeys,
  concurrency: number,
  processes: number,
  warmupMs: number,
  durationMs: number,
  kex?: string,
): Promise<HandshakeResult> {
  const procs = Math.max(1, Math.min(processes, concurrency));
  const shares = Array.from({ length: procs }, (_, i) => Math.floor(concurrency / procs) + (i < concurrency % procs ? 1 : 0));
  const loads = await Promise.all(
    shares.map((c) =>
      LoadProcess.start('handshakeClient.ts', { port: server.port, user: server.user, keyPath: keys.userKeyPath, concurrency: c, kex }),
    ),
  );
  try {
    await server.settle();
    const results = loads.map((l) => l.wait<{ result: HandshakeClientResult }>('result'));
    for (const l of loads) l.send({ type: 'go', warmupMs, durationMs });
    // CPU over the measured window only.
    await new Promise((r) => setTimeout(r, warmupMs));
    const cpu0 = server.cpuSeconds();
    await new Promise((r) => setTimeout(r, durationMs));
    const cpu1 = server.cpuSeconds();
    const all = (await Promise.all(results)).map((r) => r.result);
    const latencies = all.flatMap((r) => r.latenciesMs);
    const completed = all.reduce((s, r) => s + r.completed, 0);
    return {
      perSecond: completed / (durationMs / 1000),
      completed,
      errors: all.reduce((s, r) => s + r.errors, 0),
      firstError: all.find((r) => r.firstError)?.firstError,
      teardownErrors: all.reduce((s, r) => s + r.teardownErrors, 0),
      firstTeardownError: all.find((r) => r.firstTeardownError)?.firstTeardownError,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      serverCpuSeconds: cpu1 - cpu0,
    };
  } finally {
    await Promise.all(loads.map((l) => l.stop()));
  }
}
