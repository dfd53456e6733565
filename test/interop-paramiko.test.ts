/**
 * Interoperability with Paramiko (Debian: python3-paramiko), driven through /usr/bin/python3 -c, every
 * case against both client sets (test/fixtures/clientSets.ts): paramiko 2.12 and 3.5.
 * Each snippet gets its settings as JSON in argv[1] and prints one JSON line as its result.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { requestParamsOf } from '../src';
import { type ClientSet, testEachSet } from './fixtures/clientSets';
import { acceptedMethods, assertRsaLoginWithSha2, runPythonJson, type ServerScope, withTestServer } from './fixtures/interop';
import { KBD_ANSWERS, PASSWORD, USER, makeUserKey, patternBytes, sha256Hex, type TestServerOptions } from './fixtures/testServer';

const TIMEOUT = { timeout: 60_000 };

/** Shared by every snippet: settings, a host-key-checking client, and the JSON result line. */
const PRELUDE = `
import base64, hashlib, json, sys, paramiko
cfg = json.loads(sys.argv[1])
def client(**auth):
    c = paramiko.SSHClient()
    c.set_missing_host_key_policy(paramiko.RejectPolicy())
    c.get_host_keys().add('[127.0.0.1]:%d' % cfg['port'], 'ssh-ed25519', paramiko.Ed25519Key(data=base64.b64decode(cfg['hostKey'])))
    c.connect('127.0.0.1', cfg['port'], cfg['user'], look_for_keys=False, allow_agent=False, timeout=10, **auth)
    return c
def run(c, command, data=None):
    i, o, e = c.exec_command(command)
    if data is not None:
        i.write(data)
    i.channel.shutdown_write()
    out = o.read()
    return {'stdout': out.decode('latin-1'), 'stderr': e.read().decode(), 'status': o.channel.recv_exit_status()}
def done(result):
    print(json.dumps(result))
`;

interface Harness extends ServerScope {
  /** Runs PRELUDE + code; returns the parsed last stdout line. */
  py(code: string, extra?: Record<string, unknown>, input?: Buffer): Promise<any>;
}

async function withServer(clients: ClientSet, options: boolean | TestServerOptions, body: (h: Harness) => Promise<void>): Promise<void> {
  await clients.requirePythonModule('paramiko');
  await withTestServer(typeof options === 'boolean' ? { asyncHandlers: options } : options, (scope) => {
    const { server } = scope;
    const cfg = {
      port: server.port,
      user: USER,
      password: PASSWORD,
      hostKey: server.hostKey.publicKeyOpenSSH.split(' ')[1],
      key: server.userKey.privateKeyPath,
    };
    const py = (code: string, extra: Record<string, unknown> = {}, input?: Buffer) =>
      runPythonJson(PRELUDE + code, { ...cfg, ...extra }, input, clients);
    return body({ ...scope, py });
  });
}

testEachSet('paramiko: password exec with stdout, stderr and exit status', TIMEOUT, (clients) =>
  withServer(clients, false, async ({ py, auths }) => {
    const r = await py(`
c = client(password=cfg['password'])
done([run(c, 'echo hi'), run(c, 'exit 7'), run(c, 'stderr oops')])
c.close()`);
    assert.deepEqual(r, [
      { stdout: 'hi\n', stderr: '', status: 0 },
      { stdout: '', stderr: '', status: 7 },
      { stdout: '', stderr: 'oops\n', status: 0 },
    ]);
    assert.deepEqual(acceptedMethods(auths), ['password']);
  }),
);

testEachSet('paramiko: publickey with the ed25519 key; an unknown key is refused', TIMEOUT, (clients) =>
  withServer(clients, false, async ({ py, auths, server }) => {
    const good = await py(`
c = client(pkey=paramiko.Ed25519Key.from_private_key_file(cfg['key']))
done(run(c, 'echo key'))
c.close()`);
    assert.deepEqual(good, { stdout: 'key\n', stderr: '', status: 0 });
    assert.deepEqual([...new Set(acceptedMethods(auths))], ['publickey']);

    const stranger = makeUserKey('ed25519');
    auths.length = 0;
    const bad = await py(
      `
t = paramiko.Transport(('127.0.0.1', cfg['port']))
t.start_client(timeout=10)
try:
    t.auth_publickey(cfg['user'], paramiko.Ed25519Key.from_private_key_file(cfg['key']))
    done({'refused': False})
except paramiko.AuthenticationException as e:
    done({'refused': True, 'error': str(e)})
finally:
    t.close()`,
      { key: stranger.privateKeyPath },
    );
    assert.equal(bad.refused, true, bad.error);
    assert.ok(
      auths.some((a) => a.authMethod === 'publickey' && a.authParam === stranger.blobBase64),
      'the daemon saw the unknown key',
    );
    assert.ok(auths.every((a) => a.authParam !== server.userKey.blobBase64));
    assert.deepEqual(acceptedMethods(auths), []);
  }),
);

testEachSet('paramiko: publickey with an RSA key signs with rsa-sha2, never SHA-1 ssh-rsa', TIMEOUT, (clients) =>
  withServer(clients, { userKeyKind: 'rsa' }, async (scope) => {
    const r = await scope.py(`
c = client(pkey=paramiko.RSAKey.from_private_key_file(cfg['key']))
done(run(c, 'echo rsa'))
c.close()`);
    assert.deepEqual(r, { stdout: 'rsa\n', stderr: '', status: 0 });
    assertRsaLoginWithSha2(scope);
  }),
);

testEachSet(
  "paramiko: key exchange with the daemon defaults is the client's first choice (no post-quantum method in paramiko)",
  TIMEOUT,
  (clients) =>
    withServer(clients, false, async ({ py, kex }) => {
      const r = await py(`
c = client(password=cfg['password'])
t = c.get_transport()
done({'run': run(c, 'echo kex'), 'preferred': t.preferred_kex[0]})
c.close()`);
      assert.deepEqual(r.run, { stdout: 'kex\n', stderr: '', status: 0 });
      assert.equal(r.preferred, 'curve25519-sha256@libssh.org', 'paramiko 2.12 and 3.5 put curve25519 first');
      assert.deepEqual(kex, [r.preferred], "the daemon negotiated the client's first choice");
    }),
);

testEachSet('paramiko: keyboard-interactive, right answers succeed and wrong answers fail (async handlers)', TIMEOUT, (clients) =>
  withServer(clients, true, async ({ py, auths }) => {
    const kbd = `
t = paramiko.Transport(('127.0.0.1', cfg['port']))
t.start_client(timeout=10)
prompts = []
def handler(title, instructions, ps):
    prompts.append([p for p, echo in ps])
    return cfg['answers']
try:
    t.auth_interactive(cfg['user'], handler)
    done({'ok': t.is_authenticated(), 'prompts': prompts})
except paramiko.AuthenticationException as e:
    done({'ok': False, 'prompts': prompts, 'error': str(e)})
finally:
    t.close()`;
    const right = await py(kbd, { answers: KBD_ANSWERS });
    assert.deepEqual(right, { ok: true, prompts: [['First: ', 'Second: ']] });
    assert.deepEqual(acceptedMethods(auths), ['keyboard-interactive-1', 'keyboard-interactive-2', 'keyboard-interactive']);

    auths.length = 0;
    const wrong = await py(kbd, { answers: [KBD_ANSWERS[0], 'wrong'] });
    assert.equal(wrong.ok, false);
    assert.deepEqual(wrong.prompts, [['First: ', 'Second: ']]);
    assert.ok(auths.some((a) => a.authMethod === 'keyboard-interactive-2' && a.authParam === 'wrong' && !a.accept));
    assert.ok(!auths.some((a) => a.authMethod === 'keyboard-interactive' && a.accept));
  }),
);

testEachSet(
  'paramiko auth_interactive (no none probe): zero prompts are refused; SSHUserAuthPrompt sets each round (password, then a code)',
  TIMEOUT,
  (clients) =>
    withServer(clients, false, async ({ py, auths, server }) => {
      const { daemon } = server;
      const kbd = `
t = paramiko.Transport(('127.0.0.1', cfg['port']))
t.start_client(timeout=10)
prompts = []
def handler(title, instructions, ps):
    prompts.append([p for p, echo in ps])
    return [cfg['answers'].get(p, '') for p, echo in ps]
try:
    t.auth_interactive(cfg['user'], handler)
    done({'ok': t.is_authenticated(), 'prompts': prompts})
except paramiko.AuthenticationException as e:
    done({'ok': False, 'prompts': prompts, 'error': str(e)})
finally:
    t.close()`;
      // Nothing chose prompts (the property's default, no per-connection setting, no handler): refused
      // before any INFO_REQUEST, although the test server's handler accepts the final event.
      daemon.keyboardInteractivePrompts = [];
      const empty = await py(kbd, { answers: {} });
      assert.deepEqual(empty, { ok: false, prompts: [], error: empty.error });
      assert.deepEqual(acceptedMethods(auths), []);

      const round = new Map<string, number>();
      daemon.on('SSHUserAuthPrompt', (e) => {
        round.set(e.connectionId, e.round);
        if (e.round === 1)
          e.prompts = [
            { prompt: 'First: ', echo: true },
            { prompt: 'Second: ', echo: false },
          ];
        if (e.round === 2) e.prompts = [{ prompt: 'Code: ', echo: true }];
      });
      // Decides the code after the test server's own (asynchronous) handler has written its answer check.
      daemon.on('SSHUserAuthRequest', async (e) => {
        if (round.get(e.connectionId) !== 2 || e.authMethod !== 'keyboard-interactive-1') return;
        await new Promise((r) => setImmediate(r));
        e.accept = e.authParam === '123456';
      });
      const answers = { 'First: ': KBD_ANSWERS[0], 'Second: ': KBD_ANSWERS[1], 'Code: ': '123456' };
      const right = await py(kbd, { answers });
      assert.deepEqual(right, { ok: true, prompts: [['First: ', 'Second: '], ['Code: ']] });
      const wrong = await py(kbd, { answers: { ...answers, 'Second: ': 'wrong' } });
      assert.equal(wrong.ok, false);
      assert.deepEqual(wrong.prompts, [['First: ', 'Second: ']]);
      const wrongCode = await py(kbd, { answers: { ...answers, 'Code: ': '000000' } });
      assert.equal(wrongCode.ok, false);
      assert.deepEqual(wrongCode.prompts, [['First: ', 'Second: '], ['Code: ']]);
      assert.equal(server.events.filter((e) => e.name === 'SSHChannelOpened').length, 0);
    }),
);

testEachSet('paramiko: 20 channels open at once on one connection (async handlers)', TIMEOUT, (clients) =>
  withServer(clients, true, async ({ py, server }) => {
    server.daemon.config('MaxSessionsPerConnection=20'); // the default (10, as OpenSSH MaxSessions) is too few
    const r = await py(`
c = client(password=cfg['password'])
chans = [c.get_transport().open_session() for n in range(20)]
for n, ch in enumerate(chans):
    ch.exec_command('echo %d' % n)
outs = [ch.makefile('rb').read().decode() for ch in chans]
done({'outs': outs, 'status': [ch.recv_exit_status() for ch in chans]})
c.close()`);
    assert.deepEqual(
      r.outs,
      Array.from({ length: 20 }, (_, n) => `${n}\n`),
    );
    assert.deepEqual(r.status, Array(20).fill(0));
    assert.equal(server.events.filter((e) => e.name === 'SSHChannelOpened').length, 20);
  }),
);

testEachSet('paramiko: pty shell greets, echoes a line and exits', TIMEOUT, (clients) =>
  withServer(clients, false, async ({ py, server }) => {
    const requests: { requestType: string; term?: string }[] = [];
    server.daemon.on(
      'SSHChannelRequested',
      (e) => void requests.push({ requestType: e.requestType, term: requestParamsOf(e, 'pty-req')?.term }),
    );
    const r = await py(`
c = client(password=cfg['password'])
sh = c.invoke_shell()
sh.settimeout(10)
def until(text, buf=b''):
    while text not in buf:
        chunk = sh.recv(4096)
        if not chunk:
            break
        buf += chunk
    return buf
out = until(b'welcome')
sh.send(b'hello shell\\n')
out = until(b'> hello shell\\r\\n', out)
sh.send(b'exit\\n')
done({'out': out.decode(), 'status': sh.recv_exit_status()})
c.close()`);
    assert.equal(r.out, 'welcome\r\n> hello shell\r\n');
    assert.equal(r.status, 0);
    assert.deepEqual(
      requests.map((q) => q.requestType),
      ['pty-req', 'shell'],
    );
    assert.equal(requests[0].term, 'vt100');
  }),
);

testEachSet('paramiko: 16 MiB upload through sha256 and 32 MiB download from bytes', TIMEOUT, (clients) =>
  withServer(clients, false, async ({ py }) => {
    const up = randomBytes(16 * 1024 * 1024);
    const n = 32 * 1024 * 1024;
    const r = await py(
      `
c = client(password=cfg['password'])
up = run(c, 'sha256', sys.stdin.buffer.read())
i, o, e = c.exec_command('bytes %d' % cfg['n'])
down = o.read()
done({'up': up, 'downLength': len(down), 'downSha256': hashlib.sha256(down).hexdigest(), 'downStatus': o.channel.recv_exit_status()})
c.close()`,
      { n },
      up,
    );
    assert.deepEqual(r.up, { stdout: sha256Hex(up) + '\n', stderr: '', status: 0 });
    assert.equal(r.downLength, n);
    assert.equal(r.downSha256, sha256Hex(patternBytes(n)));
    assert.equal(r.downStatus, 0);
  }),
);
