/**
 * Interoperability with AsyncSSH (Debian: python3-asyncssh), driven through /usr/bin/python3 -c, every
 * case against both client sets (test/fixtures/clientSets.ts): AsyncSSH 2.10 and 2.20.
 * Each snippet gets its settings as JSON in argv[1] and prints one JSON line as its result.
 * AsyncSSH's CryptographyDeprecationWarning lines on stderr are ignored.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { requestParamsOf, type SSHChannelRequestEventArgs } from '../src';
import { type ClientSet, testEachSet } from './fixtures/clientSets';
import {
  acceptedMethods,
  assertForeignKeyRefused,
  assertRsaLoginWithSha2,
  runPythonJson,
  type ServerScope,
  withTestServer,
} from './fixtures/interop';
import { KBD_ANSWERS, PASSWORD, USER, makeUserKey, patternBytes, sha256Hex, type TestServerOptions } from './fixtures/testServer';

const TIMEOUT = { timeout: 60_000 };

/**
 * Shared by every snippet: settings, connect() with one auth method and no user config, agent or
 * default keys, and the JSON result line. `main()` is the snippet's coroutine.
 */
const PRELUDE = `
import asyncio, hashlib, json, sys, warnings
warnings.simplefilter('ignore')
import asyncssh, asyncssh.kex
cfg = json.loads(sys.argv[1])
def connect(method, **kw):
    opts = dict(host='127.0.0.1', port=cfg['port'], username=cfg['user'], known_hosts=None, config=[],
                agent_path=None, client_keys=None, preferred_auth=method, connect_timeout=10)
    opts.update(kw)
    return asyncssh.connect(**opts)
def host_key(conn):
    return conn.get_server_host_key().get_fingerprint('sha256')
def result(r):
    out = r.stdout if isinstance(r.stdout, str) else r.stdout.decode('latin-1')
    return {'stdout': out, 'stderr': r.stderr or '', 'status': r.exit_status}
def done(value):
    print(json.dumps(value))
`;
const MAIN = `
try:
    done(asyncio.run(main()))
except (asyncssh.PermissionDenied, asyncssh.DisconnectError) as e:
    done({'denied': type(e).__name__, 'reason': str(e)})
`;

interface Harness extends ServerScope {
  /** Runs PRELUDE + code (which defines `async def main()`) + MAIN; returns the parsed last stdout line. */
  py(code: string, extra?: Record<string, unknown>, input?: Buffer): Promise<any>;
}

async function withServer(clients: ClientSet, options: boolean | TestServerOptions, body: (h: Harness) => Promise<void>): Promise<void> {
  await clients.requirePythonModule('asyncssh');
  await withTestServer(typeof options === 'boolean' ? { asyncHandlers: options } : options, (scope) => {
    const cfg = { port: scope.server.port, user: USER, password: PASSWORD, key: scope.server.userKey.privateKeyPath };
    const py = (code: string, extra: Record<string, unknown> = {}, input?: Buffer) =>
      runPythonJson(PRELUDE + code + MAIN, { ...cfg, ...extra }, input, clients);
    return body({ ...scope, py });
  });
}

testEachSet('asyncssh: password exec with stdout, stderr and exit status; the host key is ours', TIMEOUT, (clients) =>
  withServer(clients, false, async ({ py, auths, server }) => {
    const r = await py(`
async def main():
    async with connect('password', password=cfg['password']) as conn:
        runs = [result(await conn.run(c)) for c in ('echo hi', 'exit 7', 'stderr oops')]
        return {'hostKey': host_key(conn), 'runs': runs}`);
    assert.equal(r.hostKey, server.hostKey.fingerprint);
    assert.deepEqual(r.runs, [
      { stdout: 'hi\n', stderr: '', status: 0 },
      { stdout: '', stderr: '', status: 7 },
      { stdout: '', stderr: 'oops\n', status: 0 },
    ]);
    assert.deepEqual(acceptedMethods(auths), ['password']);
  }),
);

testEachSet('asyncssh: a wrong password is refused', TIMEOUT, (clients) =>
  withServer(clients, false, async ({ py, auths, server }) => {
    const r = await py(`
async def main():
    async with connect('password', password='not-the-password') as conn:
        return {'denied': None}`);
    assert.equal(r.denied, 'PermissionDenied', r.reason);
    assert.ok(
      auths.some((a) => a.authMethod === 'password' && a.authParam === 'not-the-password'),
      'the daemon saw the password attempt',
    );
    assert.deepEqual(acceptedMethods(auths), []);
    assert.equal(server.events.filter((e) => e.name === 'SSHChannelOpened').length, 0);
  }),
);

testEachSet('asyncssh: publickey with the ed25519 key read by read_private_key', TIMEOUT, (clients) =>
  withServer(clients, false, async ({ py, auths, server }) => {
    const r = await py(`
async def main():
    key = asyncssh.read_private_key(cfg['key'])
    async with connect('publickey', client_keys=[key]) as conn:
        return result(await conn.run('echo key'))`);
    assert.deepEqual(r, { stdout: 'key\n', stderr: '', status: 0 });
    assert.deepEqual([...new Set(acceptedMethods(auths))], ['publickey']);
    assert.ok(auths.every((a) => a.authMethod !== 'publickey' || a.authParam === server.userKey.blobBase64));
  }),
);

/**
 * RFC 4252 s7: USERAUTH_PK_OK repeats the algorithm the client named; AsyncSSH checks it and aborts
 * with "Key mismatch" when the reply names another (`ssh-rsa` for its rsa-sha2-*).
 */
testEachSet('asyncssh: publickey with an RSA key signs with rsa-sha2, never SHA-1 ssh-rsa', TIMEOUT, (clients) =>
  withServer(clients, { userKeyKind: 'rsa' }, async (scope) => {
    const r = await scope.py(`
async def main():
    key = asyncssh.read_private_key(cfg['key'])
    async with connect('publickey', client_keys=[key]) as conn:
        return result(await conn.run('echo rsa'))`);
    assert.deepEqual(r, { stdout: 'rsa\n', stderr: '', status: 0 });
    assertRsaLoginWithSha2(scope);
  }),
);

testEachSet(
  "asyncssh: key exchange with the daemon defaults is the client's first choice (no post-quantum method without liboqs)",
  TIMEOUT,
  (clients) =>
    withServer(clients, false, async ({ py, kex }) => {
      const r = await py(`
async def main():
    async with connect('password', password=cfg['password']) as conn:
        first = [a for a in asyncssh.kex.get_default_kex_algs() if not a.startswith(b'gss-')][0]
        return {'run': result(await conn.run('echo kex')), 'first': first.decode()}`);
      assert.deepEqual(r.run, { stdout: 'kex\n', stderr: '', status: 0 });
      // AsyncSSH's ML-KEM needs liboqs, which Debian does not ship: curve25519 comes first.
      assert.equal(r.first, 'curve25519-sha256', "the client's first choice (GSS methods aside)");
      assert.deepEqual(kex, [r.first], 'the daemon negotiated it');
    }),
);

testEachSet('asyncssh: a foreign key is refused', TIMEOUT, (clients) =>
  withServer(clients, false, async ({ py, auths, server }) => {
    const foreign = makeUserKey('ed25519');
    const r = await py(
      `
async def main():
    key = asyncssh.read_private_key(cfg['key'])
    async with connect('publickey', client_keys=[key]) as conn:
        return {'denied': None}`,
      { key: foreign.privateKeyPath },
    );
    assert.equal(r.denied, 'PermissionDenied', r.reason);
    assertForeignKeyRefused({ server, auths }, foreign);
  }),
);

testEachSet('asyncssh: keyboard-interactive, right answers succeed and wrong answers fail (async handlers)', TIMEOUT, (clients) =>
  withServer(clients, true, async ({ py, auths }) => {
    const kbd = `
class Client(asyncssh.SSHClient):
    challenges = []
    def kbdint_auth_requested(self):
        return ''
    def kbdint_challenge_received(self, name, instructions, lang, prompts):
        Client.challenges.append([p for p, echo in prompts])
        return cfg['answers']
async def main():
    async with connect('keyboard-interactive', kbdint_auth=True, client_factory=Client) as conn:
        return {'run': result(await conn.run('echo kbd')), 'challenges': Client.challenges}`;
    const right = await py(kbd, { answers: KBD_ANSWERS });
    assert.deepEqual(right, { run: { stdout: 'kbd\n', stderr: '', status: 0 }, challenges: [['First: ', 'Second: ']] });
    assert.deepEqual(acceptedMethods(auths), ['keyboard-interactive-1', 'keyboard-interactive-2', 'keyboard-interactive']);

    auths.length = 0;
    const wrong = await py(kbd, { answers: [KBD_ANSWERS[0], 'wrong'] });
    assert.equal(wrong.denied, 'PermissionDenied', wrong.reason);
    assert.ok(auths.some((a) => a.authMethod === 'keyboard-interactive-2' && a.authParam === 'wrong' && !a.accept));
    assert.ok(!auths.some((a) => a.authMethod === 'keyboard-interactive' && a.accept));
  }),
);

testEachSet('asyncssh: 16 MiB upload through sha256 and 32 MiB download from bytes (async handlers)', TIMEOUT, (clients) =>
  withServer(clients, true, async ({ py }) => {
    const up = randomBytes(16 * 1024 * 1024);
    const n = 32 * 1024 * 1024;
    const r = await py(
      `
async def main():
    data = sys.stdin.buffer.read()
    async with connect('password', password=cfg['password']) as conn:
        up = result(await conn.run('sha256', input=data, encoding=None))
        down = await conn.run('bytes %d' % cfg['n'], encoding=None)
        return {'up': up, 'downLength': len(down.stdout), 'downSha256': hashlib.sha256(down.stdout).hexdigest(), 'downStatus': down.exit_status}`,
      { n },
      up,
    );
    assert.deepEqual(r.up, { stdout: sha256Hex(up) + '\n', stderr: '', status: 0 });
    assert.equal(r.downLength, n);
    assert.equal(r.downSha256, sha256Hex(patternBytes(n)));
    assert.equal(r.downStatus, 0);
  }),
);

testEachSet('asyncssh: pty shell (term_type, term_size) greets, echoes a line and exits 0 (async handlers)', TIMEOUT, (clients) =>
  withServer(clients, true, async ({ py, server }) => {
    const requests: SSHChannelRequestEventArgs[] = [];
    server.daemon.on('SSHChannelRequest', (e) => void requests.push(e));
    const r = await py(`
async def main():
    async with connect('password', password=cfg['password']) as conn:
        proc = await conn.create_process(term_type='xterm-256color', term_size=(100, 40), request_pty='force', encoding=None)
        out = await asyncio.wait_for(proc.stdout.readuntil(b'welcome\\r\\n'), 10)
        proc.stdin.write(b'hello shell\\n')
        out += await asyncio.wait_for(proc.stdout.readuntil(b'> hello shell\\r\\n'), 10)
        proc.stdin.write(b'exit\\n')
        await asyncio.wait_for(proc.wait_closed(), 10)
        return {'out': out.decode(), 'status': proc.exit_status}`);
    assert.deepEqual(r, { out: 'welcome\r\n> hello shell\r\n', status: 0 });
    assert.deepEqual(
      requests.map((q) => q.requestType),
      ['pty-req', 'shell'],
    );
    const pty = requestParamsOf(requests[0], 'pty-req');
    assert.ok(pty, 'pty-req reached SSHChannelRequest');
    assert.equal(pty.term, 'xterm-256color');
    assert.deepEqual([pty.cols, pty.rows], [100, 40]);
  }),
);

testEachSet('asyncssh: 20 channels open at once on one connection, each a cat echoing its own data (async handlers)', TIMEOUT, (clients) =>
  withServer(clients, true, async ({ py, server }) => {
    server.daemon.config('MaxSessionsPerConnection=32'); // the default (10) is OpenSSH's MaxSessions
    let peak = 0;
    server.daemon.on('SSHChannelOpened', () => void (peak = Math.max(peak, server.daemon.sshChannels.size)));
    const r = await py(`
async def main():
    async with connect('password', password=cfg['password']) as conn:
        procs = await asyncio.gather(*[conn.create_process('cat') for n in range(20)])
        for n, p in enumerate(procs):
            p.stdin.write('channel-%d\\n' % n)
            p.stdin.write_eof()
        outs = await asyncio.gather(*[p.stdout.read() for p in procs])
        await asyncio.gather(*[p.wait_closed() for p in procs])
        return {'outs': outs, 'status': [p.exit_status for p in procs]}`);
    assert.deepEqual(
      r.outs,
      Array.from({ length: 20 }, (_, n) => `channel-${n}\n`),
    );
    assert.deepEqual(r.status, Array(20).fill(0));
    assert.equal(server.events.filter((e) => e.name === 'Connected').length, 1);
    assert.equal(server.events.filter((e) => e.name === 'SSHChannelOpened').length, 20);
    assert.equal(peak, 20, 'all 20 channels were open at the same time');
  }),
);
