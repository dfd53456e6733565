/**
 * samples/forwarding-gateway with OpenSSH: -L, -D (curl --socks5-hostname) and -R through an
 * allow-list, and the virtual destination status.internal answered by the sample itself.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { opensshArgs, requireBinary, run } from './fixtures/clients';
import { freePort, startSample, tempDir } from './fixtures/samples';
import { until } from './fixtures/wait';

const DIR = tempDir('gateway');
after(() => rmSync(DIR, { recursive: true, force: true }));

async function httpServer(body: string): Promise<{ port: number; close(): void }> {
  const server = createServer((_req, res) => res.end(body));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { port: (server.address() as { port: number }).port, close: () => server.close() };
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true))).once('error', () => resolve(false));
  });
}

const curl = (args: string[]) => run(requireBinary('curl'), ['-s', '--max-time', '10', ...args], { timeoutMs: 15_000 });

test(
  'forwarding-gateway: -L, -D and -R reach allowed destinations only; status.internal is answered in-process',
  { timeout: 120_000 },
  async () => {
    const key = join(DIR, 'id_ed25519');
    const keygen = await run(requireBinary('ssh-keygen'), ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
    assert.equal(keygen.code, 0, keygen.stderr);
    writeFileSync(join(DIR, 'authorized_keys'), readFileSync(`${key}.pub`));
    const allowedSite = await httpServer('allowed page');
    const otherSite = await httpServer('forbidden page');
    const server = await startSample('forwarding-gateway/server.ts', join(DIR, 'data'), [
      '--authorized-keys',
      join(DIR, 'authorized_keys'),
      '--allow',
      `127.0.0.1:${allowedSite.port}`,
      '--remote-ports',
      '0,20000-65535',
    ]);
    const sshArgs = [
      ...opensshArgs(server.port),
      '-o',
      'BatchMode=yes',
      '-o',
      'IdentitiesOnly=yes',
      '-i',
      key,
      '-o',
      'ExitOnForwardFailure=yes',
      '-N',
    ];
    const clients: ChildProcess[] = [];
    // INFO, so that ssh -R prints the port it was given (the first -o LogLevel wins in OpenSSH).
    const background = (args: string[]) => {
      const child = spawn(
        requireBinary('ssh'),
        [...sshArgs.map((a) => (a === 'LogLevel=ERROR' ? 'LogLevel=INFO' : a)), ...args, 'tester@127.0.0.1'],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      clients.push(child);
      return { child, stderr: () => stderr };
    };
    try {
      // -L to an allowed and to a refused destination.
      const [good, bad] = [await freePort(), await freePort()];
      background(['-L', `${good}:127.0.0.1:${allowedSite.port}`, '-L', `${bad}:127.0.0.1:${otherSite.port}`]);
      await until('ssh -L', async () => (await portOpen(good)) && (await portOpen(bad)), 15_000);
      const viaL = await curl([`http://127.0.0.1:${good}/`]);
      assert.equal(viaL.stdout.toString(), 'allowed page', viaL.stderr);
      const refusedL = await curl([`http://127.0.0.1:${bad}/`]);
      assert.notEqual(refusedL.code, 0);
      assert.doesNotMatch(refusedL.stdout.toString(), /forbidden page/);

      // -D: SOCKS with names resolved by the gateway; status.internal never touches TCP.
      const socks = await freePort();
      background(['-D', `127.0.0.1:${socks}`]);
      await until('ssh -D', () => portOpen(socks), 15_000);
      const proxy = ['--socks5-hostname', `127.0.0.1:${socks}`];
      const status = await curl([...proxy, 'http://status.internal/health']);
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout.toString(), /^gateway ok; path \/health; up \d+ s; \d+ forwards so far; you are tester\n$/);
      const viaD = await curl([...proxy, `http://127.0.0.1:${allowedSite.port}/`]);
      assert.equal(viaD.stdout.toString(), 'allowed page', viaD.stderr);
      const refusedD = await curl([...proxy, `http://127.0.0.1:${otherSite.port}/`]);
      assert.notEqual(refusedD.code, 0);
      assert.doesNotMatch(refusedD.stdout.toString(), /forbidden page/);
      const otherName = await curl([...proxy, 'http://elsewhere.internal/']);
      assert.notEqual(otherName.code, 0, 'names not on the list are refused too');

      // -R: a port the server picks is allowed; port 80 is not on the --remote-ports list.
      const r = background(['-R', `0:127.0.0.1:${allowedSite.port}`]);
      await until('ssh -R', () => /Allocated port (\d+)/.test(r.stderr()), 15_000);
      const remotePort = Number(/Allocated port (\d+)/.exec(r.stderr())![1]);
      const viaR = await curl([`http://127.0.0.1:${remotePort}/`]);
      assert.equal(viaR.stdout.toString(), 'allowed page', viaR.stderr);
      const privileged = await run(requireBinary('ssh'), [...sshArgs, '-R', `80:127.0.0.1:${allowedSite.port}`, 'tester@127.0.0.1'], {
        timeoutMs: 15_000,
      });
      assert.equal(privileged.code, 255);
      assert.match(privileged.stderr, /remote port forwarding failed for listen port 80/);

      const log = server.output();
      assert.match(log, new RegExp(`deny 127\\.0\\.0\\.1:${otherSite.port}`));
      assert.match(log, /deny elsewhere\.internal:80/);
      assert.match(log, /deny remote forward localhost:80/);
    } finally {
      for (const c of clients) c.kill();
      allowedSite.close();
      otherSite.close();
      assert.equal(await server.stop(), 0);
    }
  },
);
