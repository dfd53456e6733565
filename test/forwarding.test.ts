/**
 * TCP forwarding with OpenSSH as the client: stdio (-W) and local (-L) forwarding over
 * direct-tcpip, dynamic SOCKS (-D) driven by curl, remote forwarding (-R) over tcpip-forward and
 * forwarded-tcpip, virtual destinations, and refusals. Every case runs against both client sets
 * (test/fixtures/clientSets.ts): OpenSSH 9.2 and 10.0.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import type { Server } from 'node:net';
import { Duplex } from 'node:stream';
import { directTcpipTarget, type SSHDaemon } from '../src';
import { withBareDaemon } from './fixtures/bareDaemon';
import { opensshArgs, requireBinary, run } from './fixtures/clients';
import { type ClientSet, testEachSet } from './fixtures/clientSets';
import { echoServer, freePort, portOpen, talk } from './fixtures/net';
import { makeUserKey } from './fixtures/testServer';
import { until } from './fixtures/wait';

const TIMEOUT = { timeout: 60_000 };
const key = makeUserKey('ed25519');

async function listen(server: Server | ReturnType<typeof createHttpServer>): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as { port: number }).port;
}

function forwardingDaemon(daemon: SSHDaemon): { opens: string[] } {
  const opens: string[] = [];
  daemon.on('SSHUserAuthRequest', (e) => void (e.accept = e.authMethod === 'publickey' && e.authParam === key.blobBase64));
  daemon.on('SSHChannelOpenRequest', (e) => {
    if (e.service === 'direct-tcpip') opens.push(`${directTcpipTarget(e.parameters).host}:${directTcpipTarget(e.parameters).port}`);
    if (e.service === 'session') e.accept = true;
  });
  return { opens };
}

const sshArgs = (port: number) => [
  '-o',
  'LogLevel=ERROR',
  ...opensshArgs(port),
  '-o',
  'BatchMode=yes',
  '-o',
  'IdentitiesOnly=yes',
  '-i',
  key.privateKeyPath,
  '-o',
  'ExitOnForwardFailure=yes',
];

function background(clients: ClientSet, args: string[]): { child: ChildProcess; stderr: () => string } {
  const [cmd, ...rest] = clients.argv('ssh', args);
  const child = spawn(cmd, rest, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return { child, stderr: () => err };
}

testEachSet('ssh -W and ssh -L reach a TCP service through direct-tcpip', TIMEOUT, (clients) =>
  withBareDaemon(async ({ daemon, port }) => {
    const { opens } = forwardingDaemon(daemon);
    daemon.enableForwarding();
    const echo = await echoServer();
    try {
      const w = await clients.run('ssh', [...sshArgs(port), '-W', `127.0.0.1:${echo.port}`, 'tester@127.0.0.1'], {
        input: 'hello',
        timeoutMs: 20_000,
      });
      assert.equal(w.stdout.toString(), 'echo:hello', w.stderr);
      const localPort = await freePort();
      const l = background(clients, [...sshArgs(port), '-N', '-L', `${localPort}:127.0.0.1:${echo.port}`, 'tester@127.0.0.1']);
      try {
        await until('the -L port', () => portOpen(localPort), 15_000);
        assert.equal(await talk(localPort, 'via -L'), 'echo:via -L');
      } finally {
        l.child.kill();
      }
      // -W, the readiness probe and the -L connection each opened one channel to the echo server.
      assert.ok(opens.length >= 2 && opens.every((o) => o === `127.0.0.1:${echo.port}`), opens.join(', '));
    } finally {
      echo.close();
    }
  }),
);

testEachSet('ssh -D: curl --socks5-hostname fetches a page through the daemon', TIMEOUT, (clients) =>
  withBareDaemon(async ({ daemon, port }) => {
    forwardingDaemon(daemon);
    daemon.enableForwarding();
    const http = createHttpServer((_req, res) => res.end('page through socks'));
    const httpPort = await listen(http);
    const socksPort = await freePort();
    const d = background(clients, [...sshArgs(port), '-N', '-D', `127.0.0.1:${socksPort}`, 'tester@127.0.0.1']);
    try {
      await until('the SOCKS port', () => portOpen(socksPort), 15_000);
      const r = await run(requireBinary('curl'), [
        '-s',
        '--max-time',
        '10',
        '--socks5-hostname',
        `127.0.0.1:${socksPort}`,
        `http://localhost:${httpPort}/`,
      ]);
      assert.equal(r.stdout.toString(), 'page through socks', r.stderr);
    } finally {
      d.child.kill();
      http.close();
    }
  }),
);

testEachSet('ssh -R: tcpip-forward listens on loopback, connections come back as forwarded-tcpip channels', TIMEOUT, (clients) =>
  withBareDaemon(async ({ daemon, port }) => {
    forwardingDaemon(daemon);
    const requests: string[] = [];
    daemon.on('SSHChannelRequest', (e) => {
      if (e.channelId === '') requests.push(`${e.requestType} ${JSON.stringify(e.params)}`);
    });
    daemon.enableForwarding();
    const echo = await echoServer();
    const { child: r, stderr: rStderr } = background(clients, [
      ...sshArgs(port).map((a) => (a === 'LogLevel=ERROR' ? 'LogLevel=INFO' : a)),
      '-N',
      '-R',
      `0:127.0.0.1:${echo.port}`,
      'tester@127.0.0.1',
    ]);
    try {
      await until('the allocated -R port', () => /Allocated port (\d+) for remote forward/.test(rStderr()), 15_000);
      const remotePort = Number(/Allocated port (\d+)/.exec(rStderr())![1]);
      assert.equal(await talk(remotePort, 'via -R'), 'echo:via -R');
      assert.deepEqual(requests, ['tcpip-forward {"bindAddress":"localhost","bindPort":0}']);
      r.kill();
      await once(r, 'exit');
      await until('the -R port to close', async () => !(await portOpen(remotePort)), 15_000);
    } finally {
      r.kill();
      echo.close();
    }
  }),
);

testEachSet(
  'virtual destinations (ForwardingOptions.connect), allow-lists in SSHChannelOpenRequest, and connect failures',
  TIMEOUT,
  (clients) =>
    withBareDaemon(async ({ daemon, port }) => {
      forwardingDaemon(daemon);
      daemon.on('SSHChannelOpenRequest', (e) => {
        if (e.service === 'direct-tcpip') e.accept = directTcpipTarget(e.parameters).host !== 'blocked.example';
      });
      daemon.enableForwarding({
        connect: (target) => {
          if (target.host !== 'status.internal') throw new Error('no route');
          const answer = new Duplex({
            read() {},
            write(chunk: Buffer, _enc, done) {
              this.push(`status ok for ${chunk.toString().trim()}\n`);
              this.push(null);
              done();
            },
          });
          return answer;
        },
      });
      const w = (target: string, input: string) =>
        clients.run(
          'ssh',
          [...sshArgs(port).map((a) => (a === 'LogLevel=ERROR' ? 'LogLevel=INFO' : a)), '-W', target, 'tester@127.0.0.1'],
          { input, timeoutMs: 20_000 },
        );
      const ok = await w('status.internal:80', 'probe');
      assert.equal(ok.stdout.toString(), 'status ok for probe\n', ok.stderr);
      const blocked = await w('blocked.example:80', 'x');
      assert.match(blocked.stderr, /administratively prohibited/);
      const unreachable = await w('elsewhere.example:80', 'x');
      assert.match(unreachable.stderr, /open failed: connect failed: cannot connect to elsewhere\.example:80: no route/);
    }),
);
