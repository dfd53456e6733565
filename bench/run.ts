/**
 * `npm run bench` (add `-- --quick` while developing): the SDK, a raw ssh2 server and OpenSSH's sshd
 * side by side — bulk throughput, handshakes/s, memory per idle connection, CPU per GiB, and the SDK
 * under node:cluster — then docs/benchmarks.md, bench/charts/benchmarks.svg and bench/results/latest.json.
 *
 * Options: --quick | --runs N | --size MiB | --only bulk,handshakes,idle,cluster | --idle 1000,10000
 *          --sshd-idle-max N | --hs-seconds S | --load-procs N | --cpu-prof | --no-report
 *          --report-only (re-render from bench/results/latest.json)
 *          --cluster-sched rr|none | --cluster-concurrency N | --cluster-load-procs N
 *          --cases aes128-gcm,... | --directions download,upload | --servers sdk,raw,sshd | --note TEXT
 *          --styles loop-16k,loop-64k,loop-256k,stream (how the Node servers write; sshd: the default only)
 *          --profile (a V8 profile of each Node server over each case, summarised in the report)
 */
import { execFileSync } from 'node:child_process';
import {
  appendFileSync,
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { freePort } from './lib/ports';
import { BULK_CASES } from './lib/algorithms';
import { makeKeys, type BenchKeys } from './lib/keys';
import { pairwise, summarize } from './lib/stats';
import { bulkTransfer } from './load/bulk';
import { handshakes } from './load/handshakes';
import { sftpTransfer } from './load/sftpTransfer';
import { idleConnections } from './load/idle';
import { describeMachine } from './report/machine';
import { renderMarkdown, targets } from './report/markdown';
import { topFunctions } from './report/profile';
import { ratioChart } from './report/svg';
import type { BenchConfig, BenchResults, BulkRow, ClusterRow, HandshakeRow, IdleRow, ServerId } from './report/types';
import type { ServerHandle } from './servers/handle';
import { NodeServer, REPO } from './servers/nodeServer';
import { DEFAULT_STYLE, STYLES } from './servers/commands';
import type { ServerOptions } from './servers/serverProcess';
import { benchUser, ensureSshd, Sshd } from './servers/sshd';

// ---- options ----------------------------------------------------------------

const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(`--${name}`);
const opt = (name: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const quick = flag('quick');
const only = new Set((opt('only') ?? 'bulk,handshakes,sftp,idle,cluster').split(','));
const config: BenchConfig = {
  quick,
  runs: Number(opt('runs') ?? (quick ? 1 : 5)),
  bulkBytes: Number(opt('size') ?? (quick ? 64 : 1024)) * 2 ** 20,
  handshakeSeconds: Number(opt('hs-seconds') ?? (quick ? 3 : 8)),
  handshakeWarmupSeconds: quick ? 1 : 2,
  loadProcesses: Number(opt('load-procs') ?? 1),
  clusterLoadProcesses: Number(opt('cluster-load-procs') ?? 2),
  clusterConcurrency: Number(opt('cluster-concurrency') ?? 16),
  clusterScheduling: opt('cluster-sched') === 'none' ? 'none' : 'rr',
  idleCounts: (opt('idle') ?? (quick ? '200,1000' : '1000,10000')).split(',').map(Number),
  sshdIdleMax: Number(opt('sshd-idle-max') ?? 1000),
  note: opt('note') ?? '',
};
const cpuProf = flag('cpu-prof');
const cases = opt('cases') ? BULK_CASES.filter((c) => opt('cases')!.split(',').includes(c.label)) : BULK_CASES;
const directions = (opt('directions') ?? 'download,upload').split(',') as ('download' | 'upload')[];
/** How the Node servers are written for bulk (bench/servers/commands.ts STYLES); sshd runs only the default. */
const styles = (opt('styles') ?? (quick ? DEFAULT_STYLE : Object.keys(STYLES).join(','))).split(',');
for (const st of styles)
  if (!Object.hasOwn(STYLES, st)) throw new Error(`--styles: unknown style ${st}; known: ${Object.keys(STYLES).join(', ')}`);
/** Ciphers the non-default styles are measured with (each style is a full set of runs). */
const styleCiphers = ['aes128-gcm', 'chacha20-poly1305'];
const profileCases = flag('profile');
const serverIds = opt('servers')?.split(',') as ServerId[] | undefined;
const RESULTS = join(REPO, 'bench', 'results');
const PROF_DIR = join(RESULTS, 'prof');

// ---- helpers ----------------------------------------------------------------

const started: ServerHandle[] = [];
async function stopAll(): Promise<void> {
  await Promise.all(started.splice(0).map((s) => s.stop().catch(() => undefined)));
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    console.error(`\n${sig}: stopping servers`);
    void stopAll().finally(() => process.exit(130));
  });
}

let workDir = '';
let keys: BenchKeys;
let user = '';
let sshdMissing: string | undefined;

function serverOptions(extra: Partial<ServerOptions> = {}): ServerOptions {
  return { hostKeyPath: keys.hostKeyPath, userKeyPubPath: keys.userKeyPubPath, userKeyBlob: keys.userKeyBlob, user, port: 0, ...extra };
}

async function startServer(id: ServerId): Promise<ServerHandle> {
  // One directory per server: with tsx, the ESM loader's worker thread writes a (small) profile too.
  const profArgs = cpuProf && id !== 'sshd' ? ['--cpu-prof', `--cpu-prof-dir=${join(PROF_DIR, id)}`] : [];
  const s =
    id === 'sdk'
      ? await NodeServer.start('sdk', 'SDK (sshdaemon)', 'sdkServer.ts', serverOptions(), profArgs)
      : id === 'raw'
        ? await NodeServer.start('raw', 'raw ssh2', 'rawSsh2Server.ts', serverOptions(), profArgs)
        : await Sshd.start(mkdtempIn(workDir, 'sshd-'), keys, await freePort(), user);
  started.push(s);
  return s;
}

async function stopServer(s: ServerHandle): Promise<void> {
  const i = started.indexOf(s);
  if (i >= 0) started.splice(i, 1);
  await s.stop();
}

function mkdtempIn(dir: string, prefix: string): string {
  const d = mkdtempSync(join(dir, prefix));
  return d;
}

const log = (...a: unknown[]) => console.log(`[${new Date().toISOString().slice(11, 19)}]`, ...a);

// ---- suites -----------------------------------------------------------------

/**
 * One bulk case: a cipher, a direction and how the Node servers are written. sshd runs the default
 * style only (the others are the same shell command to it).
 */
interface BulkCase {
  cipher: string;
  mac: string;
  label: string;
  direction: 'download' | 'upload';
  style: string;
}

function bulkCases(): BulkCase[] {
  const out: BulkCase[] = [];
  for (const style of styles) {
    for (const bc of cases) {
      if (style !== DEFAULT_STYLE && !styleCiphers.includes(bc.label)) continue;
      for (const direction of directions) {
        // Upload has no chunk size to choose (the client sends): one loop style and the stream style.
        if (direction === 'upload' && style !== DEFAULT_STYLE && STYLES[style].style === 'loop') continue;
        out.push({ ...bc, direction, style });
      }
    }
  }
  return out;
}

/** --profile: the server's own profile over one transfer of a case, summarised into the results. */
const caseProfiles: NonNullable<BenchResults['caseProfiles']> = [];

async function profiled<T>(s: ServerHandle, caseName: string, body: () => Promise<T>): Promise<T> {
  if (!profileCases || !(s instanceof NodeServer)) return body();
  mkdirSync(PROF_DIR, { recursive: true });
  const file = join(PROF_DIR, `${s.id}-${caseName.replace(/[^a-z0-9]+/gi, '_')}.cpuprofile`);
  await s.profileStart();
  try {
    return await body();
  } finally {
    await s.profileStop(file);
    caseProfiles.push({ server: s.id, case: caseName, file: relative(REPO, file), top: topFunctions(file, REPO, 12) });
  }
}

async function bulkSuite(servers: ServerHandle[]): Promise<BulkRow[]> {
  const samples = new Map<string, { mib: number[]; cpu: number[]; error?: string }>();
  const key = (c: BulkCase, s: string) => `${c.label}|${c.direction}|${c.style}|${s}`;
  const all = bulkCases();
  for (let run = 1; run <= config.runs; run++) {
    for (const bc of all) {
      // The servers of one case back to back, in alternating order from run to run: the pairs see the same machine.
      const order = servers.filter((s) => s.id !== 'sshd' || bc.style === DEFAULT_STYLE);
      if (run % 2 === 0) order.reverse();
      for (const s of order) {
        const k = key(bc, s.id);
        const acc = samples.get(k) ?? { mib: [], cpu: [] };
        samples.set(k, acc);
        const name = `${bc.label} ${bc.direction} ${bc.style}`;
        try {
          const r = await profiled(s, name, () =>
            bulkTransfer(s, keys, bc.direction, config.bulkBytes, bc.cipher, bc.mac, bc.style === DEFAULT_STYLE ? undefined : bc.style),
          );
          acc.mib.push(r.mibPerSecond);
          acc.cpu.push(r.cpuPerGiB);
          log(`bulk run ${run} ${name} ${s.id}: ${r.mibPerSecond.toFixed(0)} MiB/s, ${r.cpuPerGiB.toFixed(2)} CPU s/GiB`);
        } catch (err) {
          acc.error ??= (err as Error).message.slice(0, 200);
          acc.mib.push(NaN);
          acc.cpu.push(NaN);
          log(`bulk run ${run} ${name} ${s.id}: ERROR ${(err as Error).message}`);
        }
      }
    }
  }
  const rows: BulkRow[] = [];
  for (const bc of all) {
    const row: BulkRow = {
      cipher: bc.label,
      direction: bc.direction,
      style: bc.style === DEFAULT_STYLE ? undefined : bc.style,
      mibPerSecond: {},
      cpuPerGiB: {},
      errors: {},
    };
    for (const s of servers) {
      const acc = samples.get(key(bc, s.id));
      if (!acc) continue;
      const id = s.id as ServerId;
      row.mibPerSecond[id] = summarize(acc.mib);
      row.cpuPerGiB[id] = summarize(acc.cpu);
      if (acc.error) row.errors[id] = acc.error;
    }
    const got = (id: string) => samples.get(key(bc, id));
    row.pairs = {
      sdkRaw: got('sdk') && got('raw') ? pairwise(got('sdk')!.mib, got('raw')!.mib) : undefined,
      sdkSshd: got('sdk') && got('sshd') ? pairwise(got('sdk')!.mib, got('sshd')!.mib) : undefined,
      cpuSdkRaw: got('sdk') && got('raw') ? pairwise(got('sdk')!.cpu, got('raw')!.cpu) : undefined,
    };
    rows.push(row);
  }
  return rows;
}

/** SFTP put and get of one file, OpenSSH's sftp client against the SDK's server and sshd's sftp-server. */
async function sftpSuite(servers: ServerHandle[]): Promise<BulkRow[]> {
  const root = process.env.BENCH_SFTP_ROOT!;
  const scratch = mkdtempIn(workDir, 'sftp-local-');
  const source = join(scratch, 'source.bin');
  const bytes = config.bulkBytes;
  writeFileSync(source, Buffer.alloc(0));
  const zeros = Buffer.alloc(Math.min(bytes, 64 * 2 ** 20));
  for (let written = 0; written < bytes; written += zeros.length)
    appendFileSync(source, zeros.subarray(0, Math.min(zeros.length, bytes - written)));
  copyFileSync(source, join(root, 'served.bin'));
  chmodSync(join(root, 'served.bin'), 0o644);
  const rows: BulkRow[] = [];
  const sftpServers = servers.filter((x) => x.id !== 'raw');
  for (const direction of ['upload', 'download'] as const) {
    const row: BulkRow = { cipher: 'sftp aes128-gcm', direction, mibPerSecond: {}, cpuPerGiB: {}, errors: {} };
    const acc = new Map<string, { mib: number[]; cpu: number[] }>(sftpServers.map((x) => [x.id, { mib: [], cpu: [] }]));
    for (let run = 1; run <= config.runs; run++) {
      // Alternating pairs: SDK then sftp-server, then the other way round.
      const order = run % 2 ? sftpServers : [...sftpServers].reverse();
      for (const s of order) {
        const a = acc.get(s.id)!;
        try {
          const r = await profiled(s, `sftp ${direction}`, () =>
            sftpTransfer(s, keys, direction, bytes, { root, remoteDir: s.id === 'sshd' ? root : '/', source, scratch }),
          );
          a.mib.push(r.mibPerSecond);
          a.cpu.push(r.cpuPerGiB);
          log(`sftp run ${run} ${direction} ${s.id}: ${r.mibPerSecond.toFixed(0)} MiB/s, ${r.cpuPerGiB.toFixed(2)} CPU s/GiB`);
        } catch (err) {
          row.errors[s.id as ServerId] ??= (err as Error).message.slice(0, 200);
          a.mib.push(NaN);
          a.cpu.push(NaN);
          log(`sftp run ${run} ${direction} ${s.id}: ERROR ${(err as Error).message}`);
        }
      }
    }
    for (const s of sftpServers) {
      row.mibPerSecond[s.id as ServerId] = summarize(acc.get(s.id)!.mib);
      row.cpuPerGiB[s.id as ServerId] = summarize(acc.get(s.id)!.cpu);
    }
    if (acc.has('sdk') && acc.has('sshd')) row.pairs = { sdkSshd: pairwise(acc.get('sdk')!.mib, acc.get('sshd')!.mib) };
    rows.push(row);
  }
  return rows;
}

async function handshakeSuite(servers: ServerHandle[]): Promise<HandshakeRow[]> {
  const rows: HandshakeRow[] = [];
  for (const concurrency of [1, 16, 64]) {
    const row: HandshakeRow = { concurrency, perSecond: {}, p50Ms: {}, cpuMsPerHandshake: {}, errors: {} };
    const acc = new Map<string, { hs: number[]; p50: number[]; cpu: number[] }>();
    for (let run = 1; run <= config.runs; run++) {
      for (const s of servers) {
        const a = acc.get(s.id) ?? { hs: [], p50: [], cpu: [] };
        acc.set(s.id, a);
        const r = await handshakes(
          s,
          keys,
          concurrency,
          config.loadProcesses,
          config.handshakeWarmupSeconds * 1000,
          config.handshakeSeconds * 1000,
        );
        a.hs.push(r.perSecond);
        a.p50.push(r.p50Ms);
        a.cpu.push(r.completed ? (r.serverCpuSeconds * 1000) / r.completed : NaN);
        const problems = [
          r.errors ? `${r.errors} failed (${r.firstError})` : '',
          r.teardownErrors ? `${r.teardownErrors} completed but the socket then ended with an error (${r.firstTeardownError})` : '',
        ]
          .filter(Boolean)
          .join('; ');
        if (problems) row.errors[s.id as ServerId] = problems;
        log(
          `handshakes run ${run} c=${concurrency} ${s.id}: ${r.perSecond.toFixed(0)}/s p50 ${r.p50Ms.toFixed(1)} ms p99 ${r.p99Ms.toFixed(1)} ms${problems ? `; ${problems}` : ''}`,
        );
      }
    }
    for (const s of servers) {
      const a = acc.get(s.id)!;
      const id = s.id as ServerId;
      row.perSecond[id] = summarize(a.hs);
      row.p50Ms[id] = summarize(a.p50);
      row.cpuMsPerHandshake[id] = summarize(a.cpu);
    }
    rows.push(row);
  }
  // The post-quantum hybrid, SDK only (raw ssh2 and sshd 9.2 do not have it), at concurrency 16.
  const sdk = servers.find((s) => s.id === 'sdk');
  if (sdk) {
    const kex = 'mlkem768x25519-sha256';
    const row: HandshakeRow = { concurrency: 16, kex, perSecond: {}, p50Ms: {}, cpuMsPerHandshake: {}, errors: {} };
    const hs: number[] = [];
    const p50: number[] = [];
    const cpu: number[] = [];
    for (let run = 1; run <= config.runs; run++) {
      const r = await handshakes(
        sdk,
        keys,
        16,
        config.loadProcesses,
        config.handshakeWarmupSeconds * 1000,
        config.handshakeSeconds * 1000,
        kex,
      );
      hs.push(r.perSecond);
      p50.push(r.p50Ms);
      cpu.push(r.completed ? (r.serverCpuSeconds * 1000) / r.completed : NaN);
      if (r.errors) row.errors.sdk = `${r.errors} failed (${r.firstError})`;
      log(`handshakes run ${run} c=16 sdk ${kex}: ${r.perSecond.toFixed(0)}/s p50 ${r.p50Ms.toFixed(1)} ms`);
    }
    row.perSecond.sdk = summarize(hs);
    row.p50Ms.sdk = summarize(p50);
    row.cpuMsPerHandshake.sdk = summarize(cpu);
    rows.push(row);
  }
  return rows;
}

async function idleSuite(ids: ServerId[]): Promise<IdleRow[]> {
  const rows: IdleRow[] = [];
  for (const count of config.idleCounts) {
    for (const id of ids) {
      if (id === 'sshd' && count > config.sshdIdleMax) {
        rows.push({
          requested: count,
          server: id,
          note: `skipped: above --sshd-idle-max ${config.sshdIdleMax} (two processes per connection; see the PSS per connection at the smaller count × ${count.toLocaleString('en-US')})`,
        });
        continue;
      }
      const s = await startServer(id);
      try {
        const r = await idleConnections(s, keys, count);
        const note = [
          r.reached < count ? `reached ${r.reached} of ${count}: ${r.firstError ?? 'unknown error'}` : '',
          r.errors && r.reached >= count ? `${r.errors} errors` : '',
          r.dropped ? `${r.dropped} dropped while idle` : '',
          `opened in ${r.openSeconds.toFixed(1)} s`,
        ]
          .filter(Boolean)
          .join('; ');
        rows.push({
          requested: count,
          server: id,
          reached: r.reached,
          rssPerConn: r.rssPerConn,
          pssPerConn: r.pssPerConn,
          heapPerConn: r.heapPerConn,
          externalPerConn: r.externalPerConn,
          processes: r.after.processes,
          openSeconds: r.openSeconds,
          note,
        });
        log(
          `idle ${count} ${id}: reached ${r.reached}, RSS ${(r.rssPerConn / 1024).toFixed(1)} KiB/conn, PSS ${(r.pssPerConn / 1024).toFixed(1)} KiB/conn${r.heapPerConn !== undefined ? `, heap ${(r.heapPerConn / 1024).toFixed(1)} KiB/conn` : ''} (${note})`,
        );
      } catch (err) {
        rows.push({ requested: count, server: id, note: `failed: ${(err as Error).message}` });
        log(`idle ${count} ${id}: FAILED ${(err as Error).message}`);
      } finally {
        await stopServer(s);
      }
    }
  }
  return rows;
}

async function clusterSuite(): Promise<ClusterRow[]> {
  const rows: ClusterRow[] = [];
  const servers: Record<number, NodeServer> = {};
  for (const workers of [1, 2]) {
    servers[workers] = await NodeServer.start(
      `sdk-cluster-${workers}`,
      `SDK cluster ×${workers}`,
      'sdkCluster.ts',
      serverOptions({ workers, scheduling: config.clusterScheduling }),
    );
    started.push(servers[workers]);
  }
  const acc: Record<number, number[]> = { 1: [], 2: [] };
  const errors: Record<number, string> = {};
  for (let run = 1; run <= config.runs; run++) {
    for (const workers of [1, 2]) {
      const r = await handshakes(
        servers[workers],
        keys,
        config.clusterConcurrency,
        config.clusterLoadProcesses,
        config.handshakeWarmupSeconds * 1000,
        config.handshakeSeconds * 1000,
      );
      acc[workers].push(r.perSecond);
      if (r.errors) errors[workers] = `${r.errors} failed (${r.firstError})`;
      log(`cluster run ${run} workers=${workers}: ${r.perSecond.toFixed(0)}/s${r.errors ? `, ${r.errors} errors` : ''}`);
    }
  }
  for (const workers of [1, 2]) {
    const counters = await servers[workers].counters();
    log(`cluster workers=${workers}: aggregated counters over IPC: ${JSON.stringify(counters)}`);
    rows.push({ workers, perSecond: summarize(acc[workers]), errors: errors[workers] });
    await stopServer(servers[workers]);
  }
  return rows;
}

// ---- main -------------------------------------------------------------------

/** --report-only: rewrites docs/benchmarks.md and the chart from bench/results/latest.json (e.g. after editing bench/notes.md). */
function writeReport(results: BenchResults): void {
  const chartDir = join(REPO, 'bench', 'charts');
  mkdirSync(chartDir, { recursive: true });
  writeFileSync(join(chartDir, 'benchmarks.svg'), chart(results));
  const notesPath = join(REPO, 'bench', 'notes.md');
  const notes = existsSync(notesPath) ? readFileSync(notesPath, 'utf8') : '';
  writeFileSync(join(REPO, 'docs', 'benchmarks.md'), renderMarkdown(results, '../bench/charts/benchmarks.svg', notes));
  log('wrote docs/benchmarks.md, bench/charts/benchmarks.svg');
}

async function main(): Promise<void> {
  if (flag('report-only')) return writeReport(JSON.parse(readFileSync(join(RESULTS, 'latest.json'), 'utf8')) as BenchResults);
  // The SDK server runs the built package (dist/), as users do: build it from the current sources.
  execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: REPO, stdio: 'ignore' });
  const machine = describeMachine();
  if (!machine.cryptoBinding)
    console.warn(
      'WARNING: ssh2 native crypto binding (sshcrypto.node) is NOT loaded; bulk figures for the Node servers will be much lower.',
    );
  sshdMissing = ensureSshd();
  if (sshdMissing) console.warn(`WARNING: OpenSSH sshd unavailable, skipping it: ${sshdMissing}`);
  machine.sshd = sshdMissing ? 'not available' : describeMachine().sshd;
  log(
    `machine: ${machine.cores} cores ${machine.cpuModel}, Node ${machine.node}, ssh2 ${machine.ssh2}, binding ${machine.cryptoBinding ? 'loaded' : 'NOT loaded'}, ${machine.sshd}`,
  );
  log(`config: ${JSON.stringify(config)}`);

  workDir = mkdtempSync(join(tmpdir(), 'sshdaemon-bench-'));
  // The SFTP suite's served directory, inherited by the server processes; sshd's user writes there too.
  process.env.BENCH_SFTP_ROOT = join(workDir, 'sftp-root');
  mkdirSync(process.env.BENCH_SFTP_ROOT, { mode: 0o777 });
  chmodSync(workDir, 0o755);
  chmodSync(process.env.BENCH_SFTP_ROOT, 0o777);
  keys = makeKeys(workDir);
  user = benchUser();
  mkdirSync(RESULTS, { recursive: true });
  if (cpuProf) {
    rmSync(PROF_DIR, { recursive: true, force: true });
    mkdirSync(PROF_DIR, { recursive: true });
  }
  const ids: ServerId[] = (serverIds ?? ['sdk', 'raw', 'sshd']).filter((id) => id !== 'sshd' || !sshdMissing);
  const results: BenchResults = { machine, config, bulk: [], handshakes: [], idle: [], cluster: [], profiles: [], caseProfiles };

  try {
    if (only.has('bulk') || only.has('handshakes') || only.has('sftp')) {
      const servers: ServerHandle[] = [];
      for (const id of ids) servers.push(await startServer(id));
      if (only.has('bulk')) results.bulk = await bulkSuite(servers);
      if (only.has('handshakes')) results.handshakes = await handshakeSuite(servers);
      if (only.has('sftp')) results.sftp = await sftpSuite(servers);
      for (const s of servers) await stopServer(s);
    }
    if (only.has('idle')) results.idle = await idleSuite(ids);
    if (only.has('cluster')) results.cluster = await clusterSuite();
  } finally {
    await stopAll();
    rmSync(workDir, { recursive: true, force: true });
  }

  if (cpuProf) {
    for (const id of readdirSync(PROF_DIR)) {
      // The main thread's profile is the largest one in the directory.
      const files = readdirSync(join(PROF_DIR, id))
        .filter((f) => f.endsWith('.cpuprofile'))
        .map((f) => join(PROF_DIR, id, f));
      const main = files.sort((a, b) => statSync(b).size - statSync(a).size)[0];
      if (main) results.profiles.push({ server: id, file: relative(REPO, main), top: topFunctions(main, REPO, 20) });
    }
  }

  writeFileSync(join(RESULTS, 'latest.json'), JSON.stringify(results, null, 2));
  log('wrote bench/results/latest.json');
  if (!flag('no-report')) writeReport(results);
  for (const t of targets(results))
    log(
      `target: ${t.what}: ${Number.isFinite(t.value) ? t.value.toFixed(2) : 'n/a'}${t.unit} (goal ${t.higherIsBetter ? '>=' : '<='} ${t.target}${t.unit})`,
    );
}

function chart(r: BenchResults): string {
  const bars = [
    ...r.bulk.map((b) => ({
      label: `${b.direction} ${b.cipher}${b.style ? ` (${b.style})` : ''}`,
      vsRaw: b.pairs?.sdkRaw?.n ? b.pairs.sdkRaw.median : (b.mibPerSecond.sdk?.median ?? NaN) / (b.mibPerSecond.raw?.median ?? NaN),
      vsSshd: b.pairs?.sdkSshd?.n ? b.pairs.sdkSshd.median : (b.mibPerSecond.sdk?.median ?? NaN) / (b.mibPerSecond.sshd?.median ?? NaN),
      targetRaw: /aes128-gcm|chacha20/.test(b.cipher) ? 1.0 : undefined,
      targetSshd: /aes128-gcm|chacha20/.test(b.cipher) && !b.style ? 1.2 : undefined,
    })),
    ...r.handshakes.map((h) => ({
      label: `handshakes/s, concurrency ${h.concurrency}`,
      vsRaw: (h.perSecond.sdk?.median ?? NaN) / (h.perSecond.raw?.median ?? NaN),
      vsSshd: (h.perSecond.sdk?.median ?? NaN) / (h.perSecond.sshd?.median ?? NaN),
      targetRaw: h.concurrency === 16 ? 1.0 : undefined,
      targetSshd: h.concurrency === 16 ? 2 : undefined,
    })),
  ];
  const maxIdle = Math.max(0, ...r.idle.filter((i) => i.server === 'sdk' && i.reached).map((i) => i.requested));
  const idleAt = (s: ServerId, n: number) => r.idle.find((i) => i.server === s && i.requested === n)?.pssPerConn ?? NaN;
  const sshdIdleN = Math.max(0, ...r.idle.filter((i) => i.server === 'sshd' && i.reached).map((i) => i.requested));
  if (maxIdle) {
    bars.push({
      label: `idle memory (PSS), ${maxIdle.toLocaleString('en-US')} conns`,
      vsRaw: idleAt('raw', maxIdle) / idleAt('sdk', maxIdle),
      vsSshd: idleAt('sshd', sshdIdleN) / idleAt('sdk', sshdIdleN),
      targetRaw: undefined,
      targetSshd: undefined,
    });
  }
  return ratioChart(`sshdaemon vs raw ssh2 vs OpenSSH sshd (${r.config.quick ? 'quick run' : 'full run'}, ${r.machine.cores} cores)`, bars);
}

main().catch(async (err) => {
  console.error(err);
  await stopAll();
  process.exit(1);
});
