/**
 * recordLength under a hostile client (the adversarial review: the docs' recipe took the body length
 * from the client's header, and collected bytes reopened the window, so a client announcing a 4 GiB
 * message made the daemon buffer all it sent: 600 MiB sent, 899 MiB held). Records are now collected
 * within the window (their bytes reopen it only once delivered), recordLength is bounded by the
 * window, and the docs' recipe checks the header. In-process ssh2 client.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import type { ClientChannel } from 'ssh2';
import { ErrorCodes, SSHDaemonError, type SSHDaemon } from '../src';
import { withBareDaemon } from './fixtures/bareDaemon';
import { MAX_MESSAGE, serveRecords } from './fixtures/recordRecipe';
import { connect } from './helpers-ssh2';
import { sleep, until } from './fixtures/wait';

const TIMEOUT = { timeout: 180_000 };
const MiB = 1024 * 1024;
/** The receive window the daemon grants a channel. */
const WINDOW = 2 * MiB;
/** SSH framing of what a client sends next to the channel data (lengths, padding, MACs) and what one socket read holds. */
const SLACK = 512 * 1024;

function sessions(daemon: SSHDaemon): void {
  daemon.on('SSHUserAuthRequest', (e) => void (e.accept = e.authParam === 'pw'));
  daemon.on('SSHChannelOpenRequest', (e) => void (e.accept = e.service === 'session'));
  daemon.on('SSHChannelRequest', (e) => void (e.success = e.requestType === 'exec'));
}

const header = (n: number) => {
  const h = Buffer.alloc(4);
  h.writeUInt32BE(n);
  return h;
};

/** Writes `chunk` until `total` bytes went out or the channel closed, with the stream's backpressure. */
async function pump(ch: ClientChannel, chunk: Buffer, total: number): Promise<number> {
  let closed = false;
  ch.once('close', () => void (closed = true));
  let sent = 0;
  while (!closed && sent < total) {
    sent += chunk.length;
    if (!ch.write(chunk))
      await new Promise((resolve) => (closed ? resolve(undefined) : (ch.once('drain', resolve), ch.once('close', resolve))));
  }
  return sent;
}

test(
  "the docs' records recipe: messages arrive whole, thousands pipelined in one packet too; a header announcing 4 GiB ends the channel with exit 1, and the client gets no more than the window in",
  TIMEOUT,
  () =>
    withBareDaemon(async ({ daemon, port, errors }) => {
      sessions(daemon);
      const messages: Buffer[] = [];
      serveRecords(daemon, (_id, message) => void messages.push(Buffer.from(message)));
      const c = await connect(port, { password: 'pw' });
      const ch = await new Promise<ClientChannel>((resolve, reject) => c.exec('records', (err, s) => (err ? reject(err) : resolve(s))));
      let stderr = '';
      ch.stderr.on('data', (d: Buffer) => void (stderr += d.toString()));
      ch.resume();
      const exit = new Promise<number>((resolve) => ch.on('exit', (code: number) => resolve(code)));
      const one = randomBytes(1000);
      const largest = randomBytes(MAX_MESSAGE);
      ch.write(Buffer.concat([header(one.length), one, header(largest.length)]));
      ch.write(largest.subarray(0, 100)); // a body split across packets
      ch.write(largest.subarray(100));
      await until('both messages', () => messages.length === 2);
      assert.ok(messages[0].equals(one) && messages[1].equals(largest), 'the messages arrived whole');
      // Pipelined small messages: 5000 in one write, so thousands of records (and length changes) per packet.
      const small = Array.from({ length: 5000 }, (_, i) => Buffer.from([i & 0xff]));
      ch.write(Buffer.concat(small.flatMap((m) => [header(1), m])));
      await until('the small messages', () => messages.length === 2 + small.length || daemon.sshConnections.size === 0);
      assert.deepEqual(errors, [], 'no client was dropped for them');
      assert.ok(Buffer.concat(messages.slice(2)).equals(Buffer.concat(small)), 'every small message, in order');
      const [connectionId] = daemon.sshConnections.keys();
      const before = daemon.sshConnections.get(connectionId)!.bytesIn;
      // The attack: a length of 4 GiB, then everything the client can send (up to 256 MiB).
      ch.write(header(0xfffffff0));
      const sent = await pump(ch, Buffer.alloc(MiB, 0x42), 256 * MiB);
      assert.equal(await exit, 1);
      assert.equal(stderr, 'message length 4294967280 not accepted\n');
      await until('the channel to close', () => daemon.sshChannels.size === 0);
      const taken = daemon.sshConnections.get(connectionId)!.bytesIn - before;
      assert.ok(
        taken < WINDOW + SLACK,
        `the daemon took ${taken} bytes after the bad header (window ${WINDOW}); the client offered ${sent}`,
      );
      assert.deepEqual(errors, []);
      c.end();
    }),
);

test(
  'records of the largest length (the window) complete under a slow asynchronous handler, and the client is never more than the window ahead of it; longer lengths are refused',
  TIMEOUT,
  () =>
    withBareDaemon(async ({ daemon, port, errors }) => {
      sessions(daemon);
      let connectionId = '';
      let openedAt = 0;
      let delivered = 0;
      let maxAhead = 0;
      const records: Buffer[] = [];
      const refusals: string[] = [];
      daemon.on('SSHChannelOpened', (e) => {
        connectionId = e.connectionId;
        openedAt = daemon.sshConnections.get(e.connectionId)!.bytesIn;
        const channel = daemon.sshChannels.get(e.channelId)!;
        assert.equal(channel.maxRecordLength, WINDOW);
        for (const bad of [channel.maxRecordLength + 1, 0xfffffff0, -1, 1.5]) {
          try {
            channel.recordLength = bad;
            refusals.push(`${bad}: accepted`);
          } catch (err) {
            assert.ok(err instanceof SSHDaemonError && err.code === ErrorCodes.InvalidPropertyValue, String(err));
            assert.match(err.message, /from 0 to 2097152/);
            refusals.push(`${bad}: refused`);
          }
        }
        channel.recordLength = channel.maxRecordLength;
      });
      const ahead = () => (maxAhead = Math.max(maxAhead, daemon.sshConnections.get(connectionId)!.bytesIn - openedAt - delivered));
      daemon.on('SSHChannelDataIn', async (e) => {
        ahead();
        records.push(Buffer.from(e.data));
        await sleep(100); // a slow sink: the client fills what window it has meanwhile
        ahead();
        delivered += e.data.length;
      });
      daemon.on('SSHChannelEOF', (e) => {
        void daemon.sendExitStatus(e.channelId, 0);
        void daemon.closeChannel(e.channelId);
      });
      const c = await connect(port, { password: 'pw' });
      const ch = await new Promise<ClientChannel>((resolve, reject) => c.exec('records', (err, s) => (err ? reject(err) : resolve(s))));
      const exit = new Promise<number>((resolve) => ch.on('exit', (code: number) => resolve(code)));
      ch.resume();
      const data = randomBytes(8 * WINDOW + 12345);
      for (let at = 0; at < data.length; at += 64 * 1024) {
        if (!ch.write(data.subarray(at, at + 64 * 1024))) await new Promise((r) => ch.once('drain', r));
      }
      ch.end();
      assert.equal(await exit, 0);
      assert.deepEqual(refusals, [`${WINDOW + 1}: refused`, '4294967280: refused', '-1: refused', '1.5: refused']);
      assert.deepEqual(
        records.map((r) => r.length),
        [...Array(8).fill(WINDOW), 12345],
        'eight records of the window, the rest at EOF',
      );
      assert.ok(Buffer.concat(records).equals(data), 'every byte, in order');
      assert.ok(maxAhead < WINDOW + SLACK, `the client was ${maxAhead} bytes ahead of the handler (window ${WINDOW})`);
      assert.deepEqual(errors, []);
      c.end();
    }),
);
