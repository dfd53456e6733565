/**
 * One host, cluster workers on one store (docs/scale-out.md, first pattern): two `node:cluster`
 * workers (test/fixtures/fleetCluster.ts) on one port share a RedisPolicyStore on a redis-server
 * started here. OpenSSH password guesses that the cluster spreads over both workers are banned on
 * both after the configured count; an admin process with its own store lists the sessions of both
 * workers and disconnects them through pub/sub.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { RedisPolicyStore } from '../src';
import { sshHoldWithPassword, sshWithPassword } from './fixtures/clients';
import { freePort } from './fixtures/net';
import { startListening } from './fixtures/processes';
import { startRedis } from './fixtures/redisServer';
import { until } from './fixtures/wait';

const CONFIG = ['PerSourcePenalties=authfail:10 noauth:0 grace-exceeded:0 refuseconnection:0 min:25 max:600'];

test('cluster workers on one port share bans and the session directory through redis-server', { timeout: 300_000 }, async () => {
  const redis = await startRedis();
  const port = await freePort();
  const host = await startListening(
    ['--import', 'tsx', join(__dirname, 'fixtures', 'fleetCluster.ts')],
    { FLEET_REDIS_URL: redis.url, FLEET_PORT: String(port), FLEET_CONFIG: JSON.stringify(CONFIG) },
    90_000,
  );
  const admin = new RedisPolicyStore({ url: redis.url, nodeId: 'admin' });
  const holders: ChildProcess[] = [];
  try {
    const login = (source: string, password: string) => sshWithPassword(port, password, ['-b', source, 'pat@127.0.0.1', 'true']);
    for (let i = 0; i < 3; i++) assert.match((await login('127.0.0.11', 'wrong')).stderr, /Permission denied/);
    const out = host.output();
    assert.ok(/\[w1\] connection from 127\.0\.0\.11/.test(out) && /\[w2\] connection from 127\.0\.0\.11/.test(out), `spread:\n${out}`);
    await until('the fleet-wide ban', () => /127\.0\.0\.11 penalised fleet-wide/.test(host.output()));
    for (let i = 0; i < 2; i++) assert.notEqual((await login('127.0.0.11', 'pw')).code, 0, 'banned on every worker');
    assert.match(host.output(), /connection from 127\.0\.0\.11:\d+ refused by PerSourcePenalties: source penalised fleet-wide/);

    holders.push(sshHoldWithPassword(port, 'pw', ['-b', '127.0.0.12', 'pat@127.0.0.1']));
    holders.push(sshHoldWithPassword(port, 'pw', ['-b', '127.0.0.12', 'pat@127.0.0.1']));
    await until('both sessions in the directory', async () => (await admin.sessions()).length === 2);
    assert.deepEqual((await admin.sessions()).map((s) => s.node).sort(), ['w1', 'w2'], 'one session on each worker');
    assert.equal(
      await admin.publishDisconnect({ user: 'pat' }),
      2,
      'both workers are subscribed (the admin store, which only publishes, is not)',
    );
    await until('both ssh -N to end', () => holders.every((h) => h.exitCode !== null));
    await until('the directory to empty', async () => (await admin.sessions()).length === 0);
    assert.doesNotMatch(host.output(), /worker \d+ exited/);
  } finally {
    for (const h of holders) h.kill();
    await admin.close();
    await host.stop('SIGTERM');
    await redis.stop();
  }
});
