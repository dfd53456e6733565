/**
 * Interoperability with Dropbear's client `dbclient` (Debian: dropbear-bin), every case against both
 * client sets (test/fixtures/clientSets.ts): Dropbear 2022.83 and 2025.89.
 *
 * - dbclient tries keyboard-interactive before password. Without a terminal it answers echoed
 *   prompts from stdin and hidden ones from DROPBEAR_PASSWORD, so it would eat a command's stdin:
 *   these daemons offer `password,publickey`, except the keyboard-interactive test's, which offers
 *   only `keyboard-interactive` (our 'First: ' is echoed, 'Second: ' hidden).
 * - dbclient runs under `setsid` (no controlling terminal): after a refused password it would
 *   otherwise ask for another one on /dev/tty when the tests run in a terminal.
 * - `dbclient -t` needs a terminal on stdin (it reads the terminal modes and sets it raw), so the pty
 *   test drives it through a pseudo-terminal made by a small Python (/usr/bin/python3) script.
 * - dbclient opens one session channel per connection and has no multiplexing (nothing like
 *   OpenSSH's ControlMaster), so there is no concurrent-channels test for it.
 * - dbclient sends a guessed KEX_ECDH_INIT right behind its KEXINIT (first_kex_packet_follows).
 *   ssh2 1.17 discards every guess, right or wrong; the engine adapter fixes that
 *   (src/engine/guessedKexPacketFix.ts). Both paths are tested: the default order (the guess is
 *   right and must be used) and an order starting with another KEX (the guess is wrong and must
 *   be skipped, dbclient then sends a fresh init).
 * - dbclient sends its identification and KEXINIT the moment it connects. While ssh2's crypto init
 *   (a WebAssembly poly1305 module, compiled asynchronously at load) is still pending, ssh2 keeps
 *   the socket paused and attaches its 'data' listener only once the init resolves. ServerCore.admit()
 *   used to resume the socket right after injectSocket(), so the client's first bytes were lost;
 *   a regression test below delays the init deterministically.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { ErrorCodes, requestParamsOf, type SSHChannelRequestEventArgs } from '../src';
import { SUPPORTED } from '../src/config/algorithms';
import { requireBinary, run, type RunResult } from './fixtures/clients';
import { type ClientSet, type ClientSetName, testEachSet } from './fixtures/clientSets';
import {
  acceptedMethods,
  assertForeignKeyRefused,
  assertKeyboardAnswersAccepted,
  assertRsaLoginWithSha2,
  runPythonJson,
  type ServerScope,
  withTestServer,
} from './fixtures/interop';
import { KBD_ANSWERS, PASSWORD, USER, makeUserKey, patternBytes, sha256Hex, type TestServerOptions } from './fixtures/testServer';

const TIMEOUT = { timeout: 60_000 };
/** ssh2's crypto init (see the header comment); test-only reach into ssh2's internals. */
/** A KEX that is not dbclient's first choice: put first, it makes dbclient's guess wrong. */
const OTHER_KEX_FIRST = 'curve25519-sha256@libssh.org';
/** dbclient reads and may write ~/.ssh/known_hosts; keep it out of the real home. */
const HOME = mkdtempSync(join(tmpdir(), 'dropbear-home-'));
after(() => rmSync(HOME, { recursive: true, force: true }));

interface Harness extends ServerScope {
  dbclient(command: string, opts?: { password?: string; key?: string; input?: Buffer; timeoutMs?: number }): Promise<RunResult>;
  /** The argv of `setsid -w dbclient …` against the daemon (no command: a shell), for other drivers. */
  dbclientArgv(command: string | undefined, opts?: { key?: string; flags?: string[] }): string[];
}

interface ServerOptions extends TestServerOptions {
  /** Put this key exchange method first in the daemon's list (the test of dbclient's guess). */
  kexFirst?: string;
  /** The daemon's auth methods; `password,publickey` unless told. */
  authMethods?: string;
}

/** Runs `body` with a `dbclient` of `clients` bound to a fresh daemon (see withTestServer). */
async function withServer(clients: ClientSet, options: ServerOptions, body: (h: Harness) => Promise<void>): Promise<void> {
  clients.path('dbclient');
  const setsid = requireBinary('setsid');
  await withTestServer({ ...options, authMethods: options.authMethods ?? 'password,publickey' }, (scope) => {
    const { server } = scope;
    const first = options.kexFirst;
    if (first) {
      const kex = server.daemon.config('SSHKeyExchangeAlgorithms').split(',');
      server.daemon.config(`SSHKeyExchangeAlgorithms=${[first, ...kex.filter((k) => k !== first)].join(',')}`);
    }
    const dbclientArgv: Harness['dbclientArgv'] = (command, o = {}) => [
      setsid,
      '-w',
      ...clients.argv('dbclient', [
        ...(o.flags ?? []),
        '-y',
        '-y',
        '-p',
        String(server.port),
        '-l',
        USER,
        ...(o.key ? ['-i', o.key] : []),
        '127.0.0.1',
        ...(command === undefined ? [] : [command]),
      ]),
    ];
    const dbclient: Harness['dbclient'] = (command, o = {}) => {
      const [cmd, ...args] = dbclientArgv(command, o);
      return run(cmd, args, { input: o.input, timeoutMs: o.timeoutMs ?? 45_000, env: { HOME, DROPBEAR_PASSWORD: o.password ?? '' } });
    };
    return body({ ...scope, dbclient, dbclientArgv });
  });
}

testEachSet('dbclient: password exec prints stdout and exits 0; exit N gives status N (async handlers)', TIMEOUT, (clients) =>
  withServer(clients, { asyncHandlers: true }, async ({ dbclient, auths }) => {
    const r = await dbclient('echo hi', { password: PASSWORD });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.toString(), 'hi\n');
    const seven = await dbclient('exit 7', { password: PASSWORD });
    assert.equal(seven.code, 7, seven.stderr);
    assert.equal(seven.stdout.length, 0);
    assert.deepEqual(acceptedMethods(auths), ['password', 'password']);
  }),
);

testEachSet('dbclient: a wrong password is refused and never accepted', TIMEOUT, (clients) =>
  withServer(clients, {}, async ({ dbclient, auths, server }) => {
    // dbclient retries with empty passwords until the daemon drops it at MaxAuthAttempts; it then
    // exits 0 ("Disconnect received" is a clean close for Dropbear), so the exit code says nothing.
    const r = await dbclient('echo hi', { password: 'not-the-password' });
    assert.equal(r.stdout.length, 0);
    assert.match(r.stderr, /Disconnect received|denied|fail/i);
    assert.ok(
      auths.some((a) => a.authMethod === 'password' && a.authParam === 'not-the-password'),
      'the daemon saw the password attempt',
    );
    assert.deepEqual(acceptedMethods(auths), []);
    assert.equal(server.events.filter((e) => e.name === 'SSHChannelOpened').length, 0);
    assert.ok(server.events.some((e) => e.name === 'Error' && e.args.errorCode === ErrorCodes.AuthAttemptsExceeded));
  }),
);

/** An OpenSSH private key converted by the set's dropbearconvert (a fresh name per call). */
async function dropbearKeyOf(clients: ClientSet, privateKeyPath: string): Promise<string> {
  const key = join(mkdtempSync(join(HOME, 'key-')), 'id.dropbear');
  const conv = await clients.run('dropbearconvert', ['openssh', 'dropbear', privateKeyPath, key], { timeoutMs: 15_000 });
  assert.equal(conv.code, 0, `dropbearconvert: ${conv.stderr}`);
  return key;
}

testEachSet('dbclient: publickey with a key converted by dropbearconvert', TIMEOUT, (clients) =>
  withServer(clients, {}, async ({ dbclient, auths, server }) => {
    const key = await dropbearKeyOf(clients, server.userKey.privateKeyPath);
    const r = await dbclient('echo key', { key });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.toString(), 'key\n');
    assert.deepEqual([...new Set(acceptedMethods(auths))], ['publickey']);
    assert.ok(auths.every((a) => a.authMethod !== 'publickey' || a.authParam === server.userKey.blobBase64));
  }),
);

/**
 * RFC 4252 s7: USERAUTH_PK_OK repeats the algorithm the client named. Dropbear signs with the
 * algorithm named in PK_OK, so a reply naming `ssh-rsa` makes it sign with SHA-1, which the daemon's
 * defaults refuse.
 */
testEachSet('dbclient: an RSA key logs in with rsa-sha2 signatures, never SHA-1 ssh-rsa', TIMEOUT, (clients) =>
  withServer(clients, { userKeyKind: 'rsa', authMethods: 'publickey' }, async (scope) => {
    const r = await scope.dbclient('echo rsa', { key: await dropbearKeyOf(clients, scope.server.userKey.privateKeyPath) });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.toString(), 'rsa\n');
    assertRsaLoginWithSha2(scope);
  }),
);

/** The key exchange each dbclient negotiates with the daemon's defaults: its own first choice the daemon has. */
const KEX: Record<ClientSetName, string> = {
  debian12: 'curve25519-sha256', // Dropbear 2022 has no post-quantum method
  debian13: 'mlkem768x25519-sha256', // Dropbear 2025: after sntrup761x25519, which the daemon lacks
};

testEachSet(
  "dbclient: key exchange with the daemon defaults is the client's first choice (post-quantum from Dropbear 2025)",
  TIMEOUT,
  (clients) =>
    withServer(clients, {}, async ({ dbclient, kex }) => {
      const r = await dbclient('echo kex', { password: PASSWORD });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.toString(), 'kex\n');
      assert.deepEqual(kex, [KEX[clients.name]], 'the daemon negotiated it');
    }),
);

testEachSet('dbclient: a foreign key converted by dropbearconvert is refused', TIMEOUT, (clients) =>
  withServer(clients, { authMethods: 'publickey' }, async ({ dbclient, auths, server }) => {
    const foreign = makeUserKey('ed25519');
    const key = await dropbearKeyOf(clients, foreign.privateKeyPath);
    const r = await dbclient('echo key', { key });
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stdout.length, 0);
    assert.match(r.stderr, /No auth methods could be used/);
    assertForeignKeyRefused({ server, auths }, foreign);
  }),
);

testEachSet(
  'dbclient: keyboard-interactive (echoed prompt from stdin, hidden one from DROPBEAR_PASSWORD): right answers log in, a wrong one is refused',
  TIMEOUT,
  (clients) =>
    withServer(clients, { authMethods: 'keyboard-interactive', asyncHandlers: true }, async ({ dbclient, auths, server }) => {
      const right = await dbclient('echo kbd', { password: KBD_ANSWERS[1], input: Buffer.from(`${KBD_ANSWERS[0]}\n`) });
      assert.equal(right.code, 0, right.stderr);
      assert.equal(right.stdout.toString(), 'kbd\n');
      assert.match(right.stderr, /First: /);
      assertKeyboardAnswersAccepted(auths);
      assert.deepEqual(acceptedMethods(auths), ['keyboard-interactive-1', 'keyboard-interactive-2', 'keyboard-interactive']);

      // dbclient retries the challenge (with an empty first answer: stdin is at EOF) until the daemon
      // drops it at MaxAuthAttempts, then exits 0 ("Disconnect received"), as with a wrong password.
      auths.length = 0;
      const wrong = await dbclient('echo kbd', { password: 'wrong', input: Buffer.from(`${KBD_ANSWERS[0]}\n`) });
      assert.equal(wrong.stdout.length, 0);
      assert.match(wrong.stderr, /Disconnect received/);
      assert.ok(
        auths.some((a) => a.authMethod === 'keyboard-interactive-2' && a.authParam === 'wrong' && !a.accept),
        'the daemon saw the wrong answer',
      );
      assert.ok(!auths.some((a) => a.authMethod === 'keyboard-interactive' && a.accept));
      assert.equal(server.events.filter((e) => e.name === 'SSHChannelOpened').length, 1, 'only the first run opened a channel');
      assert.ok(server.events.some((e) => e.name === 'Error' && e.args.errorCode === ErrorCodes.AuthAttemptsExceeded));
    }),
);

/**
 * Runs cfg.argv with a pseudo-terminal (cfg.rows x cfg.cols) on stdin and pipes for stdout and
 * stderr; waits for each of cfg.steps' `expect` on stdout before typing its `send`.
 */
const PTY_DRIVER = `
import fcntl, json, os, pty, select, struct, subprocess, sys, termios, time
cfg = json.loads(sys.argv[1])
master, slave = pty.openpty()
fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack('HHHH', cfg['rows'], cfg['cols'], 0, 0))
p = subprocess.Popen(cfg['argv'], stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ, **cfg['env']))
os.close(slave)
out = b''
def until(text):
    global out
    end = time.time() + 10
    while text not in out and time.time() < end:
        if select.select([p.stdout], [], [], 0.2)[0]:
            chunk = os.read(p.stdout.fileno(), 4096)
            if not chunk:
                break
            out += chunk
    return text in out
for step in cfg['steps']:
    if not until(step['expect'].encode()):
        break
    os.write(master, step['send'].encode())
try:
    rest, err = p.communicate(timeout=10)
except subprocess.TimeoutExpired:
    p.kill()
    rest, err = p.communicate()
print(json.dumps({'out': (out + rest).decode('latin-1'), 'code': p.returncode, 'stderr': err.decode('latin-1')}))
`;

testEachSet('dbclient -t: a pty shell gets the terminal, answers a line and exits 0', TIMEOUT, (clients) =>
  withServer(clients, { asyncHandlers: true }, async ({ dbclientArgv, server }) => {
    const requests: SSHChannelRequestEventArgs[] = [];
    server.daemon.on('SSHChannelRequest', (e) => void requests.push(e));
    const r = await runPythonJson(PTY_DRIVER, {
      argv: dbclientArgv(undefined, { flags: ['-t'] }),
      env: { HOME, DROPBEAR_PASSWORD: PASSWORD, TERM: 'xterm-256color' },
      rows: 40,
      cols: 100,
      steps: [
        { expect: 'welcome\r\n', send: 'hello\n' },
        { expect: '> hello\r\n', send: 'exit\n' },
      ],
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.out, 'welcome\r\n> hello\r\n');
    assert.deepEqual(
      requests.map((q) => q.requestType),
      ['pty-req', 'shell'],
    );
    const pty = requestParamsOf(requests[0], 'pty-req');
    assert.ok(pty, 'pty-req reached SSHChannelRequest');
    assert.equal(pty.term, 'xterm-256color');
    assert.deepEqual([pty.cols, pty.rows], [100, 40]);
    assert.equal(pty.modes[1], 3, 'the terminal modes came along (VINTR is ^C)');
  }),
);

testEachSet('dbclient: 16 MiB upload through sha256 and 32 MiB download from bytes', TIMEOUT, (clients) =>
  withServer(clients, {}, async ({ dbclient }) => {
    const up = randomBytes(16 * 1024 * 1024);
    const u = await dbclient('sha256', { password: PASSWORD, input: up });
    assert.equal(u.code, 0, u.stderr);
    assert.equal(u.stdout.toString(), sha256Hex(up) + '\n');

    const n = 32 * 1024 * 1024;
    const d = await dbclient(`bytes ${n}`, { password: PASSWORD });
    assert.equal(d.code, 0, d.stderr);
    assert.equal(d.stdout.length, n);
    assert.equal(sha256Hex(d.stdout), sha256Hex(patternBytes(n)));
  }),
);

/**
 * dbclient's first key exchange choice, the one its guessed packet is for (read from its KEXINIT).
 * The guess is right only when the daemon's list starts with it too (and the host key types agree).
 */
const GUESSED_KEX: Record<ClientSetName, string> = {
  debian12: 'curve25519-sha256',
  debian13: 'sntrup761x25519-sha512', // the daemon lacks it: Dropbear 2025's guess is always wrong here
};

testEachSet('dbclient: its guessed KEX packet is used when right and skipped when wrong (RFC 4253 s7.1)', TIMEOUT, async (clients) => {
  const guess = GUESSED_KEX[clients.name];
  const right = SUPPORTED.kex.includes(guess);
  // Right guess: the daemon's list starts with dbclient's first choice. Wrong: with another method.
  const cases = [...(right ? [{ kexFirst: guess, wrong: false }] : []), { kexFirst: OTHER_KEX_FIRST, wrong: true }];
  assert.equal(right, clients.name === 'debian12', `the daemon supports ${guess}: update GUESSED_KEX's note and this check`);
  for (const { kexFirst, wrong } of cases) {
    await withServer(clients, { kexFirst }, async ({ dbclient, kex }) => {
      const r = await dbclient('echo hi', { password: PASSWORD, timeoutMs: 8_000 });
      assert.equal(r.code, 0, `dbclient stalled or failed (wrong guess: ${wrong}): ${r.stderr}`);
      assert.equal(r.stdout.toString(), 'hi\n');
      assert.deepEqual(kex, [KEX[clients.name]], "the client's order decides the method, whatever the daemon's");
    });
  }
});

/** Runs in a child node: delays WebAssembly compilation so ssh2's crypto init is still pending when dbclient connects. */
const EARLY_DAEMON = `
const instantiate = WebAssembly.instantiate;
WebAssembly.instantiate = (...args) => new Promise((r) => setTimeout(r, 1500)).then(() => instantiate(...args));
const { registryDrained, startTestServer } = require(process.argv[1]);
startTestServer({ authMethods: 'password,publickey' }).then((s) => {
  console.log(s.port);
  process.stdin.on('data', () => undefined).on('end', () =>
    registryDrained(s.daemon).then(() => console.log('drained'), (e) => console.log(e.message)).then(() => s.close()));
});
`;

testEachSet(
  'dbclient: connecting while ssh2 crypto init is pending loses no bytes (regression: admit() resumed the socket too early)',
  TIMEOUT,
  async (clients) => {
    clients.path('dbclient');
    const setsid = requireBinary('setsid');
    const child = spawn(process.execPath, ['--import', 'tsx', '-e', EARLY_DAEMON, join(__dirname, 'fixtures', 'testServer.ts')], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      while (!/^\d+\n/.test(out)) {
        if (child.exitCode !== null) throw new Error(`daemon child exited: ${out}`);
        await new Promise((r) => setTimeout(r, 10));
      }
      const port = out.split('\n')[0];
      const r = await run(setsid, ['-w', ...clients.argv('dbclient', ['-y', '-y', '-p', port, '-l', USER, '127.0.0.1', 'echo hi'])], {
        timeoutMs: 10_000,
        env: { HOME, DROPBEAR_PASSWORD: PASSWORD },
      });
      assert.equal(r.code, 0, `dbclient stalled or failed: ${r.stderr}`);
      assert.equal(r.stdout.toString(), 'hi\n');
    } finally {
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      if (child.exitCode === null) await once(child, 'exit');
      clearTimeout(timer);
    }
    assert.match(out, /drained/);
  },
);
