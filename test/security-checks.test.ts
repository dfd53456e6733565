/**
 * Security properties a client can observe: strict key exchange with OpenSSH (Terrapin), nothing
 * served before authentication, and no secrets in Log output below debug level.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Client } from 'ssh2';
import { withBareDaemon } from './fixtures/bareDaemon';
import { opensshArgs, requireBinary, run } from './fixtures/clients';
import { sendClientPayload } from './fixtures/net';
import { makeUserKey } from './fixtures/testServer';

const TIMEOUT = { timeout: 60_000 };

const str = (s: string) => {
  const b = Buffer.from(s);
  const l = Buffer.alloc(4);
  l.writeUInt32BE(b.length);
  return Buffer.concat([l, b]);
};
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};

test('OpenSSH negotiates strict key exchange (the Terrapin countermeasure) with the defaults', TIMEOUT, () =>
  withBareDaemon(async ({ port }) => {
    const r = await run(requireBinary('ssh'), ['-vvv', ...opensshArgs(port), '-o', 'BatchMode=yes', 'u@127.0.0.1', 'true'], {
      timeoutMs: 20_000,
    });
    assert.match(r.stderr, /will use strict KEX ordering/, 'OpenSSH enabled strict KEX');
  }),
);

test('nothing is served before authentication: channel opens and global requests are refused, no handler runs', TIMEOUT, () =>
  withBareDaemon(async ({ daemon, port }) => {
    const seen: string[] = [];
    daemon.on('SSHChannelOpenRequest', (e) => void seen.push(`open ${e.service}`));
    daemon.on('SSHChannelRequest', (e) => void seen.push(`request ${e.requestType}`));
    let releaseAuth: () => void = () => undefined;
    daemon.on('SSHUserAuthRequest', (e) => {
      if (e.authMethod !== 'password') return;
      // Hold the decision open while the client tries to skip authentication.
      return new Promise<void>((resolve) => (releaseAuth = resolve));
    });
    const client = new Client();
    const replies: number[] = [];
    client.on('error', () => undefined);
    const authStarted = new Promise<void>((resolve) => {
      client.on('handshake', () => {
        const proto = (client as unknown as { _protocol: { _handlers: Record<string, (...a: unknown[]) => void> } })._protocol;
        for (const [name, code] of [
          ['CHANNEL_OPEN_FAILURE', 92],
          ['REQUEST_FAILURE', 82],
          ['REQUEST_SUCCESS', 81],
          ['CHANNEL_OPEN_CONFIRMATION', 91],
        ] as const) {
          const original = proto._handlers[name];
          proto._handlers[name] = (...a: unknown[]) => {
            replies.push(code);
            return original?.(...a);
          };
        }
        setTimeout(resolve, 200);
      });
    });
    client.connect({ host: '127.0.0.1', port, username: 'u', password: 'p', readyTimeout: 10_000 });
    await authStarted;
    sendClientPayload(client, Buffer.concat([Buffer.from([90]), str('session'), u32(7), u32(2 ** 21), u32(32768)]));
    sendClientPayload(
      client,
      Buffer.concat([
        Buffer.from([90]),
        str('direct-tcpip'),
        u32(8),
        u32(2 ** 21),
        u32(32768),
        str('127.0.0.1'),
        u32(22),
        str('127.0.0.1'),
        u32(5000),
      ]),
    );
    sendClientPayload(client, Buffer.concat([Buffer.from([80]), str('tcpip-forward'), Buffer.from([1]), str('127.0.0.1'), u32(0)]));
    const end = Date.now() + 5000;
    while (replies.length < 3 && daemon.sshConnections.size > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    releaseAuth();
    client.end();
    assert.deepEqual(seen, [], 'no channel or request handler ran before authentication');
    assert.deepEqual(replies.sort(), [82, 92, 92], 'both opens failed and the global request was refused');
  }),
);

test('no password or key material in Log output at levels 1 and 2', TIMEOUT, () =>
  withBareDaemon(async ({ daemon, port }) => {
    const secret = 'Tr0ub4dor&3-very-secret';
    const key = makeUserKey('ed25519');
    const lines: string[] = [];
    daemon.config('LogLevel=2');
    daemon.on('Log', (e) => void lines.push(e.message));
    daemon.on(
      'SSHUserAuthRequest',
      (e) =>
        void (e.accept =
          (e.authMethod === 'password' && e.authParam === secret) || (e.authMethod === 'publickey' && e.authParam === key.blobBase64)),
    );
    daemon.on('SSHChannelOpenRequest', (e) => void (e.accept = true));
    await run(
      requireBinary('sshpass'),
      [
        '-p',
        'wrong-' + secret,
        requireBinary('ssh'),
        ...opensshArgs(port),
        '-o',
        'PreferredAuthentications=password',
        'u@127.0.0.1',
        'true',
      ],
      { timeoutMs: 20_000 },
    );
    await run(
      requireBinary('sshpass'),
      ['-p', secret, requireBinary('ssh'), ...opensshArgs(port), '-o', 'PreferredAuthentications=password', 'u@127.0.0.1', 'true'],
      { timeoutMs: 20_000 },
    );
    await run(
      requireBinary('ssh'),
      [...opensshArgs(port), '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes', '-i', key.privateKeyPath, 'u@127.0.0.1', 'true'],
      { timeoutMs: 20_000 },
    );
    assert.ok(
      lines.some((l) => /user 'u' authenticated/.test(l)),
      'the logins were logged',
    );
    const privateBody = key.privateKeyText.split('\n').slice(1, -2).join('');
    for (const line of lines) {
      assert.ok(!line.includes(secret), `password in: ${line}`);
      assert.ok(!line.includes(key.blobBase64.slice(20, 60)), `public key blob in: ${line}`);
      assert.ok(!line.includes(privateBody.slice(40, 80)), `private key in: ${line}`);
    }
  }),
);
