/**
 * The SDK daemon scaled out with node:cluster (see docs/scale-out.md): the primary forks `workers`
 * workers; each runs its own SSHDaemon (own engine, own registry) on the shared port, and the
 * primary hands accepted connections to them round-robin. Counts are aggregated in the primary over
 * IPC: it asks every worker for its counters and sums them.
 * To the bench this is one server process (serverProcess.ts protocol); CPU and memory are taken over
 * the primary and all workers.
 */
import cluster, { type Worker } from 'node:cluster';
import { freePort } from '../lib/ports';
import { startBenchDaemon, type BenchCounters } from './sdkDaemon';
import { serveBenchProcess, type ServerOptions } from './serverProcess';

type WorkerMessage = { type: 'listening'; port: number } | { type: 'counters'; id: number; counters: BenchCounters };

if (cluster.isPrimary) {
  serveBenchProcess(async (o: ServerOptions) => {
    const port = o.port || (await freePort());
    cluster.schedulingPolicy = o.scheduling === 'none' ? cluster.SCHED_NONE : cluster.SCHED_RR;
    const workers: Worker[] = [];
    const n = Math.max(1, o.workers ?? 1);
    await Promise.all(
      Array.from({ length: n }, () => {
        const w = cluster.fork({ BENCH_WORKER_OPTIONS: JSON.stringify({ ...o, port }) });
        workers.push(w);
        return new Promise<void>((resolve, reject) => {
          w.on('message', (m: WorkerMessage) => m.type === 'listening' && resolve());
          w.once('exit', (code) => reject(new Error(`cluster worker exited during start-up (code ${code})`)));
        });
      }),
    );
    // Aggregation: ask every worker, sum the answers. The same pattern serves any registry-wide
    // figure (connections open, channels, bytes) without sharing state between workers.
    let nextId = 1;
    const counters = {} as BenchCounters;
    const refresh = () =>
      Promise.all(
        workers.map(
          (w) =>
            new Promise<BenchCounters>((resolve) => {
              const id = nextId++;
              const onMessage = (m: WorkerMessage) => {
                if (m.type === 'counters' && m.id === id) {
                  w.off('message', onMessage);
                  resolve(m.counters);
                }
              };
              w.on('message', onMessage);
              w.send({ type: 'counters', id });
            }),
        ),
      ).then((all) => {
        for (const key of Object.keys(all[0]) as (keyof BenchCounters)[]) counters[key] = all.reduce((s, c) => s + c[key], 0);
        return counters;
      });
    process.on('exit', () => {
      for (const w of workers) w.process.kill();
    });
    return { port, counters: refresh };
  });
} else {
  const o = JSON.parse(process.env.BENCH_WORKER_OPTIONS!) as ServerOptions;
  startBenchDaemon({ hostKeyPath: o.hostKeyPath, userKeyBlob: o.userKeyBlob, user: o.user, port: o.port }).then(({ counters }) => {
    process.on('message', (m: { type: string; id: number }) => {
      if (m.type === 'counters') process.send!({ type: 'counters', id: m.id, counters });
    });
    process.send!({ type: 'listening', port: o.port });
  });
}
