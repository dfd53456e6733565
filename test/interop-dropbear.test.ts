/**
 * Interoperability with Dropbear's client `dbclient` (Debian: dropbear-bin).
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
 *   the socket paused and attaches its 'data' listener only once the init resolves. SSHDaemon.admit()
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
import { after, test } from 'node:test';
import { ErrorCodes, requestParamsOf, type SSHChannelRequestEventArgs } from '../src';
import { requireBinary, run, type RunResult } from './fixtures/clients';
import { acceptedMethods, assertForeignKeyRefused, assertKeyboardAnswersAccepted, assertRsaWithoutSha1, runPythonJson, type ServerScope, withTestServer } from './fixtures/interop';
import { KBD_ANSWERS, PASSWORD, USER, makeUserKey, patternBytes, sha256Hex } from './fixtures/testServer';

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

interface ServerOptions {
  asyncHandlers?: boolean;
  /** Put OTHER_KEX_FIRST first, so that dbclient's guessed KEX packet is wrong. */
  wrongGuess?: boolean;
  /** The daemon's auth methods; `password,publickey` unless told. */
  authMethods?: string;
  /** The kind of the test user's key (ed25519 unless told). */
  userKey?: 'ed25519' | 'rsa';
}

/** Runs `body` with a `dbclient` bound to a fresh daemon (see withTestServer). */
async function withServer(options: ServerOptions, body: (h: Harness) => Promise<void>): Promise<void> {
  const dbclientPath = requireBinary('dbclient');
  const setsid = requireBinary('setsid');
  await withTestServer({ asyncHandlers: options.asyncHandlers, authMethods: options.authMethods ?? 'password,publickey', userKey: options.userKey }, ({ server, auths }) => {
    if (options.wrongGuess) {
      const kex = server.daemon.config('SSHKeyExchangeAlgorithms').split(',');
      server.daemon.config(`SSHKeyExchangeAlgorithms=${[OTHER_KEX_FIRST, ...kex.filter((k) => k !== OTHER_KEX_FIRST)].join(',')}`);
    }
    const dbclientArgv: Harness['dbclientArgv'] = (command, o = {}) => [
      setsid,
      '-w',
      dbclientPath,
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
    ];
    const dbclient: Harness['dbclient'] = (command, o = {}) => {
      const [cmd, ...args] = dbclientArgv(command, o);
      return run(cmd, args, { input: o.input, timeoutMs: o.timeoutMs ?? 45_000, env: { HOME, DROPBEAR_PASSWORD: o.password ?? '' } });
    };
    return body({ server, auths, dbclient, dbclientArgv });
  });
}

test('dbclient: password exec prints stdout and exits 0; exit N gives status N (async handlers)', TIMEOUT, () =>
  withServer({ asyncHandlers: true }, async ({ dbclient, auths }) => {
    const r = await dbclient('echo hi', { password: PASSWORD });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.toString(), 'hi\n');
    const seven = await dbclient('exit 7', { password: PASSWORD });
    assert.equal(seven.code, 7, seven.stderr);
    assert.equal(seven.stdout.length, 0);
    assert.deepEqual(acceptedMethods(auths), ['password', 'password']);
  }),
);

test('dbclient: a wrong password is refused and never accepted', TIMEOUT, () =>
  withServer({}, async ({ dbclient, auths, server }) => {
    // dbclient retries with empty passwords until the daemon drops it at MaxAuthAttempts; it then
    // exits 0 ("Disconnect received" is a clean close for Dropbear), so the exit code says nothing.
    const r = await dbclient('echo hi', { password: 'not-the-password' });
    assert.equal(r.stdout.length, 0);
    assert.match(r.stderr, /Disconnect received|denied|fail/i);
    assert.ok(auths.some((a) => a.authMethod === 'password' && a.authParam === 'not-the-password'), 'the daemon saw the password attempt');
    assert.deepEqual(acceptedMethods(auths), []);
    assert.equal(server.events.filter((e) => e.name === 'SSHChannelOpened').length, 0);
    assert.ok(server.events.some((e) => e.name === 'Error' && e.args.errorCode === ErrorCodes.AuthAttemptsExceeded));
  }),
);

test('dbclient: publickey with a key converted by dropbearconvert', TIMEOUT, () =>
  withServer({}, async ({ dbclient, auths, server }) => {
    const convert = requireBinary('dropbearconvert');
    const key = join(HOME, 'id_ed25519.dropbear');
    const conv = await run(convert, ['openssh', 'dropbear', server.userKey.privateKeyPath, key], { timeoutMs: 15_000 });
    assert.equal(conv.code, 0, `dropbearconvert: ${conv.stderr}`);
    const r = await dbclient('echo key', { key });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.toString(), 'key\n');
    assert.deepEqual([...new Set(acceptedMethods(auths))], ['publickey']);
    assert.ok(auths.every((a) => a.authMethod !== 'publickey' || a.authParam === server.userKey.blobBase64));
  }),
);

test('dbclient: an RSA key logs in with rsa-sha2-* (it signs with the algorithm USERAUTH_PK_OK names), never SHA-1', TIMEOUT, () =>
  withServer({ userKey: 'rsa', authMethods: 'publickey' }, async ({ dbclient, auths, server }) => {
    const key = join(HOME, 'id_rsa.dropbear');
    const conv = await run(requireBinary('dropbearconvert'), ['openssh', 'dropbear', server.userKey.privateKeyPath, key], { timeoutMs: 15_000 });
    assert.equal(conv.code, 0, `dropbearconvert: ${conv.stderr}`);
    const r = await dbclient('echo rsa', { key });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.toString(), 'rsa\n');
    assertRsaWithoutSha1({ server, auths });
  }),
);

test('dbclient: a foreign key converted by dropbearconvert is refused', TIMEOUT, () =>
  withServer({ authMethods: 'publickey' }, async ({ dbclient, auths, server }) => {
    const foreign = makeUserKey('ed25519');
    const key = join(HOME, 'foreign.dropbear');
    const conv = await run(requireBinary('dropbearconvert'), ['openssh', 'dropbear', foreign.privateKeyPath, key], { timeoutMs: 15_000 });
    assert.equal(conv.code, 0, `dropbearconvert: ${conv.stderr}`);
    const r = await dbclient('echo key', { key });
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stdout.length, 0);
    assert.match(r.stderr, /No auth methods could be used/);
    assertForeignKeyRefused({ server, auths }, foreign);
  }),
);

test('dbclient: keyboard-interactive (echoed prompt from stdin, hidden one from DROPBEAR_PASSWORD): right answers log in, a wrong one is refused', TIMEOUT, () =>
  withServer({ authMethods: 'keyboard-interactive', asyncHandlers: true }, async ({ dbclient, auths, server }) => {
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
    assert.ok(auths.some((a) => a.authMethod === 'keyboard-interactive-2' && a.authParam === 'wrong' && !a.accept), 'the daemon saw the wrong answer');
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

test('dbclient -t: a pty shell gets the terminal, answers a line and exits 0', TIMEOUT, () =>
  withServer({ asyncHandlers: true }, async ({ dbclientArgv, server }) => {
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
    assert.deepEqual(requests.map((q) => q.requestType), ['pty-req', 'shell']);
    const pty = requestParamsOf(requests[0], 'pty-req');
    assert.ok(pty, 'pty-req reached SSHChannelRequest');
    assert.equal(pty.term, 'xterm-256color');
    assert.deepEqual([pty.cols, pty.rows], [100, 40]);
    assert.equal(pty.modes[1], 3, 'the terminal modes came along (VINTR is ^C)');
  }),
);

test('dbclient: 16 MiB upload through sha256 and 32 MiB download from bytes', TIMEOUT, () =>
  withServer({}, async ({ dbclient }) => {
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

test('dbclient: its guessed KEX packet is used when right and skipped when wrong (RFC 4253 s7.1)', TIMEOUT, async () => {
  for (const wrongGuess of [false, true]) {
    await withServer({ wrongGuess }, async ({ dbclient }) => {
      const r = await dbclient('echo hi', { password: PASSWORD, timeoutMs: 8_000 });
      assert.equal(r.code, 0, `dbclient stalled or failed (wrong guess: ${wrongGuess}): ${r.stderr}`);
      assert.equal(r.stdout.toString(), 'hi\n');
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

test(
  'dbclient: connecting while ssh2 crypto init is pending loses no bytes (regression: admit() resumed the socket too early)',
  TIMEOUT,
  async () => {
    const dbclientPath = requireBinary('dbclient');
    const setsid = requireBinary('setsid');
    const child = spawn(process.execPath, ['--import', 'tsx', '-e', EARLY_DAEMON, join(__dirname, 'fixtures', 'testServer.ts')], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      while (!/^\d+\n/.test(out)) {
        if (child.exitCode !== null) throw new Error(`daemon child exited: ${out}`);
        await new Promise((r) => setTimeout(r, 10));
      }
      const port = out.split('\n')[0];
      const r = await run(setsid, ['-w', dbclientPath, '-y', '-y', '-p', port, '-l', USER, '127.0.0.1', 'echo hi'], { timeoutMs: 5_000, env: { HOME, DROPBEAR_PASSWORD: PASSWORD } });
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
