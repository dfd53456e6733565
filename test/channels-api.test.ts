/** Session channels through the in-process ssh2 client: requests and their params, IPWorks-style packets, flow control, records, lifecycle. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { connect as tcpConnect } from 'node:net';
import { test } from 'node:test';
import type { Client, ClientChannel } from 'ssh2';
import { ErrorCodes, SSHDaemonError, requestParamsOf, type SSHChannelRequestEventArgs, type SSHDaemon } from '../src';
import { withBareDaemon } from './fixtures/bareDaemon';
import { patternBytes, registryDrained } from './fixtures/testServer';
import { connect, exec } from './helpers-ssh2';
import { until } from './fixtures/wait';

/** Accepts password 'pw', session channels and every request; records the requests. */
function openDoors(daemon: SSHDaemon): SSHChannelRequestEventArgs[] {
  const requests: SSHChannelRequestEventArgs[] = [];
  daemon.on('SSHUserAuthRequest', (e) => void (e.accept = e.authMethod === 'password' && e.authParam === 'pw'));
  daemon.on('SSHChannelOpenRequest', (e) => void (e.accept = e.service === 'session'));
  daemon.on('SSHChannelRequest', (e) => {
    requests.push(e);
    e.success = true;
  });
  return requests;
}

const login = (port: number) => connect(port, { password: 'pw' });

function shell(c: Client, env: Record<string, string>): Promise<ClientChannel> {
  return new Promise((resolve, reject) =>
    c.shell({ term: 'xterm-256color', cols: 120, rows: 40, width: 960, height: 640 }, { env }, (err, s) =>
      err ? reject(err) : resolve(s),
    ),
  );
}

test('env, pty-req, shell, window-change, signal and subsystem reach SSHChannelRequest with the raw packet and params', () =>
  withBareDaemon(async ({ daemon, port }) => {
    const requests = openDoors(daemon);
    const c = await login(port);
    const s = await shell(c, { LANG: 'C.UTF-8' });
    s.setWindow(50, 132, 800, 1056);
    s.signal('INT');
    await until('window-change and signal', () => requests.some((r) => r.requestType === 'signal'));
    assert.deepEqual(
      requests.map((r) => r.requestType),
      ['env', 'pty-req', 'shell', 'window-change', 'signal'],
    );
    assert.deepEqual(requestParamsOf(requests[0], 'env'), { name: 'LANG', value: 'C.UTF-8' });
    const pty = requestParamsOf(requests[1], 'pty-req');
    assert.deepEqual(
      { ...pty, modes: undefined },
      { term: 'xterm-256color', cols: 120, rows: 40, width: 960, height: 640, modes: undefined },
    );
    assert.equal(daemon.getSSHParam(requests[1].packet, 'TerminalType'), 'xterm-256color');
    assert.equal(daemon.getSSHParam(requests[1].packet, 'TerminalWidthCharacters'), '120');
    assert.deepEqual(requestParamsOf(requests[3], 'window-change'), { cols: 132, rows: 50, width: 1056, height: 800 });
    assert.deepEqual(requestParamsOf(requests[4], 'signal'), { signal: 'INT' });
    s.close();

    const sub = await new Promise<ClientChannel>((resolve, reject) =>
      c.subsys('x-test@example.com', (err, st) => (err ? reject(err) : resolve(st))),
    );
    await until('subsystem', () => requests.some((r) => r.requestType === 'subsystem'));
    assert.deepEqual(requestParamsOf(requests.at(-1)!, 'subsystem'), { subsystem: 'x-test@example.com' });
    assert.equal(daemon.getSSHParam(requests.at(-1)!.packet, 'SubsystemName'), 'x-test@example.com');
    sub.close();
    c.end();
  }));

test('a refused request fails on the client and the channel stays usable', () =>
  withBareDaemon(async ({ daemon, port }) => {
    daemon.on('SSHUserAuthRequest', (e) => void (e.accept = e.authParam === 'pw'));
    daemon.on('SSHChannelOpenRequest', (e) => void (e.accept = true));
    daemon.on('SSHChannelRequest', (e) => void (e.success = e.requestType === 'exec'));
    daemon.on('SSHChannelRequested', (e) => void daemon.sendExitStatus(e.channelId, 0).then(() => daemon.closeChannel(e.channelId)));
    const c = await login(port);
    await assert.rejects(
      new Promise((resolve, reject) => c.subsys('sftp', (err, s) => (err ? reject(err) : resolve(s)))),
      /Unable to start subsystem/,
    );
    assert.equal((await exec(c, 'true')).code, 0);
    c.end();
  }));

test('the IPWorks way: output, then exit-status as a type-98 packet built with setSSHParam, then close', () =>
  withBareDaemon(async ({ daemon, port }) => {
    openDoors(daemon);
    daemon.on('SSHChannelRequested', async (e) => {
      if (e.requestType !== 'exec') return;
      await daemon.sendChannelData(e.channelId, `ran ${daemon.getSSHParam(e.packet, 'Command')}\n`);
      let p = daemon.setSSHParam(null, 's', 'exit-status');
      p = daemon.setSSHParam(p, 'f', false);
      p = daemon.setSSHParam(p, 'i', 3);
      await daemon.sendSSHPacket(e.channelId, 98, p);
      await daemon.closeChannel(e.channelId);
    });
    const c = await login(port);
    assert.deepEqual(await exec(c, 'build'), { code: 3, stdout: 'ran build\n', stderr: '' });
    c.end();
  }));

test('flow control: a client that stops reading turns readyToSend off; reading again fires SSHChannelReadyToSend and all data arrives', () =>
  withBareDaemon(async ({ daemon, port }) => {
    openDoors(daemon);
    const size = 8 * 1024 * 1024;
    let channelId = '';
    let sent: Promise<void> | undefined;
    let readyAfterResume = false;
    let resumed = false;
    daemon.on('SSHChannelRequested', (e) => {
      channelId = e.channelId;
      sent = daemon.sendChannelData(e.channelId, patternBytes(size));
    });
    // The IPWorks pattern: when the channel can take data again, continue (here: finish).
    daemon.on('SSHChannelReadyToSend', (e) => {
      if (!resumed || e.channelId !== channelId || readyAfterResume) return;
      readyAfterResume = true;
      void daemon.sendExitStatus(e.channelId, 0).then(() => daemon.closeChannel(e.channelId));
    });
    const c = await login(port);
    const stream = await new Promise<ClientChannel>((resolve, reject) => c.exec('flood', (err, s) => (err ? reject(err) : resolve(s))));
    stream.pause();
    await until('the client window to fill', () => channelId !== '' && daemon.sshChannels.get(channelId)?.readyToSend === false);
    let settled = false;
    void sent!.then(() => (settled = true));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(settled, false, 'sendChannelData waits while the client does not read');

    const hash = createHash('sha256');
    let received = 0;
    stream.on('data', (d: Buffer) => {
      hash.update(d);
      received += d.length;
    });
    resumed = true;
    stream.resume();
    await once(stream, 'close');
    await sent;
    assert.ok(readyAfterResume, 'SSHChannelReadyToSend fired when the window reopened');
    assert.equal(received, size);
    assert.equal(hash.digest('hex'), createHash('sha256').update(patternBytes(size)).digest('hex'));
    c.end();
  }));

/**
 * What the server writes while the client's TCP socket is paused and its SSH window is huge:
 * only the socket queue limits it. Returns the bytes the channel handed to the transport once it stalled.
 */
async function bytesHandedOverWhileStalled(outBufferSize: number): Promise<{ sent: number; settled: boolean }> {
  let result = { sent: 0, settled: true };
  await withBareDaemon(async ({ daemon, port }) => {
    daemon.config(`OutBufferSize=${outBufferSize}`);
    openDoors(daemon);
    let channelId = '';
    let sent: Promise<void> | undefined;
    daemon.on('SSHChannelRequested', (e) => {
      channelId = e.channelId;
      sent = daemon.sendChannelData(e.channelId, Buffer.alloc(96 * 1024 * 1024, 7));
    });
    const c = await login(port);
    const stream = await new Promise<ClientChannel>((resolve, reject) => c.exec('flood', (err, s) => (err ? reject(err) : resolve(s))));
    // Test-only reach into the ssh2 client: stop reading the TCP socket, then grant a 1 GiB window
    // so that the SSH window cannot be what stops the server.
    const internals = c as unknown as { _sock: { pause(): void }; _protocol: { channelWindowAdjust(id: number, n: number): void } };
    const remote = stream as unknown as { outgoing: { id: number } };
    internals._sock.pause();
    internals._protocol.channelWindowAdjust(remote.outgoing.id, 1024 * 1024 * 1024);
    await until('the channel to exist', () => channelId !== '');
    const channel = daemon.sshChannels.get(channelId)!;
    // Stalled: nothing more handed over for 500 ms.
    let last = -1;
    const end = Date.now() + 20_000;
    while (channel.bytesSent !== last && Date.now() < end) {
      last = channel.bytesSent;
      await new Promise((r) => setTimeout(r, 500));
    }
    let settled = false;
    void sent!.then(
      () => (settled = true),
      () => (settled = true),
    );
    await new Promise((r) => setTimeout(r, 50));
    result = { sent: channel.bytesSent, settled };
    assert.equal(channel.readyToSend, false, 'readyToSend is off while the socket is congested');
    c.destroy();
  });
  return result;
}

test('OutBufferSize bounds what the daemon queues on a socket whose client stops reading', { timeout: 90_000 }, async () => {
  const MiB = 1024 * 1024;
  const small = await bytesHandedOverWhileStalled(64 * 1024);
  const large = await bytesHandedOverWhileStalled(48 * MiB);
  assert.equal(small.settled, false, 'sendChannelData is still waiting with a small OutBufferSize');
  assert.equal(large.settled, false, 'sendChannelData is still waiting with a large OutBufferSize');
  // Both include what the kernel's socket buffers took; the difference is the daemon's own queue.
  assert.ok(
    large.sent - small.sent > 32 * MiB,
    `48 MiB lets the daemon queue far more than 64 KiB (small ${small.sent}, large ${large.sent})`,
  );
  assert.ok(small.sent < 24 * MiB, `with 64 KiB the daemon stops after the kernel buffers are full (${small.sent} bytes)`);
});

test('recordLength delivers SSHChannelDataIn in records of that size, the rest at EOF', () =>
  withBareDaemon(async ({ daemon, port }) => {
    openDoors(daemon);
    const sizes: number[] = [];
    const chunks: Buffer[] = [];
    daemon.on('SSHChannelRequested', (e) => {
      daemon.sshChannels.get(e.channelId)!.recordLength = 1000;
    });
    daemon.on('SSHChannelDataIn', (e) => {
      sizes.push(e.data.length);
      chunks.push(Buffer.from(e.data));
    });
    daemon.on('SSHChannelEOF', (e) => void daemon.sendExitStatus(e.channelId, 0).then(() => daemon.closeChannel(e.channelId)));
    const c = await login(port);
    const data = patternBytes(2500);
    const stream = await new Promise<ClientChannel>((resolve, reject) => c.exec('records', (err, s) => (err ? reject(err) : resolve(s))));
    stream.write(data.subarray(0, 700));
    stream.write(data.subarray(700, 1600));
    stream.end(data.subarray(1600));
    stream.resume();
    await once(stream, 'close');
    assert.deepEqual(sizes, [1000, 1000, 500]);
    assert.deepEqual(Buffer.concat(chunks), data);
    c.end();
  }));

test('exchangeKeys re-keys a live connection, which keeps working', () =>
  withBareDaemon(async ({ daemon, port }) => {
    openDoors(daemon);
    daemon.on(
      'SSHChannelRequested',
      (e) =>
        void daemon
          .sendChannelData(e.channelId, 'ok\n')
          .then(() => daemon.sendExitStatus(e.channelId, 0))
          .then(() => daemon.closeChannel(e.channelId)),
    );
    const c = await login(port);
    let handshakes = 0;
    c.on('handshake', () => void handshakes++);
    assert.equal((await exec(c, 'a')).stdout, 'ok\n');
    const [connectionId] = daemon.sshConnections.keys();
    await daemon.exchangeKeys(connectionId);
    await until('the client to see the new keys', () => handshakes === 1);
    assert.equal((await exec(c, 'b')).stdout, 'ok\n');
    await assert.rejects(
      daemon.exchangeKeys('999999'),
      (e: unknown) => e instanceof SSHDaemonError && e.code === ErrorCodes.UnknownConnection,
    );
    c.end();
  }));

test('disconnect(connectionId) closes the client, fires Disconnected and empties the registry', () =>
  withBareDaemon(async ({ daemon, port }) => {
    openDoors(daemon);
    const gone: string[] = [];
    daemon.on('Disconnected', (e) => void gone.push(e.connectionId));
    const c = await login(port);
    const [connectionId] = daemon.sshConnections.keys();
    const closed = once(c, 'close');
    c.on('error', () => undefined);
    await daemon.disconnect(connectionId);
    await closed;
    assert.deepEqual(gone, [connectionId]);
    await registryDrained(daemon);
    await assert.rejects(
      daemon.disconnect(connectionId),
      (e: unknown) => e instanceof SSHDaemonError && e.code === ErrorCodes.UnknownConnection,
    );
  }));

test('openChannel: a channel type the client refuses rejects with ChannelOpenFailed', () =>
  withBareDaemon(async ({ daemon, port }) => {
    openDoors(daemon);
    const c = await login(port);
    const [connectionId] = daemon.sshConnections.keys();
    await assert.rejects(
      daemon.openChannel(connectionId, 'x-test@example.com'),
      (e: unknown) => e instanceof SSHDaemonError && e.code === ErrorCodes.ChannelOpenFailed,
    );
    assert.equal(daemon.sshChannels.size, 0);
    c.end();
  }));

test('shutdown() closes live connections and stops listening; reset() also restores defaults', () =>
  withBareDaemon(async ({ daemon, port }) => {
    openDoors(daemon);
    daemon.defaultAuthMethods = 'password';
    daemon.config('MaxAuthAttempts=2');
    const clients = await Promise.all([login(port), login(port)]);
    const closed = clients.map((c) => (c.on('error', () => undefined), once(c, 'close')));
    await daemon.shutdown();
    await Promise.all(closed);
    assert.equal(daemon.listening, false);
    assert.equal(daemon.sshConnections.size, 0);
    const refused = tcpConnect(port, '127.0.0.1');
    const [err] = (await once(refused, 'error')) as [NodeJS.ErrnoException];
    assert.equal(err.code, 'ECONNREFUSED');

    await daemon.reset();
    assert.equal(daemon.defaultAuthMethods, 'password,publickey');
    assert.equal(daemon.config('MaxAuthAttempts'), '6');
    assert.equal(daemon.localPort, 22);
  }));
