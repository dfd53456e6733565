/** Inputs the fuzzer found, kept as regression tests. */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect as tcpConnect } from 'node:net';
import { test } from 'node:test';
import { plainPacket } from './fuzz/generators';
import { fuzzDaemon } from './fuzz/runFuzz';

async function send(port: number, data: Buffer): Promise<void> {
  const s = tcpConnect(port, '127.0.0.1');
  s.on('error', () => undefined);
  s.on('data', () => undefined);
  await once(s, 'connect');
  s.write(data);
  await Promise.race([once(s, 'close'), new Promise((r) => setTimeout(r, 3000))]);
  s.destroy();
}

test('seed 20261123: a key exchange message (30) before KEXINIT is a named protocol error, not a TypeError inside ssh2', async () => {
  const daemon = fuzzDaemon();
  const errors: string[] = [];
  daemon.on('Error', (e) => void errors.push(e.description));
  await daemon.startListening();
  try {
    for (const type of [21, 30, 31, 49]) {
      await send(daemon.localPort, Buffer.concat([Buffer.from('SSH-2.0-fuzz\r\n'), plainPacket(Buffer.from([type, 0, 0, 0, 4, 1, 2, 3, 4]))]));
    }
    const end = Date.now() + 5000;
    while (daemon.sshConnections.size > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  } finally {
    await daemon.shutdown();
  }
  assert.deepEqual(errors, [21, 30, 31, 49].map((t) => `Protocol error: key exchange message ${t} before the client's KEXINIT`));
});
