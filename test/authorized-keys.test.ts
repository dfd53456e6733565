/**
 * authorized_keys files and their options, applied by the daemon: OpenSSH `ssh` logs in with a key
 * listed in a file the AuthorizedKeys helper read, and the options decide what the session may do.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AuthorizedKeys, requestParamsOf, type SSHChannelRequestEventArgs, type SSHDaemon } from '../src';
import { withBareDaemon } from './fixtures/bareDaemon';
import { opensshArgs, requireBinary, run } from './fixtures/clients';
import { makeUserKey, registryDrained, type TestUserKey } from './fixtures/testServer';

const TIMEOUT = { timeout: 60_000 };
const key = makeUserKey('ed25519');
const other = makeUserKey('ecdsa');

interface Scope {
  daemon: SSHDaemon;
  port: number;
  requests: SSHChannelRequestEventArgs[];
  opens: string[];
  ssh(args: string[], k?: TestUserKey): ReturnType<typeof run>;
}

/** A daemon that authorises keys from `file` only, answers exec with what it ran, and serves direct-tcpip with a greeting. */
async function withAuthorizedKeys(file: string, body: (s: Scope) => Promise<void>): Promise<void> {
  const keys = AuthorizedKeys.parse(file);
  assert.deepEqual(keys.problems, [], 'the test file parses cleanly');
  await withBareDaemon(async ({ daemon, port }) => {
    const requests: SSHChannelRequestEventArgs[] = [];
    const opens: string[] = [];
    daemon.config('MaxAuthAttempts=3');
    daemon.on('SSHUserAuthRequest', (e) => {
      if (e.authMethod === 'publickey') keys.authorize(e, daemon.sshConnections.get(e.connectionId)!.remoteHost);
    });
    daemon.on('SSHChannelOpenRequest', (e) => {
      opens.push(e.service);
      e.accept = true;
    });
    daemon.on('SSHChannelOpened', (e) => {
      if (daemon.sshChannels.get(e.channelId)?.service !== 'direct-tcpip') return;
      void daemon.sendChannelData(e.channelId, 'hello from the gateway\n').then(() => daemon.closeChannel(e.channelId));
    });
    daemon.on('SSHChannelRequest', (e) => {
      requests.push(e);
      e.success = true;
    });
    daemon.on('SSHChannelRequested', async (e) => {
      if (e.requestType !== 'exec' && e.requestType !== 'shell') return;
      const exec = requestParamsOf(e, 'exec');
      const pty = requests.some((r) => r.channelId === e.channelId && r.requestType === 'pty-req');
      await daemon.sendChannelData(
        e.channelId,
        `ran [${exec?.command ?? 'shell'}] original [${exec?.originalCommand ?? ''}] pty [${pty}]\n`,
      );
      await daemon.sendExitStatus(e.channelId, 0);
      await daemon.closeChannel(e.channelId);
    });
    const ssh = (args: string[], k: TestUserKey = key) =>
      run(
        requireBinary('ssh'),
        [
          '-o',
          'LogLevel=INFO',
          ...opensshArgs(port),
          '-o',
          'PreferredAuthentications=publickey',
          '-o',
          'IdentitiesOnly=yes',
          '-i',
          k.privateKeyPath,
          ...args,
        ],
        { timeoutMs: 30_000 },
      );
    await body({ daemon, port, requests, opens, ssh });
  });
}

test('parser: options with quotes and escapes, restrict, expiry-time; bad lines are listed, not used', () => {
  const keys = AuthorizedKeys.parse(
    [
      '# comment',
      `restrict,pty,command="echo \\"hi, there\\"",environment="A=b c" ${key.publicKeyOpenSSH} me@host`,
      `from="10.0.0.0/8,!10.1.2.3",no-X11-forwarding,expiry-time="20300101Z" ${other.publicKeyOpenSSH}`,
      `bogus-option ${key.publicKeyOpenSSH}`,
      `principals="a" ${key.publicKeyOpenSSH}`,
      `ssh-ed25519 not-base64!`,
      `command=unquoted ${key.publicKeyOpenSSH}`,
    ].join('\n'),
  );
  assert.equal(keys.entries.length, 2);
  const [a, b] = keys.entries;
  assert.equal(a.comment, 'me@host');
  assert.deepEqual(
    { ...a.restrictions },
    {
      pty: true,
      portForwarding: false,
      agentForwarding: false,
      x11Forwarding: false,
      userRc: false,
      environment: { A: 'b c' },
      forceCommand: 'echo "hi, there"',
    },
  );
  assert.equal(b.from, '10.0.0.0/8,!10.1.2.3');
  assert.equal(b.expiresAt?.toISOString(), '2030-01-01T00:00:00.000Z');
  assert.equal(b.restrictions.x11Forwarding, false);
  assert.equal(b.restrictions.pty, true);
  assert.deepEqual(
    keys.problems.map((p) => p.line),
    [4, 5, 6, 7],
  );
  assert.match(keys.problems[0].reason, /unknown option "bogus-option"/);
  assert.match(keys.problems[1].reason, /principals= is only valid with cert-authority/);
  const blob = Buffer.from(other.blobBase64, 'base64');
  assert.equal(keys.find(blob, { user: 'u', address: '10.9.9.9' }).ok, true);
  assert.match((keys.find(blob, { user: 'u', address: '10.1.2.3' }) as { reason: string }).reason, /not allowed by from=/);
  assert.match((keys.find(blob, { user: 'u', address: '10.9.9.9', now: new Date('2031-01-01') }) as { reason: string }).reason, /expired/);
});

test('command= replaces the client command; the original is in params.originalCommand', TIMEOUT, () =>
  withAuthorizedKeys(`command="backup --daily" ${key.publicKeyOpenSSH}`, async ({ ssh, daemon }) => {
    const r = await ssh(['-T', 'tester@127.0.0.1', 'rm -rf /']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.toString(), 'ran [backup --daily] original [rm -rf /] pty [false]\n');
    const shell = await ssh(['-T', 'tester@127.0.0.1']);
    assert.equal(shell.stdout.toString(), 'ran [backup --daily] original [] pty [false]\n');
    await registryDrained(daemon); // both sessions ended: nothing left behind
  }),
);

test('no-pty: the pty request fails before the handler sees it; ssh -tt (a required tty) gives up', TIMEOUT, () =>
  withAuthorizedKeys(`no-pty ${key.publicKeyOpenSSH}`, async ({ ssh, requests }) => {
    // OpenSSH treats a refused pty as fatal when -t/-tt asked for one (clientloop.c client_status_confirm).
    const r = await ssh(['-tt', 'tester@127.0.0.1', 'id']);
    assert.equal(r.code, 255);
    assert.match(r.stderr, /PTY allocation request failed/);
    assert.equal(requests.filter((q) => q.requestType === 'pty-req').length, 0);
    const plain = await ssh(['-T', 'tester@127.0.0.1', 'id']);
    assert.equal(plain.stdout.toString(), 'ran [id] original [] pty [false]\n', plain.stderr);
  }),
);

test('from=: a key is refused from an address the pattern list excludes, accepted from one it names', TIMEOUT, async () => {
  await withAuthorizedKeys(`from="10.0.0.0/8" ${key.publicKeyOpenSSH}`, async ({ ssh }) => {
    const r = await ssh(['-o', 'BatchMode=yes', 'tester@127.0.0.1', 'id']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Permission denied/);
  });
  await withAuthorizedKeys(`from="!192.168.*,127.0.0.0/8" ${key.publicKeyOpenSSH}`, async ({ ssh }) => {
    const r = await ssh(['tester@127.0.0.1', 'id']);
    assert.equal(r.code, 0, r.stderr);
  });
  await withAuthorizedKeys(`from="*,!127.0.0.1" ${key.publicKeyOpenSSH}`, async ({ ssh }) => {
    const r = await ssh(['-o', 'BatchMode=yes', 'tester@127.0.0.1', 'id']);
    assert.match(r.stderr, /Permission denied/);
  });
});

test('a key not in the file and an expired key are refused', TIMEOUT, () =>
  withAuthorizedKeys(`${key.publicKeyOpenSSH}\nexpiry-time="20200101" ${other.publicKeyOpenSSH}`, async ({ ssh }) => {
    assert.equal((await ssh(['tester@127.0.0.1', 'id'])).code, 0);
    const r = await ssh(['-o', 'BatchMode=yes', 'tester@127.0.0.1', 'id'], other);
    assert.match(r.stderr, /Permission denied/);
  }),
);

test(
  'restrict and permitopen: stdio forwarding (ssh -W) is refused before the handler, or limited to the listed target',
  TIMEOUT,
  async () => {
    await withAuthorizedKeys(`restrict ${key.publicKeyOpenSSH}`, async ({ ssh, opens }) => {
      const r = await ssh(['-W', '127.0.0.1:7', 'tester@127.0.0.1']);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /administratively prohibited/);
      assert.deepEqual(opens, [], 'the application never saw the direct-tcpip open');
    });
    await withAuthorizedKeys(`permitopen="127.0.0.1:7" ${key.publicKeyOpenSSH}`, async ({ ssh, opens }) => {
      const ok = await ssh(['-W', '127.0.0.1:7', 'tester@127.0.0.1']);
      assert.equal(ok.stdout.toString(), 'hello from the gateway\n', ok.stderr);
      const refused = await ssh(['-W', '127.0.0.1:8', 'tester@127.0.0.1']);
      assert.match(refused.stderr, /administratively prohibited/);
      assert.deepEqual(opens, ['direct-tcpip']);
    });
  },
);

test(
  'restrict and no-port-forwarding cover Unix-socket forwarding: ssh -R /path is refused before the handler (OpenSSH), allowed keys reach it with socketPath',
  TIMEOUT,
  async () => {
    const forward = ['-o', 'ExitOnForwardFailure=yes', '-R', '/tmp/sshdaemon-test-remote.sock:127.0.0.1:7'];
    for (const option of ['restrict', 'no-port-forwarding']) {
      await withAuthorizedKeys(`${option} ${key.publicKeyOpenSSH}`, async ({ ssh, requests }) => {
        const r = await ssh([...forward, 'tester@127.0.0.1', 'true']);
        assert.notEqual(r.code, 0, `${option}: the forward must fail`);
        assert.match(r.stderr, /remote port forwarding failed/i, r.stderr);
        assert.deepEqual(
          requests.filter((q) => q.channelId === ''),
          [],
          `${option}: the application never saw the request`,
        );
      });
    }
    await withAuthorizedKeys(key.publicKeyOpenSSH, async ({ ssh, requests }) => {
      const r = await ssh([...forward, 'tester@127.0.0.1', 'true']);
      assert.equal(r.code, 0, r.stderr);
      const seen = requests.find((q) => q.requestType === 'streamlocal-forward@openssh.com');
      assert.deepEqual(seen && requestParamsOf(seen, 'streamlocal-forward@openssh.com'), { socketPath: '/tmp/sshdaemon-test-remote.sock' });
    });
  },
);
