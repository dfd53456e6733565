/**
 * Interoperability with the OpenSSH client `ssh` (Debian: openssh-client; passwords through `sshpass`),
 * every case against both client sets (test/fixtures/clientSets.ts): OpenSSH 9.2 and 10.0.
 *
 * sshpass answers only a "password:" prompt, so password runs pin `PreferredAuthentications=password`;
 * keyboard-interactive is answered by an askpass script (`SSH_ASKPASS_REQUIRE=force`), which gets each
 * prompt as its argument. Concurrent channels on one connection use OpenSSH's own multiplexing
 * (`ControlMaster`): every `ssh -S` run is a new session channel on the master's connection.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { requestParamsOf, type SSHChannelRequestEventArgs } from '../src';
import { opensshArgs, type RunResult } from './fixtures/clients';
import { type ClientSet, type ClientSetName, testEachSet } from './fixtures/clientSets';
import {
  acceptedMethods,
  assertKeyboardAnswersAccepted,
  assertRsaLoginWithSha2,
  type ServerScope,
  withTestServer,
} from './fixtures/interop';
import { KBD_ANSWERS, PASSWORD, USER, makeUserKey, patternBytes, sha256Hex, type TestServerOptions } from './fixtures/testServer';

const TIMEOUT = { timeout: 90_000 };
const DIR = mkdtempSync(join(tmpdir(), 'openssh-interop-'));
after(() => rmSync(DIR, { recursive: true, force: true }));

interface Harness extends ServerScope {
  /** `ssh` with the given extra options and arguments against the daemon. */
  ssh(args: string[], opts?: { input?: Buffer; env?: NodeJS.ProcessEnv }): Promise<RunResult>;
  /** `sshpass -p PASSWORD ssh …` with password authentication only. */
  sshPassword(password: string, args: string[], input?: Buffer): Promise<RunResult>;
}

async function withServer(clients: ClientSet, options: boolean | TestServerOptions, body: (h: Harness) => Promise<void>): Promise<void> {
  const sshPath = clients.path('ssh');
  clients.path('sshpass');
  await withTestServer(typeof options === 'boolean' ? { asyncHandlers: options } : options, (scope) => {
    const base = opensshArgs(scope.server.port);
    const ssh: Harness['ssh'] = (args, opts = {}) => clients.run('ssh', [...base, ...args], { ...opts, timeoutMs: 60_000 });
    const sshPassword: Harness['sshPassword'] = (password, args, input) =>
      clients.run(
        'sshpass',
        ['-p', password, sshPath, ...base, '-o', 'PreferredAuthentications=password', '-o', 'NumberOfPasswordPrompts=1', ...args],
        {
          input,
          timeoutMs: 60_000,
        },
      );
    return body({ ...scope, ssh, sshPassword });
  });
}

const target = `${USER}@127.0.0.1`;

testEachSet('ssh: password exec prints stdout, exit N gives status N, stderr is kept apart', TIMEOUT, (clients) =>
  withServer(clients, true, async ({ sshPassword, auths }) => {
    const hi = await sshPassword(PASSWORD, [target, 'echo hi']);
    assert.equal(hi.code, 0, hi.stderr);
    assert.equal(hi.stdout.toString(), 'hi\n');
    const seven = await sshPassword(PASSWORD, [target, 'exit 7']);
    assert.equal(seven.code, 7, seven.stderr);
    const err = await sshPassword(PASSWORD, [target, 'stderr oops']);
    assert.equal(err.stdout.length, 0);
    assert.match(err.stderr, /oops/);
    assert.deepEqual(acceptedMethods(auths), ['password', 'password', 'password']);
  }),
);

testEachSet('ssh: a wrong password is refused', TIMEOUT, (clients) =>
  withServer(clients, false, async ({ sshPassword, auths }) => {
    const r = await sshPassword('not-the-password', [target, 'echo no']);
    assert.notEqual(r.code, 0);
    assert.equal(r.stdout.length, 0);
    assert.ok(auths.some((a) => a.authMethod === 'password' && a.authParam === 'not-the-password'));
    assert.deepEqual(acceptedMethods(auths), []);
  }),
);

testEachSet('ssh -i: the authorised key logs in, a foreign key is refused', TIMEOUT, (clients) =>
  withServer(clients, true, async ({ ssh, server, auths }) => {
    const keyOnly = ['-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes', '-o', 'PreferredAuthentications=publickey'];
    const ok = await ssh([...keyOnly, '-i', server.userKey.privateKeyPath, target, 'echo key']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout.toString(), 'key\n');
    // OpenSSH asks whether the key is acceptable before signing: the event fires for both steps.
    assert.deepEqual(acceptedMethods(auths), ['publickey', 'publickey']);
    const foreign = makeUserKey('ed25519');
    const no = await ssh([...keyOnly, '-i', foreign.privateKeyPath, target, 'echo key']);
    assert.notEqual(no.code, 0);
    assert.equal(no.stdout.length, 0);
    assert.match(no.stderr, /Permission denied/);
    assert.ok(
      auths.some((a) => a.authMethod === 'publickey' && a.publicKey?.openSSH === foreign.publicKeyOpenSSH && !a.accept),
      'the foreign key was seen and refused',
    );
    assert.deepEqual(acceptedMethods(auths), ['publickey', 'publickey']);
  }),
);

testEachSet('ssh -i: an RSA key logs in with rsa-sha2 signatures, never SHA-1 ssh-rsa', TIMEOUT, (clients) =>
  withServer(clients, { userKeyKind: 'rsa' }, async (scope) => {
    const keyOnly = ['-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes', '-o', 'PreferredAuthentications=publickey'];
    const r = await scope.ssh([...keyOnly, '-i', scope.server.userKey.privateKeyPath, target, 'echo rsa']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.toString(), 'rsa\n');
    assertRsaLoginWithSha2(scope);
  }),
);

/** The key exchange each OpenSSH negotiates with the daemon's defaults: its own first choice. */
const KEX: Record<ClientSetName, string> = {
  debian12: 'curve25519-sha256', // OpenSSH 9.2 has sntrup761x25519 first, which the daemon lacks
  debian13: 'mlkem768x25519-sha256', // OpenSSH 10's default
};

testEachSet("ssh: key exchange with the daemon defaults is the client's first choice (post-quantum from OpenSSH 10)", TIMEOUT, (clients) =>
  withServer(clients, false, async ({ sshPassword, kex }) => {
    const r = await sshPassword(PASSWORD, ['-v', target, 'echo kex']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.toString(), 'kex\n');
    assert.deepEqual(kex, [KEX[clients.name]], 'the daemon negotiated it');
    assert.match(r.stderr, new RegExp(`kex: algorithm: ${KEX[clients.name]}\\b`), 'the client agrees');
  }),
);

/** An askpass program that answers our two prompts; the second answer is configurable. */
function askpass(second: string): string {
  const path = join(DIR, `askpass-${second}`);
  writeFileSync(
    path,
    `#!/bin/sh\ncase "$1" in\n  *First*) echo '${KBD_ANSWERS[0]}' ;;\n  *Second*) echo '${second}' ;;\n  *) exit 1 ;;\nesac\n`,
  );
  chmodSync(path, 0o700);
  return path;
}

testEachSet('ssh: keyboard-interactive with the right answers logs in, with a wrong one is refused', TIMEOUT, (clients) =>
  withServer(clients, false, async ({ ssh, auths }) => {
    const kbd = ['-o', 'PreferredAuthentications=keyboard-interactive', '-o', 'NumberOfPasswordPrompts=1'];
    const env = (path: string) => ({ SSH_ASKPASS: path, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0' });
    const right = await ssh([...kbd, target, 'echo kbd'], { env: env(askpass(KBD_ANSWERS[1])) });
    assert.equal(right.code, 0, right.stderr);
    assert.equal(right.stdout.toString(), 'kbd\n');
    assertKeyboardAnswersAccepted(auths);
    auths.length = 0;
    const wrong = await ssh([...kbd, target, 'echo kbd'], { env: env(askpass('wrong')) });
    assert.notEqual(wrong.code, 0);
    assert.equal(wrong.stdout.length, 0);
    assert.deepEqual(acceptedMethods(auths), ['keyboard-interactive-1']);
  }),
);

testEachSet('ssh: 16 MiB up and 32 MiB down with matching checksums', TIMEOUT, (clients) =>
  withServer(clients, true, async ({ sshPassword }) => {
    const up = patternBytes(16 * 1024 * 1024);
    const r = await sshPassword(PASSWORD, [target, 'sha256'], up);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.toString().trim(), sha256Hex(up));
    const size = 32 * 1024 * 1024;
    const down = await sshPassword(PASSWORD, [target, `bytes ${size}`]);
    assert.equal(down.code, 0, down.stderr);
    assert.equal(down.stdout.length, size);
    assert.equal(sha256Hex(down.stdout), sha256Hex(patternBytes(size)));
  }),
);

testEachSet('ssh -tt: a pty shell gets the terminal, answers lines and returns the exit status', TIMEOUT, (clients) =>
  withServer(clients, true, async ({ server }) => {
    const requests: SSHChannelRequestEventArgs[] = [];
    server.daemon.on('SSHChannelRequest', (e) => void requests.push(e));
    const r = await clients.run(
      'sshpass',
      ['-p', PASSWORD, clients.path('ssh'), ...opensshArgs(server.port), '-o', 'PreferredAuthentications=password', '-tt', target],
      {
        input: Buffer.from('hello\nexit\n'),
        timeoutMs: 60_000,
        env: { TERM: 'xterm-256color' },
      },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout.toString(), /^welcome\r\n> hello\r\n/);
    const pty = requests.map((q) => requestParamsOf(q, 'pty-req')).find(Boolean);
    assert.ok(pty, 'pty-req reached SSHChannelRequest');
    assert.equal(pty.term, 'xterm-256color');
    assert.ok(requests.some((q) => q.requestType === 'shell'));
  }),
);

testEachSet('ssh ControlMaster: 20 concurrent session channels on one connection', TIMEOUT, (clients) =>
  withServer(clients, true, async ({ ssh, sshPassword, server }) => {
    server.daemon.config('MaxSessionsPerConnection=32'); // the default (10) is OpenSSH's MaxSessions
    const sock = join(DIR, `cm-${server.port}`);
    const master = sshPassword(PASSWORD, ['-M', '-S', sock, '-N', '-o', 'ControlPersist=no', target]);
    const until = Date.now() + 20_000;
    while ((await ssh(['-S', sock, '-O', 'check', target])).code !== 0) {
      assert.ok(Date.now() < until, 'control master did not come up');
      await new Promise((r) => setTimeout(r, 100));
    }
    let peak = 0;
    server.daemon.on('SSHChannelOpened', () => void (peak = Math.max(peak, server.daemon.sshChannels.size)));
    const size = 256 * 1024;
    const runs = await Promise.all(
      Array.from({ length: 20 }, (_, i) => ssh(['-S', sock, target, i % 2 ? `bytes ${size}` : `echo channel-${i}`])),
    );
    runs.forEach((r, i) => {
      assert.equal(r.code, 0, r.stderr);
      if (i % 2) assert.equal(sha256Hex(r.stdout), sha256Hex(patternBytes(size)));
      else assert.equal(r.stdout.toString(), `channel-${i}\n`);
    });
    assert.equal(server.daemon.sshConnections.size, 1, 'all channels rode on the master connection');
    assert.ok(peak > 1, `channels overlapped (peak ${peak})`);
    await ssh(['-S', sock, '-O', 'exit', target]);
    const m = await master;
    assert.notEqual(m.code, null, 'master exited');
  }),
);
