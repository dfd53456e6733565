/**
 * RedisPolicyStore against a real redis-server (Debian `redis-server`, started here on a loopback
 * port with its own folder, no persistence): the PolicyStore contract between two store objects (as
 * two daemon processes hold), hostile key growth staying bounded (DBSIZE, sorted-set sizes, a TTL
 * on every key), and an outage: calls fail at once, one `down` and one `up` status, work resumes.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createClient } from 'redis';
import { RedisPolicyStore, type StoreStatus } from '../src';
import { admission, checkContract, POLICY } from './fixtures/policyStoreContract';
import { type RedisServer, startRedis } from './fixtures/redisServer';
import { watchUnhandled } from './fixtures/unhandled';
import { until } from './fixtures/wait';

const TIMEOUT = { timeout: 180_000 };
let redis: RedisServer;
before(async () => void (redis = await startRedis()));
after(async () => redis?.stop());

/** A plain client to look at what the store left in Redis. */
async function inspect<T>(body: (c: ReturnType<typeof createClient>) => Promise<T>): Promise<T> {
  const c = createClient({ url: redis.url });
  c.on('error', () => undefined);
  await c.connect();
  try {
    return await body(c);
  } finally {
    c.destroy();
  }
}

async function ready(store: RedisPolicyStore): Promise<void> {
  await until('the store to reach redis', async () => {
    try {
      await store.sessions();
      return true;
    } catch {
      return false;
    }
  });
}

test('the PolicyStore contract holds between two RedisPolicyStore objects on one redis-server', TIMEOUT, async () => {
  const a = new RedisPolicyStore({ url: redis.url, nodeId: 'a', prefix: 'contract:' });
  const b = new RedisPolicyStore({ url: redis.url, nodeId: 'b', prefix: 'contract:' });
  try {
    await ready(a);
    await ready(b);
    await checkContract(a, b);
  } finally {
    await a.close();
    await b.close();
  }
});

test(
  'attack: 5000 penalised sources, 5000 sensor bans, 2000 per-client slots and 500 sessions leave Redis bounded, every key with a TTL',
  TIMEOUT,
  async () => {
    const store = new RedisPolicyStore({ url: redis.url, nodeId: 'h', prefix: 'hostile:', maxSessions: 100 });
    try {
      await ready(store);
      const small = { ...POLICY, maxSources4: 1000 };
      const batch = async (count: number, op: (i: number) => Promise<unknown>) => {
        for (let i = 0; i < count; i += 100) await Promise.all(Array.from({ length: Math.min(100, count - i) }, (_, j) => op(i + j)));
      };
      await batch(5000, (i) => store.penalise(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`, 10, small));
      await batch(5000, (i) => store.ban(`10.200.${i >> 8}.${i & 255}`, 60, small));
      await batch(2000, (i) => store.admit(admission(`172.16.${i >> 8}.${i & 255}`, { maxPerClient: 3, holdMs: 30_000 })));
      await batch(500, (i) =>
        store.register({ node: 'h', connectionId: String(i), user: 'u', remoteHost: '10.0.0.1', remotePort: i, since: 0 }, 30_000),
      );
      await inspect(async (c) => {
        assert.ok((await c.zCard('hostile:penalty4')) <= 1000, 'penalties capped by max-sources4');
        assert.ok((await c.zCard('hostile:sensor4')) <= 1000, 'sensor bans capped by max-sources4');
        assert.ok((await c.hLen('hostile:sessions')) <= 100, 'sessions capped by maxSessions');
        const keys: string[] = [];
        for await (const chunk of c.scanIterator({ MATCH: 'hostile:*', COUNT: 1000 })) keys.push(...chunk);
        // One key per live per-client slot address (bounded by the admitted connections and their
        // hold time), a handful of tables otherwise.
        assert.ok(keys.length <= 2000 + 10, `keys: ${keys.length}`);
        for (const k of keys) assert.ok((await c.pTTL(k)) > 0, `${k} has a TTL`);
        assert.ok((await c.pTTL('hostile:penalty4')) <= (small.max + 1) * 1000, 'penalty table lives at most max + 1 s');
      });
    } finally {
      await store.close();
    }
  },
);

test('redis-server killed: calls fail at once, one down and one up status, scripts reload after the restart', TIMEOUT, async () => {
  const watch = watchUnhandled();
  const store = new RedisPolicyStore({ url: redis.url, nodeId: 'o', prefix: 'outage:', maxReconnectDelay: 300 });
  const statuses: StoreStatus[] = [];
  store.onStatus((s) => statuses.push(s));
  try {
    await ready(store);
    assert.ok((await store.penalise('192.0.2.77', 10, { ...POLICY, min: 0 })) !== undefined);
    await redis.kill();
    await until('the store to report the outage', () => statuses.length > 0);
    await assert.rejects(store.admit(admission('192.0.2.1')));
    await assert.rejects(store.penalise('192.0.2.1', 10, POLICY));
    await redis.restart();
    await until('the store to report the recovery', () => statuses.some((s) => s.up));
    await ready(store);
    assert.equal(await store.admit(admission('192.0.2.77')), undefined, 'the restarted redis is empty: the old ban is gone there');
    assert.ok((await store.penalise('192.0.2.78', 10, { ...POLICY, min: 0 })) !== undefined, 'scripts work again (reloaded)');
    assert.equal((await store.admit(admission('192.0.2.78')))?.reason, 'PerSourcePenalties');
    assert.deepEqual(
      statuses.map((s) => s.up),
      [false, true],
      'one status per outage and one per recovery',
    );
    await watch.settle();
    assert.deepEqual(watch.seen, []);
  } finally {
    watch.stop();
    await store.close();
  }
});
