/**
 * The process side of a bench server (SDK or raw ssh2): options come as JSON in argv[2]; the server
 * reports `{type:'ready', port}` over IPC and answers `{type:'mem'}` (after two full GCs; the process
 * runs with --expose-gc), `{type:'counters'}` and `profile-start`/`profile-stop` (--profile).
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';

export interface ServerOptions {
  hostKeyPath: string;
  userKeyPubPath: string;
  /** Base64 SSH blob of the user key. */
  userKeyBlob: string;
  user: string;
  port: number;
  /** sdkCluster.ts only: how many worker processes. */
  workers?: number;
  /** sdkCluster.ts only: 'rr' (Node's default: the primary accepts and hands sockets out) or 'none' (the kernel spreads accepts over the workers). */
  scheduling?: 'rr' | 'none';
}

export interface ServerCounters {
  connected: number;
  disconnected: number;
  authenticated: number;
  execs: number;
  errors: number;
}

export type ServerRequest =
  | { type: 'mem'; id: number }
  | { type: 'counters'; id: number }
  /** --profile: start V8's sampling profiler in the server (node:inspector), for one case. */
  | { type: 'profile-start'; id: number }
  /** Stops it and writes the .cpuprofile to `file`. */
  | { type: 'profile-stop'; id: number; file: string };
export interface MemReply {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
}

/** V8's profiler in this process through node:inspector, started and stopped per bench case. */
const profiler = (() => {
  let session: Session | undefined;
  const post = <T>(method: string, params?: object) =>
    new Promise<T>((resolve, reject) => session!.post(method, params ?? {}, (err, result) => (err ? reject(err) : resolve(result as T))));
  return {
    async start(): Promise<void> {
      session ??= new Session();
      session.connect();
      await post('Profiler.enable');
      await post('Profiler.setSamplingInterval', { interval: 1000 });
      await post('Profiler.start');
    },
    async stop(file: string): Promise<void> {
      const { profile } = await post<{ profile: object }>('Profiler.stop');
      session!.disconnect();
      writeFileSync(file, JSON.stringify(profile));
    },
  };
})();

/** `counters`: the live object, or a function that gathers them (the cluster primary asks its workers). */
export function serveBenchProcess(
  start: (o: ServerOptions) => Promise<{ port: number; counters: ServerCounters | (() => Promise<ServerCounters>) }>,
): void {
  const o = JSON.parse(process.argv[2]) as ServerOptions;
  start(o).then(
    ({ port, counters }) => {
      process.on('message', (m: ServerRequest) => {
        if (m.type === 'mem') {
          const gc = (globalThis as { gc?: () => void }).gc;
          gc?.();
          gc?.();
          const u = process.memoryUsage();
          process.send!({
            id: m.id,
            reply: {
              rss: u.rss,
              heapUsed: u.heapUsed,
              heapTotal: u.heapTotal,
              external: u.external,
              arrayBuffers: u.arrayBuffers,
            } satisfies MemReply,
          });
        } else if (m.type === 'profile-start') {
          profiler.start().then(
            () => process.send!({ id: m.id, reply: true }),
            (err: Error) => process.send!({ id: m.id, reply: err.message }),
          );
        } else if (m.type === 'profile-stop') {
          profiler.stop(m.file).then(
            () => process.send!({ id: m.id, reply: true }),
            (err: Error) => process.send!({ id: m.id, reply: err.message }),
          );
        } else if (m.type === 'counters') {
          void Promise.resolve(typeof counters === 'function' ? counters() : counters).then((c) =>
            process.send!({ id: m.id, reply: { ...c } }),
          );
        }
      });
      process.on('disconnect', () => process.exit(0));
      process.on('SIGTERM', () => process.exit(0)); // a normal exit, so --cpu-prof writes its profile
      process.send!({ type: 'ready', port, pid: process.pid });
    },
    (err: Error) => {
      console.error(`bench server failed to start: ${err.stack ?? err.message}`);
      process.exit(1);
    },
  );
}
