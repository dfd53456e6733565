/**
 * Client text in log lines, as the attack of issue 16 item 11: a user name holding a newline and
 * terminal escapes forged CLI log lines. Each path that carries client text into the daemon's log
 * (user name, identification line, SERVICE_REQUEST name, direct-tcpip host, tcpip-forward address,
 * DISCONNECT message) must come out escaped in `Log`, `Error`, `SSHStatus` and `Disconnected`,
 * through `attachLogger`, and on the `sshdaemon` command's output. OpenSSH escapes its log
 * messages with strnvis(3) (log.c).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Client, type ConnectConfig } from 'ssh2';
import { attachLogger, escapeLogText, type SSHDaemon } from '../src';
import { withBareDaemon } from './fixtures/bareDaemon';
import { sendClientPayload } from './fixtures/net';
import { startListening } from './fixtures/processes';
import { connect, exec } from './helpers-ssh2';
import { encodeString, encodeUint32 } from '../src/packet/wire';

const TIMEOUT = { timeout: 90_000 };
/** A line break, a forged log line, a terminal title change, a clear-line and a right-to-left override. */
const EVIL = "evil\n[1] user 'root' authenticated\x1b]0;owned\x07\x1b[2K\u202e";
const ESCAPED = escapeLogText(EVIL);
/** What must never appear raw in a log line. */
const RAW_CONTROL = /[\p{Cc}\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;

/** Every text the daemon meant for people, as its listeners received it. */
function recordTexts(daemon: SSHDaemon): string[] {
  const texts: string[] = [];
  daemon.config('LogLevel=3');
  daemon.on('Log', (e) => void texts.push(`Log: ${e.message}`));
  daemon.on('Error', (e) => void texts.push(`Error: ${e.description}`));
  daemon.on('SSHStatus', (e) => void texts.push(`SSHStatus: ${e.message}`));
  daemon.on('Disconnected', (e) => void texts.push(`Disconnected: ${e.description}`));
  return texts;
}

function assertEscaped(texts: string[], evidence: RegExp, what: string): void {
  const raw = texts.filter((t) => RAW_CONTROL.test(t));
  assert.deepEqual(raw, [], `${what}: texts with raw control characters`);
  assert.ok(
    texts.some((t) => evidence.test(t)),
    `${what}: no escaped text matching ${evidence} in\n${texts.join('\n')}`,
  );
}

const lit = (s: string) => new RegExp(s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));

/** Resolves when the client is gone, whatever the reason. */
function attempt(cfg: Partial<ConnectConfig>): Promise<string> {
  return new Promise((resolve) => {
    const c = new Client();
    c.on('ready', () => {
      c.end();
      resolve('ready');
    });
    c.on('error', (err) => resolve(err.message));
    c.connect({ host: '127.0.0.1', readyTimeout: 10_000, ...cfg });
  });
}

test('user names: the login line and the MaxAuthAttempts error are escaped, in events and through attachLogger', TIMEOUT, () =>
  withBareDaemon(async ({ daemon, port }) => {
    const texts = recordTexts(daemon);
    const lines: string[] = [];
    const structured: { fields: object; message: string }[] = [];
    attachLogger(daemon, { log: (l: string) => void lines.push(l), error: (l: string) => void lines.push(l) });
    attachLogger(daemon, {
      info: (fields, message) => void structured.push({ fields, message }),
      debug: (fields, message) => void structured.push({ fields, message }),
      error: (fields, message) => void structured.push({ fields, message }),
      child: () => undefined,
    });
    daemon.on('SSHUserAuthRequest', (e) => void (e.accept = e.authMethod === 'password' && e.authParam === 'pw'));
    daemon.on('SSHChannelOpenRequest', (e) => void (e.accept = e.service === 'session'));
    daemon.on('SSHChannelRequest', (e) => void (e.success = e.requestType === 'exec'));
    daemon.on(
      'SSHChannelRequested',
      (e) =>
        void daemon
          .sendChannelData(e.channelId, 'ok\n')
          .then(() => daemon.sendExitStatus(e.channelId, 0))
          .then(() => daemon.closeChannel(e.channelId)),
    );
    const c = await connect(port, { username: EVIL, password: 'pw' });
    assert.equal((await exec(c, 'x')).stdout, 'ok\n', 'the user logged in: names are not refused, only escaped');
    c.end();
    daemon.config('MaxAuthAttempts=1');
    assert.notEqual(await attempt({ port, username: EVIL, password: 'wrong' }), 'ready');
    await new Promise<void>((resolve) => (daemon.sshConnections.size === 0 ? resolve() : daemon.once('Disconnected', () => resolve())));
    assertEscaped(texts, lit(`Log: user '${ESCAPED}' authenticated`), 'login line');
    assertEscaped(texts, lit(`Error: Too many authentication failures for '${ESCAPED}'`), 'MaxAuthAttempts error');
    assert.ok(
      lines.every((l) => !RAW_CONTROL.test(l)) && lines.some((l) => l.includes(`user '${ESCAPED}' authenticated`)),
      lines.join('\n'),
    );
    assert.ok(structured.every((s) => !RAW_CONTROL.test(s.message)) && structured.some((s) => s.message.includes(ESCAPED)));
  }),
);

test('identification line, SERVICE_REQUEST name and DISCONNECT message are escaped', TIMEOUT, () =>
  withBareDaemon(async ({ daemon, port }) => {
    const texts = recordTexts(daemon);
    daemon.config('SSHVersionPattern=*OpenSSH*');
    const ident = 'evil\x1b[31mred\x1b[0m';
    assert.notEqual(await attempt({ port, username: 'u', password: 'x', ident }), 'ready');
    assertEscaped(
      texts,
      lit(`Log: client version 'SSH-2.0-${escapeLogText(ident)}' does not match SSHVersionPattern`),
      'identification line',
    );
    assertEscaped(texts, lit(`SSHStatus: Client identification: SSH-2.0-${escapeLogText(ident)}`), 'identification status');
    daemon.config('SSHVersionPattern=*SSH-2.0-*');

    // A second SERVICE_REQUEST, hand-made, naming a service the daemon refuses.
    daemon.on('SSHUserAuthRequest', (e) => void (e.accept = e.authMethod === 'password'));
    daemon.on('SSHServiceRequest', (e) => void (e.accept = e.service === 'ssh-userauth' || e.service === 'ssh-connection'));
    const c = await connect(port, { password: 'pw' });
    const gone = new Promise<void>((resolve) => c.on('close', () => resolve()));
    c.on('error', () => undefined);
    sendClientPayload(c, Buffer.concat([Buffer.from([5]), encodeString(EVIL)]));
    await gone;
    assertEscaped(texts, lit(`Log: Service '${ESCAPED}' refused`), 'service name');

    // DISCONNECT (reason 2, protocol error) with a hostile description.
    const d = await connect(port, { password: 'pw' });
    d.on('error', () => undefined);
    const closed = new Promise((resolve) => daemon.once('Disconnected', resolve));
    sendClientPayload(d, Buffer.concat([Buffer.from([1]), encodeUint32(2), encodeString(EVIL), encodeString('')]));
    await closed;
    assertEscaped(texts, lit(`Error: ${ESCAPED}`), 'DISCONNECT message in Error');
    assertEscaped(texts, lit(`Disconnected: ${ESCAPED}`), 'DISCONNECT message in Disconnected');
    assertEscaped(texts, lit(`Log: disconnected: ${ESCAPED}`), 'DISCONNECT message in the log line');
  }),
);

test('channel requests: a hand-made request type and an exec command in the engine trace (LogLevel 3) are escaped', TIMEOUT, () =>
  withBareDaemon(async ({ daemon, port }) => {
    const texts = recordTexts(daemon);
    daemon.on('SSHUserAuthRequest', (e) => void (e.accept = e.authMethod === 'password'));
    daemon.on('SSHChannelOpenRequest', (e) => void (e.accept = e.service === 'session'));
    daemon.on('SSHChannelRequest', (e) => void (e.success = e.requestType === 'shell'));
    const seen = new Promise<void>((resolve) =>
      daemon.on('SSHChannelRequest', (e) => {
        if (e.requestType === 'exec') resolve();
      }),
    );
    const c = await connect(port, { password: 'pw' });
    try {
      const channel = await new Promise<number>((resolve, reject) =>
        c.shell(false, (err, stream) => (err ? reject(err) : resolve((stream as unknown as { outgoing: { id: number } }).outgoing.id))),
      );
      sendClientPayload(c, Buffer.concat([Buffer.from([98]), encodeUint32(channel), encodeString(EVIL), Buffer.from([0])]));
      sendClientPayload(
        c,
        Buffer.concat([Buffer.from([98]), encodeUint32(channel), encodeString('exec'), Buffer.from([0]), encodeString(EVIL)]),
      );
      await seen;
      assertEscaped(texts, lit(`CHANNEL_REQUEST (r:0, ${ESCAPED})`), 'request type');
      assertEscaped(texts, lit(`CHANNEL_REQUEST (r:0, exec: ${ESCAPED})`), 'exec command');
    } finally {
      c.end();
    }
  }),
);

test('forwarding: the direct-tcpip host and the tcpip-forward address are escaped', TIMEOUT, () =>
  withBareDaemon(async ({ daemon, port }) => {
    const texts = recordTexts(daemon);
    daemon.on('SSHUserAuthRequest', (e) => void (e.accept = e.authMethod === 'password'));
    daemon.enableForwarding({ gatewayPorts: true });
    const c = await connect(port, { password: 'pw' });
    try {
      const open = await new Promise<string>((resolve) =>
        c.forwardOut('127.0.0.1', 1, EVIL, 80, (err) => resolve(err ? err.message : 'opened')),
      );
      assert.match(open, /cannot connect/);
      assertEscaped(texts, lit(`Log: channel open failed: cannot connect to ${ESCAPED}:80`), 'direct-tcpip host');
      const bound = await new Promise<string>((resolve) => c.forwardIn(EVIL, 0, (err) => resolve(err ? err.message : 'bound')));
      assert.notEqual(bound, 'bound');
      assertEscaped(texts, lit(`Log: remote forward ${ESCAPED}:0 failed`), 'tcpip-forward address');
    } finally {
      c.end();
    }
  }),
);

test('the sshdaemon command: a user name cannot forge a line or reach the terminal', TIMEOUT, async () => {
  const main = join(__dirname, '..', 'src', 'cli', 'main.ts');
  const data = mkdtempSync(join(tmpdir(), 'log-escaping-'));
  const server = await startListening([
    '--import',
    'tsx',
    main,
    '--port',
    '0',
    '--data',
    data,
    '--user',
    `${EVIL}:pw`,
    '--user',
    'plain:pw',
    '--config',
    'MaxAuthAttempts=1',
  ]);
  try {
    const c = await connect(server.port, { username: EVIL, password: 'pw' });
    c.end();
    assert.notEqual(await attempt({ port: server.port, username: EVIL, password: 'wrong' }), 'ready');
    const end = Date.now() + 20_000;
    while (!server.output().includes('Too many authentication failures') && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  } finally {
    await server.stop();
    rmSync(data, { recursive: true, force: true });
  }
  const out = server.output();
  assert.doesNotMatch(out, /\x1b/, 'no escape sequence reaches the terminal');
  const lines = out.split('\n').filter(Boolean);
  assert.ok(!lines.some((l) => l.startsWith("[1] user 'root' authenticated")), `a forged line:\n${out}`);
  assert.ok(
    lines.some((l) => /^\[\d+\] user 'evil\\n\[1\] user 'root' authenticated\\x1b\]0;owned\\x07\\x1b\[2K\\u202e' authenticated$/.test(l)),
    out,
  );
  assert.ok(
    lines.some((l) => /^\[\d+\] error 1010: Too many authentication failures for 'evil\\n/.test(l)),
    out,
  );
});
