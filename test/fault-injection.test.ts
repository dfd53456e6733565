/**
 * Faults: handlers that never decide, clients killed with SIGKILL mid-handshake, mid-transfer and
 * mid-SFTP, half-open sockets, and shutdown() with transfers in flight. Each ends with the registry
 * empty and the right events fired.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { ErrorCodes } from '../src';
import { withBareDaemon } from './fixtures/bareDaemon';
import { opensshArgs, requireBinary } from './fixtures/clients';
import { SFTP_USER, withSftpServer } from './fixtures/sftpServer';
import { makeUserKey } from './fixtures/testServer';
import { connect, exec } from './helpers-ssh2';

const TIMEOUT = { timeout: 60_000 };
const MiB = 1024 * 1024;
const key = makeUserKey('ed25519');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await sleep(20);
  }
}

test('a handler that never decides: HandlerTimeout refuses and fires Error 1030; the client is told no', TIMEOUT, () =>
  withBareDaemon(async ({ daemon, port, errors }) => {
    daemon.config('HandlerTimeout=1');
    daemon.on('SSHUserAuthRequest', (e) => (e.authMethod === 'password' ? new Promise<void>(() => undefined) : undefined));
    const started = Date.now();
    await assert.rejects(connect(port, { password: 'x' }), /All configured authentication methods failed/);
    assert.ok(Date.now() - started >= 900, 'refused after the timeout, not before');
    assert.ok(
      errors.some((e) => e.startsWith(`${ErrorCodes.HandlerFailed} SSHUserAuthRequest handler failed: no decision within 1000 ms`)),
      errors.join('\n'),
    );
  }),
);

test('SIGKILL mid-handshake and mid-transfer: Disconnected fires, registry drains, the daemon keeps serving', TIMEOUT, () =>
  withBareDaemon(async ({ daemon, port }) => {
    const disconnected: string[] = [];
    daemon.on('Disconnected', (e) => void disconnected.push(e.connectionId));
    daemon.on(
      'SSHUserAuthRequest',
      (e) =>
        void (e.accept =
          (e.authMethod === 'publickey' && e.authParam === key.blobBase64) || (e.authMethod === 'password' && e.authParam === 'pw')),
    );
    daemon.on('SSHChannelOpenRequest', (e) => void (e.accept = true));
    daemon.on('SSHChannelRequest', (e) => void (e.success = true));
    const chunk = Buffer.alloc(256 * 1024, 1);
    daemon.on('SSHChannelRequested', async (e) => {
      if (e.requestType !== 'exec') return;
      try {
        for (let i = 0; i < 1024; i++) await daemon.sendChannelData(e.channelId, chunk);
      } catch {
        // the client died: sendChannelData rejects, nothing more is written
      }
    });
    // Mid-handshake: identification sent, then killed while key exchange runs.
    const half = spawn(
      requireBinary('ssh'),
      [
        ...opensshArgs(port),
        '-o',
        'BatchMode=yes',
        '-o',
        'KexAlgorithms=diffie-hellman-group16-sha512',
        '-i',
        key.privateKeyPath,
        'u@127.0.0.1',
        'true',
      ],
      { stdio: 'ignore' },
    );
    await until(() => daemon.sshConnections.size === 1);
    half.kill('SIGKILL');
    await until(() => daemon.sshConnections.size === 0);
    // Mid-transfer: a 256 MiB download killed after the first bytes.
    const ssh = spawn(
      requireBinary('ssh'),
      [...opensshArgs(port), '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes', '-i', key.privateKeyPath, 'u@127.0.0.1', 'flood'],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    await once(ssh.stdout!, 'data');
    ssh.kill('SIGKILL');
    await until(() => daemon.sshConnections.size === 0 && daemon.sshChannels.size === 0);
    assert.equal(disconnected.length, 2);
    const c = await connect(port, { password: 'pw' });
    c.end();
  }),
);

test('SIGKILL mid-SFTP download: the session ends, its handles close, the registry drains', TIMEOUT, () =>
  withSftpServer(async (s) => {
    writeFileSync(join(s.root, 'big.bin'), randomBytes(128 * MiB));
    let ended = 0;
    s.daemon.enableSFTP({
      fileSystem: new (await import('../src')).LocalFileSystem(s.root),
      onSession: (session) => session.on('ended', () => void ended++),
    });
    const args = opensshArgs(s.port);
    args[0] = '-P';
    // sftp runs ssh as a child: kill the whole process group, as a dying client machine would.
    const sftp = spawn(
      requireBinary('sftp'),
      [
        ...args,
        '-o',
        'BatchMode=yes',
        '-o',
        'IdentitiesOnly=yes',
        '-i',
        s.key.privateKeyPath,
        `${SFTP_USER}@127.0.0.1:big.bin`,
        join(s.local, 'partial.bin'),
      ],
      { stdio: 'ignore', detached: true },
    );
    await until(() => s.daemon.sshChannels.size === 1);
    await sleep(200);
    process.kill(-sftp.pid!, 'SIGKILL');
    await until(() => s.daemon.sshConnections.size === 0 && ended === 1).catch((err) => {
      throw new Error(`${(err as Error).message}: connections ${s.daemon.sshConnections.size}, ended ${ended}`);
    });
  }),
);

test('a half-open client (it sent FIN after the banner) is closed by AuthTimeout', TIMEOUT, () =>
  withBareDaemon(async ({ daemon, port }) => {
    daemon.config('AuthTimeout=1');
    const sock = tcpConnect(port, '127.0.0.1');
    sock.on('error', () => undefined);
    await once(sock, 'data');
    sock.end('SSH-2.0-halfopen\r\n');
    await until(() => daemon.sshConnections.size === 1, 2000);
    const [hadError] = (await once(sock, 'close')) as [boolean];
    assert.equal(hadError, false);
    await until(() => daemon.sshConnections.size === 0, 5000);
  }),
);

test('shutdown() with a transfer in flight: the producer is told, the client sees the close, nothing leaks', TIMEOUT, async () => {
  const { bareDaemon } = await import('./fixtures/bareDaemon');
  const d = await bareDaemon();
  const { daemon, port } = d;
  daemon.on('SSHUserAuthRequest', (e) => void (e.accept = e.authParam === 'pw'));
  daemon.on('SSHChannelOpenRequest', (e) => void (e.accept = true));
  daemon.on('SSHChannelRequest', (e) => void (e.success = true));
  let producerStopped: Error | undefined;
  daemon.on('SSHChannelRequested', async (e) => {
    try {
      for (;;) await daemon.sendChannelData(e.channelId, Buffer.alloc(64 * 1024));
    } catch (err) {
      producerStopped = err as Error;
    }
  });
  const c = await connect(port, { password: 'pw' });
  const closed = once(c, 'close');
  const run = exec(c, 'stream').catch(() => undefined);
  await until(() => daemon.sshChannels.size === 1);
  await sleep(100);
  await daemon.shutdown();
  await closed;
  await run;
  await until(() => producerStopped !== undefined);
  assert.match(producerStopped!.message, /closed/);
  assert.equal(daemon.sshConnections.size, 0);
  assert.equal(daemon.sshChannels.size, 0);
  assert.equal(daemon.listening, false);
});
