/**
 * samples/trap: every credential OpenSSH tries is recorded as a JSON line and refused; failed
 * logins lead to a PerSourcePenalties ban, and touching a sensor port bans at once. Each case
 * connects from its own loopback address (127.0.0.x), so bans stay per source.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { opensshArgs, requireBinary, run } from './fixtures/clients';
import { firstBytes, freePort, startSample, tempDir } from './fixtures/samples';
import { until } from './fixtures/wait';

const DIR = tempDir('trap');
after(() => rmSync(DIR, { recursive: true, force: true }));
const BANNER = 'SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3';

interface Entry {
  event: string;
  address?: string;
  user?: string;
  method?: string;
  password?: string;
  fingerprint?: string;
  client?: string;
  by?: string;
}

test(
  'trap: credentials recorded, never accepted; failed logins ban the source, a sensor-port touch bans at once',
  { timeout: 120_000 },
  async () => {
    const logFile = join(DIR, 'trap.jsonl');
    const sensor = await freePort();
    const server = await startSample('trap/server.ts', join(DIR, 'data'), [
      '--log',
      logFile,
      '--delay',
      '0.1',
      '--penalties',
      'authfail:20s min:60s',
      '--sensor-ports',
      String(sensor),
    ]);
    const entries = (): Entry[] =>
      existsSync(logFile)
        ? readFileSync(logFile, 'utf8')
            .trim()
            .split('\n')
            .map((l) => JSON.parse(l) as Entry)
        : [];
    const login = (from: string, password: string) =>
      run(
        requireBinary('sshpass'),
        [
          '-p',
          password,
          requireBinary('ssh'),
          ...opensshArgs(server.port),
          '-b',
          from,
          '-o',
          'PubkeyAuthentication=no',
          '-o',
          'PreferredAuthentications=password',
          '-o',
          'NumberOfPasswordPrompts=1',
          'root@127.0.0.1',
          'id',
        ],
        { timeoutMs: 20_000 },
      );
    try {
      // A key is recorded by its fingerprint, as ssh-keygen -l prints it.
      const key = join(DIR, 'id_ed25519');
      assert.equal((await run(requireBinary('ssh-keygen'), ['-q', '-t', 'ed25519', '-N', '', '-f', key])).code, 0);
      const fingerprint = (await run(requireBinary('ssh-keygen'), ['-l', '-f', `${key}.pub`])).stdout.toString().split(' ')[1];
      const byKey = await run(
        requireBinary('ssh'),
        [
          ...opensshArgs(server.port),
          '-b',
          '127.0.0.6',
          '-o',
          'BatchMode=yes',
          '-o',
          'PreferredAuthentications=publickey',
          '-o',
          'IdentitiesOnly=yes',
          '-i',
          key,
          'admin@127.0.0.1',
          'id',
        ],
        { timeoutMs: 20_000 },
      );
      assert.equal(byKey.code, 255);
      assert.match(byKey.stderr, /Permission denied/);

      // Failed logins from 127.0.0.2: 2 x 20 s stays under min (60 s); the third bans.
      for (const password of ['123456', 'admin']) {
        const r = await login('127.0.0.2', password);
        assert.match(r.stderr, /Permission denied/, 'refused like a real server');
      }
      assert.equal(await firstBytes(server.port, '127.0.0.2'), `${BANNER}\r\n`, 'not banned after two failures');
      assert.match((await login('127.0.0.2', 'hunter2')).stderr, /Permission denied/);
      let banned = false;
      await until('the ban', async () => (banned = (await firstBytes(server.port, '127.0.0.2')) === ''), 5_000).catch(() => undefined);
      assert.ok(banned, 'after the third failed login 127.0.0.2 is refused before any SSH byte');
      const afterBan = await login('127.0.0.2', 'letmein');
      assert.equal(afterBan.code, 255);
      assert.doesNotMatch(afterBan.stderr, /Permission denied/, 'no authentication happened');
      assert.equal(await firstBytes(server.port, '127.0.0.5'), `${BANNER}\r\n`, 'other sources are still served');

      // Sensor port: one touch from 127.0.0.3 bans it from the SSH port.
      assert.equal(await firstBytes(server.port, '127.0.0.3'), `${BANNER}\r\n`);
      const touch = connect({ port: sensor, host: '127.0.0.1', localAddress: '127.0.0.3' });
      touch.on('error', () => undefined);
      await new Promise((resolve) => touch.once('close', resolve));
      assert.equal(await firstBytes(server.port, '127.0.0.3'), '', 'banned by the sensor port');

      const log = entries();
      const auth = log.filter((e) => e.event === 'auth');
      assert.deepEqual(
        auth.filter((e) => e.method === 'password').map((e) => [e.address, e.user, e.password]),
        [
          ['127.0.0.2', 'root', '123456'],
          ['127.0.0.2', 'root', 'admin'],
          ['127.0.0.2', 'root', 'hunter2'],
        ],
      );
      assert.ok(
        auth.every((e) => e.client?.startsWith('SSH-2.0-OpenSSH_')),
        'client version recorded',
      );
      const keyEntry = auth.find((e) => e.method === 'publickey');
      assert.equal(keyEntry?.fingerprint, fingerprint);
      assert.equal(keyEntry?.address, '127.0.0.6');
      assert.ok(!log.some((e) => e.password === 'letmein'), 'the banned attempt never reached authentication');
      assert.ok(log.some((e) => e.event === 'refused' && e.address === '127.0.0.2' && e.by === 'PerSourcePenalties'));
      assert.ok(log.some((e) => e.event === 'refused' && e.address === '127.0.0.3'));
      assert.ok(log.filter((e) => e.event === 'ban').length >= 2, 'both bans recorded');
      assert.doesNotMatch(server.output(), /authenticated/);
    } finally {
      assert.equal(await server.stop(), 0);
    }
  },
);
