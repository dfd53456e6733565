/**
 * Memory bounds under clients that do not read: the daemon holds about OutBufferSize per connection,
 * also while a re-key holds packets back, and drops a client that floods requests without reading.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import type { Client, ClientChannel } from 'ssh2';
import { ErrorCodes, type SSHDaemon } from '../src';
import { withBareDaemon } from './fixtures/bareDaemon';
import { connect } from './helpers-ssh2';
import { sendClientPayload } from './fixtures/net';
import { encodeString, encodeUint32 } from '../src/packet/wire';

const MiB = 1024 * 1024;

function openDoors(daemon: SSHDaemon): void {
  daemon.on('SSHUserAuthRequest', (e) => void (e.accept = e.authMethod === 'password' && e.authParam === 'pw'));
  daemon.on('SSHChannelOpenRequest', (e) => void (e.accept = true));
  daemon.on('SSHChannelRequest', (e) => void (e.success = true));
}

/** Test-only reach into the ssh2 client: its TCP socket and its protocol writer. */
interface ClientInternals {
  _sock: { pause(): void };
  _protocol: { channelWindowAdjust(id: number, n: number): void; ping(): void };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test(
  'a non-reading client with a 1 GiB window, re-keying under way: the daemon holds a bounded amount, memory stays under 64 MiB above baseline',
  { timeout: 90_000 },
  () =>
    withBareDaemon(async ({ daemon, port }) => {
      openDoors(daemon);
      // Re-key after 2 MiB: the client never answers our KEXINIT, so ssh2 queues everything after it.
      daemon.config('KeyRenegotiationThreshold=2097152');
      const chunk = Buffer.alloc(64 * 1024, 1);
      let handedOver = 0;
      let producing = true;
      let channelId = '';
      daemon.on('SSHChannelRequested', async (e) => {
        channelId = e.channelId;
        // The IPWorks producer: send, wait until the daemon took it, repeat (up to 1 GiB).
        while (producing && handedOver < 1024 * MiB) {
          try {
            await daemon.sendChannelData(e.channelId, chunk);
          } catch {
            return;
          }
          handedOver += chunk.length;
        }
      });
      global.gc?.();
      const baseline = process.memoryUsage().rss;
      const c: Client = await connect(port, { password: 'pw' });
      const stream = await new Promise<ClientChannel>((resolve, reject) => c.exec('flood', (err, s) => (err ? reject(err) : resolve(s))));
      const internals = c as unknown as ClientInternals;
      internals._sock.pause();
      internals._protocol.channelWindowAdjust((stream as unknown as { outgoing: { id: number } }).outgoing.id, 1024 * MiB);
      // Let the producer run until it stalls.
      let last = -1;
      while (handedOver !== last) {
        last = handedOver;
        await sleep(750);
      }
      const grown = process.memoryUsage().rss - baseline;
      const channel = daemon.sshChannels.get(channelId);
      assert.ok(channel, 'the channel is open');
      assert.equal(channel.readyToSend, false, 'readyToSend is off');
      assert.ok(handedOver < 32 * MiB, `the producer was paused after ${handedOver} bytes (kernel buffers + OutBufferSize), not 1 GiB`);
      assert.ok(grown < 64 * MiB, `RSS grew ${(grown / MiB).toFixed(1)} MiB`);
      producing = false;
      c.destroy();
    }),
);

test('a client that floods requests and reads nothing is dropped at OutBufferHardLimit with a BufferLimit error', { timeout: 90_000 }, () =>
  withBareDaemon(async ({ daemon, port, errors }) => {
    openDoors(daemon);
    daemon.config('OutBufferHardLimit=65536');
    const c = await connect(port, { password: 'pw' });
    c.on('error', () => undefined);
    const internals = c as unknown as ClientInternals;
    internals._sock.pause();
    const closed = once(c, 'close');
    // Each keepalive@openssh.com with want-reply earns a REQUEST_FAILURE the client never reads.
    for (let i = 0; i < 400_000 && daemon.sshConnections.size > 0; i++) {
      internals._protocol.ping();
      if (i % 2000 === 0) await sleep(5);
    }
    await until(() => daemon.sshConnections.size === 0, 20_000);
    assert.ok(
      errors.some((e) => e.startsWith(`${ErrorCodes.BufferLimit} client does not read`)),
      errors.join('\n'),
    );
    c.destroy();
    await closed;
  }),
);

test(
  'an application echoing without awaiting to a client that types but never takes its output: dropped at OutBufferHardLimit, not the process',
  { timeout: 90_000 },
  () =>
    withBareDaemon(async ({ daemon, port, errors }) => {
      openDoors(daemon);
      // The careless echo server: every chunk sent back unawaited, as the old demo shell did.
      daemon.on('SSHChannelDataIn', (e) => void daemon.sendChannelData(e.channelId, e.data).catch(() => undefined));
      const c = await connect(port, { password: 'pw' });
      c.on('error', () => undefined);
      const stream = await new Promise<ClientChannel>((resolve, reject) => c.exec('cat', (err, s) => (err ? reject(err) : resolve(s))));
      stream.on('error', () => undefined);
      // The client reads the connection (and so gets our window adjustments) but never takes the
      // channel's data, so it never reopens the window for our output: ssh -tt with its stdout unread.
      stream.pause();
      const before = process.memoryUsage().rss;
      const chunk = Buffer.alloc(32 * 1024, 0x61);
      for (let sent = 0; sent < 256 * MiB && daemon.sshConnections.size > 0; sent += chunk.length) {
        if (!stream.write(chunk)) await Promise.race([once(stream, 'drain'), sleep(50)]);
      }
      await until(() => daemon.sshConnections.size === 0, 30_000);
      assert.ok(
        errors.some((e) => e.startsWith(`${ErrorCodes.BufferLimit} client does not read: the application queued`)),
        errors.join('\n'),
      );
      const grown = (process.memoryUsage().rss - before) / MiB;
      assert.ok(grown < 96, `RSS grew ${grown.toFixed(1)} MiB`);
      c.destroy();
    }),
);

test(
  "an echo over the channel stream that ignores write()'s return value (stdout or .stderr), to a client that never takes its output: dropped at OutBufferHardLimit like the sendChannelData echo",
  { timeout: 120_000 },
  () =>
    withBareDaemon(async ({ daemon, port, errors }) => {
      openDoors(daemon);
      daemon.on('SSHChannelRequested', (e) => {
        if (e.requestType !== 'exec') return;
        const channel = daemon.channelStream(e.channelId);
        const out = daemon.getSSHParam(e.packet, 'Command') === 'stderr' ? channel.stderr : channel;
        channel.on('data', (d: Buffer) => out.write(d)); // the natural echo: write()'s return value ignored
      });
      for (const command of ['cat', 'stderr']) {
        errors.length = 0;
        const c = await connect(port, { password: 'pw' });
        c.on('error', () => undefined);
        const stream = await new Promise<ClientChannel>((resolve, reject) => c.exec(command, (err, s) => (err ? reject(err) : resolve(s))));
        stream.on('error', () => undefined);
        stream.pause(); // reads the connection, never the channel: our output's window stays shut
        stream.stderr.pause();
        const before = process.memoryUsage().rss;
        const chunk = Buffer.alloc(32 * 1024, 0x61);
        let sent = 0;
        for (; sent < 256 * MiB && daemon.sshConnections.size > 0; sent += chunk.length) {
          if (!stream.write(chunk)) await Promise.race([once(stream, 'drain'), sleep(50)]);
        }
        await until(() => daemon.sshConnections.size === 0, 30_000);
        assert.ok(
          errors.some((e) => e.startsWith(`${ErrorCodes.BufferLimit} client does not read: the application queued`)),
          `${command}: ${errors.join('\n')}`,
        );
        assert.ok(
          sent < 64 * MiB,
          `${command}: the client got ${(sent / MiB).toFixed(0)} MiB in before the cut (OutBufferHardLimit 16 MiB)`,
        );
        const grown = (process.memoryUsage().rss - before) / MiB;
        assert.ok(grown < 96, `${command}: RSS grew ${grown.toFixed(1)} MiB`);
        c.destroy();
      }
    }),
);

async function until(check: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await sleep(20);
  }
}

test(
  "a client that ignores the server's re-key and floods requests wanting replies is dropped at OutBufferHardLimit, counting each queued reply's cost, not only its bytes",
  { timeout: 90_000 },
  () =>
    withBareDaemon(async ({ daemon, port, errors }) => {
      daemon.on('SSHUserAuthRequest', (e) => void (e.accept = e.authParam === 'pw'));
      daemon.on('SSHChannelOpenRequest', (e) => void (e.accept = e.service === 'session'));
      daemon.on('SSHChannelRequest', (e) => void (e.success = e.requestType === 'exec'));
      daemon.config('KeyRenegotiationThreshold=100000');
      daemon.config('OutBufferHardLimit=65536'); // at least twice OutBufferSize applies: 2 MiB
      const c = await connect(port, { password: 'pw' });
      c.on('error', () => undefined);
      // The client drops the server's KEXINIT: the re-key never completes and every reply waits in ssh2's queue.
      const handlers = require('ssh2/lib/protocol/handlers.js') as Array<(p: unknown, payload: Buffer) => void>;
      const proto = (c as unknown as { _protocol: unknown })._protocol;
      const kexinit = handlers[20];
      let stalled = false;
      handlers[20] = (p, payload) => (p === proto ? void (stalled = true) : kexinit(p, payload));
      try {
        const ch = await new Promise<ClientChannel>((resolve, reject) => c.exec('x', (err, s) => (err ? reject(err) : resolve(s))));
        ch.on('data', () => undefined);
        for (let i = 0; i < 100 && !stalled; i++) {
          ch.write(Buffer.alloc(64 * 1024));
          await sleep(50);
        }
        assert.ok(stalled, 'the daemon started a re-key past KeyRenegotiationThreshold');
        const id = (ch as unknown as { outgoing: { id: number } }).outgoing.id;
        const request = Buffer.concat([Buffer.from([98]), encodeUint32(id), encodeString('x-nothing'), Buffer.from([1])]);
        let sent = 0;
        const closed = new Promise<void>((resolve) => c.on('close', () => resolve()));
        // 5-byte replies: by bytes alone 2 MiB is 400,000 of them (1.1 GB of heap at 3.3 million in a review).
        while (sent < 200_000 && !(c as unknown as { _sock: { destroyed: boolean } })._sock.destroyed) {
          for (let i = 0; i < 1000; i++) sendClientPayload(c, request);
          sent += 1000;
          await sleep(2);
        }
        await closed;
        assert.ok(sent < 200_000, `dropped after ${sent} requests`);
        assert.ok(
          errors.some((e) => e.startsWith(`${ErrorCodes.BufferLimit} `)),
          JSON.stringify(errors),
        );
      } finally {
        handlers[20] = kexinit;
      }
    }),
);

test(
  'a channel open with a tiny maximum packet size is refused (each byte of output would cost a packet); 512 and up are served',
  { timeout: 60_000 },
  () =>
    withBareDaemon(async ({ daemon, port }) => {
      openDoors(daemon);
      const c: Client = await connect(port, { password: 'pw' });
      const proto = (
        c as unknown as {
          _protocol: {
            session(chan: number, window: number, packetSize: number): void;
            _handlers: Record<string, (...args: unknown[]) => void>;
          };
        }
      )._protocol;
      const answers: Array<{ id: number; outcome: string }> = [];
      const handlers = proto._handlers;
      const failure = handlers.CHANNEL_OPEN_FAILURE;
      const confirmation = handlers.CHANNEL_OPEN_CONFIRMATION;
      // Channel ids 900+ are ours alone: ssh2's own handlers never see them.
      handlers.CHANNEL_OPEN_FAILURE = (p: unknown, recipient: unknown, reason: unknown, description: unknown) =>
        (recipient as number) >= 900
          ? void answers.push({ id: recipient as number, outcome: `failure: ${String(description)}` })
          : failure(p, recipient, reason, description);
      handlers.CHANNEL_OPEN_CONFIRMATION = (p: unknown, info: unknown) => {
        const i = info as { recipient: number; packetSize: number };
        return i.recipient >= 900 ? void answers.push({ id: i.recipient, outcome: 'open' }) : confirmation(p, info);
      };
      proto.session(901, 2 * MiB, 1);
      proto.session(902, 2 * MiB, 511);
      proto.session(903, 2 * MiB, 512);
      const deadline = Date.now() + 20_000;
      while (answers.length < 3 && Date.now() < deadline) await sleep(20);
      assert.deepEqual(
        answers.sort((a, b) => a.id - b.id),
        [
          { id: 901, outcome: 'failure: maximum packet size below 512' },
          { id: 902, outcome: 'failure: maximum packet size below 512' },
          { id: 903, outcome: 'open' },
        ],
      );
      assert.equal(daemon.sshConnections.size, 1, 'the client stays connected');
      c.end();
    }),
);
