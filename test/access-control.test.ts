/**
 * Access control before any SSH byte, in the style of OpenSSH's penalty.sh and login-timeout.sh:
 * loopback only, each case bounded in connections and seconds.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect as tcpConnect, type Socket } from 'node:net';
import { test } from 'node:test';
import { Certificate, SSHDaemon } from '../src';
import { withBareDaemon } from './fixtures/bareDaemon';
import { connect } from './helpers-ssh2';
import { freePort } from './fixtures/net';

const TIMEOUT = { timeout: 60_000 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Opens a raw TCP connection; resolves to 'admitted' once the identification line arrives, 'refused' if closed without a byte. */
async function probe(port: number, localAddress?: string): Promise<{ outcome: 'admitted' | 'refused'; socket: Socket }> {
  const socket = tcpConnect({ port, host: '127.0.0.1', localAddress });
  socket.on('error', () => undefined);
  const outcome = await new Promise<'admitted' | 'refused'>((resolve) => {
    socket.once('data', () => resolve('admitted'));
    socket.once('close', () => resolve('refused'));
  });
  return { outcome, socket };
}

/** A login with a wrong password: the client gives up, the connection ends as an auth failure. */
async function failLogin(port: number, localAddress?: string): Promise<string> {
  try {
    const c = await connect(port, { password: 'wrong', localAddress });
    c.end();
    return 'logged in';
  } catch (err) {
    return (err as Error).message;
  }
}

function openDoors(daemon: SSHDaemon): void {
  daemon.on('SSHUserAuthRequest', (e) => void (e.accept = e.authMethod === 'password' && e.authParam === 'pw'));
}

test('AllowedClients=10.0.0.0/8 refuses 127.0.0.1 before any SSH byte; ConnectionRequest reports the refusal', TIMEOUT, () =>
  withBareDaemon(async ({ daemon, port }) => {
    const seen: string[] = [];
    daemon.on('ConnectionRequest', (e) => void seen.push(`${e.address} ${e.refusedBy}`));
    daemon.config('AllowedClients=10.0.0.0/8');
    assert.equal((await probe(port)).outcome, 'refused');
    daemon.config('AllowedClients=');
    const ok = await probe(port);
    assert.equal(ok.outcome, 'admitted');
    ok.socket.destroy();
    assert.deepEqual(seen, ['127.0.0.1 AllowedClients', '127.0.0.1 ']);
    assert.equal(daemon.refusalCounts().AllowedClients, 1);
  }),
);

test('MaxConnectionsPerClient=3: the 4th concurrent connection from one address is refused, a slot frees on close', TIMEOUT, () =>
  withBareDaemon(async ({ daemon, port }) => {
    daemon.config('MaxConnectionsPerClient=3');
    const held = [await probe(port), await probe(port), await probe(port)];
    assert.deepEqual(
      held.map((h) => h.outcome),
      ['admitted', 'admitted', 'admitted'],
    );
    assert.equal((await probe(port)).outcome, 'refused');
    held[0].socket.destroy();
    await until(() => daemon.sshConnections.size === 2);
    const again = await probe(port);
    assert.equal(again.outcome, 'admitted');
    for (const h of [...held, again]) h.socket.destroy();
    assert.equal(daemon.config('RefusalCounts'), 'MaxConnectionsPerClient=1');
  }),
);

test('MaxStartups=2:100:10: past two unauthenticated connections new ones are refused; authenticated ones do not count', TIMEOUT, () =>
  withBareDaemon(async ({ daemon, port }) => {
    openDoors(daemon);
    daemon.config('MaxStartups=2:100:10');
    const logged = await connect(port, { password: 'pw' });
    const silent = [await probe(port), await probe(port)];
    assert.deepEqual(
      silent.map((s) => s.outcome),
      ['admitted', 'admitted'],
    );
    assert.equal((await probe(port)).outcome, 'refused');
    silent[0].socket.destroy();
    await until(() => daemon.sshConnections.size === 2);
    const next = await probe(port);
    assert.equal(next.outcome, 'admitted');
    for (const s of [...silent, next]) s.socket.destroy();
    logged.end();
    assert.equal(daemon.refusalCounts().MaxStartups, 1);
  }),
);

test('ConnectionRateLimit=3:2: the 4th connection within a second pauses accepting for 2 s', TIMEOUT, () =>
  withBareDaemon(async ({ daemon, port }) => {
    daemon.config('ConnectionRateLimit=3:2');
    const first = [await probe(port), await probe(port), await probe(port)];
    assert.deepEqual(
      first.map((f) => f.outcome),
      ['admitted', 'admitted', 'admitted'],
    );
    assert.equal((await probe(port)).outcome, 'refused');
    assert.equal((await probe(port)).outcome, 'refused', 'still paused');
    await sleep(2100);
    const later = await probe(port);
    assert.equal(later.outcome, 'admitted');
    for (const f of [...first, later]) f.socket.destroy();
  }),
);

test(
  'PerSourcePenalties: repeated failed logins get the address refused; it is let in again after the ban; exempt addresses never are',
  TIMEOUT,
  () =>
    withBareDaemon(async ({ daemon, port }) => {
      openDoors(daemon);
      const logs: string[] = [];
      daemon.on('Log', (e) => void logs.push(e.message));
      daemon.config('PerSourcePenalties=authfail:2 noauth:0 min:3 max:3');
      assert.match(await failLogin(port), /authentication methods failed/);
      await until(() => daemon.sshConnections.size === 0);
      const below = await probe(port);
      assert.equal(below.outcome, 'admitted', 'one failure (2 s) is below min (3 s)');
      below.socket.destroy();
      await until(() => daemon.sshConnections.size === 0);
      await failLogin(port);
      await until(() => daemon.sshConnections.size === 0);
      assert.equal((await probe(port)).outcome, 'refused', 'two failures (4 s, capped at 3) reach min: banned');
      assert.ok(
        logs.some((l) => /127\.0\.0\.1 penalised \(PerSourcePenalties\)/.test(l)),
        logs.join('\n'),
      );
      await sleep(3100);
      const back = await probe(port);
      assert.equal(back.outcome, 'admitted', 'let in again after the ban');
      back.socket.destroy();
      await until(() => daemon.sshConnections.size === 0);

      daemon.config('PerSourcePenaltyExemptList=127.0.0.0/8');
      for (let i = 0; i < 3; i++) {
        await failLogin(port);
        await until(() => daemon.sshConnections.size === 0);
      }
      const exempt = await probe(port);
      assert.equal(exempt.outcome, 'admitted', 'exempt addresses are never banned');
      exempt.socket.destroy();
    }),
);

test(
  'PerSourcePenalties is on by default, as OpenSSH 9.8+: a source that keeps failing logins is refused, loopback included; other sources are not',
  TIMEOUT,
  async () => {
    const daemon = new SSHDaemon(); // not the fixture, which switches penalties off for the suite
    daemon.sshCert = Certificate.generate('ed25519');
    daemon.localHost = '127.0.0.1';
    daemon.localPort = 0;
    daemon.on('SSHServiceRequest', (e) => void (e.accept = true));
    openDoors(daemon);
    const logs: string[] = [];
    daemon.on('Log', (e) => void logs.push(e.message));
    assert.equal(daemon.config('PerSourcePenalties'), 'yes');
    assert.equal(daemon.config('PerSourcePenaltyExemptList'), '', 'nothing is exempt, as in OpenSSH');
    await daemon.startListening();
    const port = daemon.localPort;
    try {
      // authfail 5 s each, enforced once 15 s (min) are pending: the fourth failure gets there when the
      // four take under 5 s; a loaded machine may need a few more (each second spent decays one).
      let failures = 0;
      while ((await failLogin(port, '127.0.0.9')).match(/authentication methods failed/)) {
        failures++;
        await until(() => daemon.sshConnections.size === 0);
        assert.ok(failures <= 10, `still admitted after ${failures} failed logins`);
      }
      assert.ok(failures >= 3, `refused after only ${failures} failures: min is 15 s, authfail 5 s`);
      assert.equal((await probe(port, '127.0.0.9')).outcome, 'refused', 'refused before any SSH byte');
      assert.ok(
        logs.some((l) => /^127\.0\.0\.9 penalised \(PerSourcePenalties\)/.test(l)),
        logs.join('\n'),
      );
      const neighbour = await probe(port, '127.0.0.10');
      assert.equal(neighbour.outcome, 'admitted', 'PerSourceNetBlockSize 32: only that address');
      neighbour.socket.destroy();
      const good = await connect(port, { password: 'pw', localAddress: '127.0.0.11' });
      good.end();
      assert.ok(daemon.refusalCounts().PerSourcePenalties >= 2);
    } finally {
      await daemon.shutdown();
    }
  },
);

test('FailedAuthPenalty alone switches penalties on: a source that keeps failing is refused', TIMEOUT, () =>
  withBareDaemon(async ({ daemon, port }) => {
    openDoors(daemon);
    daemon.config('FailedAuthPenalty=5');
    await failLogin(port);
    await until(() => daemon.sshConnections.size === 0);
    assert.equal((await probe(port)).outcome, 'refused');
    assert.equal(daemon.refusalCounts().PerSourcePenalties, 1);
  }),
);

test("PerSourceNetBlockSize: a ban covers the block (24 bits: 127.0.0.3 shares 127.0.0.2's), not just the address", TIMEOUT, () =>
  withBareDaemon(async ({ daemon, port }) => {
    openDoors(daemon);
    daemon.config('FailedAuthPenalty=5');
    daemon.config('PerSourceNetBlockSize=32');
    await failLogin(port, '127.0.0.2');
    await until(() => daemon.sshConnections.size === 0);
    const neighbour = await probe(port, '127.0.0.3');
    assert.equal(neighbour.outcome, 'admitted', 'with 32 bits only 127.0.0.2 is banned');
    neighbour.socket.destroy();
    assert.equal((await probe(port, '127.0.0.2')).outcome, 'refused');
    await until(() => daemon.sshConnections.size === 0);
    daemon.config('PerSourceNetBlockSize=24');
    await failLogin(port, '127.0.0.4');
    await until(() => daemon.sshConnections.size === 0);
    assert.equal((await probe(port, '127.0.0.5')).outcome, 'refused', 'with 24 bits the whole 127.0.0.0/24 is');
  }),
);

test('SensorPorts: a connection to a sensor port bans the address on the main port for SensorDenyTime', TIMEOUT, () =>
  withBareDaemon(async ({ daemon }) => {
    const sensorPort = await freePort();
    await daemon.stopListening();
    daemon.config(`SensorPorts=${sensorPort}`);
    daemon.config('SensorDenyTime=2');
    await daemon.startListening();
    const main = daemon.localPort;
    const before = await probe(main);
    assert.equal(before.outcome, 'admitted');
    before.socket.destroy();
    const trap = tcpConnect(sensorPort, '127.0.0.1');
    trap.on('error', () => undefined);
    await once(trap, 'close');
    assert.equal((await probe(main)).outcome, 'refused', 'banned after touching the sensor');
    await sleep(2100);
    const after = await probe(main);
    assert.equal(after.outcome, 'admitted', 'let in again after SensorDenyTime');
    after.socket.destroy();
    assert.equal(daemon.refusalCounts().SensorPorts, 2, 'the touch itself and the main-port connection it got refused');
    await daemon.shutdown();
    const closed = tcpConnect(sensorPort, '127.0.0.1');
    const [err] = (await once(closed, 'error')) as [NodeJS.ErrnoException];
    assert.equal(err.code, 'ECONNREFUSED', 'the sensor port closes with the daemon');
  }),
);

test(
  'A flood of sensor visitors cannot switch penalties off: 200 visitors (max-sources4:50) fill only the sensor ban table, which drops its oldest bans; a brute-forcer is still banned',
  TIMEOUT,
  () =>
    withBareDaemon(async ({ daemon }) => {
      openDoors(daemon);
      const logs: string[] = [];
      daemon.on('Log', (e) => void logs.push(e.message));
      const sensorPort = await freePort();
      await daemon.stopListening();
      daemon.config(`SensorPorts=${sensorPort}`);
      daemon.config('PerSourcePenalties=authfail:30 noauth:1 min:15 max:600 max-sources4:50');
      await daemon.startListening();
      const main = daemon.localPort;
      for (let i = 1; i <= 200; i++) {
        const trap = tcpConnect({ port: sensorPort, host: '127.0.0.1', localAddress: `127.1.0.${i}` });
        trap.on('error', () => undefined);
        await once(trap, 'close');
      }
      assert.equal(daemon.refusalCounts().SensorPorts, 200, 'every touch is counted');
      // The sensor table holds the 50 newest bans: the oldest visitors were dropped to take the newest.
      assert.equal((await probe(main, '127.1.0.200')).outcome, 'refused', 'the newest visitor is banned');
      assert.equal((await probe(main, '127.1.0.151')).outcome, 'refused', 'the 50th newest too');
      const oldest = await probe(main, '127.1.0.1');
      assert.equal(oldest.outcome, 'admitted', 'the oldest ban was dropped early');
      oldest.socket.destroy();
      await until(() => daemon.sshConnections.size === 0);
      // The penalty table is untouched by all that: one failed login (30 s >= min 15 s) bans the source.
      assert.match(await failLogin(main, '127.3.0.1'), /authentication methods failed/);
      await until(() => daemon.sshConnections.size === 0);
      assert.equal((await probe(main, '127.3.0.1')).outcome, 'refused', 'the brute-forcer is banned');
      assert.ok(
        logs.some((l) => /^127\.3\.0\.1 penalised \(PerSourcePenalties\)/.test(l)),
        logs.join('\n'),
      );
      assert.equal(daemon.refusalCounts().PerSourcePenalties, 1);
      assert.ok(
        logs.some((l) => /^IPv4 sensor ban table full \(max-sources4:50\): the sensor bans closest to expiry are dropped early$/.test(l)),
        logs.join('\n'),
      );
    }),
);

test(
  'PerSourcePenalties overflow:deny-all: while the IPv4 penalty table is full every new IPv4 connection is refused, with the reason logged; exempt addresses get in',
  TIMEOUT,
  () =>
    withBareDaemon(async ({ daemon, port }) => {
      openDoors(daemon);
      const logs: string[] = [];
      const requests: string[] = [];
      daemon.on('Log', (e) => void logs.push(e.message));
      daemon.on('ConnectionRequest', (e) => void requests.push(`${e.address} ${e.refusedBy}`));
      // Penalties below min: recorded (they count against max-sources4, as in OpenSSH) but not enforced.
      daemon.config('PerSourcePenalties=authfail:60 noauth:0 min:120 max:600 max-sources4:2 overflow:deny-all');
      daemon.config('PerSourcePenaltyExemptList=127.0.0.9');
      for (const source of ['127.0.0.2', '127.0.0.3']) {
        assert.match(await failLogin(port, source), /authentication methods failed/);
        await until(() => daemon.sshConnections.size === 0);
      }
      assert.equal((await probe(port, '127.0.0.4')).outcome, 'refused', 'a fresh source is refused while the table is full');
      assert.ok(
        logs.some((l) =>
          /^connection from 127\.0\.0\.4:\d+ refused by PerSourcePenalties: too many penalised IPv4 sources \(2, max-sources4:2, overflow:deny-all\)/.test(
            l,
          ),
        ),
        logs.join('\n'),
      );
      assert.ok(
        logs.some((l) => /^IPv4 penalty table full \(2 sources, max-sources4:2, overflow:deny-all\)/.test(l)),
        logs.join('\n'),
      );
      assert.equal((await probe(port, '127.0.0.2')).outcome, 'refused', 'so is a penalised one below min');
      const exempt = await probe(port, '127.0.0.9');
      assert.equal(exempt.outcome, 'admitted', 'PerSourcePenaltyExemptList is let in');
      exempt.socket.destroy();
      await until(() => daemon.sshConnections.size === 0);
      assert.deepEqual(requests.slice(-3), ['127.0.0.4 PerSourcePenalties', '127.0.0.2 PerSourcePenalties', '127.0.0.9 ']);
      assert.equal(daemon.refusalCounts().PerSourcePenalties, 2);
      daemon.config('PerSourcePenalties=authfail:60 noauth:0 min:120 max:600 max-sources4:2 overflow:permissive');
      const permitted = await probe(port, '127.0.0.4');
      assert.equal(permitted.outcome, 'admitted', 'overflow:permissive admits while full');
      permitted.socket.destroy();
    }),
);

async function until(check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await sleep(20);
  }
}
