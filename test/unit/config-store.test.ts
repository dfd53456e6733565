// ConfigStore alone, over the real settings table, with a Map standing in for the connections:
// no daemon, no socket. What it proves, each in milliseconds: 'Name=Value' sets and normalises,
// 'Name' reads, names are case-insensitive with blanks allowed around them; a wrong value throws
// SSHDaemonError InvalidSettingValue naming the setting, its valid range, the value given and the
// value kept (which is unchanged); unknown names (with a suggestion), read-only settings, missing
// or out-of-range indexes each have their own code; list settings (Name[0..15]) keep one value per
// index; connection settings (Name[connectionId]) go to the connection store; typed reads and the
// version counter that callers cache on. Real daemon: config-effects, daemon-api.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigStore, type ConnectionSettingsProvider } from '../../src/config/ConfigStore';
import { ErrorCodes, SSHDaemonError } from '../../src/errors/SSHDaemonError';

class MapConnections implements ConnectionSettingsProvider {
  readonly values = new Map<string, string>();
  getConnectionSetting(connectionId: string, name: string): string | undefined {
    return this.values.get(`${connectionId}/${name}`);
  }
  setConnectionSetting(connectionId: string, name: string, value: string): void {
    this.values.set(`${connectionId}/${name}`, value);
  }
}

function store() {
  const connections = new MapConnections();
  return { connections, config: new ConfigStore(connections, { BuildInfo: () => 'built here' }) };
}

/** Asserts that `fn` throws SSHDaemonError with `code` and a message matching every pattern. */
function throwsDaemonError(fn: () => unknown, code: number, ...patterns: RegExp[]): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof SSHDaemonError, `not an SSHDaemonError: ${String(err)}`);
    assert.equal(err.code, code, err.message);
    for (const p of patterns) assert.match(err.message, p);
    return true;
  });
}

test('set, read, normalise: names are case-insensitive and may have blanks around them', () => {
  const { config } = store();
  assert.equal(config.config('MaxAuthAttempts'), '6', 'the default');
  assert.equal(config.config('MaxAuthAttempts=3'), '');
  assert.equal(config.config('maxauthattempts'), '3');
  assert.equal(config.config('  MAXAUTHATTEMPTS = 007'), '');
  assert.equal(config.int('MaxAuthAttempts'), 7, 'normalised to a plain integer');
  config.config('TcpNoDelay=off');
  assert.equal(config.config('TcpNoDelay'), 'false');
  assert.equal(config.bool('TcpNoDelay'), false);
  config.config('TcpNoDelay=YES');
  assert.equal(config.bool('TcpNoDelay'), true);
});

test('a value out of range throws InvalidSettingValue naming the setting, its range, the value and the value kept', () => {
  const { config } = store();
  config.config('MaxAuthAttempts=4');
  for (const bad of ['0', '1001', 'six', '4.5', ''])
    throwsDaemonError(
      () => config.config(`MaxAuthAttempts=${bad}`),
      ErrorCodes.InvalidSettingValue,
      /'MaxAuthAttempts'/,
      /an integer from 1 to 1000/,
      new RegExp(`got '${bad.replace('.', '\\.')}', kept '4'`),
    );
  assert.equal(config.config('MaxAuthAttempts'), '4', 'unchanged by the refused values');
  throwsDaemonError(() => config.config('TcpNoDelay=maybe'), ErrorCodes.InvalidSettingValue, /'TcpNoDelay'/, /true or false/);
  throwsDaemonError(
    () => config.config('SSHEncryptionAlgorithms=aes128-ctr,rot13'),
    ErrorCodes.InvalidSettingValue,
    /'SSHEncryptionAlgorithms'/,
    /not supported: rot13/,
  );
  throwsDaemonError(() => config.config('MaxStartups=10:200:5'), ErrorCodes.InvalidSettingValue, /'MaxStartups'/, /start:rate:full/);
});

test('list settings keep one value per index 0..15 and normalise them', () => {
  const { config } = store();
  config.config('SSHEncryptionAlgorithms= aes256-ctr , aes128-ctr,aes256-ctr');
  assert.equal(config.config('SSHEncryptionAlgorithms'), 'aes256-ctr,aes128-ctr', 'trimmed, duplicates dropped, order kept');
  assert.deepEqual(config.list('SSHEncryptionAlgorithms'), ['aes256-ctr', 'aes128-ctr']);
  config.config('AltSSHCertStore[0]=/keys/a');
  config.config('AltSSHCertStore[15]=/keys/p');
  assert.equal(config.config('AltSSHCertStore[0]'), '/keys/a');
  assert.equal(config.config('AltSSHCertStore[15]'), '/keys/p');
  assert.equal(config.config('AltSSHCertStore[3]'), '', 'an unset index reads the default');
  assert.equal(config.text('AltSSHCertStore', 15), '/keys/p');
  throwsDaemonError(
    () => config.config('AltSSHCertStore[16]=/x'),
    ErrorCodes.UnknownSetting,
    /'AltSSHCertStore' needs an index from 0 to 15/,
  );
  throwsDaemonError(() => config.config('AltSSHCertStore=/x'), ErrorCodes.UnknownSetting, /needs an index/);
  throwsDaemonError(() => config.config('MaxAuthAttempts[1]=3'), ErrorCodes.UnknownSetting, /'MaxAuthAttempts' takes no index/);
});

test('connection settings go to the connection store; a connection id is required', () => {
  const { config, connections } = store();
  config.config('UserAuthBanner[12]=Welcome');
  assert.equal(connections.values.get('12/UserAuthBanner'), 'Welcome');
  assert.equal(config.config('UserAuthBanner[12]'), 'Welcome');
  assert.equal(config.config('UserAuthBanner[13]'), '', 'another connection reads the default');
  throwsDaemonError(
    () => config.config('UserAuthBanner=hi'),
    ErrorCodes.UnknownSetting,
    /needs a connection id: 'UserAuthBanner\[connectionId\]'/,
  );
  throwsDaemonError(() => config.config('UserAuthBanner[abc]=hi'), ErrorCodes.UnknownSetting, /needs a connection id/);
});

test('unknown names, read-only settings and a non-string each throw their own code', () => {
  const { config } = store();
  throwsDaemonError(
    () => config.config('MaxAuthAttempt=3'),
    ErrorCodes.UnknownSetting,
    /Unknown config setting 'MaxAuthAttempt'/,
    /did you mean MaxAuthAttempts/,
  );
  throwsDaemonError(() => config.config('=3'), ErrorCodes.UnknownSetting, /Unknown config setting/);
  throwsDaemonError(() => config.config('BuildInfo=x'), ErrorCodes.ReadOnlySetting, /'BuildInfo' is read-only/);
  assert.equal(config.config('BuildInfo'), 'built here', 'a computed setting reads its function');
  throwsDaemonError(() => config.config(42 as unknown as string), ErrorCodes.InvalidArgument, /takes a string/);
});

test('version moves on every change and reset(); reset() restores every default', () => {
  const { config } = store();
  const v0 = config.version;
  const ciphers = config.list('SSHEncryptionAlgorithms');
  assert.equal(config.list('SSHEncryptionAlgorithms'), ciphers, 'the same array until the setting changes');
  config.config('SSHEncryptionAlgorithms=aes128-ctr');
  assert.ok(config.version > v0);
  assert.deepEqual(config.list('SSHEncryptionAlgorithms'), ['aes128-ctr']);
  assert.throws(() => config.config('MaxAuthAttempts=0'));
  const v1 = config.version;
  assert.throws(() => config.config('MaxAuthAttempts=0'));
  assert.equal(config.version, v1, 'a refused value changes nothing');
  config.reset();
  assert.ok(config.version > v1);
  assert.deepEqual(config.list('SSHEncryptionAlgorithms'), ciphers);
  assert.equal(config.int('MaxAuthAttempts'), 6);
});
