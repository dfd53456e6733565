/**
 * Config() settings, each shown by its effect on a real client: OpenSSH `ssh` and `ssh-audit` as
 * separate processes, the ssh2 client in-process, raw sockets for what happens before key exchange.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { connect as tcpConnect, type Socket } from 'node:net';
import { test } from 'node:test';
import { Client } from 'ssh2';
import { Certificate, ErrorCodes, SSHDaemon, SSHDaemonError, type DisconnectedEventArgs } from '../src';
import { withBareDaemon } from './fixtures/bareDaemon';
import { opensshArgs, requireBinary, run } from './fixtures/clients';
import { withTestServer } from './fixtures/interop';
import { PASSWORD, USER, makeUserKey, patternBytes, sha256Hex } from './fixtures/testServer';
import { connect, exec } from './helpers-ssh2';

const TIMEOUT = { timeout: 90_000 };
const target = `${USER}@127.0.0.1`;

/** `first` options come before the shared ones: ssh keeps the first value it sees for an option. */
function sshPassword(port: number, args: string[], input?: Buffer, first: string[] = []) {
  return run(
    requireBinary('sshpass'),
    ['-p', PASSWORD, requireBinary('ssh'), ...first, ...opensshArgs(port), '-o', 'PreferredAuthentications=password', ...args],
    { input, timeoutMs: 60_000 },
  );
}

/** Everything a raw TCP client receives until the server closes (or `ms` passes). */
async function rawExchange(port: number, send: string, ms = 5000): Promise<{ received: Buffer; closedByServer: boolean }> {
  const sock: Socket = tcpConnect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  sock.on('data', (d: Buffer) => chunks.push(d));
  sock.on('error', () => undefined);
  await once(sock, 'connect');
  if (send) sock.write(send);
  const closed = once(sock, 'close').then(() => true);
  const timer = new Promise<boolean>((r) => setTimeout(() => r(false), ms));
  const closedByServer = await Promise.race([closed, timer]);
  sock.destroy();
  return { received: Buffer.concat(chunks), closedByServer };
}

/** Message numbers of the unencrypted binary packets after the identification line. */
function packetTypes(received: Buffer): number[] {
  const eol = received.indexOf('\r\n');
  const types: number[] = [];
  let p = eol + 2;
  while (eol >= 0 && p + 6 <= received.length) {
    const len = received.readUInt32BE(p);
    types.push(received[p + 5]);
    p += 4 + len;
  }
  return types;
}

test('KeyRenegotiationThreshold=4194304: a 64 MiB OpenSSH download re-keys at least 10 times, data intact', TIMEOUT, () =>
  withTestServer({}, async ({ server }) => {
    server.daemon.config('KeyRenegotiationThreshold=4194304');
    let rekeys = 0;
    server.daemon.on('SSHStatus', (e) => void (e.message === 'Re-key complete' && rekeys++));
    const size = 64 * 1024 * 1024;
    const r = await sshPassword(server.port, [target, `bytes ${size}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.length, size);
    assert.equal(sha256Hex(r.stdout), sha256Hex(patternBytes(size)));
    assert.ok(rekeys >= 10, `re-keyed ${rekeys} times`);
  }),
);

test('KeyRenegotiationInterval=1: an idle session is re-keyed every second', TIMEOUT, () =>
  withTestServer({}, async ({ server }) => {
    server.daemon.config('KeyRenegotiationInterval=1');
    const c = await connect(server.port, { password: PASSWORD });
    let handshakes = 0;
    c.on('handshake', () => void handshakes++);
    await new Promise((r) => setTimeout(r, 2600));
    assert.ok(handshakes >= 2, `client saw ${handshakes} re-keys`);
    assert.equal((await exec(c, 'echo still')).stdout, 'still\n');
    c.end();
  }),
);

test('MaxAuthAttempts (default 6): the sixth wrong password drops the connection; OpenSSH reports too many failures', TIMEOUT, () =>
  withTestServer({}, async ({ server, auths }) => {
    // sshpass answers one prompt only; an askpass program answers every one of them.
    const dir = mkdtempSync(join(tmpdir(), 'askpass-'));
    const askpass = join(dir, 'wrong');
    writeFileSync(askpass, '#!/bin/sh\necho wrong\n', { mode: 0o700 });
    try {
      const r = await run(
        requireBinary('ssh'),
        [
          '-o',
          'LogLevel=INFO',
          ...opensshArgs(server.port),
          '-o',
          'PreferredAuthentications=password',
          '-o',
          'NumberOfPasswordPrompts=10',
          target,
          'echo no',
        ],
        { timeoutMs: 60_000, env: { SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0' } },
      );
      assert.notEqual(r.code, 0);
      assert.equal(auths.filter((a) => a.authMethod === 'password').length, 6, 'six passwords tried, the sixth answered by a disconnect');
      assert.equal(r.stderr.match(/Permission denied, please try again/g)?.length, 5, r.stderr);
      assert.match(r.stderr, /Received disconnect from .*:14: Too many authentication failures/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }),
);

test('DefaultIdleTimeout=1: an authenticated connection with no traffic is closed', TIMEOUT, () =>
  withTestServer({}, async ({ server }) => {
    server.daemon.config('DefaultIdleTimeout=1');
    const gone = new Promise<DisconnectedEventArgs>((r) => server.daemon.once('Disconnected', r));
    const c = await connect(server.port, { password: PASSWORD });
    c.on('error', () => undefined);
    const started = Date.now();
    const d = await gone;
    assert.ok(Date.now() - started >= 900, 'not before the timeout');
    assert.equal(d.statusCode, ErrorCodes.Timeout);
  }),
);

test('DefaultConnectionTimeout=1 and AuthTimeout: a silent socket and an unauthenticated client are closed', TIMEOUT, () =>
  withBareDaemon(async ({ daemon, port }) => {
    daemon.config('DefaultConnectionTimeout=1');
    const silent = await rawExchange(port, '', 5000);
    assert.equal(silent.closedByServer, true, 'the server closed a socket that never spoke');
    daemon.config('DefaultConnectionTimeout=0');
    daemon.config('AuthTimeout=1');
    const c = new Client();
    const closed = once(c, 'close');
    c.on('error', () => undefined);
    c.connect({ host: '127.0.0.1', port, username: 'x', authHandler: () => undefined as never }); // never authenticates
    await closed;
  }),
);

test('SSHKeepAliveInterval/CountMax: a stopped OpenSSH client is dropped; 0 really disables keep-alives', TIMEOUT, () =>
  withTestServer({}, async ({ server }) => {
    server.daemon.config('SSHKeepAliveInterval=1');
    server.daemon.config('SSHKeepAliveCountMax=2');
    const child = spawn(
      requireBinary('sshpass'),
      ['-p', PASSWORD, requireBinary('ssh'), ...opensshArgs(server.port), '-o', 'PreferredAuthentications=password', '-N', target],
      { stdio: 'ignore' },
    );
    const until = Date.now() + 20_000;
    while (![...server.daemon.sshConnections.values()].some((c) => c.authenticated)) {
      assert.ok(Date.now() < until, 'ssh did not log in');
      await new Promise((r) => setTimeout(r, 50));
    }
    const gone = new Promise<DisconnectedEventArgs>((r) => server.daemon.once('Disconnected', r));
    // Stop the whole process group (sshpass and ssh): nobody answers the keep-alives any more.
    spawn('pkill', ['-STOP', '-P', String(child.pid)]);
    const d = await gone;
    assert.equal(d.statusCode, ErrorCodes.Timeout, d.description);
    spawn('pkill', ['-CONT', '-P', String(child.pid)]);
    child.kill('SIGKILL');
    spawn('pkill', ['-KILL', '-P', String(child.pid)]);

    // With 0, ssh2 would fall back to its global default; shorten that default to show it is not used.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const statics: { KEEPALIVE_CLIENT_INTERVAL: number } = require('ssh2').Server;
    const saved = statics.KEEPALIVE_CLIENT_INTERVAL;
    statics.KEEPALIVE_CLIENT_INTERVAL = 200;
    try {
      server.daemon.config('SSHKeepAliveInterval=0');
      let pings = 0;
      const c = await connect(server.port, {
        password: PASSWORD,
        debug: (line: string) => void (/keepalive@openssh\.com/.test(line) && pings++),
      });
      await new Promise((r) => setTimeout(r, 1200));
      assert.equal(pings, 0, 'no keep-alive requests with SSHKeepAliveInterval=0');
      c.end();
    } finally {
      statics.KEEPALIVE_CLIENT_INTERVAL = saved;
    }
  }),
);

test('ServerSSHVersionString is sent; SSHVersionPattern refuses a client before key exchange', TIMEOUT, () =>
  withBareDaemon(async ({ daemon, port }) => {
    daemon.config('ServerSSHVersionString=SSH-2.0-TestServer_1.0 hello');
    daemon.config('SSHVersionPattern=*OpenSSH*');
    const refused = await rawExchange(port, 'SSH-2.0-BadBot_0.1\r\n');
    assert.ok(refused.received.toString('latin1').startsWith('SSH-2.0-TestServer_1.0 hello\r\n'));
    assert.equal(refused.closedByServer, true);
    assert.ok(!packetTypes(refused.received).includes(20), `no KEXINIT sent: got message types ${packetTypes(refused.received)}`);

    const accepted = await rawExchange(port, 'SSH-2.0-OpenSSH_9.9\r\n', 1000);
    assert.ok(packetTypes(accepted.received).includes(20), 'a matching client gets KEXINIT');
  }),
);

test('ClientSSHVersionString[id] and ConnectionUID[id] are readable per connection; read-only', TIMEOUT, () =>
  withBareDaemon(async ({ daemon, port }) => {
    const seen: string[] = [];
    daemon.on('SSHUserAuthRequest', (e) => {
      seen.push(
        daemon.config(`ClientSSHVersionString[${e.connectionId}]`),
        daemon.config(`ConnectionUID[${e.connectionId}]`),
        e.connectionId,
      );
      assert.throws(
        () => daemon.config(`ConnectionUID[${e.connectionId}]=x`),
        (err: unknown) => err instanceof SSHDaemonError && err.code === ErrorCodes.ReadOnlySetting,
      );
      e.accept = true;
    });
    const c = await connect(port, { password: 'x', ident: 'MyClient_7.1' } as never);
    c.end();
    assert.equal(seen[0], 'SSH-2.0-MyClient_7.1');
    assert.equal(seen[1], seen[2]);
  }),
);

test('UserAuthBanner set in SSHUserAuthRequest is printed by OpenSSH ssh', TIMEOUT, () =>
  withTestServer({}, async ({ server }) => {
    server.daemon.prependListener(
      'SSHUserAuthRequest',
      (e) => void server.daemon.config(`UserAuthBanner[${e.connectionId}]=Welcome to the test banner`),
    );
    const r = await sshPassword(server.port, [target, 'echo hi'], undefined, ['-o', 'LogLevel=INFO']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Welcome to the test banner/);
  }),
);

test('KeyboardInteractivePrompts[id] replaces the prompts for one connection', TIMEOUT, () =>
  withBareDaemon(async ({ daemon, port }) => {
    daemon.defaultAuthMethods = 'keyboard-interactive';
    daemon.on('SSHUserAuthRequest', (e) => {
      if (e.authMethod === 'none') daemon.config(`KeyboardInteractivePrompts[${e.connectionId}]=Token: |echo,PIN: `);
      if (e.authMethod.startsWith('keyboard-interactive')) e.accept = true;
    });
    const prompts: { prompt: string; echo?: boolean }[][] = [];
    const c = new Client();
    c.on('keyboard-interactive', (_n, _i, _l, ps, finish) => {
      prompts.push(ps);
      finish(ps.map(() => 'x'));
    });
    const ready = once(c, 'ready');
    c.connect({ host: '127.0.0.1', port, username: 'u', tryKeyboard: true });
    await ready;
    c.end();
    assert.deepEqual(prompts, [
      [
        { prompt: 'Token: ', echo: true },
        { prompt: 'PIN: ', echo: false },
      ],
    ]);
  }),
);

test('algorithms: a cipher mismatch fires Error naming both lists; a legacy cipher can be switched on', TIMEOUT, () =>
  withTestServer({}, async ({ server }) => {
    const errors: string[] = [];
    server.daemon.on('Error', (e) => void errors.push(e.description));
    const legacy = await sshPassword(server.port, ['-o', 'Ciphers=aes128-cbc', target, 'echo hi']);
    assert.notEqual(legacy.code, 0);
    const message = errors.find((m) => /no matching/.test(m));
    assert.ok(message, errors.join('\n'));
    assert.match(message, /client offered \[aes128-cbc\]/);
    assert.match(message, /server offers \[chacha20-poly1305@openssh\.com, aes256-gcm@openssh\.com/);

    server.daemon.config(`SSHEncryptionAlgorithms=${server.daemon.config('SSHEncryptionAlgorithms')},aes128-cbc`);
    assert.match(server.daemon.sshEncryptionAlgorithms, /aes128-cbc$/, 'the property and the setting are one value');
    const on = await sshPassword(server.port, ['-o', 'Ciphers=aes128-cbc', target, 'echo hi']);
    assert.equal(on.code, 0, on.stderr);
    assert.equal(on.stdout.toString(), 'hi\n');
  }),
);

test('server-sig-algs lists exactly SSHPubKeyAuthSigAlgorithms (ssh2 sends a malformed list)', TIMEOUT, () =>
  withTestServer({}, async ({ server }) => {
    const r = await sshPassword(server.port, ['-v', target, 'echo hi']);
    assert.equal(r.code, 0, r.stderr);
    const line = /server-sig-algs=<([^>]*)>/.exec(r.stderr);
    assert.ok(line, 'EXT_INFO received');
    assert.equal(line[1], server.daemon.config('SSHPubKeyAuthSigAlgorithms'));
  }),
);

test('an RSA host key signs with rsa-sha2-* only; SHA-1 ssh-rsa only when SSHPublicKeyAlgorithms lists it', TIMEOUT, () =>
  withTestServer({}, async ({ server }) => {
    await server.daemon.stopListening();
    server.daemon.sshCert = Certificate.generate('rsa-3072');
    await server.daemon.startListening();
    const port = server.daemon.localPort;
    const sha2 = await sshPassword(port, ['-o', 'HostKeyAlgorithms=rsa-sha2-512', target, 'echo hi']);
    assert.equal(sha2.code, 0, sha2.stderr);
    const sha1 = await sshPassword(port, ['-o', 'HostKeyAlgorithms=ssh-rsa', target, 'echo hi']);
    assert.notEqual(sha1.code, 0, 'ssh-rsa is not offered by default');
    server.daemon.config(`SSHPublicKeyAlgorithms=${server.daemon.config('SSHPublicKeyAlgorithms')},ssh-rsa`);
    const on = await sshPassword(port, ['-o', 'HostKeyAlgorithms=ssh-rsa', target, 'echo hi']);
    assert.equal(on.code, 0, on.stderr);
  }),
);

test('ssh-audit finds no failure in the defaults, with Ed25519 and RSA host keys', TIMEOUT, () =>
  withTestServer({}, async ({ server }) => {
    await server.daemon.stopListening();
    server.daemon.config('AltSSHCertCount=1');
    server.daemon.config(`AltSSHCertStore[0]=${Certificate.generate('rsa-3072').toOpenSSH()}`);
    await server.daemon.startListening();
    const r = await run(requireBinary('ssh-audit'), ['-n', '-p', String(server.daemon.localPort), '127.0.0.1'], { timeoutMs: 60_000 });
    const out = r.stdout.toString();
    assert.match(out, /\(kex\) curve25519-sha256/, out);
    assert.match(out, /\(key\) rsa-sha2-512/, 'the RSA key is offered');
    assert.match(out, /\(key\) ssh-ed25519/);
    const failures = out.split('\n').filter((l) => /\[fail\]/.test(l));
    assert.deepEqual(failures, [], out);
    assert.notEqual(r.code, 3, 'ssh-audit exit code 3 means failures');
  }),
);

test('MaxConnections and AllowedClients refuse before any SSH byte', TIMEOUT, () =>
  withBareDaemon(async ({ daemon, port }) => {
    daemon.config('AllowedClients=10.*,192.168.0.0/16');
    const denied = await rawExchange(port, '', 3000);
    assert.equal(denied.closedByServer, true);
    assert.equal(denied.received.length, 0, 'no identification line for a refused address');
    daemon.config('AllowedClients=127.0.0.*');
    daemon.config('MaxConnections=1');
    const first = tcpConnect(port, '127.0.0.1');
    first.on('error', () => undefined);
    await once(first, 'data'); // identification line: admitted
    const second = await rawExchange(port, '', 3000);
    assert.equal(second.closedByServer, true);
    assert.equal(second.received.length, 0);
    first.destroy();
  }),
);

test('LogLevel drives the Log event; BuildInfo reports versions and the crypto binding', TIMEOUT, () =>
  withBareDaemon(async ({ daemon, port }) => {
    const levels = new Set<number>();
    daemon.on('Log', (e) => void levels.add(e.logLevel));
    daemon.on('SSHUserAuthRequest', (e) => void (e.accept = true));
    daemon.config('LogLevel=0');
    (await connect(port, { password: 'x' })).end();
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(levels.size, 0, 'LogLevel=0 logs nothing');
    daemon.config('LogLevel=3');
    (await connect(port, { password: 'x' })).end();
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(levels.has(1) && levels.has(3), `levels seen: ${[...levels]}`);
    const info = daemon.config('BuildInfo');
    assert.match(info, /ssh2 1\.17\.0/);
    assert.match(info, /Node\.js v\d+/);
    assert.match(info, /native crypto binding loaded/);
  }),
);

test('TcpNoDelay and KeepAliveTime are applied to accepted sockets', TIMEOUT, () =>
  withBareDaemon(async ({ daemon, port }) => {
    // Node exposes neither option for reading; observe the calls on the accepted socket.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Socket: NetSocket } = require('node:net') as typeof import('node:net');
    const calls: string[] = [];
    const noDelay = NetSocket.prototype.setNoDelay;
    const keepAlive = NetSocket.prototype.setKeepAlive;
    NetSocket.prototype.setNoDelay = function (this: Socket, v?: boolean) {
      if (this.localPort === port) calls.push(`noDelay ${v}`);
      return noDelay.call(this, v);
    };
    NetSocket.prototype.setKeepAlive = function (this: Socket, on?: boolean, ms?: number) {
      if (this.localPort === port) calls.push(`keepAlive ${on} ${ms}`);
      return keepAlive.call(this, on, ms);
    };
    try {
      daemon.config('KeepAliveTime=30000');
      await rawExchange(port, '', 300);
      daemon.config('TcpNoDelay=false');
      daemon.config('KeepAliveTime=0');
      await rawExchange(port, '', 300);
    } finally {
      NetSocket.prototype.setNoDelay = noDelay;
      NetSocket.prototype.setKeepAlive = keepAlive;
    }
    assert.deepEqual(calls, ['noDelay true', 'keepAlive true 30000', 'noDelay false']);
  }),
);

test('bad settings throw SSHDaemonError naming the setting and its valid values; the old value stays', () =>
  withBareDaemon(async ({ daemon }) => {
    const cases: [string, RegExp][] = [
      ['Nope=1', /Unknown config setting 'Nope'/],
      ['MaxConnections=0', /MaxConnections.*1 to 100000/],
      ['MaxConnections=100001', /MaxConnections.*1 to 100000/],
      ['TcpNoDelay=maybe', /TcpNoDelay.*true or false/],
      [
        'SSHKeyExchangeAlgorithms=diffie-hellman-group-exchange-sha256',
        /SSHKeyExchangeAlgorithms.*not supported: diffie-hellman-group-exchange-sha256/,
      ],
      ['SSHEncryptionAlgorithms=rot13', /SSHEncryptionAlgorithms.*not supported: rot13/],
      ['ServerSSHVersionString=SSH-1.5-old', /ServerSSHVersionString/],
      ['BuildInfo=x', /read-only/],
    ];
    for (const [statement, message] of cases) {
      const name = statement.split('=')[0];
      const before = name === 'Nope' ? '' : daemon.config(name);
      assert.throws(
        () => daemon.config(statement),
        (e: unknown) => e instanceof SSHDaemonError && message.test(e.message),
        statement,
      );
      if (name !== 'Nope') assert.equal(daemon.config(name), before, `${name} unchanged`);
    }
  }));

test('SSHKeyExchangeAlgorithms, SSHMacAlgorithms, SSHCompressionAlgorithms decide what OpenSSH negotiates', TIMEOUT, () =>
  withTestServer({}, async ({ server }) => {
    const negotiated: string[] = [];
    server.daemon.on('SSHStatus', (e) => void (/^Key exchange complete/.test(e.message) && negotiated.push(e.message)));
    server.daemon.config('SSHKeyExchangeAlgorithms=diffie-hellman-group14-sha256');
    server.daemon.config('SSHMacAlgorithms=hmac-sha2-512-etm@openssh.com');
    server.daemon.config('SSHEncryptionAlgorithms=aes128-ctr');
    server.daemon.config('SSHCompressionAlgorithms=zlib@openssh.com,none');
    const r = await sshPassword(server.port, ['-C', target, 'echo hi']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(negotiated, [
      'Key exchange complete: kex=diffie-hellman-group14-sha256, hostkey=ssh-ed25519, cipher=aes128-ctr, mac=hmac-sha2-512-etm@openssh.com, compression=zlib@openssh.com',
    ]);
    const kexRefused = await sshPassword(server.port, ['-o', 'KexAlgorithms=curve25519-sha256', target, 'echo hi']);
    assert.notEqual(kexRefused.code, 0);
  }),
);

test('SSHPubKeyAuthSigAlgorithms: an RSA user key signing with SHA-1 ssh-rsa is refused until listed', TIMEOUT, () =>
  withBareDaemon(async ({ daemon, port }) => {
    const key = makeUserKey('rsa');
    daemon.defaultAuthMethods = 'publickey';
    daemon.on('SSHUserAuthRequest', (e) => void (e.accept = e.authMethod === 'publickey' && e.authParam === key.blobBase64));
    daemon.on('SSHChannelOpenRequest', (e) => void (e.accept = true));
    daemon.on('SSHChannelRequest', (e) => void (e.success = true));
    daemon.on('SSHChannelRequested', (e) => void daemon.sendExitStatus(e.channelId, 0).then(() => daemon.closeChannel(e.channelId)));
    const ssh = (algorithm: string) =>
      run(
        requireBinary('ssh'),
        [
          ...opensshArgs(port),
          '-o',
          'BatchMode=yes',
          '-o',
          'IdentitiesOnly=yes',
          '-o',
          `PubkeyAcceptedAlgorithms=${algorithm}`,
          '-i',
          key.privateKeyPath,
          'u@127.0.0.1',
          'true',
        ],
        { timeoutMs: 30_000 },
      );
    assert.equal((await ssh('rsa-sha2-512')).code, 0, 'SHA-2 signatures are accepted');
    assert.notEqual((await ssh('ssh-rsa')).code, 0, 'SHA-1 is refused by default');
    daemon.config(`SSHPubKeyAuthSigAlgorithms=${daemon.config('SSHPubKeyAuthSigAlgorithms')},ssh-rsa`);
    assert.equal((await ssh('ssh-rsa')).code, 0, 'and accepted once listed');
  }),
);

test('UseIPv6 with an empty LocalHost listens on both stacks; Windows-only settings are accepted and readable', TIMEOUT, async () => {
  const daemon = new SSHDaemon();
  daemon.sshCert = Certificate.generate('ed25519');
  daemon.localPort = 0;
  daemon.config('UseIPv6=true');
  await daemon.startListening();
  try {
    assert.equal(daemon.address()?.address, '::');
    const v4 = await rawExchange(daemon.localPort, '', 300);
    assert.match(v4.received.toString('latin1'), /^SSH-2\.0-/);
    const v6 = tcpConnect({ host: '::1', port: daemon.localPort });
    const [line] = (await once(v6, 'data')) as [Buffer];
    v6.destroy();
    assert.match(line.toString('latin1'), /^SSH-2\.0-/);
  } finally {
    await daemon.shutdown();
  }
  for (const name of [
    'UseIOCP',
    'UseWindowsMessages',
    'ProcessIdleEvents',
    'UseInternalSecurityAPI',
    'BindExclusively',
    'CodePage',
    'SelectWaitMillis',
    'LicenseInfo',
  ]) {
    assert.notEqual(daemon.config(name), undefined, name);
  }
  daemon.config('CodePage=65001');
  assert.equal(daemon.config('CodePage'), '65001');
});
