/**
 * The gate with a policyStore, in one process (loopback sockets, the ssh2 client): a store that
 * never answers holds connections at most PolicyStoreTimeout and only as many as MaxConnections
 * (they count as pending), then fail-open admits them with one outage line; a failing store with
 * PolicyStoreFailMode=closed refuses all but PerSourcePenaltyExemptList and nothing escapes as an
 * unhandled rejection; two daemons sharing a MemoryPolicyStore share sensor bans, failed-login
 * bans, the session directory and disconnectEverywhere.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect as tcpConnect, type Socket } from 'node:net';
import { test } from 'node:test';
import { Certificate, MemoryPolicyStore, SSHDaemon, type SharedAdmission, type SharedRefusal } from '../src';
import { connect } from './helpers-ssh2';
import { freePort } from './fixtures/net';
import { withUnhandledWatch } from './fixtures/unhandled';
import { until } from './fixtures/wait';

const TIMEOUT = { timeout: 120_000 };
const hostKey = Certificate.generate('ed25519');

async function daemonWith(store: MemoryPolicyStore, settings: string[], log: string[]): Promise<SSHDaemon> {
  const daemon = new SSHDaemon();
  daemon.sshCert = hostKey;
  daemon.localHost = '127.0.0.1';
  daemon.localPort = 0;
  daemon.config('PerSourcePenalties=no');
  for (const s of settings) daemon.config(s);
  daemon.policyStore = store;
  daemon.on('Log', (e) => void log.push(e.message));
  daemon.on('SSHServiceRequest', (e) => void (e.accept = true));
  daemon.on('SSHUserAuthRequest', (e) => void (e.accept = e.authMethod === 'password' && e.authParam === 'pw'));
  await daemon.startListening();
  return daemon;
}

/** A raw TCP connection: 'admitted' once the identification line arrives, 'refused' if closed without a byte. */
async function probe(port: number, localAddress = '127.0.0.1'): Promise<{ outcome: 'admitted' | 'refused'; socket: Socket }> {
  const socket = tcpConnect({ port, host: '127.0.0.1', localAddress });
  socket.on('error', () => undefined);
  const outcome = await new Promise<'admitted' | 'refused'>((resolve) => {
    socket.once('data', () => resolve('admitted'));
    socket.once('close', () => resolve('refused'));
  });
  return { outcome, socket };
}

class HangingStore extends MemoryPolicyStore {
  admits = 0;
  override admit(_r: SharedAdmission): Promise<SharedRefusal | undefined> {
    this.admits++;
    return new Promise(() => undefined);
  }
}

class FailingStore extends MemoryPolicyStore {
  override admit(): Promise<SharedRefusal | undefined> {
    return Promise.reject(new Error('connection refused (test)'));
  }
  override penalise(): Promise<number | undefined> {
    return Promise.reject(new Error('connection refused (test)'));
  }
}

test(
  'a store that never answers: waiting connections count against MaxConnections, fail-open admits them after PolicyStoreTimeout, one outage line',
  TIMEOUT,
  async () => {
    const store = new HangingStore();
    const log: string[] = [];
    const daemon = await daemonWith(store, ['MaxConnections=2', 'PolicyStoreTimeout=3000'], log);
    try {
      const first = [probe(daemon.localPort), probe(daemon.localPort)];
      await until('two connections waiting for the store', () => store.admits === 2);
      const more = await Promise.all([probe(daemon.localPort), probe(daemon.localPort)]);
      assert.deepEqual(
        more.map((p) => p.outcome),
        ['refused', 'refused'],
        'the waiting connections fill MaxConnections',
      );
      const waited = await Promise.all(first);
      assert.deepEqual(
        waited.map((p) => p.outcome),
        ['admitted', 'admitted'],
        'fail-open: let in on the local checks after the timeout',
      );
      for (const p of waited) p.socket.destroy();
      assert.equal(daemon.refusalCounts().MaxConnections, 2);
      // The outage is known: new connections get the fail mode without asking, but for a probe now and then.
      daemon.config('MaxConnections=100');
      const later = await Promise.all([1, 2, 3, 4].map(() => probe(daemon.localPort)));
      assert.deepEqual(
        later.map((p) => p.outcome),
        ['admitted', 'admitted', 'admitted', 'admitted'],
      );
      for (const p of later) p.socket.destroy();
      assert.ok(store.admits < 6, `not every connection waited for the hanging store (${store.admits} asked)`);
      assert.equal(
        log.filter((l) => /^policy store unreachable \(no answer within 3000 ms \(PolicyStoreTimeout\)\)/.test(l)).length,
        1,
        log.join('\n'),
      );
    } finally {
      await daemon.shutdown();
    }
  },
);

test('a failing store with PolicyStoreFailMode=closed refuses all but PerSourcePenaltyExemptList; no unhandled rejection', TIMEOUT, () =>
  withUnhandledWatch(async () => {
    const log: string[] = [];
    const daemon = await daemonWith(
      new FailingStore(),
      ['PolicyStoreFailMode=closed', 'PerSourcePenaltyExemptList=127.0.0.3', 'FailedAuthPenalty=5'],
      log,
    );
    try {
      for (let i = 0; i < 3; i++) assert.equal((await probe(daemon.localPort, '127.0.0.2')).outcome, 'refused');
      assert.equal(daemon.refusalCounts().PolicyStoreFailMode, 3);
      const exempt = await probe(daemon.localPort, '127.0.0.3');
      assert.equal(exempt.outcome, 'admitted', 'the exempt address gets in');
      exempt.socket.destroy();
      daemon.config('PolicyStoreFailMode=open');
      // A failed login: the penalty goes to the local table although the store rejects it.
      await assert.rejects(connect(daemon.localPort, { password: 'wrong', localAddress: '127.0.0.4' }));
      await until('the local ban', () => log.some((l) => /^127\.0\.0\.4 penalised \(PerSourcePenalties\)/.test(l)));
      assert.equal((await probe(daemon.localPort, '127.0.0.4')).outcome, 'refused', 'local bans keep working');
      assert.equal(log.filter((l) => l.startsWith('policy store unreachable')).length, 1, log.join('\n'));
      assert.match(log.join('\n'), /PolicyStoreFailMode=closed: new connections are refused/);
    } finally {
      await daemon.shutdown();
    }
  }),
);

test(
  'two daemons sharing a MemoryPolicyStore: sensor bans, failed-login bans, the session directory and disconnectEverywhere',
  TIMEOUT,
  async () => {
    const store = new MemoryPolicyStore({ nodeId: 'one-process' });
    const logA: string[] = [];
    const logB: string[] = [];
    const sensor = await freePort();
    const penalties = 'PerSourcePenalties=authfail:10 noauth:0 grace-exceeded:0 refuseconnection:0 min:25';
    const a = await daemonWith(store, [penalties, `SensorPorts=${sensor}`], logA);
    const b = await daemonWith(store, [penalties], logB);
    try {
      // A sensor port of A bans the source on B.
      const touch = tcpConnect({ port: sensor, host: '127.0.0.1', localAddress: '127.0.0.5' });
      touch.on('error', () => undefined);
      await once(touch, 'close');
      await until('the sensor ban in the store', async () => (await store.admit(admission('127.0.0.5')))?.reason === 'SensorPorts');
      assert.equal((await probe(b.localPort, '127.0.0.5')).outcome, 'refused');
      assert.match(logB.join('\n'), /connection from 127\.0\.0\.5:\d+ refused by SensorPorts: source touched a sensor port in the fleet/);

      // Failed logins on A, B, A: the third bans on both (each alone saw too few).
      for (const d of [a, b, a]) await assert.rejects(connect(d.localPort, { password: 'wrong', localAddress: '127.0.0.6' }));
      await until('the shared ban', () => [...logA, ...logB].some((l) => /^127\.0\.0\.6 penalised fleet-wide/.test(l)));
      assert.equal((await probe(b.localPort, '127.0.0.6')).outcome, 'refused');
      assert.equal((await probe(a.localPort, '127.0.0.6')).outcome, 'refused');

      // A session on B, listed and disconnected from A.
      const client = await connect(b.localPort, { password: 'pw', username: 'alice', localAddress: '127.0.0.7' });
      const closed = once(client, 'close');
      await until('the session in the directory', async () => (await store.sessions()).some((s) => s.user === 'alice'));
      const [session] = (await store.sessions()).filter((s) => s.user === 'alice');
      assert.equal(session.remoteHost, '127.0.0.7');
      assert.equal(await a.disconnectEverywhere({ user: 'alice' }), 2, 'both daemons received the request');
      await closed;
      await until('the directory to drop it', async () => !(await store.sessions()).some((s) => s.user === 'alice'));
      assert.equal(await a.disconnectEverywhere({}), 2, 'an empty filter reaches both and matches nothing');
    } finally {
      await a.shutdown();
      await b.shutdown();
    }
  },
);

test('a fleet slot is freed when ConnectionRequest refuses, when the client leaves, and only then', TIMEOUT, async () => {
  const store = new MemoryPolicyStore();
  const log: string[] = [];
  const daemon = await daemonWith(store, ['MaxConnectionsPerClient=1'], log);
  try {
    let refuse = true;
    daemon.on('ConnectionRequest', (e) => {
      if (e.accept && refuse) e.accept = false;
    });
    for (let i = 0; i < 3; i++) assert.equal((await probe(daemon.localPort, '127.0.0.8')).outcome, 'refused');
    assert.equal(store.sizes().slots, 0, 'refused by the handler: no slot kept');
    refuse = false;
    const first = await probe(daemon.localPort, '127.0.0.8');
    assert.equal(first.outcome, 'admitted');
    assert.equal(store.sizes().slots, 1);
    // A second daemon on the same store: the client's one slot is taken.
    const other = await daemonWith(store, ['MaxConnectionsPerClient=1'], []);
    try {
      assert.equal((await probe(other.localPort, '127.0.0.8')).outcome, 'refused');
      first.socket.destroy();
      await until('the slot to be released', () => store.sizes().slots === 0);
      const again = await probe(other.localPort, '127.0.0.8');
      assert.equal(again.outcome, 'admitted', 'the slot is free again');
      again.socket.destroy();
    } finally {
      await other.shutdown();
    }
  } finally {
    await daemon.shutdown();
  }
});

const admission = (address: string): SharedAdmission => ({
  address,
  token: 'probe',
  maxPerClient: 0,
  blocks: { ipv4Bits: 32, ipv6Bits: 128 },
  holdMs: 1000,
});
