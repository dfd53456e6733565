/**
 * Remote forwards as an attacker uses them: one authenticated connection asks for listener after
 * listener (issue 16, item 6: 20,500 tcpip-forward requests exhausted the descriptors), makes the
 * daemon accept connections on them, and closes while binds are under way (item 10: 383 orphan
 * listeners). Listeners are counted as the process holds them (getActiveResourcesInfo), not as the
 * daemon thinks it does.
 */
import assert from 'node:assert/strict';
import { lookup } from 'node:dns/promises';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect as tcpConnect, createServer, type Socket } from 'node:net';
import { hostname } from 'node:os';
import { test } from 'node:test';
import type { Client } from 'ssh2';
import type { SSHDaemon } from '../src';
import { withBareDaemon } from './fixtures/bareDaemon';
import { opensshArgs, requireBinary, run } from './fixtures/clients';
import { makeUserKey } from './fixtures/testServer';
import { connect, exec } from './helpers-ssh2';
import { until } from './fixtures/wait';

const TIMEOUT = { timeout: 120_000 };
const key = makeUserKey('ed25519');

const listeners = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap').length;
const sockets = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;

/** The count once handles closed by an earlier test are gone (their close callbacks run a turn later). */
async function baselineListeners(): Promise<number> {
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
  return listeners();
}

/** Password `pw` or the test key for anyone; sessions with `exec echo`. */
function openDoors(daemon: SSHDaemon): void {
  daemon.on('SSHUserAuthRequest', (e) => {
    e.accept = (e.authMethod === 'password' && e.authParam === 'pw') || (e.authMethod === 'publickey' && e.authParam === key.blobBase64);
  });
  daemon.on('SSHChannelOpenRequest', (e) => {
    if (e.service === 'session') e.accept = true;
  });
  daemon.on('SSHChannelRequest', (e) => {
    if (e.requestType === 'exec') e.success = true;
  });
  daemon.on('SSHChannelRequested', (e) => {
    if (e.requestType !== 'exec') return;
    void daemon
      .sendChannelData(e.channelId, `${daemon.getSSHParam(e.packet, 'Command')}\n`)
      .then(() => daemon.sendExitStatus(e.channelId, 0))
      .then(() => daemon.closeChannel(e.channelId));
  });
}

/** tcpip-forward through the ssh2 client: the bound port, or the refusal. */
function forwardIn(c: Client, address: string, port = 0): Promise<number | Error> {
  return new Promise((resolve) => c.forwardIn(address, port, (err, bound) => resolve(err ?? bound)));
}

test(
  'MaxRemoteForwardsPerConnection (default 20): one user holds its maximum, the next tcpip-forward fails cleanly, a new login still works',
  TIMEOUT,
  () =>
    withBareDaemon(async ({ daemon, port }) => {
      openDoors(daemon);
      daemon.enableForwarding();
      const events: string[] = [];
      daemon.on('SSHChannelRequest', (e) => {
        if (e.requestType === 'tcpip-forward') events.push(e.requestType);
      });
      assert.equal(daemon.config('MaxRemoteForwardsPerConnection'), '20');
      const baseline = await baselineListeners();
      const attacker = await connect(port, { password: 'pw' });
      try {
        // The flood of item 6, scaled down: 20 are granted, the other 480 fail, none throws.
        const outcomes = await Promise.all(Array.from({ length: 500 }, () => forwardIn(attacker, '127.0.0.1')));
        const granted = outcomes.filter((o): o is number => typeof o === 'number');
        assert.equal(granted.length, 20);
        assert.ok(outcomes.filter((o) => o instanceof Error).every((e) => /Unable to bind/.test((e as Error).message)));
        assert.equal(listeners() - baseline, 20, 'the process holds exactly 20 listeners for it');
        assert.equal(events.length, 20, 'requests past the limit are refused before SSHChannelRequest fires');
        assert.ok((await forwardIn(attacker, '127.0.0.1')) instanceof Error, 'and stay refused');

        // Each connection to its listeners makes the daemon open a forwarded-tcpip channel to the
        // attacker, which never answers: they count against MaxSessionsPerConnection (10), the rest are dropped.
        attacker.on('tcp connection', () => undefined);
        const knocks: Socket[] = [];
        const closed: Promise<unknown>[] = [];
        for (let i = 0; i < 40; i++) {
          const s = tcpConnect(granted[i % granted.length], '127.0.0.1');
          s.on('error', () => undefined);
          closed.push(once(s, 'close'));
          knocks.push(s);
        }
        await until('the connections past MaxSessionsPerConnection to be dropped', () => knocks.filter((s) => s.destroyed).length >= 30);
        assert.equal(knocks.filter((s) => !s.destroyed).length, 10, 'ten held (pending channels), thirty dropped');

        // Someone else logs in and works while the attacker holds all of that.
        const other = await connect(port, { password: 'pw', username: 'someone' });
        assert.equal((await exec(other, 'still served')).stdout, 'still served\n');
        assert.equal(typeof (await forwardIn(other, '127.0.0.1')), 'number', 'the limit is per connection');
        other.end();
        for (const s of knocks) s.destroy();
      } finally {
        attacker.end();
      }
      await until('every listener closed with its connection', () => listeners() === baseline);
    }),
);

test('OpenSSH ssh -R past MaxRemoteForwardsPerConnection=2: the third forward fails with the port named, the first two work', TIMEOUT, () =>
  withBareDaemon(async ({ daemon, port }) => {
    openDoors(daemon);
    daemon.enableForwarding();
    daemon.config('MaxRemoteForwardsPerConnection=2');
    const logs: string[] = [];
    daemon.on('Log', (e) => void logs.push(e.message));
    const echo = createServer((s) => s.pipe(s));
    echo.listen(0, '127.0.0.1');
    await once(echo, 'listening');
    const echoPort = (echo.address() as { port: number }).port;
    const baseline = await baselineListeners();
    try {
      // Three specs that differ (ssh drops identical -R lines), so three tcpip-forward requests.
      const r = await run(
        requireBinary('ssh'),
        [
          ...opensshArgs(port),
          '-o',
          'BatchMode=yes',
          '-o',
          'IdentitiesOnly=yes',
          '-i',
          key.privateKeyPath,
          '-o',
          'ExitOnForwardFailure=yes',
          '-R',
          `0:127.0.0.1:${echoPort}`,
          '-R',
          `0:localhost:${echoPort}`,
          '-R',
          `0:127.0.0.2:${echoPort}`,
          'u@127.0.0.1',
          'echo unreachable',
        ],
        { timeoutMs: 30_000 },
      );
      assert.notEqual(r.code, 0, `${r.stderr}${r.stdout.toString()}`);
      assert.match(r.stderr, /remote port forwarding failed for listen port 0/);
      assert.doesNotMatch(r.stdout.toString(), /unreachable/, 'ExitOnForwardFailure: ssh gave up before the command');
      assert.ok(
        logs.some((l) => /tcpip-forward refused: MaxRemoteForwardsPerConnection \(2\) reached/.test(l)),
        logs.join('\n'),
      );
      await until('the two granted listeners closed with the connection', () => listeners() === baseline);
    } finally {
      echo.close();
    }
  }),
);

test(
  'no listener outlives its connection: a burst of host-name binds (gatewayPorts) and an abrupt close leave none behind',
  TIMEOUT,
  async () => {
    // A name resolved through the system resolver (not a literal, not 'localhost'): each bind waits for a lookup.
    const name = hostname();
    await lookup(name).catch(() => assert.fail(`the host name '${name}' must resolve for this test (check /etc/hosts)`));
    await withBareDaemon(async ({ daemon, port }) => {
      openDoors(daemon);
      daemon.enableForwarding({ gatewayPorts: true });
      daemon.config('MaxRemoteForwardsPerConnection=200');
      const baseline = await baselineListeners();
      for (let round = 0; round < 3; round++) {
        const c = await connect(port, { password: 'pw' });
        c.on('error', () => undefined);
        const first = new Promise<void>((resolve) => {
          for (let i = 0; i < 200; i++) c.forwardIn(name, 0, () => resolve());
        });
        await first; // one bind done, the others under way
        (c as unknown as { _sock: Socket })._sock.destroy();
        await until('the connection to go', () => daemon.sshConnections.size === 0);
        await until(`round ${round}: listeners back to the baseline (${listeners() - baseline} left)`, () => listeners() === baseline);
      }
    });
  },
);

test(
  'listeners made while forwarding was on close with their connection after enableForwarding(undefined); cancel still reaches them',
  TIMEOUT,
  () =>
    withBareDaemon(async ({ daemon, port }) => {
      openDoors(daemon);
      daemon.enableForwarding();
      const baseline = await baselineListeners();
      const c = await connect(port, { password: 'pw' });
      const ports = [await forwardIn(c, '127.0.0.1'), await forwardIn(c, '127.0.0.1')] as number[];
      assert.ok(ports.every((p) => typeof p === 'number'));
      assert.equal(listeners() - baseline, 2);
      daemon.enableForwarding(undefined);
      daemon.on('SSHChannelRequest', (e) => {
        if (e.requestType === 'cancel-tcpip-forward') e.success = true;
      });
      await new Promise<void>((resolve, reject) => c.unforwardIn('127.0.0.1', ports[0], (err) => (err ? reject(err) : resolve())));
      await until('the cancelled listener to close', () => listeners() - baseline === 1);
      assert.ok((await forwardIn(c, '127.0.0.1')) instanceof Error, 'forwarding is off for new requests');
      c.end();
      await until('the other listener to close with the connection', () => listeners() === baseline);
    }),
);

test(
  'direct-tcpip connects under way end with their connection: a target that drops SYNs holds no socket once the client is gone',
  TIMEOUT,
  async () => {
    // A listener with a full backlog that never accepts: the kernel drops further SYNs and a connect
    // waits for the SYN retries (about two minutes on Linux).
    const blackhole = spawn(
      requireBinary('python3'),
      [
        '-c',
        "import socket,time\ns=socket.socket();s.bind(('127.0.0.1',0));s.listen(0);print(s.getsockname()[1],flush=True);time.sleep(300)",
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      const [line] = (await once(blackhole.stdout!, 'data')) as [Buffer];
      const target = Number(line.toString().trim());
      await withBareDaemon(async ({ daemon, port }) => {
        openDoors(daemon);
        daemon.enableForwarding();
        for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
        const baseline = sockets();
        const c = await connect(port, { password: 'pw' });
        c.on('error', () => undefined);
        for (let i = 0; i < 10; i++) c.forwardOut('127.0.0.1', 1000 + i, '127.0.0.1', target, () => undefined);
        // The client's socket, the daemon's, and ten connects from the daemon to the black hole.
        await until('the ten connects to start', () => sockets() >= baseline + 12);
        (c as unknown as { _sock: Socket })._sock.destroy();
        await until('the connection to go', () => daemon.sshConnections.size === 0);
        await until(`sockets back to the baseline (${sockets() - baseline} left)`, () => sockets() === baseline);
      });
    } finally {
      blackhole.kill();
    }
  },
);
