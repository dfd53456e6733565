/**
 * Input flow control for application channels, with OpenSSH's ssh and the in-process ssh2 client:
 * an asynchronous SSHChannelDataIn handler holds the channel's window, pause()/resume() do the same
 * for code that is not promise-shaped, input waits for asynchronous SSHChannelRequested handlers
 * (early stdin is not lost), and a failing SSHChannelRequested handler ends the channel instead of
 * leaving the client waiting.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { pipeline, Writable } from 'node:stream';
import { test } from 'node:test';
import type { ClientChannel } from 'ssh2';
import { ErrorCodes, requestParamsOf, type SSHDaemon } from '../src';
import { SerialQueue } from '../src/channels/SerialQueue';
import { withBareDaemon } from './fixtures/bareDaemon';
import { withKeyLogin } from './fixtures/keyLogin';
import { sha256Hex } from './fixtures/testServer';
import { connect } from './helpers-ssh2';
import { sleep, until } from './fixtures/wait';

const TIMEOUT = { timeout: 240_000 };
const MiB = 1024 * 1024;
/** The receive window the daemon grants a channel (ChannelState.LOCAL_WINDOW). */
const WINDOW = 2 * MiB;

/** Waits until `read()` has not changed for `quietMs` (the sender is stalled). */
async function stalled(read: () => number, quietMs = 600, ms = 30_000): Promise<number> {
  const end = Date.now() + ms;
  let last = -1;
  while (read() !== last) {
    if (Date.now() > end) throw new Error('never stalled');
    last = read();
    await sleep(quietMs);
  }
  return last;
}

function grantExec(daemon: SSHDaemon): void {
  daemon.on('SSHChannelRequest', (e) => {
    if (e.requestType === 'exec') e.success = true;
  });
}

test('a 128 MiB upload into a slow sink through an async SSHChannelDataIn handler: RSS stays within the window plus 24 MiB', TIMEOUT, () =>
  withKeyLogin(async ({ daemon, shell, errors }) => {
    grantExec(daemon);
    let received = 0;
    let maxAhead = 0;
    const hash = createHash('sha256');
    // A sink of about 16 MB/s: each 64 KiB takes a 4 ms timer.
    const sink = new Writable({
      highWaterMark: 64 * 1024,
      write(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        setTimeout(done, 4);
      },
    });
    let connectionId = '';
    daemon.on('SSHChannelRequested', (e) => void (connectionId = e.connectionId));
    let warmUp = true;
    daemon.on('SSHChannelDataIn', async (e) => {
      if (warmUp) return;
      received += e.data.length;
      // What reached the socket but not the sink: the window plus what is in flight.
      const conn = daemon.sshConnections.get(connectionId);
      if (conn) maxAhead = Math.max(maxAhead, conn.bytesIn - received);
      if (!sink.write(e.data)) await once(sink, 'drain');
    });
    daemon.on('SSHChannelEOF', (e) => void daemon.sendExitStatus(e.channelId, 0).then(() => daemon.closeChannel(e.channelId)));
    // A first transfer without the sink, so that the baseline includes what any transfer allocates once.
    const warm = await shell(`head -c ${64 * MiB} /dev/zero | $SSH sink`, { timeoutMs: 200_000 });
    assert.equal(warm.code, 0, warm.stderr);
    warmUp = false;
    const base = process.memoryUsage().rss;
    let peak = base;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 25);
    const r = await shell(`head -c ${128 * MiB} /dev/zero | $SSH sink`, { timeoutMs: 200_000 });
    clearInterval(sampler);
    assert.equal(r.code, 0, `${r.stderr} ${errors.join(';')} received ${received}`);
    assert.equal(received, 128 * MiB);
    assert.equal(hash.digest('hex'), sha256Hex(Buffer.alloc(128 * MiB)));
    const grown = (peak - base) / MiB;
    assert.ok(grown < WINDOW / MiB + 24, `RSS grew ${grown.toFixed(1)} MiB`);
    // The client never got more than the window ahead of the application (plus packet framing).
    assert.ok(maxAhead < WINDOW + 512 * 1024, `the client was ${maxAhead} bytes ahead of the handler`);
    assert.deepEqual(errors, []);
  }),
);

test('pause() holds the window and the delivery until resume(); held data keeps its order, EOF and requests wait behind it', TIMEOUT, () =>
  withBareDaemon(async ({ daemon, port, errors }) => {
    daemon.on('SSHUserAuthRequest', (e) => void (e.accept = e.authParam === 'pw'));
    daemon.on('SSHChannelOpenRequest', (e) => void (e.accept = true));
    const events: string[] = [];
    daemon.on('SSHChannelRequest', (e) => {
      e.success = true;
      if (e.requestType === 'window-change') events.push('window-change');
    });
    let channelId = '';
    daemon.on('SSHChannelRequested', (e) => {
      if (e.requestType !== 'exec') return;
      channelId = e.channelId;
      daemon.sshChannels.get(e.channelId)!.pause();
    });
    const chunks: Buffer[] = [];
    daemon.on('SSHChannelDataIn', (e) => void chunks.push(Buffer.from(e.data)));
    daemon.on('SSHChannelEOF', (e) => {
      events.push('eof');
      void daemon.sendExitStatus(e.channelId, 0).then(() => daemon.closeChannel(e.channelId));
    });
    const c = await connect(port, { password: 'pw' });
    const stream = await new Promise<ClientChannel>((resolve, reject) =>
      c.exec('upload', { pty: { rows: 24, cols: 80 } }, (err, s) => (err ? reject(err) : resolve(s))),
    );
    await until('the exec to be served', () => channelId !== '');
    const [connectionId] = daemon.sshConnections.keys();
    const bytesIn = () => daemon.sshConnections.get(connectionId)?.bytesIn ?? 0;
    const before = bytesIn();
    // Many small writes first (held small chunks are merged), then big ones: 24 MiB in all.
    const data = randomBytes(24 * MiB);
    for (let i = 0; i < 20_000; i++) stream.write(data.subarray(i, i + 1));
    stream.write(data.subarray(20_000));
    stream.setWindow(30, 100, 0, 0);
    stream.end();
    const held = (await stalled(bytesIn)) - before;
    assert.equal(chunks.length, 0, 'nothing is delivered while paused');
    assert.ok(held < WINDOW + 1.5 * MiB, `the client sent ${held} bytes into a paused channel (window ${WINDOW})`);
    assert.equal(daemon.sshChannels.get(channelId)!.paused, true);
    daemon.sshChannels.get(channelId)!.resume();
    stream.resume();
    await once(stream, 'close');
    assert.ok(Buffer.concat(chunks).equals(data), 'every byte arrived, in order');
    assert.deepEqual(events, ['window-change', 'eof'], 'the request and EOF sent after the data came after it');
    assert.deepEqual(errors, []);
    c.end();
  }),
);

test(
  'early stdin waits for an async SSHChannelRequested handler: it reaches a child spawned after an await (stream and event)',
  TIMEOUT,
  () =>
    withKeyLogin(async ({ daemon, ssh, errors }) => {
      grantExec(daemon);
      const input = randomBytes(64 * 1024);
      const children = new Map<string, ReturnType<typeof spawn>>();
      const openedAt = new Map<string, number>();
      daemon.on('SSHChannelOpened', (e) => void openedAt.set(e.channelId, daemon.sshConnections.get(e.connectionId)!.bytesIn));
      daemon.on('SSHChannelRequested', async (e) => {
        const exec = requestParamsOf(e, 'exec');
        if (!exec) return;
        // Wait until the client's input has reached the daemon's socket: it must not be lost meanwhile.
        const conn = daemon.sshConnections.get(e.connectionId)!;
        await until('the client input to arrive', () => conn.bytesIn >= openedAt.get(e.channelId)! + input.length);
        const child = spawn('sha256sum', [], { stdio: ['pipe', 'pipe', 'inherit'] });
        if (exec.command === 'stream') {
          const channel = daemon.channelStream(e.channelId);
          pipeline(channel, child.stdin, () => undefined);
          pipeline(child.stdout, channel, () => undefined);
          child.on('close', (code) => channel.exit(code ?? 1));
        } else {
          // The IPWorks way: SSHChannelDataIn and SSHChannelEOF route to a child found by channel id.
          children.set(e.channelId, child);
          child.stdout.on('data', (d: Buffer) => void daemon.sendChannelData(e.channelId, d));
          child.on('close', (code) => void daemon.sendExitStatus(e.channelId, code ?? 1).then(() => daemon.closeChannel(e.channelId)));
        }
      });
      daemon.on('SSHChannelDataIn', (e) => void children.get(e.channelId)?.stdin?.write(e.data));
      daemon.on('SSHChannelEOF', (e) => void children.get(e.channelId)?.stdin?.end());
      for (const command of ['stream', 'events']) {
        const r = await ssh([command], { input });
        assert.equal(r.code, 0, `${command}: ${r.stderr} ${errors.join(';')}`);
        assert.equal(r.stdout.toString().split(' ')[0], sha256Hex(input), `${command}: every early byte reached the child`);
      }
      assert.deepEqual(errors, []);
    }),
);

test('a throwing or rejecting SSHChannelRequested handler ends the channel with exit-status 1 and fires Error 1030', TIMEOUT, () =>
  withKeyLogin(async ({ daemon, ssh, errors }) => {
    grantExec(daemon);
    daemon.on('SSHChannelRequested', (e) => {
      if (requestParamsOf(e, 'exec')?.command === 'throw') throw new Error('cannot start');
    });
    daemon.on('SSHChannelRequested', async (e) => {
      await sleep(10);
      if (requestParamsOf(e, 'exec')?.command === 'reject') throw new Error('cannot start later');
    });
    for (const command of ['throw', 'reject']) {
      const r = await ssh([command], { timeoutMs: 30_000 });
      assert.equal(r.code, 1, `${command}: ${r.stderr}`);
    }
    await until('the channels to close', () => daemon.sshChannels.size === 0);
    assert.equal(
      errors.filter((e) => e.startsWith(`${ErrorCodes.HandlerFailed} SSHChannelRequested handler failed`)).length,
      2,
      errors.join('\n'),
    );
  }),
);

test('SerialQueue: held chunks are merged into few buffers; a client that queues too many events on a held channel is reported', () => {
  const delivered: Buffer[] = [];
  const overflows: number[] = [];
  const queue = new SerialQueue(
    {
      deliver: (d) => void delivered.push(Buffer.from(d)),
      overflow: (n) => void overflows.push(n),
      failed: (err) => assert.fail(String(err)),
    },
    8,
  );
  const release = queue.block();
  const bytes = randomBytes(100_000);
  for (let i = 0; i < bytes.length; i++) queue.data(bytes.subarray(i, i + 1), 0);
  assert.ok(queue.waiting <= 3, `${queue.waiting} held items for 100,000 one-byte chunks`);
  release();
  assert.ok(Buffer.concat(delivered).equals(bytes));
  const hold = queue.block();
  for (let i = 0; i < 20; i++) queue.data(Buffer.alloc(5000), i % 2);
  assert.deepEqual(overflows, [8]);
  hold();
});

test(
  "a reader that throws on the client's input is reported (Error 1030 naming the channel), not swallowed; the channel's later input still arrives",
  TIMEOUT,
  () =>
    withBareDaemon(async ({ daemon, port, errors }) => {
      daemon.on('SSHUserAuthRequest', (e) => void (e.accept = e.authParam === 'pw'));
      daemon.on('SSHChannelOpenRequest', (e) => void (e.accept = true));
      grantExec(daemon);
      let channelId = '';
      daemon.on('SSHChannelRequested', (e) => {
        channelId = e.channelId;
        const channel = daemon.channelStream(e.channelId);
        let first = true;
        let received = 0;
        channel.on('data', (d: Buffer) => {
          if (first) {
            first = false;
            throw new Error('a bug in the reader');
          }
          received += d.length;
        });
        channel.on('end', () => channel.end(`${received}\n`).exit(0));
      });
      const c = await connect(port, { password: 'pw' });
      const stream = await new Promise<ClientChannel>((resolve, reject) => c.exec('read', (err, s) => (err ? reject(err) : resolve(s))));
      let out = '';
      stream.on('data', (d: Buffer) => void (out += d.toString()));
      const exit = new Promise<number>((resolve) => stream.on('exit', (code: number) => resolve(code)));
      stream.write('first');
      await until('the first chunk to be read', () => errors.length > 0);
      stream.end(Buffer.alloc(3 * MiB, 1)); // more than the window: it must keep reopening
      assert.equal(await exit, 0);
      assert.equal(out, `${3 * MiB}\n`, 'the input after the throw arrived in full');
      assert.deepEqual(errors, [
        `${ErrorCodes.HandlerFailed} channel ${channelId}: a listener of the channel's stream threw on the client's input: a bug in the reader`,
      ]);
      c.end();
    }),
);
