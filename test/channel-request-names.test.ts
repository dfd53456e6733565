/**
 * Names a client chooses are looked up in the daemon's tables (request decoders, payload layouts,
 * key restrictions): a name that is also a member of Object.prototype (`constructor`, `__proto__`,
 * `toString`, `hasOwnProperty`, `valueOf`) must read as an unknown name, not as that member. Sent
 * as hand-made CHANNEL_REQUESTs through the in-process ssh2 client on an open session.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ClientChannel } from 'ssh2';
import type { ChannelRequestParams } from '../src';
import { encodeString, encodeUint32 } from '../src/packet/wire';
import { withBareDaemon } from './fixtures/bareDaemon';
import { sendClientPayload } from './fixtures/net';
import { connect } from './helpers-ssh2';
import { until } from './fixtures/wait';

const NAMES = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__'];

test(
  'channel request types named like Object.prototype members decode as unknown requests: empty params, getSSHParam reads them, the session goes on',
  { timeout: 60_000 },
  () =>
    withBareDaemon(async ({ daemon, port, errors }) => {
      daemon.on('SSHUserAuthRequest', (e) => void (e.accept = e.authParam === 'pw'));
      daemon.on('SSHChannelOpenRequest', (e) => void (e.accept = e.service === 'session'));
      const seen: Array<{ requestType: string; params: ChannelRequestParams; readType: string; wantsReply: string }> = [];
      let sawWindowChange = false;
      daemon.on('SSHChannelRequest', (e) => {
        if (e.requestType === 'window-change') sawWindowChange = true;
        else if (e.requestType !== 'exec') {
          seen.push({
            requestType: e.requestType,
            params: e.params,
            readType: daemon.getSSHParam(e.packet, 'RequestType'),
            wantsReply: daemon.getSSHParam(e.packet, 'WantsReply'),
          });
        }
        e.success = e.requestType === 'exec' || e.requestType === 'window-change';
      });
      let channelId = '';
      daemon.on('SSHChannelRequested', (e) => void (e.requestType === 'exec' && (channelId = e.channelId)));
      const c = await connect(port, { password: 'pw' });
      const ch = await new Promise<ClientChannel>((resolve, reject) => c.exec('wait', (err, s) => (err ? reject(err) : resolve(s))));
      await until('the exec to be served', () => channelId !== '');
      const serverChannel = (ch as unknown as { outgoing: { id: number } }).outgoing.id;
      for (const name of NAMES) {
        // want-reply false: ssh2's client does not expect answers to requests it did not send.
        sendClientPayload(
          c,
          Buffer.concat([Buffer.from([98]), encodeUint32(serverChannel), encodeString(name), Buffer.from([0]), encodeString('argument')]),
        );
      }
      ch.setWindow(24, 80, 0, 0); // behind them on the channel, so it arrives after all of them
      await until('the requests to be handled (or the connection dropped)', () => sawWindowChange || daemon.sshConnections.size === 0);
      assert.equal(daemon.sshConnections.size, 1, `the connection is still up: ${errors.join('; ')}`);
      assert.deepEqual(
        seen.map((s) => s.requestType),
        NAMES,
      );
      for (const s of seen) {
        assert.deepEqual({ ...s.params }, {}, `${s.requestType}: no decoder, no params`);
        assert.equal(Object.getPrototypeOf(s.params), Object.prototype, `${s.requestType}: params is a plain object`);
        assert.equal(s.readType, s.requestType);
        assert.equal(s.wantsReply, 'false');
      }
      // The session still works.
      const out: Buffer[] = [];
      ch.on('data', (d: Buffer) => void out.push(d));
      const exit = new Promise<number>((resolve) => ch.on('exit', (code: number) => resolve(code)));
      const closed = new Promise((resolve) => ch.on('close', resolve));
      void daemon.sendChannelData(channelId, 'still here\n');
      void daemon.sendExitStatus(channelId, 0);
      void daemon.closeChannel(channelId);
      assert.equal(await exit, 0);
      await closed;
      assert.equal(Buffer.concat(out).toString(), 'still here\n');
      assert.deepEqual(errors, []);
      c.end();
    }),
);
