/**
 * A fleet: three daemon processes (test/fixtures/fleetNode.ts) behind HAProxy (send-proxy-v2,
 * round robin) sharing a RedisPolicyStore on a redis-server started here. Real OpenSSH clients
 * (through sshpass, bound to their own loopback source address) log in through the balancer.
 * Shown: password guesses spread over the three nodes are banned fleet-wide after the configured
 * count (each node alone saw too few); MaxConnectionsPerClient holds across the nodes; a session on
 * one node is listed and disconnected from another; with redis-server killed, logins continue
 * (PolicyStoreFailMode=open, bans already known still refused) or are refused (closed), one log
 * line per outage and per recovery, and bans resume when it is back; no node crashes.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createClient } from 'redis';
import type { FleetSession } from '../src';
import { requireBinary, sshHoldWithPassword, sshWithPassword } from './fixtures/clients';
import { freePort, portOpen } from './fixtures/net';
import { type RunningServer, startListening } from './fixtures/processes';
import { startRedis } from './fixtures/redisServer';
import { until } from './fixtures/wait';

const DIR = mkdtempSync(join(tmpdir(), 'fleet-'));
after(() => rmSync(DIR, { recursive: true, force: true }));
const NODE = join(__dirname, 'fixtures', 'fleetNode.ts');

// authfail 10 s, enforced from 25 s: the third failed login of a source bans it; nothing else
// penalises, so the limits under test refuse on their own.
const CONFIG = [
  'PerSourcePenalties=authfail:10 noauth:0 grace-exceeded:0 refuseconnection:0 min:25 max:600',
  'MaxConnectionsPerClient=2',
  'PolicyStoreHeartbeat=2',
  'PolicyStoreTimeout=3000',
];

interface FleetNode extends RunningServer {
  name: string;
  /** Sends a command line and resolves the first new output line starting with one of `answers`. */
  ask(command: string, answers: string[]): Promise<string>;
}

async function startNode(name: string, redisUrl: string): Promise<FleetNode> {
  const node = await startListening(
    ['--import', 'tsx', NODE],
    { FLEET_REDIS_URL: redisUrl, FLEET_NODE: name, FLEET_CONFIG: JSON.stringify(CONFIG) },
    60_000,
    { stdin: true },
  );
  const ask = async (command: string, answers: string[]) => {
    const from = node.output().length;
    node.child.stdin!.write(`${command}\n`);
    let line = '';
    await until(`${name} to answer '${command}'`, () => {
      const found = node
        .output()
        .slice(from)
        .split('\n')
        .find((l) => answers.some((a) => l.startsWith(a)));
      line = found ?? '';
      return found !== undefined;
    });
    return line;
  };
  return { ...node, name, ask };
}

/** What the fleet keeps in Redis: a handful of keys, each with a TTL (returns their names). */
async function redisKeys(url: string): Promise<string[]> {
  const inspect = createClient({ url });
  inspect.on('error', () => undefined);
  await inspect.connect();
  try {
    const keys: string[] = [];
    for await (const chunk of inspect.scanIterator({ COUNT: 1000 })) keys.push(...chunk);
    for (const k of keys) assert.ok((await inspect.pTTL(k)) > 0, `${k} has a TTL`);
    return keys;
  } finally {
    inspect.destroy();
  }
}

const login = (front: number, source: string, password: string) =>
  sshWithPassword(front, password, ['-b', source, 'pat@127.0.0.1', 'true'], { timeoutMs: 60_000 });

test('three daemons behind HAProxy share limits, bans and sessions through redis-server', { timeout: 600_000 }, async () => {
  const haproxyBin = requireBinary('haproxy');
  const redis = await startRedis();
  const nodes: FleetNode[] = [];
  const holders: ChildProcess[] = [];
  let haproxy: ChildProcess | undefined;
  try {
    for (const name of ['n1', 'n2', 'n3']) nodes.push(await startNode(name, redis.url));
    const all = () => nodes.map((n) => n.output()).join('\n');
    const count = (re: RegExp) => nodes.map((n) => (n.output().match(new RegExp(re.source, `${re.flags}g`)) ?? []).length);
    const front = await freePort();
    const cfg = join(DIR, 'haproxy.cfg');
    writeFileSync(
      cfg,
      [
        'global',
        '  maxconn 200',
        'defaults',
        '  mode tcp',
        '  timeout connect 5s',
        '  timeout client 120s',
        '  timeout server 120s',
        'frontend ssh',
        `  bind 127.0.0.1:${front}`,
        '  default_backend daemons',
        'backend daemons',
        '  balance roundrobin',
        ...nodes.map((n) => `  server ${n.name} 127.0.0.1:${n.port} send-proxy-v2`),
        '',
      ].join('\n'),
    );
    haproxy = spawn(haproxyBin, ['-f', cfg, '-db'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let haproxyOut = '';
    haproxy.stdout!.on('data', (d: Buffer) => (haproxyOut += d.toString()));
    haproxy.stderr!.on('data', (d: Buffer) => (haproxyOut += d.toString()));
    // A probe from a source no test uses (each probe is one connection that never authenticates).
    await until(
      () => `haproxy to listen: ${haproxyOut}`,
      async () => {
        if (haproxy!.exitCode !== null) throw new Error(`haproxy exited: ${haproxyOut}`);
        return portOpen(front, '127.0.0.99');
      },
    );

    // 1. Password guesses over the three nodes: banned fleet-wide after the third.
    const guesser = '127.0.0.2';
    for (let i = 0; i < 3; i++) {
      const r = await login(front, guesser, 'wrong');
      assert.match(r.stderr, /Permission denied/, `guess ${i + 1} reached a node and failed`);
    }
    assert.deepEqual(
      count(/connection from 127\.0\.0\.2:\d+$/m).map((c) => c > 0),
      [true, true, true],
      `the guesses were spread over the three nodes:\n${all()}`,
    );
    await until('a node to see the fleet-wide ban', () => /127\.0\.0\.2 penalised fleet-wide \(PerSourcePenalties\)/.test(all()));
    assert.doesNotMatch(all(), /127\.0\.0\.2 penalised \(PerSourcePenalties\)/, 'no node alone had enough for a ban');
    for (let i = 0; i < 3; i++) {
      const r = await login(front, guesser, 'pw');
      assert.notEqual(r.code, 0, `the banned source is refused (attempt ${i + 1}) even with the right password`);
    }
    assert.deepEqual(
      count(/connection from 127\.0\.0\.2:\d+ refused by PerSourcePenalties/).map((c) => c > 0),
      [true, true, true],
      'every node refuses the banned source',
    );
    assert.match(
      all(),
      /127\.0\.0\.2:\d+ refused by PerSourcePenalties: source penalised fleet-wide/,
      'a node that saw one guess refuses on the fleet ban',
    );
    const ok = await login(front, '127.0.0.3', 'pw');
    assert.equal(ok.code, 0, `another source logs in: ${ok.stderr}`);

    // 2. MaxConnectionsPerClient=2 across the fleet: two sessions on two nodes, the third refused.
    const sessionsOf = async (asker: FleetNode, host: string): Promise<FleetSession[]> => {
      const line = await asker.ask('sessions', ['SESSIONS ', 'SESSIONS-FAILED ']);
      assert.match(line, /^SESSIONS /, line);
      return (JSON.parse(line.slice('SESSIONS '.length)) as FleetSession[]).filter((s) => s.remoteHost === host);
    };
    const client = '127.0.0.4';
    holders.push(
      sshHoldWithPassword(front, 'pw', ['-b', client, 'pat@127.0.0.1']),
      sshHoldWithPassword(front, 'pw', ['-b', client, 'pat@127.0.0.1']),
    );
    await until('two sessions of 127.0.0.4 in the directory', async () => (await sessionsOf(nodes[0], client)).length === 2);
    const held = await sessionsOf(nodes[0], client);
    assert.equal(new Set(held.map((s) => s.node)).size, 2, 'the two sessions are on two different nodes');
    const third = await login(front, client, 'pw');
    assert.notEqual(third.code, 0, 'the third connection of the client is refused');
    assert.match(
      all(),
      /connection from 127\.0\.0\.4:\d+ refused by MaxConnectionsPerClient: MaxConnectionsPerClient reached across the fleet/,
    );

    // 3. A session on another node, listed and disconnected from n1.
    const remote = held.find((s) => s.node !== 'n1') ?? held[0];
    const holder = nodes.find((n) => n.name === remote.node)!;
    const answer = await nodes[0].ask(`disconnect ${JSON.stringify({ node: remote.node, connectionId: remote.connectionId })}`, [
      'DISCONNECTED',
      'DISCONNECT-FAILED',
    ]);
    assert.equal(answer, 'DISCONNECTED 3', 'the request reached the three nodes');
    await until('the holding node to disconnect it', () =>
      new RegExp(`disconnecting ${remote.connectionId} \\(user 'pat' from 127\\.0\\.0\\.4\\): disconnectEverywhere`).test(holder.output()),
    );
    await until('one ssh -N to end', () => holders.filter((h) => h.exitCode !== null).length === 1);
    await until('the directory to drop it', async () => (await sessionsOf(nodes[1], client)).length === 1);
    // The slot went with it: the client may connect again.
    holders.push(sshHoldWithPassword(front, 'pw', ['-b', client, 'pat@127.0.0.1']));
    await until('the client back at two sessions', async () => (await sessionsOf(nodes[2], client)).length === 2);
    assert.equal(
      await nodes[2].ask(`disconnect ${JSON.stringify({ user: 'pat' })}`, ['DISCONNECTED', 'DISCONNECT-FAILED']),
      'DISCONNECTED 3',
    );
    await until('every ssh -N to end', () => holders.every((h) => h.exitCode !== null));

    // 4. redis-server killed, fail-open: logins continue, the known ban still holds, one line per node.
    await redis.kill();
    await until('every node to log the outage', () => count(/policy store unreachable/).every((c) => c === 1));
    for (const source of ['127.0.0.5', '127.0.0.6']) {
      const r = await login(front, source, 'pw');
      assert.equal(r.code, 0, `fail-open: ${source} logs in while redis is down: ${r.stderr}`);
    }
    assert.notEqual((await login(front, guesser, 'pw')).code, 0, 'the fleet ban seen before the outage still refuses');
    for (let i = 0; i < 3; i++) await login(front, '127.0.0.7', 'wrong');
    assert.deepEqual(count(/policy store unreachable/), [1, 1, 1], `one log line per node for the whole outage:\n${all()}`);

    // Back: one recovery line per node, and bans are fleet-wide again.
    await redis.restart();
    await until('every node to log the recovery', () => count(/policy store reachable again/).every((c) => c === 1));
    for (let i = 0; i < 3; i++) await login(front, '127.0.0.8', 'wrong');
    await until('the new fleet-wide ban', () => /127\.0\.0\.8 penalised fleet-wide/.test(all()));
    for (let i = 0; i < 3; i++) assert.notEqual((await login(front, '127.0.0.8', 'pw')).code, 0, 'bans resume after the recovery');
    assert.match(all(), /127\.0\.0\.8:\d+ refused by PerSourcePenalties: source penalised fleet-wide/, 'refused on the fleet ban');
    const keys = await redisKeys(redis.url);
    assert.ok(keys.includes('sshd:ban4') && keys.length <= 10, `keys: ${keys.join(' ')}`);

    // 5. Fail-closed: with redis down, new connections are refused.
    for (const n of nodes) await n.ask('config PolicyStoreFailMode=closed', ['CONFIGURED']);
    await redis.kill();
    await until('every node to log the second outage', () => count(/policy store unreachable/).every((c) => c === 2));
    assert.match(all(), /PolicyStoreFailMode=closed: new connections are refused/);
    const closed = await login(front, '127.0.0.9', 'pw');
    assert.notEqual(closed.code, 0, 'fail-closed: refused while redis is down');
    assert.match(all(), /connection from 127\.0\.0\.9:\d+ refused by PolicyStoreFailMode/);
    await redis.restart();
    await until('every node to log the second recovery', () => count(/policy store reachable again/).every((c) => c === 2));
    const back = await login(front, '127.0.0.9', 'pw');
    assert.equal(back.code, 0, `logins resume once redis is back: ${back.stderr}`);

    for (const n of nodes) assert.equal(n.child.exitCode, null, `${n.name} is still running:\n${n.output()}`);
    assert.doesNotMatch(all(), /CRASH/);
    if (process.env.FLEET_DUMP) writeFileSync(process.env.FLEET_DUMP, all());
  } finally {
    for (const h of holders) h.kill();
    if (haproxy && haproxy.exitCode === null) {
      const exited = once(haproxy, 'exit');
      haproxy.kill();
      await exited;
    }
    for (const n of nodes) await n.stop('SIGTERM');
    await redis.stop();
  }
});
