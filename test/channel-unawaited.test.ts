/**
 * Promises nobody awaits must not end the process. A client that closes a channel makes every send
 * still queued on it fail; the channel stream's own exit-status, and the docs' fire-and-forget calls
 * (`void daemon.sendExitStatus(id, 4)`), used to turn that into an unhandled rejection, which ends a
 * Node.js process. Driven by the in-process ssh2 client, with the process's unhandled rejections
 * recorded (test/fixtures/unhandled.ts).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import type { Client, ClientChannel } from 'ssh2';
import { type ChannelStream, ErrorCodes, type SSHDaemon } from '../src';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { ChannelLayer } from '../src/channels/ChannelLayer';
import type { ChannelHost } from '../src/channels/ChannelHost';
import { EventHub } from '../src/events/EventHub';
import type { ChannelWire } from '../src/engine/EngineWire';
import { encodeString, encodeUint32 } from '../src/packet/wire';
import { ConnectionRecord } from '../src/registry/ConnectionRecord';
import { withBareDaemon } from './fixtures/bareDaemon';
import { withUnhandledWatch } from './fixtures/unhandled';
import { connect } from './helpers-ssh2';
import { sleep, until } from './fixtures/wait';

const TIMEOUT = { timeout: 120_000 };
const MiB = 1024 * 1024;

/** Waits until `read()` has not changed for `quietMs` (the sender is stalled). */
async function stalled(read: () => number, quietMs = 500, ms = 30_000): Promise<number> {
  const end = Date.now() + ms;
  let last = -1;
  while (read() !== last) {
    if (Date.now() > end) throw new Error('never stalled');
    last = read();
    await sleep(quietMs);
  }
  return last;
}

/** A gate an asynchronous handler awaits until the test opens it. */
function gate(): { wait: Promise<void>; open: () => void; entered: boolean } {
  let open!: () => void;
  const g = { wait: new Promise<void>((r) => (open = r)), open: () => open(), entered: false };
  return g;
}

/** Sessions, password `pw`, every exec granted; `window-change` is decided asynchronously, held by `hold`. */
function sessions(daemon: SSHDaemon, hold: ReturnType<typeof gate>): void {
  daemon.on('SSHUserAuthRequest', (e) => void (e.accept = e.authParam === 'pw'));
  daemon.on('SSHChannelOpenRequest', (e) => void (e.accept = e.service === 'session'));
  daemon.on('SSHChannelRequest', async (e) => {
    if (e.requestType === 'window-change') {
      // A decision that takes a while (a database lookup): the channel's later input waits for it.
      hold.entered = true;
      await hold.wait;
    }
    e.success = e.requestType === 'exec' || e.requestType === 'window-change';
  });
}

function execChannel(c: Client, command: string): Promise<ClientChannel> {
  return new Promise((resolve, reject) => c.exec(command, (err, ch) => (err ? reject(err) : resolve(ch))));
}

test(
  'ChannelStream exit() or signal() waiting for output when the client closes the channel (a decision holding its input): no unhandled rejection, the channel ends',
  TIMEOUT,
  () =>
    withUnhandledWatch(() =>
      withBareDaemon(async ({ daemon, port, errors }) => {
        for (const ending of ['exit', 'signal'] as const) {
          const hold = gate();
          sessions(daemon, hold);
          let stream: ChannelStream | undefined;
          let channelId = '';
          daemon.on('SSHChannelRequested', (e) => {
            if (e.requestType !== 'exec') return;
            channelId = e.channelId;
            const channel = (stream = daemon.channelStream(e.channelId));
            // A program's output, written as the stream takes it (as pipeline() from a child does).
            const chunk = Buffer.alloc(64 * 1024, 0x41);
            const pump = () => {
              while (!channel.destroyed && !channel.writableEnded) if (!channel.write(chunk)) return void channel.once('drain', pump);
            };
            pump();
          });
          const closed = once(daemon, 'SSHChannelClosed');
          const c = await connect(port, { password: 'pw' });
          const ch = await execChannel(c, 'flood');
          ch.pause(); // never reads: the window stays shut
          ch.stderr.pause();
          await until('the exec to be served', () => stream !== undefined);
          await stalled(() => daemon.sshChannels.get(channelId)?.bytesSent ?? 0);
          // The program's last output (buffered behind the write the window holds), then it exits:
          // exit-status (or exit-signal) waits for both.
          stream!.write('last words\n');
          assert.ok(
            stream!.writableLength > 64 * 1024,
            `${ending}: output still waits for the client when it closes (else this test proves nothing)`,
          );
          if (ending === 'exit') stream!.exit(0);
          else stream!.signal('TERM');
          // window-change: its asynchronous decision holds the channel's input, so the CLOSE behind it
          // cannot finish the channel; the CLOSE itself fails every send still queued.
          ch.setWindow(24, 80, 0, 0);
          await until('the window-change decision to run', () => hold.entered);
          ch.close();
          // Every write completes (failed by the client's CLOSE) only once the CLOSE has arrived.
          if (!stream!.writableFinished) await once(stream!, 'finish');
          hold.open();
          await closed;
          assert.equal(daemon.sshChannels.size, 0, `${ending}: the channel finished`);
          assert.ok(stream!.destroyed, `${ending}: the stream was closed with the channel`);
          c.end();
          daemon.removeAllListeners('SSHChannelRequested');
          daemon.removeAllListeners('SSHChannelRequest');
          daemon.removeAllListeners('SSHChannelOpenRequest');
          daemon.removeAllListeners('SSHUserAuthRequest');
        }
        assert.deepEqual(errors, []);
      }),
    ),
);

test(
  "the docs' fire-and-forget calls after the client closed the channel (still held, then gone) and on unknown ids: never an unhandled rejection; awaited, they reject",
  TIMEOUT,
  () =>
    withUnhandledWatch((watch) =>
      withBareDaemon(async ({ daemon, port }) => {
        const hold = gate();
        sessions(daemon, hold);
        let channelId = '';
        let stream: ChannelStream | undefined;
        daemon.on('SSHChannelRequested', (e) => {
          if (e.requestType !== 'exec') return;
          channelId = e.channelId;
          if (requestCommand(daemon, e.packet) === 'stream') stream = daemon.channelStream(e.channelId);
        });
        const exitStatus = daemon.setSSHParam(daemon.setSSHParam(daemon.setSSHParam(null, 's', 'exit-status'), 'f', false), 'i', 4);
        /** Every promise-returning method a job might call when it is done, on this channel and connection. */
        const calls = (id: string, connectionId: string): Record<string, () => Promise<unknown>> => ({
          sendChannelData: () => daemon.sendChannelData(id, 'result\n'),
          sendStderr: () => daemon.sendStderr(id, 'warning\n'),
          sendExitStatus: () => daemon.sendExitStatus(id, 4),
          sendExitSignal: () => daemon.sendExitSignal(id, 'TERM'),
          sendSSHPacket: () => daemon.sendSSHPacket(id, 98, exitStatus),
          closeChannel: () => daemon.closeChannel(id),
          disconnect: () => daemon.disconnect(connectionId),
          exchangeKeys: () => daemon.exchangeKeys(connectionId),
          openChannel: () => daemon.openChannel(connectionId, 'x-test@example.com'),
        });
        /** Calls each unawaited (as the docs' `void ...` recipes do), then each awaited: the codes it rejects with. */
        const fireAndAwait = async (id: string, connectionId: string): Promise<Record<string, number | 'resolved'>> => {
          for (const call of Object.values(calls(id, connectionId))) void call();
          await watch.settle();
          const outcome: Record<string, number | 'resolved'> = {};
          for (const [name, call] of Object.entries(calls(id, connectionId))) {
            outcome[name] = await call().then(
              () => 'resolved' as const,
              (err: { code?: number }) => err.code ?? -1,
            );
          }
          return outcome;
        };

        for (const command of ['events', 'stream']) {
          channelId = '';
          const c = await connect(port, { password: 'pw' });
          const ch = await execChannel(c, command);
          await until('the exec to be served', () => channelId !== '');
          const id = channelId;
          // The user gives up (Ctrl-C): window-change, whose decision holds the channel's input, then CLOSE.
          ch.setWindow(24, 80, 0, 0);
          await until('the window-change decision to run', () => hold.entered);
          ch.close();
          // The CLOSE has arrived once a send fails (an empty send puts nothing on the wire).
          let closedByClient = false;
          while (!closedByClient) {
            closedByClient = await daemon.sendChannelData(id, '').then(
              () => false,
              () => true,
            );
            if (!closedByClient) await sleep(20);
          }
          assert.ok(daemon.sshChannels.has(id), `${command}: the channel is still registered (its input is held)`);
          const held = await fireAndAwait(id, 'no-such-connection');
          assert.deepEqual(
            held,
            {
              sendChannelData: 121,
              sendStderr: 121,
              sendExitStatus: 121,
              sendExitSignal: 121,
              sendSSHPacket: 121,
              closeChannel: 'resolved',
              disconnect: 120,
              exchangeKeys: 120,
              openChannel: 120,
            },
            `${command}: on a channel the client closed`,
          );
          if (stream) {
            // The stream's own calls after the client's CLOSE: no throw, no unhandled error.
            stream.write('late output\n');
            stream.stderr.write('late warning\n');
            stream.exit(3);
            stream.signal('TERM');
          }
          const closed = once(daemon, 'SSHChannelClosed');
          hold.open();
          await closed;
          const gone = await fireAndAwait(id, 'no-such-connection');
          assert.deepEqual(
            gone,
            {
              sendChannelData: 121,
              sendStderr: 121,
              sendExitStatus: 121,
              sendExitSignal: 121,
              sendSSHPacket: 121,
              closeChannel: 121,
              disconnect: 120,
              exchangeKeys: 120,
              openChannel: 120,
            },
            `${command}: on a channel that is gone`,
          );
          if (stream) {
            stream.write('later output\n');
            stream.exit(3);
            stream.destroy();
          }
          c.end();
          // The next round gets its own hold.
          Object.assign(hold, gate());
          stream = undefined;
        }
        // A connection that is gone: disconnect() and the channel calls on its last channel id.
        const c = await connect(port, { password: 'pw' });
        const ch = await execChannel(c, 'events');
        await until('the exec to be served', () => daemon.sshChannels.has(channelId));
        const [connectionId] = daemon.sshConnections.keys();
        ch.close();
        c.end();
        await until('the connection to go', () => daemon.sshConnections.size === 0);
        const afterDisconnect = await fireAndAwait(channelId, connectionId);
        assert.equal(afterDisconnect.disconnect, 120);
        assert.equal(afterDisconnect.sendExitStatus, 121);
      }),
    ),
);

function requestCommand(daemon: SSHDaemon, packet: Buffer): string {
  return daemon.getSSHParam(packet, 'Command');
}

test(
  "the channel layer alone: decisions that settle after the transport went (the client's FIN) send nothing; a send then would have thrown into an unhandled rejection",
  TIMEOUT,
  () =>
    withUnhandledWatch(async () => {
      // ssh2 destroys its Protocol at the client's FIN, before the socket closes; every send then throws
      // ("Instance unusable", "Invalid Zlib instance" with compression). The layer learns of it by abortAll().
      const sent: string[] = [];
      let destroyed = false;
      const send = (name: string) => () => {
        if (destroyed) throw new Error('Instance unusable after fatal error');
        sent.push(name);
      };
      // The outbound port: every message throws once the transport is gone (queuedDuringKex is a query, not a send).
      const wire = new Proxy(
        {},
        { get: (_t, name) => (name === 'queuedDuringKex' ? () => 0 : send(String(name))) },
      ) as unknown as ChannelWire;
      const socket = Object.assign(new EventEmitter(), { writableLength: 0 }) as unknown as Socket;
      const conn = new ConnectionRecord('1', socket, '127.0.0.1', 1, '127.0.0.1', 0);
      conn.authenticated = true;
      const hub = new EventHub();
      const layer = new ChannelLayer(conn, wire, {
        hub,
        addChannel: () => undefined,
        removeChannel: () => true,
        outBufferSize: () => 1 << 20,
        outBufferHardLimit: () => 16 << 20,
        maxChannels: () => 10,
        violation: () => undefined,
        overflow: () => undefined,
        activity: () => undefined,
        builtIns: {
          presetSuccess: () => '',
          presetAccept: () => '',
          attachBuiltIn: () => true,
          attachOpen: () => undefined,
          attachGlobal: () => true,
          refusedGlobal: () => undefined,
          connectionClosed: () => undefined,
        } as unknown as ChannelHost['builtIns'],
      });
      for (const verdict of [false, true]) {
        const hold = gate();
        hub.removeAllListeners('SSHChannelOpenRequest');
        hub.on('SSHChannelOpenRequest', async (e) => {
          await hold.wait;
          e.accept = verdict;
        });
        destroyed = false;
        const payload = Buffer.concat([
          Buffer.from([90]),
          encodeString('session'),
          encodeUint32(7),
          encodeUint32(2 << 20),
          encodeUint32(32768),
        ]);
        layer.onOpen({ type: 'session', sender: 7, window: 2 << 20, packetSize: 32768 }, payload);
        destroyed = true;
        layer.abortAll();
        hold.open();
        await sleep(20);
      }
      assert.deepEqual(sent, [], 'nothing sent on the torn-down transport');
    }),
);
