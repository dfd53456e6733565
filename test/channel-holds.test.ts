/**
 * What holds a channel's input, and for how long. An asynchronous SSHChannelRequested handler holds
 * the input (so early stdin is not lost), an asynchronous SSHChannelDataIn handler holds the data
 * behind it, pause() holds everything: none of them may keep a channel the client closed open forever
 * (its MaxSessionsPerConnection slot, SSHChannelClosed). The bound is HandlerTimeout, set to 1 s here.
 * In-process ssh2 client, and OpenSSH's ssh for the trap of a handler that awaits the whole command.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { test } from 'node:test';
import type { Client, ClientChannel } from 'ssh2';
import { requestParamsOf, type SSHDaemon } from '../src';
import { withBareDaemon } from './fixtures/bareDaemon';
import { withKeyLogin } from './fixtures/keyLogin';
import { sha256Hex } from './fixtures/testServer';
import { connect } from './helpers-ssh2';
import { until } from './fixtures/wait';

const TIMEOUT = { timeout: 120_000 };

function sessions(daemon: SSHDaemon): void {
  daemon.on('SSHUserAuthRequest', (e) => void (e.accept = e.authParam === 'pw'));
  daemon.on('SSHChannelOpenRequest', (e) => void (e.accept = e.service === 'session'));
  daemon.on('SSHChannelRequest', (e) => void (e.success = e.requestType === 'exec'));
}

function exec(c: Client, command: string): Promise<ClientChannel> {
  return new Promise((resolve, reject) => c.exec(command, (err, ch) => (err ? reject(err) : resolve(ch))));
}

/** The client runs `ok` on a fresh channel: proves a MaxSessionsPerConnection slot is free. */
async function runOk(c: Client): Promise<string> {
  const ch = await exec(c, 'ok');
  let out = '';
  ch.on('data', (d: Buffer) => void (out += d.toString()));
  await once(ch, 'close');
  return out;
}

/** Answers `ok` with "ok\n" and exit 0; every other command gets `handler`. */
function serveOk(daemon: SSHDaemon): void {
  daemon.on('SSHChannelRequested', (e) => {
    if (requestParamsOf(e, 'exec')?.command !== 'ok') return;
    void daemon.sendChannelData(e.channelId, 'ok\n');
    void daemon.sendExitStatus(e.channelId, 0);
    void daemon.closeChannel(e.channelId);
  });
}

test(
  'an SSHChannelRequested handler that never settles holds input for at most HandlerTimeout: data, EOF and the CLOSE then arrive, the channel ends and its slot comes back',
  TIMEOUT,
  () =>
    withBareDaemon(async ({ daemon, port, errors }) => {
      daemon.config('HandlerTimeout=1');
      daemon.config('MaxSessionsPerConnection=2');
      sessions(daemon);
      serveOk(daemon);
      const logs: string[] = [];
      daemon.on('Log', (e) => void logs.push(e.message));
      daemon.on('SSHChannelRequested', (e) => {
        if (requestParamsOf(e, 'exec')?.command === 'hang') return new Promise<void>(() => undefined); // never settles
        return undefined;
      });
      const received = new Map<string, Buffer[]>();
      const events: string[] = [];
      daemon.on('SSHChannelDataIn', (e) => void received.set(e.channelId, [...(received.get(e.channelId) ?? []), Buffer.from(e.data)]));
      daemon.on('SSHChannelEOF', (e) => void events.push(`eof ${e.channelId}`));
      daemon.on('SSHChannelClosed', (e) => void events.push(`closed ${e.channelId}`));
      const c = await connect(port, { password: 'pw' });
      const input = randomBytes(100_000);
      // Both slots taken by hanging handlers: one client sends input, EOF and CLOSE; the other just closes.
      const withInput = await exec(c, 'hang');
      const [first] = [...daemon.sshChannels.keys()];
      withInput.write(input);
      withInput.end();
      withInput.close();
      const closing = await exec(c, 'hang');
      closing.close();
      await until('both channels to end', () => daemon.sshChannels.size === 0);
      assert.ok(Buffer.concat(received.get(first) ?? []).equals(input), 'the input held for the handler was delivered once the hold ended');
      assert.ok(
        events.indexOf(`eof ${first}`) >= 0 && events.indexOf(`eof ${first}`) < events.indexOf(`closed ${first}`),
        events.join(', '),
      );
      assert.equal(events.filter((e) => e.startsWith('closed')).length, 2);
      assert.equal(
        logs.filter((l) => /SSHChannelRequested handler for exec is still running after 1 s \(HandlerTimeout\)/.test(l)).length,
        2,
        logs.join('\n'),
      );
      assert.equal(await runOk(c), 'ok\n', 'a new channel opens: the slots came back');
      assert.deepEqual(errors, []);
      c.end();
    }),
);

test(
  "the client's CLOSE ends a channel within HandlerTimeout while an SSHChannelDataIn handler never settles, or the application paused it and never resumes",
  TIMEOUT,
  () =>
    withBareDaemon(async ({ daemon, port, errors }) => {
      daemon.config('HandlerTimeout=1');
      daemon.config('MaxSessionsPerConnection=2');
      sessions(daemon);
      serveOk(daemon);
      const logs: string[] = [];
      daemon.on('Log', (e) => void logs.push(e.message));
      const commands = new Map<string, string>();
      daemon.on('SSHChannelRequested', (e) => {
        const command = requestParamsOf(e, 'exec')?.command ?? '';
        commands.set(e.channelId, command);
        if (command === 'pause') daemon.sshChannels.get(e.channelId)!.pause(); // and never resume()
      });
      let handlerEntered = false;
      daemon.on('SSHChannelDataIn', (e) => {
        if (commands.get(e.channelId) !== 'stuck') return undefined;
        handlerEntered = true;
        return new Promise<void>(() => undefined); // a sink that never drains
      });
      const closed: string[] = [];
      daemon.on('SSHChannelClosed', (e) => void closed.push(commands.get(e.channelId) ?? ''));
      const c = await connect(port, { password: 'pw' });
      const stuck = await exec(c, 'stuck');
      stuck.write('first chunk');
      await until('the data handler to hold the channel', () => handlerEntered);
      stuck.write('behind it');
      stuck.end();
      stuck.close();
      const paused = await exec(c, 'pause');
      paused.write('never read');
      paused.close();
      await until('both channels to end', () => daemon.sshChannels.size === 0);
      assert.deepEqual(closed.sort(), ['pause', 'stuck']);
      assert.equal(logs.filter((l) => /input still held 1 s after the client's CLOSE/.test(l)).length, 2, logs.join('\n'));
      assert.equal(await runOk(c), 'ok\n', 'a new channel opens: the slots came back');
      assert.deepEqual(errors, []);
      c.end();
    }),
);

test(
  'the trap: an event-API handler that awaits the whole command holds its stdin; resume() releases it at once, HandlerTimeout at the latest (OpenSSH ssh)',
  TIMEOUT,
  () =>
    withKeyLogin(async ({ daemon, ssh, errors }) => {
      daemon.config('HandlerTimeout=1');
      daemon.on('SSHChannelRequest', (e) => void (e.success = e.requestType === 'exec'));
      const children = new Map<string, ReturnType<typeof spawn>>();
      daemon.on('SSHChannelRequested', async (e) => {
        const command = requestParamsOf(e, 'exec')?.command;
        if (!command) return;
        const child = spawn('sha256sum', [], { stdio: ['pipe', 'pipe', 'inherit'] });
        children.set(e.channelId, child);
        // The documented release: this handler runs the whole command, so its input must not wait for it.
        if (command === 'resume') daemon.sshChannels.get(e.channelId)!.resume();
        let out = '';
        child.stdout.on('data', (d: Buffer) => void (out += d.toString()));
        const [code] = (await once(child, 'close')) as [number];
        await daemon.sendChannelData(e.channelId, out);
        await daemon.sendExitStatus(e.channelId, code);
        await daemon.closeChannel(e.channelId);
      });
      daemon.on('SSHChannelDataIn', (e) => void children.get(e.channelId)?.stdin?.write(e.data));
      daemon.on('SSHChannelEOF', (e) => void children.get(e.channelId)?.stdin?.end());
      const logs: string[] = [];
      daemon.on('Log', (e) => void logs.push(e.message));
      const input = randomBytes(256 * 1024);
      for (const command of ['resume', 'wait']) {
        const r = await ssh([command], { input });
        assert.equal(r.code, 0, `${command}: ${r.stderr}`);
        assert.equal(r.stdout.toString().split(' ')[0], sha256Hex(input), `${command}: the command got all its input`);
      }
      // Only the handler that did not release its input was cut short by HandlerTimeout.
      assert.equal(logs.filter((l) => /still running after 1 s \(HandlerTimeout\)/.test(l)).length, 1, logs.join('\n'));
      assert.deepEqual(errors, []);
    }),
);
