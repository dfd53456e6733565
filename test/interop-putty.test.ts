/**
 * Interoperability with PuTTY's command-line client `plink` (Debian: putty-tools), every case against
 * both client sets (test/fixtures/clientSets.ts): PuTTY 0.78 and 0.83.
 *
 * PuTTY prefers keyboard-interactive over password and `-pw` does not answer keyboard-interactive
 * prompts, so with `-batch` it gives up on our two-prompt challenge ("Cannot answer interactive
 * prompts in batch mode"). These tests therefore offer only `password,publickey`, except the
 * keyboard-interactive test: it runs plink without `-batch` under `setsid` (no terminal, so PuTTY
 * reads the answers from stdin) and types each answer only once its prompt shows on stderr, since
 * PuTTY reads a whole chunk of stdin per prompt and drops what follows the first line.
 * Concurrent channels on one connection use PuTTY's connection sharing (`-share`): the first plink
 * (the upstream) owns the SSH connection, and each later plink to the same user, host and port
 * (a downstream) opens its session channel through it.
 */
import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { requestParamsOf, type SSHChannelRequestEventArgs } from '../src';
import { requireBinary, type RunResult } from './fixtures/clients';
import { type ClientSet, type ClientSetName, testEachSet } from './fixtures/clientSets';
import {
  acceptedMethods,
  assertForeignKeyRefused,
  assertKeyboardAnswersAccepted,
  assertRsaLoginWithSha2,
  type ServerScope,
  withTestServer,
} from './fixtures/interop';
import { KBD_ANSWERS, PASSWORD, USER, makeUserKey, patternBytes, sha256Hex, type TestServerOptions } from './fixtures/testServer';

const TIMEOUT = { timeout: 60_000 };
/** PuTTY keeps its random seed under $HOME/.putty; keep it out of the real home. */
const HOME = mkdtempSync(join(tmpdir(), 'putty-home-'));
after(() => rmSync(HOME, { recursive: true, force: true }));

interface Harness extends ServerScope {
  /** `plink -batch` with the given auth options (and any other flags) running `command` ('' for a shell). */
  plink(command: string, auth: string[], input?: Buffer): Promise<RunResult>;
  /** Starts `plink -batch` like `plink`, with stdin left open. */
  plinkStart(command: string, auth: string[]): Started;
  /** `setsid -w plink` without `-batch`, typing each answer once its prompt has shown on stderr; stdin ends after the last. */
  plinkAnswering(command: string, answers: { prompt: string; answer: string }[]): Promise<RunResult>;
}

/**
 * Runs `body` with a `plink` of `clients` bound to a fresh daemon (see withTestServer); the daemon
 * offers `password,publickey` unless told.
 */
async function withServer(clients: ClientSet, options: TestServerOptions, body: (h: Harness) => Promise<void>): Promise<void> {
  clients.path('plink');
  const setsid = requireBinary('setsid');
  await withTestServer({ authMethods: 'password,publickey', ...options }, (scope) => {
    const { server } = scope;
    const args = (command: string, auth: string[]) => [
      '-ssh',
      '-noagent',
      '-P',
      String(server.port),
      '-l',
      USER,
      ...auth,
      '-hostkey',
      server.hostKey.fingerprint,
      '127.0.0.1',
      ...(command ? [command] : []),
    ];
    const plink: Harness['plink'] = (command, auth, input) =>
      clients.run('plink', ['-batch', ...args(command, auth)], { input, timeoutMs: 45_000, env: { HOME } });
    const plinkStart: Harness['plinkStart'] = (command, auth) => start(clients.argv('plink', ['-batch', ...args(command, auth)]));
    const plinkAnswering: Harness['plinkAnswering'] = (command, answers) => {
      const p = start([setsid, '-w', ...clients.argv('plink', args(command, []))]);
      let from = 0;
      let next = 0;
      p.child.stderr.on('data', () => {
        while (next < answers.length) {
          const at = p.stderr.indexOf(answers[next].prompt, from);
          if (at < 0) break;
          from = at + answers[next].prompt.length;
          p.child.stdin.write(answers[next++].answer + '\n');
          if (next === answers.length) p.child.stdin.end();
        }
      });
      return p.done;
    };
    return body({ ...scope, plink, plinkStart, plinkAnswering });
  });
}

interface Started {
  child: ChildProcessWithoutNullStreams;
  /** stderr so far. */
  readonly stderr: string;
  /** The outcome once the process has exited (it is killed after 45 s). */
  done: Promise<RunResult>;
}

/** Spawns `argv` with pipes for stdin, stdout and stderr, and HOME set to the throwaway home. */
function start([cmd, ...args]: string[]): Started {
  const child = spawn(cmd, args, { env: { ...process.env, HOME }, stdio: ['pipe', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  let err = '';
  child.stdout.on('data', (d: Buffer) => out.push(d));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  child.stdin.on('error', () => undefined);
  const done = new Promise<RunResult>((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 45_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out), stderr: err });
    });
  });
  return {
    child,
    get stderr() {
      return err;
    },
    done,
  };
}

/** Polls `ok` until it holds; fails with `what` after `ms`. */
async function until(ok: () => boolean, what: () => string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting: ${what()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

testEachSet('plink: password exec prints stdout and exits 0; exit N gives status N', TIMEOUT, (clients) =>
  withServer(clients, { asyncHandlers: false }, async ({ plink, auths }) => {
    const r = await plink('echo hi', ['-pw', PASSWORD]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.toString(), 'hi\n');
    const seven = await plink('exit 7', ['-pw', PASSWORD]);
    assert.equal(seven.code, 7, seven.stderr);
    assert.equal(seven.stdout.length, 0);
    assert.deepEqual(acceptedMethods(auths), ['password', 'password']);
  }),
);

testEachSet('plink: a wrong password is refused and never accepted', TIMEOUT, (clients) =>
  withServer(clients, { asyncHandlers: false }, async ({ plink, auths, server }) => {
    const r = await plink('echo hi', ['-pw', 'not-the-password']);
    assert.notEqual(r.code, 0);
    assert.equal(r.stdout.length, 0);
    assert.match(r.stderr, /password was not accepted|Access denied/i);
    assert.ok(
      auths.some((a) => a.authMethod === 'password' && a.authParam === 'not-the-password'),
      'the daemon saw the password attempt',
    );
    assert.deepEqual(acceptedMethods(auths), []);
    assert.equal(server.events.filter((e) => e.name === 'SSHChannelOpened').length, 0);
  }),
);

/** The user's OpenSSH private key converted by the set's puttygen into a .ppk (a fresh name per call). */
async function ppkOf(clients: ClientSet, privateKeyPath: string): Promise<string> {
  const ppk = join(mkdtempSync(join(HOME, 'ppk-')), 'key.ppk');
  const conv = await clients.run('puttygen', [privateKeyPath, '-O', 'private', '-o', ppk], { timeoutMs: 15_000, env: { HOME } });
  assert.equal(conv.code, 0, `puttygen: ${conv.stderr}`);
  return ppk;
}

testEachSet('plink: publickey with a .ppk converted by puttygen (async handlers)', TIMEOUT, (clients) =>
  withServer(clients, { asyncHandlers: true }, async ({ plink, auths, server }) => {
    const r = await plink('echo key', ['-i', await ppkOf(clients, server.userKey.privateKeyPath)]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.toString(), 'key\n');
    assert.deepEqual([...new Set(acceptedMethods(auths))], ['publickey']);
    assert.ok(auths.every((a) => a.authMethod !== 'publickey' || a.authParam === server.userKey.blobBase64));
  }),
);

testEachSet('plink: an RSA key (.ppk) logs in with rsa-sha2 signatures, never SHA-1 ssh-rsa', TIMEOUT, (clients) =>
  withServer(clients, { userKeyKind: 'rsa', authMethods: 'publickey' }, async (scope) => {
    const r = await scope.plink('echo rsa', ['-i', await ppkOf(clients, scope.server.userKey.privateKeyPath)]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.toString(), 'rsa\n');
    assertRsaLoginWithSha2(scope);
  }),
);

/** The key exchange each PuTTY negotiates with the daemon's defaults: its own first choice the daemon has. */
const KEX: Record<ClientSetName, string> = {
  debian12: 'curve25519-sha256', // PuTTY 0.78 has no post-quantum method
  debian13: 'mlkem768x25519-sha256', // PuTTY 0.83: after sntrup761x25519, which the daemon lacks
};

testEachSet(
  "plink: key exchange with the daemon defaults is the client's first choice (post-quantum from PuTTY 0.83)",
  TIMEOUT,
  (clients) =>
    withServer(clients, {}, async ({ plink, kex }) => {
      const r = await plink('echo kex', ['-pw', PASSWORD]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.toString(), 'kex\n');
      assert.deepEqual(kex, [KEX[clients.name]], 'the daemon negotiated it');
    }),
);

testEachSet('plink: a foreign key in a .ppk converted by puttygen is refused', TIMEOUT, (clients) =>
  withServer(clients, { asyncHandlers: false, authMethods: 'publickey' }, async ({ plink, auths, server }) => {
    const foreign = makeUserKey('ed25519');
    const ppk = join(HOME, 'foreign.ppk');
    const conv = await clients.run('puttygen', [foreign.privateKeyPath, '-O', 'private', '-o', ppk], { timeoutMs: 15_000, env: { HOME } });
    assert.equal(conv.code, 0, `puttygen: ${conv.stderr}`);
    const r = await plink('echo key', ['-i', ppk]);
    assert.notEqual(r.code, 0);
    assert.equal(r.stdout.length, 0);
    assert.match(r.stderr, /Server refused our key/);
    assertForeignKeyRefused({ server, auths }, foreign);
  }),
);

testEachSet(
  'plink: keyboard-interactive answered on stdin (no terminal): right answers log in, a wrong one is refused (async handlers)',
  TIMEOUT,
  (clients) =>
    withServer(clients, { asyncHandlers: true, authMethods: 'keyboard-interactive' }, async ({ plinkAnswering, auths, server }) => {
      const right = await plinkAnswering('echo kbd', [
        { prompt: 'First: ', answer: KBD_ANSWERS[0] },
        { prompt: 'Second: ', answer: KBD_ANSWERS[1] },
      ]);
      assert.equal(right.code, 0, right.stderr);
      assert.equal(right.stdout.toString(), 'kbd\n');
      assertKeyboardAnswersAccepted(auths);
      assert.deepEqual(acceptedMethods(auths), ['keyboard-interactive-1', 'keyboard-interactive-2', 'keyboard-interactive']);

      // Refused, plink asks again; stdin is at its end by then, so it gives up ("User aborted") and
      // exits 0 all the same: the exit code says nothing here.
      auths.length = 0;
      const wrong = await plinkAnswering('echo kbd', [
        { prompt: 'First: ', answer: KBD_ANSWERS[0] },
        { prompt: 'Second: ', answer: 'wrong' },
      ]);
      assert.equal(wrong.stdout.length, 0);
      assert.match(wrong.stderr, /Access denied/);
      assert.deepEqual(
        auths.filter((a) => a.authMethod.startsWith('keyboard-interactive')).map((a) => [a.authMethod, a.authParam, a.accept]),
        [
          ['keyboard-interactive-1', KBD_ANSWERS[0], true],
          ['keyboard-interactive-2', 'wrong', false],
        ],
      );
      assert.equal(server.events.filter((e) => e.name === 'SSHChannelOpened').length, 1, 'only the first run opened a channel');
    }),
);

testEachSet('plink -t: a pty shell gets the terminal, answers a line and exits 0 (async handlers)', TIMEOUT, (clients) =>
  withServer(clients, { asyncHandlers: true }, async ({ plink, server }) => {
    const requests: SSHChannelRequestEventArgs[] = [];
    server.daemon.on('SSHChannelRequest', (e) => void requests.push(e));
    const r = await plink('', ['-pw', PASSWORD, '-t'], Buffer.from('hello\nexit\n'));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.toString(), 'welcome\r\n> hello\r\n');
    assert.deepEqual(
      requests.map((q) => q.requestType).filter((t) => t === 'pty-req' || t === 'shell' || t === 'exec'),
      ['pty-req', 'shell'],
    );
    const pty = requests.map((q) => requestParamsOf(q, 'pty-req')).find(Boolean);
    assert.ok(pty, 'pty-req reached SSHChannelRequest');
    // stdin is a pipe, so PuTTY sends its configured defaults: terminal type, 80x24, line speeds.
    assert.equal(pty.term, 'xterm');
    assert.deepEqual([pty.cols, pty.rows], [80, 24]);
    assert.deepEqual([pty.modes[128], pty.modes[129]], [38400, 38400]);
  }),
);

testEachSet('plink: 16 MiB upload through sha256 and 32 MiB download from bytes', TIMEOUT, (clients) =>
  withServer(clients, { asyncHandlers: false }, async ({ plink }) => {
    const up = randomBytes(16 * 1024 * 1024);
    const u = await plink('sha256', ['-pw', PASSWORD], up);
    assert.equal(u.code, 0, u.stderr);
    assert.equal(u.stdout.toString(), sha256Hex(up) + '\n');

    const n = 32 * 1024 * 1024;
    const d = await plink(`bytes ${n}`, ['-pw', PASSWORD]);
    assert.equal(d.code, 0, d.stderr);
    assert.equal(d.stdout.length, n);
    assert.equal(sha256Hex(d.stdout), sha256Hex(patternBytes(n)));
  }),
);

testEachSet('plink -share: 20 downstream session channels open at once on the upstream connection (async handlers)', TIMEOUT, (clients) =>
  withServer(clients, { asyncHandlers: true }, async ({ plinkStart, server }) => {
    server.daemon.config('MaxSessionsPerConnection=32'); // the default (10) is OpenSSH's MaxSessions
    const upstream = plinkStart('cat', ['-pw', PASSWORD, '-share', '-v']);
    await until(
      () => /Sharing this connection at/.test(upstream.stderr) && server.daemon.sshChannels.size === 1,
      () => `the upstream did not come up: ${upstream.stderr}`,
    );
    const downstreams = Array.from({ length: 20 }, (_, i) => {
      const d = plinkStart('cat', ['-pw', PASSWORD, '-share']);
      d.child.stdin.write(`channel-${i}\n`);
      return d;
    });
    // Every cat waits for its stdin to end, so all 21 channels are open together here.
    await until(
      () => server.daemon.sshChannels.size === 21,
      () => `${server.daemon.sshChannels.size} channels open; upstream: ${upstream.stderr}`,
    );
    for (const d of downstreams) d.child.stdin.end();
    const runs = await Promise.all(downstreams.map((d) => d.done));
    runs.forEach((r, i) => {
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.toString(), `channel-${i}\n`);
    });
    upstream.child.stdin.end('upstream\n');
    const up = await upstream.done;
    assert.equal(up.code, 0, up.stderr);
    assert.equal(up.stdout.toString(), 'upstream\n');
    assert.equal(server.events.filter((e) => e.name === 'Connected').length, 1, 'all channels rode on the upstream connection');
    assert.equal(server.events.filter((e) => e.name === 'SSHChannelOpened').length, 21);
    assert.equal((up.stderr.match(/Connection sharing downstream #\d+: connected/g) ?? []).length, 20);
  }),
);
