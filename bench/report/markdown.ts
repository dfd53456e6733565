/** Writes docs/benchmarks.md from the results: tables of medians and spreads, ratios, targets. */
import { ratio, type Summary } from '../lib/stats';
import type { BenchResults, ServerId } from './types';

const KiB = 1024;
const MiB = 1024 * 1024;

function num(x: number | undefined, digits = 0): string {
  if (x === undefined || !Number.isFinite(x)) return 'n/a';
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}
/** "412 (r 3%)": median and (max - min) / median over the runs. */
function cell(s: Summary | undefined, digits = 0): string {
  if (!s || !s.n) return 'n/a';
  return s.n > 1 ? `${num(s.median, digits)} (r ${num(s.spread * 100, 0)}%)` : num(s.median, digits);
}
function r2(x: number): string {
  return Number.isFinite(x) ? `${x.toFixed(2)}×` : 'n/a';
}
function verdict(value: number, target: number, higherIsBetter = true): string {
  if (!Number.isFinite(value)) return 'not measured';
  const ok = higherIsBetter ? value >= target : value <= target;
  const by = higherIsBetter ? value / target - 1 : 1 - value / target;
  return ok ? `**met** (${by >= 0 ? '+' : ''}${(by * 100).toFixed(0)}% margin)` : `**missed** by ${(Math.abs(by) * 100).toFixed(0)}%`;
}

export interface Target {
  what: string;
  value: number;
  target: number;
  unit: string;
  higherIsBetter: boolean;
  /** When the value is the median of pairwise ratios: their min and max (a verdict needs both on one side of the goal). */
  pairs?: Summary;
}

/** Median of the pairwise ratios when measured in pairs, else the ratio of medians. */
function paired(p: Summary | undefined, a: Summary | undefined, b: Summary | undefined): { value: number; pairs?: Summary } {
  return p && p.n ? { value: p.median, pairs: p } : { value: ratio(a, b) };
}

const styleName = (style: string | undefined) => (style ? style.replace(/^loop-(\d+)k$/, 'awaited $1 KiB sends') : 'awaited 256 KiB sends');

/** The goals of issue 20 (performance): ratios measured in the same run, in alternating pairs. */
export function targets(r: BenchResults): Target[] {
  const out: Target[] = [];
  for (const row of r.bulk.filter((b) => /aes128-gcm|chacha20/.test(b.cipher))) {
    const name = `bulk ${row.direction} ${row.cipher}, ${styleName(row.style)}`;
    out.push({
      what: `${name}: SDK / raw ssh2`,
      target: 1.0,
      unit: '×',
      higherIsBetter: true,
      ...paired(row.pairs?.sdkRaw, row.mibPerSecond.sdk, row.mibPerSecond.raw),
    });
    if (!row.style && row.mibPerSecond.sshd)
      out.push({
        what: `${name}: SDK / sshd`,
        target: 1.2,
        unit: '×',
        higherIsBetter: true,
        ...paired(row.pairs?.sdkSshd, row.mibPerSecond.sdk, row.mibPerSecond.sshd),
      });
    if (!row.style && row.cipher === 'aes128-gcm')
      out.push({
        what: `server CPU per GiB, ${row.direction} aes128-gcm (SDK)`,
        value: row.cpuPerGiB.sdk?.median ?? NaN,
        target: 0.4,
        unit: ' s',
        higherIsBetter: false,
      });
  }
  for (const row of r.sftp ?? []) {
    out.push({
      what: `SFTP ${row.direction}: SDK / OpenSSH sftp-server`,
      target: 1.0,
      unit: '×',
      higherIsBetter: true,
      ...paired(row.pairs?.sdkSshd, row.mibPerSecond.sdk, row.mibPerSecond.sshd),
    });
  }
  const h16 = r.handshakes.find((h) => h.concurrency === 16 && !h.kex);
  if (h16) {
    out.push({
      what: 'handshakes/s at concurrency 16: SDK / raw ssh2',
      value: ratio(h16.perSecond.sdk, h16.perSecond.raw),
      target: 1.0,
      unit: '×',
      higherIsBetter: true,
    });
    out.push({
      what: 'handshakes/s at concurrency 16: SDK / sshd',
      value: ratio(h16.perSecond.sdk, h16.perSecond.sshd),
      target: 2,
      unit: '×',
      higherIsBetter: true,
    });
    out.push({
      what: 'server CPU per handshake at concurrency 16 (SDK)',
      value: h16.cpuMsPerHandshake.sdk?.median ?? NaN,
      target: 1.0,
      unit: ' ms',
      higherIsBetter: false,
    });
  }
  const idle = r.idle.filter((i) => i.server === 'sdk' && i.reached).sort((a, b) => b.requested - a.requested)[0];
  if (idle) {
    out.push({
      what: `idle RSS per SDK connection at ${num(idle.requested)} (reached ${num(idle.reached)})`,
      value: (idle.rssPerConn ?? NaN) / KiB,
      target: 20,
      unit: ' KiB',
      higherIsBetter: false,
    });
  }
  const c1 = r.cluster.find((c) => c.workers === 1);
  const c2 = r.cluster.find((c) => c.workers === 2);
  if (c1 && c2)
    out.push({
      what: 'cluster: 2 workers / 1 worker handshakes/s',
      value: ratio(c2.perSecond, c1.perSecond),
      target: 1.6,
      unit: '×',
      higherIsBetter: true,
    });
  return out;
}

/** met / missed, or no verdict when the pairwise ratios fall on both sides of the goal. */
function targetVerdict(t: Target): string {
  if (t.pairs && t.pairs.n > 1 && t.pairs.min < t.target && t.pairs.max >= t.target) {
    return `no verdict: pairs ${r2(t.pairs.min)}–${r2(t.pairs.max)} straddle the goal`;
  }
  return verdict(t.value, t.target, t.higherIsBetter);
}

function targetValue(t: Target): string {
  if (t.unit !== '×') return `${num(t.value, t.unit === ' KiB' ? 1 : 2)}${t.unit}`;
  return t.pairs && t.pairs.n > 1 ? `${r2(t.value)} (${r2(t.pairs.min)}–${r2(t.pairs.max)}, ${t.pairs.n} pairs)` : r2(t.value);
}

/** `notes`: hand-written analysis (bench/notes.md) appended as the closing note. */
export function renderMarkdown(r: BenchResults, chartPath: string, notes = ''): string {
  const m = r.machine;
  const c = r.config;
  const L: string[] = [];
  const servers: ServerId[] = ['sdk', 'raw', 'sshd'];
  L.push('# Benchmarks: this SDK vs raw ssh2 vs OpenSSH sshd');
  L.push('');
  L.push(`Generated by \`npm run bench${c.quick ? ' -- --quick' : ''}\` (bench/run.ts) on ${m.date}. ${c.note}`);
  L.push('');
  L.push('## Machine');
  L.push('');
  L.push(
    `- CPU: ${m.cores} × ${m.cpuModel}; ${m.memoryGiB} GiB RAM; Linux ${m.kernel}; load average at start ${m.loadAverageAtStart.join(' / ')}`,
  );
  L.push(
    `- Node.js ${m.node}; ssh2 ${m.ssh2}; ssh2 native crypto binding (sshcrypto.node): **${m.cryptoBinding ? 'loaded' : 'NOT loaded'}**`,
  );
  L.push(`- OpenSSH server: ${m.sshd}; client (the bulk load): ${m.sshClient}`);
  L.push(
    `- Mode: ${c.quick ? 'quick' : 'full'}; ${c.runs} run(s) per figure; bulk ${num(c.bulkBytes / MiB)} MiB per transfer; handshakes ${c.handshakeSeconds} s per measurement after ${c.handshakeWarmupSeconds} s warm-up, ${c.loadProcesses} load process(es)`,
  );
  L.push('');
  L.push(`Cells are \`median (r spread)\` where spread = (max − min) / median over the runs. Ratios are of medians.`);
  L.push('');
  L.push(`![ratios](${chartPath})`);
  L.push('');

  L.push('## Targets');
  L.push('');
  L.push('| target | measured | goal | result |');
  L.push('|---|---:|---:|---|');
  for (const t of targets(r)) {
    const g = t.unit === '×' ? `${t.higherIsBetter ? '≥' : '≤'} ${t.target}×` : `≤ ${t.target}${t.unit}`;
    L.push(`| ${t.what} | ${targetValue(t)} | ${g} | ${targetVerdict(t)} |`);
  }
  L.push('');

  L.push('## Bulk transfer (MiB/s, OpenSSH `ssh` client as the load)');
  L.push('');
  L.push(
    "How the Node servers write: *awaited N KiB sends* is the IPWorks-style loop (`await sendChannelData(id, chunk)`; raw ssh2: `write()` then `drain`) and an `SSHChannelDataIn` sink on upload; *stream* is `pipeline(Readable, channel)` down and `pipeline(channel, Writable)` up (the SDK's `channelStream()`; raw ssh2's channel). sshd runs the same shell command whatever the style, so it is measured once. SDK/raw and SDK/sshd are medians of pairwise ratios (run i against run i, back to back), with min–max.",
  );
  L.push('');
  L.push('| cipher | direction | servers written as | SDK | raw ssh2 | sshd | SDK/raw (pairs) | SDK/sshd (pairs) |');
  L.push('|---|---|---|---:|---:|---:|---:|---:|');
  const pairCell = (p: Summary | undefined, a: Summary | undefined, b: Summary | undefined) =>
    p && p.n > 1 ? `${r2(p.median)} (${r2(p.min)}–${r2(p.max)})` : b ? r2(ratio(a, b)) : '';
  for (const b of r.bulk) {
    L.push(
      `| ${b.cipher} | ${b.direction} | ${styleName(b.style)} | ${servers.map((s) => cell(b.mibPerSecond[s])).join(' | ')} | ${pairCell(b.pairs?.sdkRaw, b.mibPerSecond.sdk, b.mibPerSecond.raw)} | ${pairCell(b.pairs?.sdkSshd, b.mibPerSecond.sdk, b.mibPerSecond.sshd)} |`,
    );
  }
  const bulkErrors = r.bulk.flatMap((b) =>
    Object.entries(b.errors).map(([s, e]) => `${s} ${b.cipher} ${b.direction} ${styleName(b.style)}: ${e}`),
  );
  if (bulkErrors.length) L.push('', 'Errors: ' + bulkErrors.join('; '));
  L.push('');
  L.push('### Server CPU seconds per GiB transferred');
  L.push('');
  L.push(
    'User + system time of the server over the transfer, per GiB (sshd: the listener and every per-connection process, including the `head`/`cat` it ran, through a cgroup). Lower is better.',
  );
  L.push('');
  L.push('| cipher | direction | servers written as | SDK | raw ssh2 | sshd | SDK/raw (pairs) |');
  L.push('|---|---|---|---:|---:|---:|---:|');
  for (const b of r.bulk) {
    L.push(
      `| ${b.cipher} | ${b.direction} | ${styleName(b.style)} | ${servers.map((s) => cell(b.cpuPerGiB[s], 2)).join(' | ')} | ${pairCell(b.pairs?.cpuSdkRaw, b.cpuPerGiB.sdk, b.cpuPerGiB.raw)} |`,
    );
  }
  L.push('');

  if (r.sftp?.length) {
    L.push('## SFTP (MiB/s, OpenSSH `sftp` client, aes128-gcm)');
    L.push('');
    L.push(
      "`put` and `get` of one file: the SDK's SFTP server over `LocalFileSystem` against OpenSSH's `sftp-server` run by sshd. Server CPU seconds per GiB in brackets.",
    );
    L.push('');
    L.push('| direction | SDK | sshd sftp-server | SDK/sshd (pairs) |');
    L.push('|---|---:|---:|---:|');
    for (const b of r.sftp) {
      L.push(
        `| ${b.direction} | ${cell(b.mibPerSecond.sdk)} (${cell(b.cpuPerGiB.sdk, 2)}) | ${cell(b.mibPerSecond.sshd)} (${cell(b.cpuPerGiB.sshd, 2)}) | ${pairCell(b.pairs?.sdkSshd, b.mibPerSecond.sdk, b.mibPerSecond.sshd)} |`,
      );
    }
    const sftpErrors = r.sftp.flatMap((b) => Object.entries(b.errors).map(([s, e]) => `${s} ${b.direction}: ${e}`));
    if (sftpErrors.length) L.push('', 'Errors: ' + sftpErrors.join('; '));
    L.push('');
  }

  L.push('## Handshakes per second');
  L.push('');
  L.push(
    'Connect, curve25519-sha256, Ed25519 host key, publickey auth with an Ed25519 user key, one exec of `true`, close; ssh2 `Client` in separate load process(es).',
  );
  L.push('');
  L.push(
    '| concurrency | SDK | raw ssh2 | sshd | SDK/raw | SDK/sshd | p50 latency ms (SDK / raw / sshd) | server CPU ms per handshake (SDK / raw / sshd) |',
  );
  L.push('|---:|---:|---:|---:|---:|---:|---|---|');
  for (const h of r.handshakes.filter((x) => !x.kex)) {
    L.push(
      `| ${h.concurrency} | ${servers.map((s) => cell(h.perSecond[s])).join(' | ')} | ${r2(ratio(h.perSecond.sdk, h.perSecond.raw))} | ${r2(ratio(h.perSecond.sdk, h.perSecond.sshd))} | ${servers.map((s) => num(h.p50Ms[s]?.median, 1)).join(' / ')} | ${servers.map((s) => num(h.cpuMsPerHandshake[s]?.median, 2)).join(' / ')} |`,
    );
  }
  for (const h of r.handshakes.filter((x) => x.kex)) {
    const classical = r.handshakes.find((x) => !x.kex && x.concurrency === h.concurrency)?.perSecond.sdk;
    L.push(
      '',
      `With \`${h.kex}\` instead of curve25519-sha256 (SDK only; raw ssh2 and OpenSSH 9.2 lack it), concurrency ${h.concurrency}: ${cell(h.perSecond.sdk)} handshakes/s, ${r2(ratio(h.perSecond.sdk, classical))} of the classical rate; p50 ${num(h.p50Ms.sdk?.median, 1)} ms, server CPU ${num(h.cpuMsPerHandshake.sdk?.median, 2)} ms per handshake.`,
    );
  }
  const hsErrors = r.handshakes.flatMap((h) => Object.entries(h.errors).map(([s, e]) => `${s} c=${h.concurrency}: ${e}`));
  if (hsErrors.length) L.push('', 'Errors: ' + hsErrors.join('; '));
  L.push('');

  L.push('## Memory per idle authenticated connection');
  L.push('');
  L.push(
    'Each server freshly started in its own process; N connections opened by ssh2 clients in separate processes (authenticated, no channel), then (memory after − memory before) / N. RSS from /proc; PSS splits shared pages between processes (the fair figure for sshd, whose RSS sum counts its shared libraries once per process); heap and external from `process.memoryUsage()` after GC.',
  );
  L.push('');
  L.push('| connections | server | reached | RSS / conn | PSS / conn | V8 heap / conn | external / conn | processes | note |');
  L.push('|---:|---|---:|---:|---:|---:|---:|---:|---|');
  for (const i of r.idle) {
    const kib = (x?: number) => (x === undefined ? '' : `${num(x / KiB, 1)} KiB`);
    L.push(
      `| ${num(i.requested)} | ${i.server} | ${i.reached === undefined ? '' : num(i.reached)} | ${kib(i.rssPerConn)} | ${kib(i.pssPerConn)} | ${kib(i.heapPerConn)} | ${kib(i.externalPerConn)} | ${i.processes ?? ''} | ${i.note ?? ''} |`,
    );
  }
  L.push('');

  L.push('## Scale-out: node:cluster');
  L.push('');
  L.push(
    `The SDK daemon under \`node:cluster\` (bench/servers/sdkCluster.ts, see docs/scale-out.md), handshakes/s at concurrency ${c.clusterConcurrency} with ${c.clusterLoadProcesses} load process(es); scheduling ${c.clusterScheduling === 'none' ? 'SCHED_NONE (the kernel spreads accepts)' : 'SCHED_RR (Node default: the primary accepts and hands sockets to workers)'}.`,
  );
  L.push('');
  L.push('| workers | handshakes/s | vs 1 worker |');
  L.push('|---:|---:|---:|');
  const one = r.cluster.find((x) => x.workers === 1);
  for (const x of r.cluster)
    L.push(`| ${x.workers} | ${cell(x.perSecond)} | ${r2(ratio(x.perSecond, one?.perSecond))} |${x.errors ? ` ${x.errors}` : ''}`);
  L.push('');

  if (r.profiles.length) {
    L.push('## CPU profiles');
    L.push('');
    for (const p of r.profiles) {
      L.push(`### ${p.server} (\`${p.file}\`)`);
      L.push('');
      L.push('| self time | share | function |');
      L.push('|---:|---:|---|');
      for (const t of p.top) L.push(`| ${num(t.selfMs)} ms | ${num(t.share * 100, 1)}% | \`${t.fn}\` |`);
      L.push('');
    }
  }

  if (r.caseProfiles?.length) {
    L.push('## Profiles per case (`--profile`)');
    L.push('');
    L.push("Each Node server's own V8 profile over one transfer of the case (the last run's), top functions by self time.");
    L.push('');
    for (const p of r.caseProfiles) {
      L.push(`<details><summary>${p.server}: ${p.case} (<code>${p.file}</code>)</summary>`);
      L.push('');
      L.push('| self time | share | function |');
      L.push('|---:|---:|---|');
      for (const t of p.top) L.push(`| ${num(t.selfMs)} ms | ${num(t.share * 100, 1)}% | \`${t.fn}\` |`);
      L.push('');
      L.push('</details>');
      L.push('');
    }
  }

  L.push('## Closing note');
  L.push('');
  const missed = targets(r).filter((t) => Number.isFinite(t.value) && (t.higherIsBetter ? t.value < t.target : t.value > t.target));
  if (missed.length === 0) L.push('Every target measured in this run is met.');
  else {
    L.push('Missed in this run:');
    L.push('');
    for (const t of missed) {
      L.push(
        `- ${t.what}: ${targetValue(t)} against ${t.higherIsBetter ? '≥' : '≤'} ${t.target}${t.unit === '×' ? '×' : t.unit}, ${targetVerdict(t).replace(/\*\*/g, '')}.`,
      );
    }
  }
  L.push('');
  if (notes.trim()) {
    L.push(notes.trim());
    L.push('');
  }

  L.push('## How it is measured');
  L.push('');
  L.push(
    '- All three servers use the same Ed25519 host key and offer the same algorithms; each runs in its own process on 127.0.0.1. The SDK and raw ssh2 servers share one implementation of the commands (bench/servers/commands.ts): `head -c N /dev/zero` writes N bytes from one preallocated 256 KiB buffer and awaits each write (SDK: `sendChannelData`; raw: `stream.write` then `drain`), `cat > /dev/null` drops data until EOF, `true` exits 0. sshd runs the real commands through the login shell (/bin/sh) of a dedicated user.',
  );
  L.push(
    '- Runs are interleaved in alternating pairs (SDK, raw, sshd for one case, then the next; the order reversed on every other run), so background load is spread over all three and a pairwise ratio compares transfers made back to back.',
  );
  L.push(
    '- Bulk: wall time of the whole `ssh` invocation (`-c CIPHER -m MAC`, KexAlgorithms curve25519-sha256); the handshake is a few ms of it. For AEAD ciphers `-m` is ignored.',
  );
  L.push(
    '- Handshakes: completions inside the measurement window after a warm-up; the load processes compete with the server for the same cores, identically for all three servers.',
  );
  L.push(
    `- Server CPU: /proc/PID/stat (user + system) for the Node servers; for sshd a cgroup (cpuacct) around the listener, so per-connection processes that already exited are counted (their time does not reliably reach the listener's cutime).`,
  );
  L.push(
    '- The handshake load uses its own TCP sockets with Nagle off (ssh2 `Client` with `sock`), so that no client-side delayed-ACK stalls are measured; both Node servers set TCP_NODELAY on accepted sockets (the SDK by its TcpNoDelay default, the raw server explicitly).',
  );
  L.push(
    '- The SDK bench daemon sets MaxStartups=100000 and MaxConnections=100000, as the bench sshd_config sets MaxStartups 100000: the defaults (10:30:100, 1000) would refuse part of the load by design.',
  );
  L.push('- On a 2-core machine the cluster figure is bounded by the load generator sharing the cores; see docs/scale-out.md.');
  L.push('');
  return L.join('\n');
}
