// Adversarial review of the fleet policy store (issue 22). What it proves:
// - two connections that share a client address:port (a client binding one source port to reach
//   two daemon addresses, or two balancers' PROXY headers) each keep their own fleet slot: closing
//   one frees exactly one, closing both frees both (the first token was dropped and the second
//   freed early: a leaked slot locked the address out for three heartbeats and the live one held none);
// - ConnectionRateLimit=N:0 (valid: no pause, only the excess refused) past N fleet-wide is a
//   refusal from Redis, not an error taken as an outage (SET PX 0 failed in the script, which put
//   every node into PolicyStoreFailMode while a client kept the rate up).
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { ConfigStore } from '../src/config/ConfigStore';
import { MemoryPolicyStore, RedisPolicyStore } from '../src';
import { PenaltyBox } from '../src/policy/PenaltyBox';
import { SharedPolicy } from '../src/policy/SharedPolicy';
import { startRedis } from './fixtures/redisServer';

const NO_CONNECTIONS = { getConnectionSetting: () => undefined, setConnectionSetting: () => undefined };
const BLOCKS = { ipv4Bits: 32, ipv6Bits: 128 };
const BOUNDS_FIELDS = { ipv4Bits: 32, ipv6Bits: 128, maxSources4: 100, maxSources6: 100, overflow4: 'permissive', overflow6: 'permissive' };
const BOUNDS = BOUNDS_FIELDS as never;

test('two connections with one client address:port each hold and free their own fleet slot', async () => {
  const store = new MemoryPolicyStore();
  const settings = new ConfigStore(NO_CONNECTIONS);
  const shared = new SharedPolicy(store, settings, new PenaltyBox(Date.now), () => undefined);
  const query = { maxPerClient: 2, blocks: BLOCKS };
  assert.equal(await shared.admit('192.0.2.7', 40000, query, BOUNDS), undefined);
  assert.equal(await shared.admit('192.0.2.7', 40000, query, BOUNDS), undefined);
  assert.equal(store.sizes().slots, 2);
  assert.equal(shared.slots().length, 2, 'both slots are kept alive by heartbeats');
  shared.release('192.0.2.7', 40000);
  await new Promise((r) => setImmediate(r));
  assert.equal(store.sizes().slots, 1, 'one connection closed: one slot left');
  assert.equal(shared.slots().length, 1);
  shared.release('192.0.2.7', 40000);
  await new Promise((r) => setImmediate(r));
  assert.equal(store.sizes().slots, 0, 'both closed: no slot left to lock the address out');
  assert.equal(await shared.admit('192.0.2.7', 40001, query, BOUNDS), undefined);
  assert.equal(await shared.admit('192.0.2.7', 40002, query, BOUNDS), undefined);
  shared.detach();
});

test('ConnectionRateLimit with no pause (N:0) past N fleet-wide is a refusal, not a store error', async () => {
  const redis = await startRedis();
  const store = new RedisPolicyStore({ url: redis.url, nodeId: 'attack22' });
  after(async () => {
    await store.close();
    await redis.stop();
  });
  // Connected once a call goes through (commands are not queued while the client connects).
  for (let i = 0; ; i++) {
    try {
      await store.sessions();
      break;
    } catch (err) {
      assert.ok(i < 300, `Redis store never connected: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const request = (n: number) => ({
    address: '192.0.2.9',
    token: `attack22/${n}`,
    maxPerClient: 0,
    rate: { perSecond: 1, pauseSeconds: 0 },
    blocks: BLOCKS,
    holdMs: 30_000,
  });
  // Two attempts in the same second of the Redis clock (retried if the second turned in between).
  for (let attempt = 0; ; attempt++) {
    const first = await store.admit(request(1));
    const second = await store.admit(request(2));
    if (first === undefined && second?.reason === 'ConnectionRateLimit') break;
    assert.ok(attempt < 5, `expected a ConnectionRateLimit refusal, got ${JSON.stringify([first, second])}`);
  }
  assert.equal(store.reachable, true);
});

test('a store that answers an admission after PolicyStoreTimeout keeps no slot for it', async () => {
  // The answer came too late: the connection got PolicyStoreFailMode and nobody holds the token, so
  // the slot the store reserved meanwhile lingered for three heartbeats (a slow store filled every
  // address's MaxConnectionsPerClient with ghosts once it recovered).
  class SlowStore extends MemoryPolicyStore {
    override async admit(r: Parameters<MemoryPolicyStore['admit']>[0]) {
      await new Promise((res) => setTimeout(res, 300));
      return super.admit(r);
    }
  }
  const store = new SlowStore();
  const settings = new ConfigStore(NO_CONNECTIONS);
  settings.config('PolicyStoreTimeout=50');
  const shared = new SharedPolicy(store, settings, new PenaltyBox(Date.now), () => undefined);
  assert.equal(await shared.admit('192.0.2.8', 40000, { maxPerClient: 1, blocks: BLOCKS }, BOUNDS), undefined, 'fail-open');
  for (let i = 0; i < 100 && store.sizes().slots === 0; i++) await new Promise((r) => setTimeout(r, 20));
  for (let i = 0; i < 100 && store.sizes().slots > 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(store.sizes().slots, 0);
  shared.detach();
});

test('a RedisPolicyStore asked right after construction answers once connected instead of failing as offline', async () => {
  // The client was still connecting: "The client is offline" read as an outage, so a daemon that
  // started listening with a new store refused its first connections (fail-closed) or let them
  // past the fleet's limits (fail-open), with a false outage line.
  const redis = await startRedis();
  const store = new RedisPolicyStore({ url: redis.url, nodeId: 'attack22-early' });
  after(async () => {
    await store.close();
    await redis.stop();
  });
  const refusal = await store.admit({ address: '192.0.2.10', token: 'attack22-early/1', maxPerClient: 1, blocks: BLOCKS, holdMs: 30_000 });
  assert.equal(refusal, undefined);
  assert.equal((await store.sessions()).length, 0);
});

test('while the store hangs, closing connections do not pile calls up on its link', async () => {
  // A link that hangs without a reset (Redis stopped, a partition: TCP retries for minutes): every
  // call waits in the client's queue until then. Admissions were already limited to one probe a
  // second; the release, penalty and ban of every closing connection were not (SIGSTOPped
  // redis-server: 500 connections queued 500 scripts, replayed on SIGCONT).
  let calls = 0;
  const never = () => {
    calls++;
    return new Promise<never>(() => undefined);
  };
  const hanging = Object.assign(new MemoryPolicyStore(), { admit: never, release: never, penalise: never, ban: never });
  const settings = new ConfigStore(NO_CONNECTIONS);
  settings.config('PolicyStoreTimeout=50');
  const shared = new SharedPolicy(hanging, settings, new PenaltyBox(Date.now), () => undefined);
  assert.equal(await shared.admit('192.0.2.11', 40000, { maxPerClient: 0, blocks: BLOCKS }, BOUNDS), undefined, 'fail-open');
  const noticed = calls;
  const policy = { ...BOUNDS_FIELDS, max: 600, min: 30, authfail: 5, noauth: 1, graceExceeded: 10, refuseConnection: 10 } as never;
  for (let i = 0; i < 100; i++) {
    shared.penalise('192.0.2.11', 1, policy);
    shared.ban('192.0.2.12', 60, BOUNDS);
    shared.release('192.0.2.11', 40000);
  }
  await new Promise((r) => setImmediate(r));
  assert.equal(calls, noticed, 'no call sent to a store known to be unreachable');
  shared.detach();
});

test('disconnectEverywhere({ connectionId }) without node is refused with a clear error', async () => {
  // Connection ids come from one counter per process: '5' names a different session on every node,
  // so a filter of connectionId alone disconnected every node's connection 5.
  const { SSHDaemon } = await import('../src');
  const { SSHDaemonError } = await import('../src/errors/SSHDaemonError');
  const daemon = new SSHDaemon();
  daemon.policyStore = new MemoryPolicyStore({ nodeId: 'a' });
  await assert.rejects(daemon.disconnectEverywhere({ connectionId: '5' }), (err: unknown) => {
    assert.ok(err instanceof SSHDaemonError);
    assert.match(err.message, /node/);
    return true;
  });
  assert.equal(await daemon.disconnectEverywhere({ node: 'a', connectionId: '5' }), 1);
});
