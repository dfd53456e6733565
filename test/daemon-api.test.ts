import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Certificate, ErrorCodes, SSHDaemon, SSHDaemonError, SSHServer, getSSHParam, setSSHParam } from '../src';
import { once } from 'node:events';
import { withBareDaemon } from './fixtures/bareDaemon';
import { connect } from './helpers-ssh2';

test('properties have IPWorks defaults and getX()/setX() twins from one table', () => {
  const d = new SSHDaemon();
  assert.equal(d.localPort, 22);
  assert.equal(d.getLocalPort(), 22);
  d.setLocalPort(2222);
  assert.equal(d.localPort, 2222);
  assert.equal(d.defaultAuthMethods, 'password,publickey');
  assert.equal(d.getConnectionBacklog(), 5);
  assert.equal(d.listening, false);
  assert.equal(d.getSSHCert(), undefined);
  assert.equal(SSHServer, SSHDaemon);
  assert.equal(
    d.on('Log', () => undefined),
    d,
    'on() returns this',
  );
});

test('a bad property value throws SSHDaemonError and keeps the old value', () => {
  const d = new SSHDaemon();
  assert.throws(
    () => (d.localPort = 70000),
    (e: unknown) => e instanceof SSHDaemonError && e.code === ErrorCodes.InvalidPropertyValue && /localPort/.test(e.message),
  );
  assert.equal(d.localPort, 22);
  assert.throws(() => d.setDefaultAuthMethods('password,telepathy'), /defaultAuthMethods/);
  assert.equal(d.defaultAuthMethods, 'password,publickey');
});

test('config() reads, writes, rejects unknown names and bad values without changing anything', () => {
  const d = new SSHDaemon();
  assert.equal(d.config('MaxAuthAttempts'), '6');
  assert.equal(d.config('MaxAuthAttempts=3'), '');
  assert.equal(d.config('maxauthattempts'), '3', 'names are case-insensitive');
  assert.throws(
    () => d.config('Nope=1'),
    (e: unknown) => e instanceof SSHDaemonError && e.code === ErrorCodes.UnknownSetting && /Nope/.test(e.message),
  );
  assert.throws(
    () => d.config('MaxAuthAttempts=zero'),
    (e: unknown) =>
      e instanceof SSHDaemonError &&
      e.code === ErrorCodes.InvalidSettingValue &&
      /MaxAuthAttempts/.test(e.message) &&
      /1 to 1000/.test(e.message),
  );
  assert.equal(d.config('MaxAuthAttempts'), '3');
  assert.throws(() => d.config('SSHKeyExchangeAlgorithms=diffie-hellman-group-exchange-sha256'), /not supported/);
  assert.throws(
    () => d.config('BuildInfo=x'),
    (e: unknown) => (e as SSHDaemonError).code === ErrorCodes.ReadOnlySetting,
  );
  assert.match(d.config('BuildInfo'), /ssh2 1\.17\.0/);
  assert.equal(d.config('UseIOCP'), 'false', 'Windows-only settings are accepted and readable');
  assert.throws(
    () => d.config('UserAuthBanner[99]=hi'),
    (e: unknown) => (e as SSHDaemonError).code === ErrorCodes.UnknownConnection,
  );
});

test('misuse of methods throws or rejects with a code', async () => {
  const d = new SSHDaemon();
  await assert.rejects(
    d.sendChannelData('12345', 'x'),
    (e: unknown) => e instanceof SSHDaemonError && e.code === ErrorCodes.UnknownChannel && /12345/.test(e.message),
  );
  await assert.rejects(d.disconnect('999'), (e: unknown) => (e as SSHDaemonError).code === ErrorCodes.UnknownConnection);
  await assert.rejects(d.startListening(), (e: unknown) => (e as SSHDaemonError).code === ErrorCodes.NoHostKey);
  assert.equal(await d.doEvents(), undefined);
});

test('setSSHParam builds and getSSHParam reads every field type', () => {
  let p = setSSHParam(Buffer.alloc(0), 'i', '7');
  p = setSSHParam(p, 's', 'exec');
  p = setSSHParam(p, 'f', 'true');
  p = setSSHParam(p, 's', 'ls -l');
  assert.equal(getSSHParam(p, 'ChannelId'), '7');
  assert.equal(getSSHParam(p, 'requesttype'), 'exec');
  assert.equal(getSSHParam(p, 'WantsReply'), 'true');
  assert.equal(getSSHParam(p, 'Command'), 'ls -l');
  assert.equal(getSSHParam(p, '#3'), 'ls -l');
  assert.throws(
    () => getSSHParam(p, 'Nope'),
    (e: unknown) => (e as SSHDaemonError).code === ErrorCodes.UnknownField,
  );
  assert.deepEqual([...setSSHParam(null, 'b', '255')], [255]);
  assert.deepEqual([...setSSHParam(null, 'sb', 'a1b2')], [0, 0, 0, 2, 0xa1, 0xb2]);
  assert.deepEqual([...setSSHParam(null, 'm', '128')], [0, 0, 0, 2, 0, 0x80]);
  assert.deepEqual([...setSSHParam(null, 'm', '-1')], [0, 0, 0, 1, 0xff]);
  assert.deepEqual([...setSSHParam(null, 'l', '0x0102')], [0, 0, 0, 0, 0, 0, 1, 2]);
  assert.throws(() => setSSHParam(null, 'i', '4294967296'), /out of range/);
  assert.throws(() => setSSHParam(null, 'x' as 'i', '1'), /unknown field type/);
  const direct = Buffer.concat([
    setSSHParam(null, 's', 'example.com'),
    setSSHParam(null, 'i', 80),
    setSSHParam(null, 's', '10.0.0.1'),
    setSSHParam(null, 'i', 5555),
  ]);
  assert.equal(getSSHParam(direct, 'HostToConnect'), 'example.com');
  assert.equal(getSSHParam(direct, 'PortToConnect'), '80');
  assert.equal(getSSHParam(direct, 'OriginatorPort'), '5555');
});

test('Certificate: generated keys, fingerprints, PEM and OpenSSH round trips, clear errors', () => {
  for (const kind of ['ed25519', 'ecdsa-p256', 'rsa-3072'] as const) {
    const c = Certificate.generate(kind);
    assert.match(c.fingerprint, /^SHA256:[A-Za-z0-9+/]{43}$/);
    const again = new Certificate(99, c.toOpenSSH());
    assert.equal(again.fingerprint, c.fingerprint);
    const pkcs8 = new Certificate(
      7,
      c.privateKey!.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' }).toString(),
      'pw',
    );
    assert.equal(pkcs8.fingerprint, c.fingerprint);
    assert.throws(
      () =>
        new Certificate(
          7,
          c.privateKey!.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' }).toString(),
          'wrong',
        ),
      (e: unknown) => (e as SSHDaemonError).code === ErrorCodes.BadKeyPassword,
    );
  }
  assert.throws(
    () => new Certificate(6, '/nonexistent/key'),
    (e: unknown) => (e as SSHDaemonError).code === ErrorCodes.KeyFileNotFound,
  );
  assert.throws(
    () => new Certificate(7, 'garbage'),
    (e: unknown) => (e as SSHDaemonError).code === ErrorCodes.CorruptKey,
  );
  assert.throws(() => new Certificate(0, 'MY'), /cannot exist on Node/);
});

test(
  'once() listeners fire once and are removed, for notification and decision events alike (they used to stay and fire every time)',
  { timeout: 60_000 },
  () =>
    withBareDaemon(async ({ daemon, port }) => {
      const seen: string[] = [];
      daemon.on('SSHUserAuthRequest', (e) => void (e.accept = e.authParam === 'pw'));
      daemon.once('Connected', (e) => void seen.push(`Connected ${e.connectionId}`));
      daemon.once('SSHUserAuthRequest', (e) => void seen.push(`auth ${e.authMethod}`));
      for (let i = 0; i < 2; i++) {
        const c = await connect(port, { password: 'pw' });
        c.end();
        await once(c, 'close');
      }
      assert.equal(seen.filter((s) => s.startsWith('Connected')).length, 1, seen.join(', '));
      assert.equal(seen.filter((s) => s.startsWith('auth')).length, 1, seen.join(', '));
      assert.equal(daemon.listenerCount('Connected'), 0);
    }),
);
