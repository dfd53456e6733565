/**
 * The end of a session as real clients see it: output queued before closeChannel() and disconnect()
 * arrives whole with its exit status (OpenSSH's ssh, 20 runs); a client that stops reading cannot
 * hold disconnect() beyond DisconnectFlushTimeout; exit-signal as AsyncSSH decodes it; what
 * SSHChannel tells about the session (terminal, environment, user); the registry maps read without
 * copies; a client that resets the socket after the session ended is a normal close.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import type { ClientChannel } from 'ssh2';
import { ErrorCodes, type SSHDaemon } from '../src';
import { requirePythonModule, run } from './fixtures/clients';
import { withBareDaemon } from './fixtures/bareDaemon';
import { withKeyLogin } from './fixtures/keyLogin';
import { patternBytes, sha256Hex } from './fixtures/testServer';
import { connect } from './helpers-ssh2';
import { sleep, until } from './fixtures/wait';

const TIMEOUT = { timeout: 240_000 };
const MiB = 1024 * 1024;

function openDoors(daemon: SSHDaemon): void {
  daemon.on('SSHUserAuthRequest', (e) => void (e.accept = e.authParam === 'pw'));
  daemon.on('SSHChannelOpenRequest', (e) => void (e.accept = true));
  daemon.on('SSHChannelRequest', (e) => void (e.success = true));
}

test(
  'void sendChannelData(8 MiB); void sendExitStatus(4); await closeChannel(); await disconnect(): ssh gets all of it and exits 4, 20 runs',
  TIMEOUT,
  () =>
    withKeyLogin(async ({ daemon, ssh, errors }) => {
      daemon.on('SSHChannelRequest', (e) => {
        if (e.requestType === 'exec') e.success = true;
      });
      const data = patternBytes(8 * MiB);
      const closed: boolean[] = [];
      daemon.on('SSHChannelRequested', async (e) => {
        void daemon.sendChannelData(e.channelId, data);
        void daemon.sendExitStatus(e.channelId, 4);
        await daemon.closeChannel(e.channelId);
        // closeChannel() resolved: everything before it is with the transport.
        closed.push(daemon.sshChannels.get(e.channelId)?.bytesSent === data.length || !daemon.sshChannels.has(e.channelId));
        await daemon.disconnect(e.connectionId);
      });
      for (let i = 0; i < 20; i++) {
        const r = await ssh(['download']);
        assert.equal(r.code, 4, `run ${i}: ${r.stderr}`);
        assert.equal(r.stdout.length, data.length, `run ${i}`);
        assert.equal(sha256Hex(r.stdout), sha256Hex(data), `run ${i}`);
      }
      assert.deepEqual(closed, Array(20).fill(true));
      assert.deepEqual(errors, []);
    }),
);

test(
  'closeChannel() waits for a client that is not reading; disconnect() gives it DisconnectFlushTimeout, { immediate: true } nothing',
  TIMEOUT,
  () =>
    withBareDaemon(async ({ daemon, port }) => {
      openDoors(daemon);
      daemon.config('DisconnectFlushTimeout=2');
      const ids: { connectionId: string; channelId: string }[] = [];
      daemon.on('SSHChannelRequested', (e) => {
        ids.push(e);
        void daemon.sendChannelData(e.channelId, patternBytes(8 * MiB));
      });
      const open = async () => {
        const c = await connect(port, { password: 'pw' });
        c.on('error', () => undefined);
        const stream = await new Promise<ClientChannel>((resolve, reject) => c.exec('x', (err, s) => (err ? reject(err) : resolve(s))));
        stream.pause();
        await until('the request', () => ids.length > 0);
        return { c, stream, ...ids.pop()! };
      };

      // closeChannel() resolves only once the queued data (and CLOSE) are handed over.
      const first = await open();
      let closeResolved = false;
      const closing = daemon.closeChannel(first.channelId).then(() => (closeResolved = true));
      await sleep(300);
      assert.equal(closeResolved, false, 'closeChannel() waits while the client does not read');
      let received = 0;
      first.stream.on('data', (d: Buffer) => (received += d.length));
      first.stream.resume();
      await closing;
      await once(first.stream, 'close');
      assert.equal(received, 8 * MiB);
      first.c.end();

      // A client that never reads: disconnect() flushes for DisconnectFlushTimeout, then disconnects.
      const second = await open();
      const closedSecond = once(second.c, 'close');
      await daemon.disconnect(second.connectionId);
      await closedSecond;
      assert.equal(daemon.sshConnections.has(second.connectionId), false);

      // { immediate: true } does not wait for anything.
      daemon.config('DisconnectFlushTimeout=600');
      const third = await open();
      const closedThird = once(third.c, 'close');
      await daemon.disconnect(third.connectionId, { immediate: true });
      await closedThird;
      assert.equal(daemon.sshConnections.has(third.connectionId), false);
    }),
);

test('sendExitSignal and ChannelStream.signal(): AsyncSSH reads exit-signal as RFC 4254 6.10 describes it', TIMEOUT, () =>
  withKeyLogin(async ({ daemon, port }) => {
    requirePythonModule('asyncssh');
    daemon.defaultAuthMethods = 'password';
    daemon.on('SSHUserAuthRequest', (e) => void (e.accept = e.authMethod === 'password' && e.authParam === 'pw'));
    daemon.on('SSHChannelRequest', (e) => void (e.success = e.requestType === 'exec'));
    daemon.on('SSHChannelRequested', async (e) => {
      const command = daemon.getSSHParam(e.packet, 'Command');
      if (command === 'method') {
        await daemon.sendChannelData(e.channelId, 'partial\n');
        await daemon.sendExitSignal(e.channelId, 'SIGSEGV', true, 'Segmentation fault');
        await daemon.closeChannel(e.channelId);
      } else {
        daemon.channelStream(e.channelId).end('partial\n').signal('TERM', { message: 'terminated' });
      }
    });
    const script = `
import asyncio, json, sys, warnings
warnings.simplefilter('ignore')
import asyncssh
async def main():
    async with asyncssh.connect('127.0.0.1', port=${port}, username='tester', password='pw', known_hosts=None, config=[], agent_path=None, client_keys=None, preferred_auth='password') as conn:
        out = []
        for command in ('method', 'stream'):
            r = await conn.run(command)
            out.append({'stdout': r.stdout, 'status': r.exit_status, 'signal': list(r.exit_signal) if r.exit_signal else None})
        return out
print(json.dumps(asyncio.run(main())))
`;
    const r = await run('/usr/bin/python3', ['-c', script], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    const [method, stream] = JSON.parse(r.stdout.toString().trim().split('\n').pop()!);
    assert.deepEqual(method, { stdout: 'partial\n', status: -1, signal: ['SEGV', true, 'Segmentation fault', ''] });
    assert.deepEqual(stream, { stdout: 'partial\n', status: -1, signal: ['TERM', false, 'terminated', ''] });
  }),
);

test('SSHChannel: terminal (following window-change), environment and user, without side maps; sshChannels is one live map', TIMEOUT, () =>
  withBareDaemon(async ({ daemon, port }) => {
    openDoors(daemon);
    const seen: unknown[] = [];
    daemon.on('SSHChannelRequested', (e) => {
      const channel = daemon.sshChannels.get(e.channelId)!;
      assert.equal(daemon.sshChannels.get(e.channelId), channel, 'the same view on every read');
      seen.push({
        request: e.requestType,
        term: channel.terminal?.term,
        cols: channel.terminal?.cols,
        rows: channel.terminal?.rows,
        env: Object.fromEntries(channel.environment),
        user: channel.user,
      });
      if (e.requestType === 'window-change') void daemon.sendExitStatus(e.channelId, 0).then(() => daemon.closeChannel(e.channelId));
    });
    const map = daemon.sshChannels;
    assert.equal(daemon.sshChannels, map, 'sshChannels is the same object on every read');
    assert.equal(daemon.sshConnections, daemon.sshConnections);
    const c = await connect(port, { password: 'pw' });
    const stream = await new Promise<ClientChannel>((resolve, reject) =>
      c.shell({ term: 'vt220', cols: 100, rows: 30 }, { env: { LANG: 'C.UTF-8', TZ: 'UTC' } }, (err, s) =>
        err ? reject(err) : resolve(s),
      ),
    );
    assert.equal(map.size, 1, 'the map read before the channel opened sees it');
    stream.setWindow(50, 132, 0, 0);
    stream.resume();
    await once(stream, 'close');
    await until('the channel to leave the map', () => map.size === 0);
    assert.deepEqual(seen, [
      { request: 'env', term: undefined, cols: undefined, rows: undefined, env: { LANG: 'C.UTF-8' }, user: 'tester' },
      { request: 'env', term: undefined, cols: undefined, rows: undefined, env: { LANG: 'C.UTF-8', TZ: 'UTC' }, user: 'tester' },
      { request: 'pty-req', term: 'vt220', cols: 100, rows: 30, env: { LANG: 'C.UTF-8', TZ: 'UTC' }, user: 'tester' },
      { request: 'shell', term: 'vt220', cols: 100, rows: 30, env: { LANG: 'C.UTF-8', TZ: 'UTC' }, user: 'tester' },
      { request: 'window-change', term: 'vt220', cols: 132, rows: 50, env: { LANG: 'C.UTF-8', TZ: 'UTC' }, user: 'tester' },
    ]);
    c.end();
  }),
);

test(
  'paramiko resetting the socket after the session ended is a normal close (verbose log); a reset mid-transfer is still Error 1040',
  TIMEOUT,
  () =>
    withBareDaemon(async ({ daemon, port, errors }) => {
      requirePythonModule('paramiko');
      openDoors(daemon);
      daemon.config('LogLevel=2');
      const logs: string[] = [];
      daemon.on('Log', (e) => void logs.push(e.message));
      const disconnected: string[] = [];
      daemon.on('Disconnected', (e) => void disconnected.push(`${e.statusCode} ${e.description}`));
      daemon.on('SSHChannelRequested', (e) => {
        if (daemon.getSSHParam(e.packet, 'Command') === 'done') {
          void daemon
            .sendChannelData(e.channelId, 'bye\n')
            .then(() => daemon.sendExitStatus(e.channelId, 0))
            .then(() => daemon.closeChannel(e.channelId));
        } else {
          void daemon.sendChannelData(e.channelId, patternBytes(64 * MiB)).catch(() => undefined);
        }
      });
      // SO_LINGER 0: close() sends RST instead of FIN, as a paramiko close that crosses our last message does.
      const script = (command: string, read: string) => `
import paramiko, socket, struct
c = paramiko.SSHClient(); c.set_missing_host_key_policy(paramiko.AutoAddPolicy())
c.connect('127.0.0.1', port=${port}, username='tester', password='pw', look_for_keys=False, allow_agent=False)
i, o, e = c.exec_command('${command}')
${read}
c.get_transport().sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
c.close()
`;
      const done = await run('/usr/bin/python3', ['-c', script('done', 'print(o.read().decode()); o.channel.recv_exit_status()')]);
      assert.equal(done.code, 0, done.stderr);
      assert.equal(done.stdout.toString(), 'bye\n\n');
      await until('the first disconnect', () => disconnected.length === 1);
      const midway = await run('/usr/bin/python3', ['-c', script('download', 'o.read(65536)')]);
      assert.equal(midway.code, 0, midway.stderr);
      await until('the second disconnect', () => disconnected.length === 2);
      assert.deepEqual(
        errors.map((e) => e.split(' ')[0]),
        [String(ErrorCodes.SocketError)],
        `only the reset mid-transfer is an error: ${errors.join('\n')}`,
      );
      assert.match(disconnected[0], /^0 /);
      assert.ok(
        logs.some((l) => /ECONNRESET after the session's output ended/.test(l)),
        logs.join('\n'),
      );
    }),
);
