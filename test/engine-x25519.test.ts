// curve25519-sha256 through raw X25519 keys as JWK (src/engine/x25519Exchange.ts): real key
// exchanges with ssh2's client and OpenSSH's, each completing (a wrong public key or secret fails
// the exchange hash and the host-key signature check), and counted as served by the JWK path; a
// client re-key goes through it again. Broader interop: interop-openssh, interop-paramiko, pq-kex.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Client } from 'ssh2';
import { x25519FastExchanges } from '../src/engine/x25519Exchange';
import { run, requireBinary } from './fixtures/clients';
import { PASSWORD, startTestServer, USER } from './fixtures/testServer';

test('curve25519-sha256 exchanges (first and re-key) complete through the JWK path', async () => {
  const server = await startTestServer();
  try {
    const before = x25519FastExchanges();
    await new Promise<void>((resolve, reject) => {
      const c = new Client();
      let handshakes = 0;
      c.on('error', reject);
      // A client re-key after authentication (before it, the daemon refuses one: rekeyGate.ts).
      c.on('ready', () => (c as unknown as { _protocol: { rekey(): void } })._protocol.rekey());
      c.on('handshake', (negotiated: { kex: string }) => {
        try {
          assert.equal(negotiated.kex, 'curve25519-sha256');
        } catch (err) {
          reject(err as Error);
        }
        if (++handshakes === 2) {
          c.end();
          resolve();
        }
      });
      c.connect({
        host: '127.0.0.1',
        port: server.port,
        username: USER,
        password: PASSWORD,
        readyTimeout: 60_000,
        algorithms: { kex: ['curve25519-sha256'] },
      });
    });
    assert.equal(x25519FastExchanges() - before, 2);
    // OpenSSH's client: its first exchange completes (it verifies our host-key signature over H).
    const r = await run(requireBinary('ssh'), [
      '-F',
      '/dev/null',
      '-o',
      'KexAlgorithms=curve25519-sha256',
      '-o',
      'StrictHostKeyChecking=no',
      '-o',
      'UserKnownHostsFile=/dev/null',
      '-o',
      'BatchMode=yes',
      '-o',
      'PreferredAuthentications=none',
      '-v',
      '-p',
      String(server.port),
      'nobody@127.0.0.1',
      'true',
    ]);
    assert.match(r.stderr, /kex: algorithm: curve25519-sha256/);
    assert.match(r.stderr, /SSH2_MSG_SERVICE_ACCEPT received|Authentications that can continue/);
    assert.equal(x25519FastExchanges() - before, 3);
  } finally {
    await server.close();
  }
});
