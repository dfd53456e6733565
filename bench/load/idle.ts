/**
 * Memory per idle authenticated connection: server memory before, N connections opened by load
 * processes (at most `perProcess` each), a pause, memory after; (after - before) / N.
 */
import type { BenchKeys } from '../lib/keys';
import { sleep } from '../lib/proc';
import type { ServerHandle, ServerMemory } from '../servers/handle';
import { LoadProcess } from './loadProcess';

export interface IdleResult {
  requested: number;
  reached: number;
  errors: number;
  firstError?: string;
  dropped: number;
  before: ServerMemory;
  after: ServerMemory;
  rssPerConn: number;
  pssPerConn: number;
  heapPerConn?: number;
  externalPerConn?: number;
  openSeconds: number;
}

export async function idleConnections(server: ServerHandle, keys: BenchKeys, count: number, perProcess = 2500): Promise<IdleResult> {
  await server.settle();
  const before = await server.memory();
  const procs = Math.ceil(count / perProcess);
  const loads = await Promise.all(
    Array.from({ length: procs }, (_, i) =>
      LoadProcess.start('idleClient.ts', {
        port: server.port,
        user: server.user,
        keyPath: keys.userKeyPath,
        count: Math.floor(count / procs) + (i < count % procs ? 1 : 0),
        parallel: 8,
      }),
    ),
  );
  try {
    const t0 = Date.now();
    const opened = loads.map((l) => l.wait<{ ok: number; errors: number; firstError?: string }>('opened'));
    for (const l of loads) l.send({ type: 'open' });
    const results = await Promise.all(opened);
    const openSeconds = (Date.now() - t0) / 1000;
    await sleep(2000); // let the server finish post-auth work and the allocator settle
    const after = await server.memory();
    const status = await Promise.all(
      loads.map((l) => {
        const p = l.wait<{ held: number; dropped: number }>('status');
        l.send({ type: 'status' });
        return p;
      }),
    );
    const reached = results.reduce((s, r) => s + r.ok, 0);
    const dropped = status.reduce((s, r) => s + r.dropped, 0);
    const closed = loads.map((l) => l.wait('closed'));
    for (const l of loads) l.send({ type: 'close' });
    await Promise.race([Promise.all(closed), sleep(60_000)]);
    const n = Math.max(1, reached);
    return {
      requested: count,
      reached,
      errors: results.reduce((s, r) => s + r.errors, 0),
      firstError: results.find((r) => r.firstError)?.firstError,
      dropped,
      before,
      after,
      rssPerConn: (after.rss - before.rss) / n,
      pssPerConn: (after.pss - before.pss) / n,
      heapPerConn: after.heapUsed !== undefined && before.heapUsed !== undefined ? (after.heapUsed - before.heapUsed) / n : undefined,
      externalPerConn: after.external !== undefined && before.external !== undefined ? (after.external - before.external) / n : undefined,
      openSeconds,
    };
  } finally {
    await Promise.all(loads.map((l) => l.stop()));
  }
}
