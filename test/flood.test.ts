/**
 * A connection flood from a separate process: 5,000 connections opened as fast as it can, some
 * silent, some sending garbage before or after the identification line. The daemon stays up,
 * keeps serving an authenticated client, and its registry and heap return to baseline.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { withBareDaemon } from './fixtures/bareDaemon';
import { registryDrained } from './fixtures/testServer';
import { connect, exec } from './helpers-ssh2';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const FLOOD = `
const net = require('node:net');
const [port, total, inFlight] = process.argv.slice(1).map(Number);
let started = 0, finished = 0, refused = 0;
function one(i) {
  const s = net.connect(port, '127.0.0.1');
  let got = false;
  const done = () => { s.destroy(); if (++finished === total) { console.log(JSON.stringify({ finished, refused })); process.exit(0); } else next(); };
  s.on('data', () => { got = true; });
  s.on('error', () => {});
  s.on('close', () => { if (!got) refused++; done(); });
  s.on('connect', () => {
    const kind = i % 4;
    if (kind === 1) s.write(require('node:crypto').randomBytes(512));
    if (kind === 2) s.write(Buffer.concat([Buffer.from('SSH-2.0-flood\\r\\n'), require('node:crypto').randomBytes(2048)]));
    if (kind === 3) s.write('SSH-2.0-flood\\r\\n\\0\\0\\xff\\xff\\xff\\xff' + 'x'.repeat(100));
    setTimeout(() => s.destroy(), kind === 0 ? 150 : 50);
  });
}
function next() { if (started < total) one(started++); }
for (let i = 0; i < inFlight; i++) next();
`;

test(
  'flood: 5,000 connections (silent, garbage, bad packets) from one process; an authenticated client is served throughout; registry and heap return to baseline',
  { timeout: 180_000 },
  () =>
    withBareDaemon(async ({ daemon, port }) => {
      daemon.on('SSHUserAuthRequest', (e) => void (e.accept = e.authMethod === 'password' && e.authParam === 'pw'));
      daemon.on('SSHChannelOpenRequest', (e) => void (e.accept = true));
      daemon.on('SSHChannelRequest', (e) => void (e.success = true));
      daemon.on('SSHChannelRequested', async (e) => {
        if (e.requestType !== 'exec') return;
        await daemon.sendChannelData(e.channelId, 'pong\n');
        await daemon.sendExitStatus(e.channelId, 0);
        await daemon.closeChannel(e.channelId);
      });
      let errors = 0;
      daemon.on('Error', () => void errors++);
      const legit = await connect(port, { password: 'pw' });
      // Warm up, then measure the baseline with one authenticated client connected.
      for (let i = 0; i < 20; i++) assert.equal((await exec(legit, 'ping')).stdout, 'pong\n');
      gc();
      const baseline = process.memoryUsage();

      const child = spawn(process.execPath, ['-e', FLOOD, String(port), '5000', '200'], { stdio: ['ignore', 'pipe', 'inherit'] });
      let report = '';
      child.stdout.on('data', (d: Buffer) => (report += d.toString()));
      const exited = once(child, 'exit');
      let served = 0;
      let peak = 0;
      let floodDone = false;
      void exited.then(() => (floodDone = true));
      while (!floodDone) {
        const r = await exec(legit, 'ping');
        assert.equal(r.stdout, 'pong\n', 'the authenticated client is served during the flood');
        served++;
        peak = Math.max(peak, daemon.sshConnections.size);
      }
      const [code] = (await exited) as [number];
      assert.equal(code, 0, 'the flood client finished');
      const { finished, refused } = JSON.parse(report) as { finished: number; refused: number };
      assert.equal(finished, 5000);

      await until(() => daemon.sshConnections.size === 1, 30_000);
      assert.equal((await exec(legit, 'ping')).stdout, 'pong\n', 'still served after the flood');
      gc();
      await new Promise((r) => setTimeout(r, 200));
      gc();
      const after = process.memoryUsage();
      const heapGrowth = after.heapUsed - baseline.heapUsed;
      console.log(
        `# flood: 5000 connections, ${refused} closed before the banner (refusals: ${JSON.stringify(daemon.refusalCounts())}), peak registry ${peak}, ${errors} Error events, ` +
          `${served} execs served during the flood; heapUsed ${(baseline.heapUsed / 2 ** 20).toFixed(1)} -> ${(after.heapUsed / 2 ** 20).toFixed(1)} MiB, ` +
          `rss ${(baseline.rss / 2 ** 20).toFixed(1)} -> ${(after.rss / 2 ** 20).toFixed(1)} MiB`,
      );
      assert.ok(served > 0, 'execs completed while the flood ran');
      assert.ok(heapGrowth < 8 * 2 ** 20, `heap back to baseline (grew ${(heapGrowth / 2 ** 20).toFixed(1)} MiB)`);
      legit.end();
      await registryDrained(daemon);
    }),
);

async function until(check: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}
