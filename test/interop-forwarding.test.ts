/**
 * TCP forwarding with PuTTY's `plink` and Dropbear's `dbclient`, every case against both client sets
 * (test/fixtures/clientSets.ts): local forwarding (-L) over direct-tcpip and remote forwarding (-R)
 * over tcpip-forward and forwarded-tcpip. OpenSSH's forwarding is in test/forwarding.test.ts.
 *
 * Both clients keep running with -N (no session) until killed; a forward is ready once its port
 * accepts connections. PuTTY and Dropbear ask for a fixed remote port (no port 0 allocation), so
 * the -R cases pick a free one.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { directTcpipTarget, type SSHDaemon } from '../src';
import { withBareDaemon } from './fixtures/bareDaemon';
import { requireBinary } from './fixtures/clients';
import { type ClientSet, testEachSet } from './fixtures/clientSets';
import { echoServer, freePort, portOpen, talk } from './fixtures/net';
import { until } from './fixtures/wait';

const TIMEOUT = { timeout: 60_000 };
const USER = 'tester';
const PASSWORD = 'fwd-pw';
/** PuTTY's random seed and Dropbear's known_hosts go here, not into the real home. */
const HOME = mkdtempSync(join(tmpdir(), 'fwd-home-'));
after(() => rmSync(HOME, { recursive: true, force: true }));

/** Password login, session and direct-tcpip channels recorded; global requests recorded. */
function forwardingDaemon(daemon: SSHDaemon): { opens: string[]; globals: string[] } {
  const opens: string[] = [];
  const globals: string[] = [];
  daemon.defaultAuthMethods = 'password';
  daemon.on('SSHUserAuthRequest', (e) => void (e.accept = e.user === USER && e.authMethod === 'password' && e.authParam === PASSWORD));
  daemon.on('SSHChannelOpenRequest', (e) => {
    if (e.service === 'direct-tcpip') opens.push(`${directTcpipTarget(e.parameters).host}:${directTcpipTarget(e.parameters).port}`);
    if (e.service === 'session') e.accept = true;
  });
  daemon.on('SSHChannelRequest', (e) => {
    if (e.channelId === '') globals.push(`${e.requestType} ${JSON.stringify(e.params)}`);
  });
  daemon.enableForwarding();
  return { opens, globals };
}

/** The client's argv: plink or dbclient with -N and `forward` against the daemon on `port`. */
function clientArgv(
  clients: ClientSet,
  client: 'plink' | 'dbclient',
  port: number,
  hostKeyFingerprint: string,
  forward: string[],
): string[] {
  if (client === 'plink') {
    return clients.argv('plink', [
      '-ssh',
      '-batch',
      '-noagent',
      '-P',
      String(port),
      '-l',
      USER,
      '-pw',
      PASSWORD,
      '-hostkey',
      hostKeyFingerprint,
      '-N',
      ...forward,
      '127.0.0.1',
    ]);
  }
  // No terminal (setsid): dbclient takes the password from DROPBEAR_PASSWORD and never prompts.
  return [
    requireBinary('setsid'),
    '-w',
    ...clients.argv('dbclient', ['-y', '-y', '-p', String(port), '-l', USER, '-N', ...forward, '127.0.0.1']),
  ];
}

function background(argv: string[]): { child: ChildProcess; output: () => string } {
  const child = spawn(argv[0], argv.slice(1), {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, HOME, DROPBEAR_PASSWORD: PASSWORD },
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return { child, output: () => out };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill();
  await exited;
}

for (const client of ['plink', 'dbclient'] as const) {
  testEachSet(`${client} -L: a local forward reaches a TCP service through direct-tcpip`, TIMEOUT, (clients) =>
    withBareDaemon(async ({ daemon, port }) => {
      const { opens } = forwardingDaemon(daemon);
      const echo = await echoServer();
      const localPort = await freePort();
      const c = background(clientArgv(clients, client, port, daemon.sshCert!.fingerprint, ['-L', `${localPort}:127.0.0.1:${echo.port}`]));
      try {
        await until(
          () => `the -L port; client output: ${c.output()}`,
          () => portOpen(localPort),
          20_000,
        );
        assert.equal(await talk(localPort, `via ${client} -L`), `echo:via ${client} -L`);
        // The readiness probe and the talk each opened one channel to the echo server.
        assert.ok(opens.length >= 1 && opens.every((o) => o === `127.0.0.1:${echo.port}`), opens.join(', '));
      } finally {
        await stop(c.child);
        echo.close();
      }
    }),
  );

  testEachSet(`${client} -R: tcpip-forward listens on loopback, connections come back as forwarded-tcpip channels`, TIMEOUT, (clients) =>
    withBareDaemon(async ({ daemon, port }) => {
      const { globals } = forwardingDaemon(daemon);
      const echo = await echoServer();
      const remotePort = await freePort();
      const c = background(clientArgv(clients, client, port, daemon.sshCert!.fingerprint, ['-R', `${remotePort}:127.0.0.1:${echo.port}`]));
      try {
        await until(
          () => `the -R port; client output: ${c.output()}`,
          () => portOpen(remotePort),
          20_000,
        );
        assert.equal(await talk(remotePort, `via ${client} -R`), `echo:via ${client} -R`);
        assert.equal(globals.length, 1, globals.join('; '));
        assert.match(globals[0], new RegExp(`^tcpip-forward \\{"bindAddress":"[^"]*","bindPort":${remotePort}\\}$`));
      } finally {
        await stop(c.child);
        echo.close();
      }
      // The client gone, the daemon closes the listener.
      await until(`port ${remotePort} to close`, async () => !(await portOpen(remotePort)), 20_000);
    }),
  );
}
