import { appendFileSync } from 'node:fs';
/** Starts a Node bench server (sdkServer.ts, rawSsh2Server.ts, sdkCluster.ts) as a child process and talks to it over IPC. */
import type { ChildProcess } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { cpuSeconds, processTree, spawnUnlimited, treeMemory } from '../lib/proc';
import type { ServerHandle, ServerMemory } from './handle';
import type { MemReply, ServerCounters, ServerOptions } from './serverProcess';

export const REPO = join(__dirname, '..', '..');

export class NodeServer implements ServerHandle {
  /** Mark-compacts so far, when started with `traceGc` (the server's --trace-gc lines are counted, not shown). */
  majorGcs = 0;
  private nextId = 1;
  private readonly waiting = new Map<number, (reply: unknown) => void>();
  private exited = false;

  private constructor(
    readonly id: string,
    readonly label: string,
    readonly port: number,
    readonly user: string,
    readonly pid: number,
    private readonly child: ChildProcess,
  ) {
    child.on('message', (m: { id?: number; reply?: unknown }) => {
      if (m.id && this.waiting.has(m.id)) {
        this.waiting.get(m.id)!(m.reply);
        this.waiting.delete(m.id);
      }
    });
    child.on('exit', () => {
      this.exited = true;
    });
  }

  /**
   * `script` is relative to bench/servers, or absolute (another checkout's bench/servers/sdkServer.ts,
   * to compare two versions of the SDK: bench/pairs.ts); `nodeArgs` e.g. ['--cpu-prof']; `traceGc`
   * counts the server's mark-compacts (see `majorGcs`).
   */
  static async start(
    id: string,
    label: string,
    script: string,
    options: ServerOptions,
    nodeArgs: string[] = [],
    traceGc = false,
  ): Promise<NodeServer> {
    const path = resolve(__dirname, script);
    const child = spawnUnlimited(
      process.execPath,
      [
        '--expose-gc',
        ...(traceGc ? ['--trace-gc'] : []),
        // BENCH_SERVER_NODE_ARGS: extra V8/Node flags for the servers (e.g. --trace-incremental-marking).
        ...(process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean),
        ...nodeArgs,
        '--import',
        'tsx',
        path,
        JSON.stringify(options),
      ],
      {
        cwd: join(dirname(path), '..', '..'),
        stdio: ['ignore', traceGc ? 'pipe' : 'inherit', 'inherit', 'ipc'],
      },
    );
    let majorGcs = 0;
    let server: NodeServer | undefined;
    // BENCH_GC_LOG=FILE keeps the --trace-gc lines (with the collector's reasons) for a diagnosis.
    const gcLog = process.env.BENCH_GC_LOG;
    child.stdout?.on('data', (d: Buffer) => {
      if (gcLog) appendFileSync(gcLog, `[${label}] ${d.toString('latin1')}`);
      const n = d.toString('latin1').split('Mark-Compact').length - 1;
      majorGcs += n;
      if (server) server.majorGcs = majorGcs;
    });
    const ready = await new Promise<{ port: number; pid: number }>((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`${label} exited during start-up (code ${code})`));
      child.once('exit', onExit);
      child.on('message', (m: { type?: string; port: number; pid: number }) => {
        if (m.type !== 'ready') return;
        child.off('exit', onExit);
        resolve(m);
      });
    });
    server = new NodeServer(id, label, ready.port, options.user, ready.pid, child);
    server.majorGcs = majorGcs;
    return server;
  }

  private request<T>(type: string, extra: object = {}): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve) => {
      this.waiting.set(id, resolve as (r: unknown) => void);
      this.child.send({ ...extra, type, id });
    });
  }

  /** Starts V8's profiler in the server process (--profile); the cluster primary only profiles itself. */
  async profileStart(): Promise<void> {
    const r = await this.request<true | string>('profile-start');
    if (r !== true) throw new Error(`${this.label}: profiler did not start: ${r}`);
  }

  /** Stops the profiler and has the server write its .cpuprofile to `file`. */
  async profileStop(file: string): Promise<void> {
    const r = await this.request<true | string>('profile-stop', { file });
    if (r !== true) throw new Error(`${this.label}: profiler did not stop: ${r}`);
  }

  cpuSeconds(): number {
    // Cluster: the primary and its workers; a single server: one process.
    return processTree(this.pid).reduce((sum, p) => sum + cpuSeconds(p), 0);
  }

  async memory(): Promise<ServerMemory> {
    const heap = await this.request<MemReply>('mem');
    const tree = treeMemory(this.pid);
    return { rss: tree.rss, pss: tree.pss, processes: tree.processes, heapUsed: heap.heapUsed, external: heap.external };
  }

  counters(): Promise<ServerCounters> {
    return this.request<ServerCounters>('counters');
  }

  async settle(): Promise<void> {}

  async stop(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(t);
  }
}
