/**
 * Built-in services cannot be switched off by a handler that never looks at their requests: the
 * README pattern `e.success = e.requestType === 'exec'` leaves enableSFTP's subsystem working
 * (OpenSSH's sftp; `subsystem` does not name SFTP); a handler that looks at the request
 * (requestParamsOf, e.builtIn, directTcpipTarget) still refuses it, and so does one that decides by
 * a type that names the service (`direct-tcpip` is always forwarding): a refusal never fails open.
 * Each refusal is logged.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { directTcpipTarget, LocalFileSystem, requestParamsOf, type SSHChannelRequestEventArgs, type SSHDaemon } from '../src';
import { withKeyLogin } from './fixtures/keyLogin';

const TIMEOUT = { timeout: 120_000 };
const ROOT = mkdtempSync(join(tmpdir(), 'presets-'));
writeFileSync(join(ROOT, 'hello.txt'), 'hello\n');
after(() => rmSync(ROOT, { recursive: true, force: true }));

function logLines(daemon: SSHDaemon): string[] {
  const lines: string[] = [];
  daemon.config('LogLevel=2');
  daemon.on('Log', (e) => void lines.push(`${e.logLevel} ${e.message}`));
  return lines;
}

test("enableSFTP and the README's handler: the sftp subsystem is still served; the ignored false is logged at verbose", TIMEOUT, () =>
  withKeyLogin(async ({ daemon, sftpBatch, ssh }) => {
    const logs = logLines(daemon);
    daemon.enableSFTP({ fileSystem: new LocalFileSystem(ROOT) });
    daemon.on('SSHChannelRequest', (e) => {
      e.success = e.requestType === 'exec';
    });
    daemon.on('SSHChannelRequested', async (e) => {
      if (e.requestType !== 'exec') return;
      await daemon.sendChannelData(e.channelId, 'exec ok\n');
      await daemon.sendExitStatus(e.channelId, 0);
      await daemon.closeChannel(e.channelId);
    });
    const r = await sftpBatch(['ls']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout.toString(), /hello\.txt/);
    assert.equal((await ssh(['x'])).stdout.toString(), 'exec ok\n');
    const shell = await ssh(['-tt'], { input: 'exit\n' });
    assert.notEqual(shell.code, 0, 'a shell request (not a built-in) is still refused');
    assert.ok(
      logs.some((l) =>
        /^1 .*subsystem request is served by enableSFTP: a handler's false, decided from the request type alone, was ignored/.test(l),
      ),
      logs.join('\n'),
    );
  }),
);

test(
  'every deliberate refusal of the sftp subsystem counts (per user, by params, by e.builtIn, by subsystem type with the user); each is logged',
  TIMEOUT,
  () =>
    withKeyLogin(async ({ daemon, sftpBatch }) => {
      const logs = logLines(daemon);
      daemon.enableSFTP({ fileSystem: new LocalFileSystem(ROOT) });
      const isGuest = (e: { connectionId: string }) => daemon.sshConnections.get(e.connectionId)?.user !== '';
      const policies: Record<string, (e: SSHChannelRequestEventArgs) => void> = {
        params: (e) => {
          if (requestParamsOf(e, 'subsystem')?.subsystem === 'sftp') e.success = false;
        },
        builtIn: (e) => {
          if (e.builtIn === 'sftp') e.success = false;
        },
        // The refusals an adversarial review found ignored by an earlier rule: each reads more than the type.
        perUser: (e) => {
          if (isGuest(e)) e.success = false;
        },
        subsystemPerUser: (e) => {
          if (e.requestType === 'subsystem') e.success = !isGuest(e);
        },
        allButSubsystems: (e) => {
          e.success = !isGuest(e) && e.requestType !== 'subsystem';
        },
        blanket: (e) => {
          e.success = false;
        },
      };
      let policy = 'params';
      daemon.on('SSHChannelRequest', (e) => policies[policy](e));
      for (policy of Object.keys(policies)) {
        const r = await sftpBatch(['ls']);
        assert.notEqual(r.code, 0, `${policy}: refused`);
        assert.match(r.stderr, /subsystem request failed/, policy);
      }
      assert.equal(
        logs.filter((l) => /^1 .*subsystem request, which enableSFTP serves, was refused by a handler/.test(l)).length,
        Object.keys(policies).length,
        logs.join('\n'),
      );
    }),
);

test(
  "enableForwarding: a handler that only grants sessions leaves ssh -W working; a refusal by the forwarding type itself (`e.service === 'direct-tcpip'`) or by target counts, and is logged",
  TIMEOUT,
  async () => {
    const echo = createServer((s) => s.pipe(s));
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
    const port = (echo.address() as { port: number }).port;
    try {
      await withKeyLogin(async ({ daemon, ssh }) => {
        const logs = logLines(daemon);
        daemon.enableForwarding();
        let policy: 'sessions-only' | 'by-type' | 'blanket' | 'by-target' = 'sessions-only';
        daemon.on('SSHChannelOpenRequest', (e) => {
          if (policy === 'sessions-only' && e.service === 'session') e.accept = true;
          // Deciding by the type that names forwarding is a decision: it must never fail open.
          if (policy === 'by-type' && e.service === 'direct-tcpip') e.accept = false;
          if (policy === 'blanket') e.accept = e.service === 'session';
          if (policy === 'by-target' && e.service === 'direct-tcpip') e.accept = directTcpipTarget(e.parameters).port !== port;
        });
        const through = await ssh(['-W', `127.0.0.1:${port}`], { input: 'ping\n' });
        assert.equal(through.stdout.toString(), 'ping\n', through.stderr);
        for (policy of ['by-type', 'blanket', 'by-target'] as const) {
          const refused = await ssh(['-W', `127.0.0.1:${port}`], { input: 'ping\n' });
          assert.equal(refused.stdout.length, 0, policy);
          assert.match(refused.stderr, /administratively prohibited|open failed|forwarding failed/i, policy);
        }
        assert.equal(
          logs.filter((l) => /^1 the direct-tcpip open, which enableForwarding serves, was refused by a handler/.test(l)).length,
          3,
          logs.join('\n'),
        );
      });
    } finally {
      echo.close();
    }
  },
);
