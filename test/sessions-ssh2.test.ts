import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Client } from 'ssh2';
import { ErrorCodes } from '../src';
import { connect, exec, utils } from './helpers-ssh2';
import { KBD_ANSWERS, PASSWORD, registryDrained, startTestServer, type TestServer } from './fixtures/testServer';

let server: TestServer;
before(async () => (server = await startTestServer({ asyncHandlers: true })));
after(() => server.close());

test('password login, exec with output, stderr and exit codes (async handlers)', async () => {
  const c = await connect(server.port, { password: PASSWORD });
  assert.deepEqual(await exec(c, 'echo hello'), { code: 0, stdout: 'hello\n', stderr: '' });
  assert.equal((await exec(c, 'exit 42')).code, 42);
  assert.equal((await exec(c, 'stderr oops')).stderr, 'oops\n');
  c.end();
});

test('EOF right after exec still gets an answer from an async handler', async () => {
  const c = await connect(server.port, { password: PASSWORD });
  const r = await exec(c, 'sha256', '');
  assert.equal(r.code, 0);
  assert.equal(r.stdout.trim(), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  c.end();
});

test('wrong password is refused', async () => {
  await assert.rejects(connect(server.port, { password: 'nope' }), /authentication methods failed/);
});

test('publickey: the right key logs in; a key signed by another key is refused', async () => {
  const good = await connect(server.port, { privateKey: server.userKey.privateKeyText });
  assert.equal((await exec(good, 'echo k')).stdout, 'k\n');
  good.end();
  const authorised = utils.parseKey(server.userKey.privateKeyText) as ReturnType<typeof utils.parseKey> & { sign: (d: Buffer) => Buffer };
  const other = utils.generateKeyPairSync('ed25519');
  const forger = utils.parseKey(other.private) as typeof authorised;
  const forged = Object.assign(Object.create(Object.getPrototypeOf(authorised)), authorised, {
    sign: (d: Buffer, a?: string) => (forger.sign as (d: Buffer, a?: string) => Buffer)(d, a),
  });
  const errorsBefore = server.events.filter((e) => e.name === 'Error' && e.args.errorCode === ErrorCodes.SignatureInvalid).length;
  await assert.rejects(
    connect(server.port, { authHandler: [{ type: 'publickey', username: 'tester', key: forged } as never] }),
    /authentication methods failed/,
  );
  const errorsAfter = server.events.filter((e) => e.name === 'Error' && e.args.errorCode === ErrorCodes.SignatureInvalid).length;
  assert.equal(errorsAfter, errorsBefore + 1, 'the forged signature is reported');
});

test('keyboard-interactive fires once per answer, then once more; all must accept', async () => {
  const client = (answers: string[]) =>
    new Promise<boolean>((resolve) => {
      const c = new Client();
      c.on('keyboard-interactive', (_n, _i, _l, prompts, finish) => finish(prompts.map((_, i) => answers[i] ?? '')));
      c.on('ready', () => (c.end(), resolve(true))).on('error', () => resolve(false));
      c.connect({
        host: '127.0.0.1',
        port: server.port,
        username: 'tester',
        tryKeyboard: true,
        authHandler: ['keyboard-interactive'] as never,
      });
    });
  const start = server.events.length;
  assert.equal(await client(KBD_ANSWERS), true);
  const methods = server.events
    .slice(start)
    .filter((e) => e.name === 'SSHUserAuthRequest')
    .map((e) => e.args.authMethod);
  assert.deepEqual(methods, ['keyboard-interactive-1', 'keyboard-interactive-2', 'keyboard-interactive']);
  assert.equal(await client([KBD_ANSWERS[0], 'wrong']), false);
});

test('20 concurrent channels on one connection', async () => {
  server.daemon.config('MaxSessionsPerConnection=32');
  const c = await connect(server.port, { password: PASSWORD });
  const results = await Promise.all(Array.from({ length: 20 }, (_, i) => exec(c, `echo ch${i}`)));
  results.forEach((r, i) => assert.equal(r.stdout, `ch${i}\n`));
  c.end();
});

test('churn: hundreds of connections and channels leave both registry maps empty', async () => {
  for (let round = 0; round < 10; round++) {
    await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const c = await connect(server.port, { password: PASSWORD });
        await Promise.all([exec(c, 'echo a'), exec(c, 'echo b')]);
        if (i % 3 === 0)
          (c as unknown as { _sock: { destroy(): void } })._sock.destroy(); // client killed
        else if (i % 3 === 1) {
          const port = (c as unknown as { _sock: { localPort: number } })._sock.localPort;
          const own = [...server.daemon.sshConnections.values()].find((x) => x.remotePort === port)!;
          await server.daemon.disconnect(own.connectionId); // server disconnects
        } else c.end();
      }),
    );
  }
  await registryDrained(server.daemon);
  assert.equal(server.daemon.sshConnections.size, 0);
  assert.equal(server.daemon.sshChannels.size, 0);
});
