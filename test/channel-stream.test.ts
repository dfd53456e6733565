/**
 * daemon.channelStream(): a channel as a Node.js Duplex, driven by OpenSSH's ssh against servers that
 * run real programs with child_process: the docs' exec recipe (test/fixtures/execRecipe.ts) and a
 * pipeline() in both directions. Bytes, EOF, exit codes and signals arrive as sshd would deliver them;
 * a program that exits early, a slow program and a client that goes away are handled.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { pipeline, Writable } from 'node:stream';
import { test } from 'node:test';
import type { ClientChannel } from 'ssh2';
import { requestParamsOf, type SSHDaemon } from '../src';
import { withBareDaemon } from './fixtures/bareDaemon';
import { connect } from './helpers-ssh2';
import { serveExec } from './fixtures/execRecipe';
import { withKeyLogin } from './fixtures/keyLogin';
import { sha256Hex } from './fixtures/testServer';
import { until } from './fixtures/wait';

const TIMEOUT = { timeout: 180_000 };
const MiB = 1024 * 1024;

function grantExec(daemon: SSHDaemon): void {
  daemon.on('SSHChannelRequest', (e) => {
    if (e.requestType === 'exec') e.success = true;
  });
}

/** The highest RSS of this process while `work` runs, above the RSS when it started. */
async function rssGrowth<T>(work: () => Promise<T>): Promise<{ result: T; grownMiB: number }> {
  const base = process.memoryUsage().rss;
  let peak = base;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 25);
  try {
    const result = await work();
    peak = Math.max(peak, process.memoryUsage().rss);
    return { result, grownMiB: (peak - base) / MiB };
  } finally {
    clearInterval(timer);
  }
}

test('exec recipe: cat returns 8 MiB of random bytes unchanged, sha256sum hashes 32 MiB, exit codes arrive', TIMEOUT, () =>
  withKeyLogin(async ({ daemon, ssh, errors }) => {
    grantExec(daemon);
    serveExec(daemon);
    const data = randomBytes(8 * MiB);
    const cat = await ssh(['cat'], { input: data });
    assert.equal(cat.code, 0, cat.stderr);
    assert.equal(cat.stdout.length, data.length);
    assert.ok(cat.stdout.equals(data), 'cat returned the same bytes');

    const big = randomBytes(32 * MiB);
    const sum = await ssh(['sha256sum'], { input: big });
    assert.equal(sum.code, 0, sum.stderr);
    assert.equal(sum.stdout.toString().split(' ')[0], sha256Hex(big));

    const seven = await ssh(['echo out; echo err >&2; exit 7']);
    assert.equal(seven.code, 7);
    assert.equal(seven.stdout.toString(), 'out\n');
    assert.match(seven.stderr, /^err$/m);
    assert.deepEqual(errors, []);
  }),
);

test(
  'exec recipe: a program that exits before reading its input (head -c 5, exit 3) ends the session with its output and code',
  TIMEOUT,
  () =>
    withKeyLogin(async ({ daemon, ssh, shell }) => {
      grantExec(daemon);
      serveExec(daemon);
      const input = randomBytes(64 * MiB);
      const head = await ssh(['head -c 5'], { input });
      assert.equal(head.code, 0, head.stderr);
      assert.ok(head.stdout.equals(input.subarray(0, 5)));
      const three = await ssh(['exit 3'], { input });
      assert.equal(three.code, 3, three.stderr);
      // Input that never ends (ssh reads a pipe that stays open): the exit still ends the session.
      const open = await shell(`(head -c ${4 * MiB} /dev/zero; sleep 30) | $SSH 'head -c 1 >/dev/null; exit 4'`, { timeoutMs: 60_000 });
      assert.equal(open.code, 4, open.stderr);
    }),
);

test('exec recipe: the program killed by a signal arrives as exit-signal (ssh exits 255); stderr stays apart', TIMEOUT, () =>
  withKeyLogin(async ({ daemon, ssh }) => {
    grantExec(daemon);
    serveExec(daemon);
    const killed = await ssh(['echo before; echo to-stderr >&2; kill -TERM $$']);
    assert.equal(killed.code, 255);
    assert.equal(killed.stdout.toString(), 'before\n');
    assert.match(killed.stderr, /to-stderr/);
  }),
);

test(
  'ssh host cat < 1 GiB of zeros | head -c 1, with a program that does not read at first: bounded memory, the session ends',
  TIMEOUT,
  () =>
    withKeyLogin(async ({ daemon, shell }) => {
      grantExec(daemon);
      serveExec(daemon);
      const { result, grownMiB } = await rssGrowth(() =>
        shell(`head -c ${1024 * MiB} /dev/zero | $SSH 'sleep 3; cat' | head -c 1 | od -An -tx1`, { timeoutMs: 120_000 }),
      );
      assert.equal(result.stdout.toString().trim(), '00', result.stderr);
      // The daemon holds the client's window (2 MiB) and the streams' buffers, not the gigabyte.
      assert.ok(grownMiB < 48, `RSS grew ${grownMiB.toFixed(1)} MiB`);
      await until('the channel to close', () => daemon.sshChannels.size === 0);
    }),
);

test('pipeline() both ways: pipeline(channel, child.stdin) and pipeline(child.stdout, channel) with cat and sha256sum', TIMEOUT, () =>
  withKeyLogin(async ({ daemon, ssh, errors }) => {
    grantExec(daemon);
    daemon.on('SSHChannelRequested', (e) => {
      const exec = requestParamsOf(e, 'exec');
      if (!exec) return;
      const channel = daemon.channelStream(e.channelId);
      const [program, ...args] = exec.command.split(' ');
      const child = spawn(program, args, { stdio: ['pipe', 'pipe', 'inherit'] });
      pipeline(channel, child.stdin, () => undefined);
      pipeline(child.stdout, channel, () => undefined);
      child.on('close', (code) => channel.exit(code ?? 1));
    });
    const data = randomBytes(16 * MiB);
    const cat = await ssh(['cat'], { input: data });
    assert.equal(cat.code, 0, cat.stderr);
    assert.ok(cat.stdout.equals(data), 'cat returned the same bytes');
    const sum = await ssh(['sha256sum'], { input: data });
    assert.equal(sum.code, 0, sum.stderr);
    assert.equal(sum.stdout.toString().split(' ')[0], sha256Hex(data));
    assert.deepEqual(errors, []);
  }),
);

test('the client goes away while the program runs: the channel stream closes and the recipe hangs up the program', TIMEOUT, () =>
  withKeyLogin(async ({ daemon, sshCommand }) => {
    grantExec(daemon);
    serveExec(daemon);
    const client = spawn('/bin/sh', ['-c', `exec ${sshCommand} 'echo $$; exec sleep 600'`], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    client.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await until('the program to start', () => /^\d+\n/.test(out));
    const pid = Number(out.trim());
    const alive = () => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    assert.ok(alive(), 'the program runs');
    client.kill('SIGKILL');
    await until('the program to be hung up', () => !alive());
    await until('the channel to close', () => daemon.sshChannels.size === 0);
  }),
);

test(
  'data, EOF and CLOSE sent back to back (paramiko-style) reach a slow reader of the stream whole; the stream then closes',
  TIMEOUT,
  () =>
    withBareDaemon(async ({ daemon, port, errors }) => {
      daemon.on('SSHUserAuthRequest', (e) => void (e.accept = e.authParam === 'pw'));
      daemon.on('SSHChannelOpenRequest', (e) => void (e.accept = true));
      daemon.on('SSHChannelRequest', (e) => void (e.success = true));
      const hash = createHash('sha256');
      let got = 0;
      let closed = false;
      daemon.on('SSHChannelRequested', (e) => {
        const channel = daemon.channelStream(e.channelId);
        const slow = new Writable({
          highWaterMark: 16 * 1024,
          write(chunk: Buffer, _enc, done) {
            hash.update(chunk);
            got += chunk.length;
            setTimeout(done, 1);
          },
        });
        pipeline(channel, slow, () => undefined);
        channel.on('close', () => (closed = true));
      });
      const c = await connect(port, { password: 'pw' });
      const stream = await new Promise<ClientChannel>((resolve, reject) => c.exec('upload', (err, s) => (err ? reject(err) : resolve(s))));
      const data = randomBytes(MiB);
      stream.end(data);
      stream.close();
      await until('every byte to reach the slow reader', () => got === data.length);
      assert.equal(hash.digest('hex'), sha256Hex(data));
      await until('the stream to close', () => closed);
      assert.deepEqual(errors, []);
      c.end();
    }),
);
