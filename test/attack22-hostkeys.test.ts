// Adversarial review of hostkeys-prove-00@openssh.com (issue 22). What it proves: a client that
// sends prove requests before authentication gets REQUEST_FAILURE for each, in order, and the
// daemon's log gets a bounded number of lines for them (one line per request let an
// unauthenticated client write the log at the rate it sends 40-byte packets).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Client } from 'ssh2';
import { startTestServer } from './fixtures/testServer';
import { MAX_PROVE_REQUESTS } from '../src/server/hostKeyRotation';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { sendPacket } = require('ssh2/lib/protocol/utils') as { sendPacket: (proto: unknown, packet: Buffer) => void };

function globalRequest(c: Client, name: string, wantReply: boolean, data: Buffer): void {
  const proto = (
    c as unknown as { _protocol: { _packetRW: { write: { allocStart: number; alloc(n: number): Buffer; finalize(p: Buffer): Buffer } } } }
  )._protocol;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(Buffer.byteLength(name));
  const body = Buffer.concat([Buffer.from([80]), len, Buffer.from(name), Buffer.from([wantReply ? 1 : 0]), data]);
  const w = proto._packetRW.write;
  const p = w.allocStart;
  const packet = w.alloc(body.length);
  packet.set(body, p);
  sendPacket(proto, w.finalize(packet));
}

test('prove requests before authentication: each refused, the log bounded', async () => {
  const lines: string[] = [];
  const server = await startTestServer({ configure: (d) => d.on('Log', (e) => void lines.push(e.message)) });
  const REQUESTS = 200;
  try {
    const failures = await new Promise<number>((resolve, reject) => {
      const c = new Client();
      let failed = 0;
      c.on('error', reject);
      c.connect({
        host: '127.0.0.1',
        port: server.port,
        username: 'nobody',
        readyTimeout: 60_000,
        authHandler: (() => {
          const handlers = (c as unknown as { _protocol: { _handlers: Record<string, unknown> } })._protocol._handlers;
          handlers.REQUEST_FAILURE = () => {
            if (++failed === REQUESTS) {
              c.end();
              resolve(failed);
            }
          };
          handlers.REQUEST_SUCCESS = () => reject(new Error('a prove request was answered before authentication'));
          // Authentication never proceeds: the requests all come before it.
          for (let i = 0; i < REQUESTS; i++) globalRequest(c, 'hostkeys-prove-00@openssh.com', true, Buffer.alloc(0));
        }) as never,
      });
    });
    assert.equal(failures, REQUESTS);
    const prove = lines.filter((l) => l.includes('hostkeys-prove-00'));
    assert.ok(prove.length > 0, 'the refusal is logged');
    assert.ok(prove.length <= MAX_PROVE_REQUESTS + 1, `${prove.length} log lines for ${REQUESTS} requests`);
  } finally {
    await server.close();
  }
});

test('a client hostkeys-00@openssh.com is an unknown request to the daemon: its data is not parsed as keys', async () => {
  // ssh2 decoded every key blob in it (the server's own parser, before any handler): 35 KB of
  // Ed25519 blobs cost ~7 ms of CPU a packet before authentication, and a truncated blob was a
  // fatal error. sshd answers the request as unknown: REQUEST_FAILURE, the connection goes on.
  const server = await startTestServer();
  try {
    const replies = await new Promise<string[]>((resolve, reject) => {
      const c = new Client();
      const seen: string[] = [];
      c.on('error', reject);
      c.on('close', () => resolve(seen));
      c.connect({
        host: '127.0.0.1',
        port: server.port,
        username: 'nobody',
        readyTimeout: 60_000,
        authHandler: (() => {
          const handlers = (c as unknown as { _protocol: { _handlers: Record<string, unknown> } })._protocol._handlers;
          handlers.REQUEST_SUCCESS = () => seen.push('success');
          handlers.REQUEST_FAILURE = () => {
            seen.push('failure');
            if (seen.length === 2) c.end();
          };
          // A key blob whose length runs past the packet: not a key list at all.
          globalRequest(c, 'hostkeys-00@openssh.com', true, Buffer.from([0, 0, 0x10, 0, 1, 2, 3]));
          globalRequest(c, 'hostkeys-00@openssh.com', true, Buffer.alloc(0));
        }) as never,
      });
    });
    assert.deepEqual(replies, ['failure', 'failure']);
  } finally {
    await server.close();
  }
});
