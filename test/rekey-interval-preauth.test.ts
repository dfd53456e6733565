/**
 * KeyRenegotiationInterval counts from authentication, as sshd never re-keys before login
 * (adversarial review, attacks/rekey-legit.ts): the timer ran from the first key exchange, so a
 * login slower than the interval got a server KEXINIT mid-authentication: OpenSSH's ssh disconnects
 * ("bad message during authentication: type 20") and an ssh2 client's answering KEXINIT was refused
 * by the pre-auth re-key gate. After login the timer still re-keys.
 */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Client } from 'ssh2';
import { Certificate, SSHDaemon } from '../src/index';

async function daemonWith(interval: number) {
  const daemon = new SSHDaemon();
  daemon.sshCert = Certificate.generate('ed25519');
  daemon.localHost = '127.0.0.1';
  daemon.localPort = 0;
  daemon.config(`KeyRenegotiationInterval=${interval}`);
  daemon.config('PerSourcePenalties=no');
  const status: string[] = [];
  const errors: string[] = [];
  daemon
    .on('SSHStatus', (e) => status.push(e.message))
    .on('Error', (e) => errors.push(e.description))
    .on('SSHServiceRequest', (e) => {
      e.accept = true;
    })
    .on('SSHUserAuthRequest', (e) => {
      e.accept = e.authMethod === 'password' && e.user === 'demo' && e.authParam === 'demo';
    })
    .on('SSHChannelOpenRequest', (e) => {
      e.accept = e.service === 'session';
    })
    .on('SSHChannelRequest', (e) => {
      e.success = e.requestType === 'exec';
    })
    .on('SSHChannelRequested', (e) => {
      if (e.requestType === 'exec') daemon.channelStream(e.channelId).end('ok\n').exit(0);
    });
  await daemon.startListening();
  return { daemon, status, errors };
}

test('OpenSSH logging in slower than KeyRenegotiationInterval is not re-keyed mid-authentication', async () => {
  const { daemon, errors } = await daemonWith(1);
  try {
    const dir = mkdtempSync(join(tmpdir(), 'slowpass-'));
    const askpass = join(dir, 'askpass.sh');
    writeFileSync(askpass, '#!/bin/sh\nsleep 2.5\necho demo\n');
    chmodSync(askpass, 0o755);
    const args = [
      '-p',
      String(daemon.localPort),
      '-o',
      'StrictHostKeyChecking=no',
      '-o',
      'UserKnownHostsFile=/dev/null',
      '-o',
      'PubkeyAuthentication=no',
      '-o',
      'PreferredAuthentications=password',
      '-o',
      'LogLevel=ERROR',
      'demo@127.0.0.1',
      'x',
    ];
    const result = await new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      const child = spawn('setsid', ['ssh', ...args], {
        env: { ...process.env, SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (err += d));
      child.on('close', (code) => resolve({ code, out, err }));
    });
    assert.equal(result.code, 0, result.err);
    assert.equal(result.out, 'ok\n');
    assert.deepEqual(errors, []);
  } finally {
    await daemon.shutdown();
  }
});

test('an ssh2 client logging in slowly is not refused, and the timer re-keys after login', async () => {
  const { daemon, status, errors } = await daemonWith(1);
  try {
    const c = new Client();
    const outcome = await new Promise<string>((resolve) => {
      c.on('ready', () => resolve('ready'));
      c.on('error', (e) => resolve(`error: ${e.message}`));
      c.connect({
        host: '127.0.0.1',
        port: daemon.localPort,
        username: 'demo',
        authHandler: (_methods: unknown, _partial: unknown, next: (m: unknown) => void) => {
          setTimeout(() => next({ type: 'password', username: 'demo', password: 'demo' }), 2500);
        },
      } as never);
    });
    assert.equal(outcome, 'ready');
    const rekeyed = () => status.filter((m) => m.startsWith('Key exchange complete')).length >= 2;
    for (let i = 0; i < 200 && !rekeyed(); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(rekeyed(), status.join('\n'));
    assert.deepEqual(errors, []);
    c.end();
  } finally {
    await daemon.shutdown();
  }
});
