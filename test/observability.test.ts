/** diagnostics_channel messages, the Log adapter with real pino and console, and the Prometheus sample. */
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { rmSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { after, test } from 'node:test';
import pino from 'pino';
import { attachLogger, DIAGNOSTICS_CHANNELS } from '../src';
import { withBareDaemon } from './fixtures/bareDaemon';
import { opensshArgs, requireBinary, run } from './fixtures/clients';
import { startSample, tempDir } from './fixtures/samples';
import { connect, exec } from './helpers-ssh2';
import { CAPTURED, withRawClient } from './fixtures/rawAuth';
import { encodeString } from '../src/packet/wire';

const TIMEOUT = { timeout: 60_000 };
const DIR = tempDir('metrics');
after(() => rmSync(DIR, { recursive: true, force: true }));

test('diagnostics channels carry connection, auth, channel, rekey, refusal and error messages', TIMEOUT, () =>
  withBareDaemon(async ({ daemon, port }) => {
    const seen: string[] = [];
    const handlers = Object.fromEntries(
      Object.entries(DIAGNOSTICS_CHANNELS).map(([kind, name]) => {
        const h = (m: unknown) => {
          const x = m as Record<string, unknown>;
          seen.push(
            `${kind}:${x.event ?? x.outcome ?? x.reason ?? (x.initial === undefined ? x.errorCode : x.initial ? 'initial' : 'again')}`,
          );
        };
        subscribe(name, h);
        return [name, h];
      }),
    );
    try {
      daemon.on('SSHUserAuthRequest', (e) => void (e.accept = e.authParam === 'pw'));
      daemon.on('SSHChannelOpenRequest', (e) => void (e.accept = true));
      daemon.on('SSHChannelRequest', (e) => void (e.success = true));
      daemon.on('SSHChannelRequested', (e) => void daemon.sendExitStatus(e.channelId, 0).then(() => daemon.closeChannel(e.channelId)));
      await assert.rejects(connect(port, { password: 'no' }));
      const c = await connect(port, { password: 'pw' });
      await exec(c, 'x');
      c.end();
      await once(c, 'close');
      daemon.config('DeniedClients=127.0.0.1');
      const s = tcpConnect(port, '127.0.0.1');
      s.on('error', () => undefined);
      await once(s, 'close');
      await new Promise((r) => setTimeout(r, 100));
    } finally {
      for (const [name, h] of Object.entries(handlers)) unsubscribe(name, h);
    }
    for (const expected of [
      'connection:open',
      'auth:refused',
      'auth:accepted',
      'rekey:initial',
      'channel:open',
      'channel:close',
      'connection:close',
      'refusal:DeniedClients',
    ]) {
      assert.ok(seen.includes(expected), `${expected} in ${seen.join(' ')}`);
    }
  }),
);

test('attachLogger: pino gets JSON with connectionId and level; console gets lines; detaching stops it', TIMEOUT, () =>
  withBareDaemon(async ({ daemon, port }) => {
    let json = '';
    const sink = new Writable({ write: (chunk, _enc, done) => ((json += chunk.toString()), done()) });
    const detachPino = attachLogger(daemon, pino({ level: 'debug' }, sink));
    const lines: string[] = [];
    const detachConsole = attachLogger(daemon, { log: (l: string) => lines.push(l), error: (l: string) => lines.push(`ERR ${l}`) });
    daemon.config('LogLevel=2');
    await assert.rejects(connect(port, { password: 'x' }));
    await new Promise((r) => setTimeout(r, 100));
    detachPino();
    detachConsole();
    const records = json
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { level: number; msg: string; connectionId?: string; logLevel?: number });
    const conn = records.find((r) => /connection from 127\.0\.0\.1/.test(r.msg));
    assert.ok(conn, json);
    assert.equal(conn.level, 30, 'Log level 1 is pino info');
    assert.match(conn.connectionId ?? '', /^\d+$/);
    assert.ok(
      lines.some((l) => /^\[\d+\] connection from 127\.0\.0\.1/.test(l)),
      lines.join('\n'),
    );
    const before = lines.length;
    await assert.rejects(connect(port, { password: 'x' }));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(lines.length, before, 'nothing after detaching');
  }),
);

test('metrics sample: Prometheus counters for connections, auth outcomes, bytes and refusals', TIMEOUT, async () => {
  const server = await startSample('metrics/server.ts', DIR, ['--metrics-port', '0', '--user', 'mo:pw', '--deny', '127.0.0.3']);
  try {
    const metricsUrl = /metrics on (http:\/\/\S+)/.exec(server.output())![1];
    const ssh = (password: string) =>
      run(
        requireBinary('sshpass'),
        [
          '-p',
          password,
          requireBinary('ssh'),
          ...opensshArgs(server.port),
          '-o',
          'PreferredAuthentications=password',
          '-o',
          'NumberOfPasswordPrompts=1',
          'mo@127.0.0.1',
          'x',
        ],
        { timeoutMs: 20_000 },
      );
    assert.equal((await ssh('pw')).stdout.toString(), 'counted\n');
    await ssh('wrong');
    const denied = tcpConnect({ port: server.port, host: '127.0.0.1', localAddress: '127.0.0.3' });
    denied.on('error', () => undefined);
    await once(denied, 'close');
    await new Promise((r) => setTimeout(r, 300));
    const text = (await run(requireBinary('curl'), ['-s', metricsUrl])).stdout.toString();
    assert.match(text, /^sshdaemon_connections_total 2$/m, text);
    assert.match(text, /^sshdaemon_connections_open 0$/m);
    assert.match(text, /^sshdaemon_auth_total\{method="password",outcome="accepted"\} 1$/m);
    assert.match(text, /^sshdaemon_auth_total\{method="password",outcome="refused"\} [1-9]/m);
    assert.match(text, /^sshdaemon_refusals_total\{reason="DeniedClients"\} 1$/m);
    assert.match(text, /^sshdaemon_bytes_total\{direction="out"\} [1-9]\d+/m);
  } finally {
    await server.stop();
  }
});

test(
  'auth messages name a method the client made up as `other`: a metric labelled by method cannot be grown by unauthenticated clients',
  TIMEOUT,
  () =>
    withBareDaemon(async ({ port }) => {
      const methods: string[] = [];
      const h = (m: unknown) => void methods.push((m as { method: string }).method);
      subscribe(DIAGNOSTICS_CHANNELS.auth, h);
      try {
        await withRawClient(port, async (c) => {
          for (const made of ['x'.repeat(2000), 'gssapi-with-mic', 'password']) {
            const base = Buffer.concat([Buffer.from([50]), encodeString('u'), encodeString('ssh-connection'), encodeString(made)]);
            c.send(made === 'password' ? Buffer.concat([base, Buffer.from([0]), encodeString('wrong')]) : base);
            const reply = await c.next(10_000);
            assert.equal(reply?.type, CAPTURED.USERAUTH_FAILURE);
          }
        });
      } finally {
        unsubscribe(DIAGNOSTICS_CHANNELS.auth, h);
      }
      assert.deepEqual(methods, ['other', 'other', 'password']);
    }),
);
