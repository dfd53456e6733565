/**
 * Two servers measured in alternating pairs (A, B, A, B, ...), for comparisons on a shared machine
 * where other work moves every figure: each pair runs back to back, so the ratio B/A of one pair
 * shares most of the machine's state, and the median of the pairwise ratios (with its min-max) is
 * the verdict. Server CPU seconds per GiB (user + system, from /proc) is the primary figure; wall
 * throughput is printed beside it.
 *
 *   node --import tsx bench/pairs.ts --a raw --b sdk [--pairs 5] [--size 512] [--suite bulk|sftp]
 *        [--cases aes128-gcm,chacha20-poly1305] [--directions download,upload] [--warmup 64] [--keep]
 *        [--cpu-prof DIR]
 *
 * A server is `sdk`, `raw`, or `sdk@DIR`: the SDK bench server of another checkout (DIR is its root,
 * e.g. a `git archive` of the commit before a change, with node_modules linked), to measure a
 * change against what it replaces.
 *
 * Each pair starts both servers afresh (and warms each up with one short transfer) unless --keep:
 * V8's collector can settle into a state where a server process runs back-to-back mark-compacts for
 * every transfer after (bench/notes.md), which would otherwise colour every later sample of that
 * process; fresh processes make one such sample an outlier the median absorbs.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, appendFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { BULK_CASES } from './lib/algorithms';
import { makeKeys, type BenchKeys } from './lib/keys';
import { cpuSplit } from './lib/proc';
import { summarize } from './lib/stats';
import { bulkTransfer, type BulkResult } from './load/bulk';
import { sftpTransfer } from './load/sftpTransfer';
import { NodeServer } from './servers/nodeServer';
import { benchUser } from './servers/sshd';

const argv = process.argv.slice(2);
const opt = (name: string, fallback: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : fallback;
};
const specA = opt('a', 'raw');
const specB = opt('b', 'sdk');
const pairs = Number(opt('pairs', '5'));
const bytes = Number(opt('size', '512')) * 2 ** 20;
const warmupBytes = Number(opt('warmup', '64')) * 2 ** 20;
const suite = opt('suite', 'bulk') as 'bulk' | 'sftp';
const caseLabels = opt('cases', 'aes128-gcm,chacha20-poly1305').split(',');
const directions = opt('directions', 'download,upload').split(',') as ('download' | 'upload')[];
const keep = argv.includes('--keep');
/** --cpu-prof DIR: V8 CPU profiles of both servers, one directory per server (read with bench/report/profile.ts). */
const profDir = argv.includes('--cpu-prof') ? opt('cpu-prof', '') : '';

const log = (...a: unknown[]) => console.log(`[${new Date().toISOString().slice(11, 19)}]`, ...a);

async function start(spec: string, keys: BenchKeys, user: string): Promise<NodeServer> {
  const [kind, dir] = spec.split('@');
  const script = kind === 'raw' ? 'rawSsh2Server.ts' : dir ? join(dir, 'bench', 'servers', 'sdkServer.ts') : 'sdkServer.ts';
  if (kind !== 'raw' && kind !== 'sdk') throw new Error(`unknown server '${spec}' (sdk, raw or sdk@DIR)`);
  const profArgs = profDir ? ['--cpu-prof', `--cpu-prof-dir=${join(resolve(profDir), spec.replace(/[^a-z0-9]+/gi, '_'))}`] : [];
  return NodeServer.start(
    spec.replace(/[^a-z0-9]+/gi, '_'),
    spec,
    script,
    { hostKeyPath: keys.hostKeyPath, userKeyPubPath: keys.userKeyPubPath, userKeyBlob: keys.userKeyBlob, user, port: 0 },
    profArgs,
    true,
  );
}

interface Sample extends BulkResult {
  userPerGiB: number;
  systemPerGiB: number;
  /** Mark-compacts in the server during the transfer. */
  majorGcs: number;
}

async function measure(s: NodeServer, run: () => Promise<BulkResult>): Promise<Sample> {
  const before = cpuSplit(s.pid);
  const gcs = s.majorGcs;
  const r = await run();
  const after = cpuSplit(s.pid);
  const gib = bytes / 2 ** 30;
  return {
    ...r,
    userPerGiB: (after.user - before.user) / gib,
    systemPerGiB: (after.system - before.system) / gib,
    majorGcs: s.majorGcs - gcs,
  };
}

const fmt = (xs: number[], digits = 2) => {
  const s = summarize(xs);
  return `${s.median.toFixed(digits)} [${s.min.toFixed(digits)}-${s.max.toFixed(digits)}]`;
};

async function main(): Promise<void> {
  const workDir = mkdtempSync(join(tmpdir(), 'sshdaemon-pairs-'));
  chmodSync(workDir, 0o755);
  const root = join(workDir, 'sftp-root');
  mkdirSync(root, { mode: 0o777 });
  process.env.BENCH_SFTP_ROOT = root;
  const keys = makeKeys(workDir);
  const user = benchUser();
  let servers = [await start(specA, keys, user), await start(specB, keys, user)];
  const restart = async () => {
    await Promise.all(servers.map((s) => s.stop()));
    servers = [await start(specA, keys, user), await start(specB, keys, user)];
  };
  const source = join(workDir, 'source.bin');
  if (suite === 'sftp') {
    const zeros = Buffer.alloc(Math.min(bytes, 64 * 2 ** 20));
    writeFileSync(source, Buffer.alloc(0));
    for (let w = 0; w < bytes; w += zeros.length) appendFileSync(source, zeros.subarray(0, Math.min(zeros.length, bytes - w)));
    copyFileSync(source, join(root, 'served.bin'));
    chmodSync(join(root, 'served.bin'), 0o644);
  }
  try {
    const cases =
      suite === 'sftp' ? [{ label: 'sftp aes128-gcm', cipher: '', mac: '' }] : BULK_CASES.filter((c) => caseLabels.includes(c.label));
    for (const bc of cases) {
      for (const direction of directions) {
        const once = (s: NodeServer, n: number) =>
          suite === 'sftp'
            ? sftpTransfer(s, keys, direction, n, { root, remoteDir: '/', source, scratch: workDir })
            : bulkTransfer(s, keys, direction, n, bc.cipher, bc.mac);
        const warmup = async () => {
          for (const s of servers) if (warmupBytes && suite === 'bulk') await once(s, warmupBytes);
        };
        if (keep) await warmup();
        const got: Sample[][] = [[], []];
        for (let i = 1; i <= pairs; i++) {
          if (!keep) {
            await restart();
            await warmup();
          }
          for (const [k, s] of servers.entries()) {
            const r = await measure(s, () => once(s, bytes));
            got[k].push(r);
            log(
              `pair ${i} ${bc.label} ${direction} ${s.label}: ${r.cpuPerGiB.toFixed(3)} CPU s/GiB (user ${r.userPerGiB.toFixed(3)}, sys ${r.systemPerGiB.toFixed(3)}), ${r.mibPerSecond.toFixed(0)} MiB/s, ${r.majorGcs} mark-compacts`,
            );
          }
        }
        const cpuRatio = got[1].map((b, i) => b.cpuPerGiB / got[0][i].cpuPerGiB);
        const mibRatio = got[1].map((b, i) => b.mibPerSecond / got[0][i].mibPerSecond);
        console.log(`== ${bc.label} ${direction}, ${pairs} pairs of ${bytes / 2 ** 20} MiB: median [min-max]`);
        for (const [k, s] of servers.entries()) {
          const g = got[k];
          console.log(
            `   ${s.label.padEnd(24)} CPU s/GiB ${fmt(
              g.map((x) => x.cpuPerGiB),
              3,
            )}  user ${fmt(
              g.map((x) => x.userPerGiB),
              3,
            )}  sys ${fmt(
              g.map((x) => x.systemPerGiB),
              3,
            )}  MiB/s ${fmt(
              g.map((x) => x.mibPerSecond),
              0,
            )}  mark-compacts ${fmt(
              g.map((x) => x.majorGcs),
              0,
            )}`,
          );
        }
        console.log(`   ${specB}/${specA}: CPU per GiB ${fmt(cpuRatio)}, MiB/s ${fmt(mibRatio)}`);
      }
    }
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
    rmSync(workDir, { recursive: true, force: true });
  }
}

main().catch((err: Error) => {
  console.error(err.stack ?? err.message);
  process.exit(1);
});
