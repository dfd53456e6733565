// ChannelLayer with a fake engine: a recording outbound port (ChannelWire) and a named fake host,
// no socket. What it proves, each in milliseconds: channel opens are refused before authentication,
// past MaxSessionsPerConnection and below the smallest packet size (RFC 4254 5.1 reasons); an open
// is confirmed with our window and packet size; input that arrives while an asynchronous
// SSHChannelRequest decision runs is delivered after the reply and after SSHChannelRequested, in
// order; data beyond our window is a violation (WindowOverrun). Real clients: channels-api,
// channel-input, channel-holds, memory-bounds.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { test } from 'node:test';
import type { BuiltInHooks, ChannelHost } from '../../src/channels/ChannelHost';
import { ChannelLayer } from '../../src/channels/ChannelLayer';
import { type ChannelState, LOCAL_PACKET_SIZE, LOCAL_WINDOW } from '../../src/channels/ChannelState';
import type { ChannelWire } from '../../src/engine/EngineWire';
import { ErrorCodes } from '../../src/errors/SSHDaemonError';
import { EventHub } from '../../src/events/EventHub';
import { encodeString, encodeUint32 } from '../../src/packet/wire';
import { ConnectionRecord } from '../../src/registry/ConnectionRecord';

/** The connection's outbound port as the channel layer sees it: records every message sent, with its arguments. */
class RecordingWire implements ChannelWire {
  constructor(readonly calls: string[]) {}
  private record(name: string, ...args: unknown[]): void {
    this.calls.push(`${name}(${args.map((a) => (Buffer.isBuffer(a) ? a.toString() : String(a))).join(',')})`);
  }
  channelOpenConfirmation(recipient: number, sender: number, window: number, packetSize: number): void {
    this.record('channelOpenConfirmation', recipient, sender, window, packetSize);
  }
  channelOpenFailure(recipient: number, reason: number, description: string): void {
    this.record('channelOpenFailure', recipient, reason, description);
  }
  channelData(recipient: number, data: Buffer, extended: number): void {
    this.record('channelData', recipient, data, extended);
  }
  channelDataParts(recipient: number, parts: readonly Buffer[], extended: number): void {
    this.record('channelData', recipient, Buffer.concat(parts), extended);
  }
  channelWindowAdjust(recipient: number, bytes: number): void {
    this.record('channelWindowAdjust', recipient, bytes);
  }
  channelEof(recipient: number): void {
    this.record('channelEof', recipient);
  }
  channelClose(recipient: number): void {
    this.record('channelClose', recipient);
  }
  channelSuccess(recipient: number): void {
    this.record('channelSuccess', recipient);
  }
  channelFailure(recipient: number): void {
    this.record('channelFailure', recipient);
  }
  send(payload: Buffer): void {
    this.record('send', payload[0]);
  }
  queuedDuringKex(): number {
    return 0;
  }
}

/** No built-in services. */
const NO_BUILT_INS: BuiltInHooks = {
  presetSuccess: () => '',
  attachBuiltIn: () => true,
  presetAccept: () => '',
  attachOpen: () => undefined,
  refusedGlobal: () => undefined,
  attachGlobal: () => true,
  connectionClosed: () => undefined,
};

class FakeHost implements ChannelHost {
  readonly hub = new EventHub();
  readonly builtIns = NO_BUILT_INS;
  readonly open = new Map<string, ChannelState>();
  readonly violations: string[] = [];
  maxChannelCount = 10;
  addChannel(state: ChannelState): void {
    this.open.set(state.id, state);
  }
  removeChannel(channelId: string): boolean {
    return this.open.delete(channelId);
  }
  outBufferSize(): number {
    return 1 << 20;
  }
  outBufferHardLimit(): number {
    return 16 << 20;
  }
  maxChannels(): number {
    return this.maxChannelCount;
  }
  violation(_conn: ConnectionRecord, code: number, description: string): void {
    this.violations.push(`${code}: ${description}`);
  }
  overflow(_conn: ConnectionRecord, description: string): void {
    this.violations.push(`overflow: ${description}`);
  }
  activity(): void {}
}

function setup(authenticated = true) {
  const socket = Object.assign(new EventEmitter(), { writableLength: 0, bytesRead: 0, bytesWritten: 0 }) as unknown as Socket;
  const conn = new ConnectionRecord('c1', socket, '127.0.0.1', 1, '127.0.0.1', 0);
  conn.authenticated = authenticated;
  const calls: string[] = [];
  const host = new FakeHost();
  const layer = new ChannelLayer(conn, new RecordingWire(calls), host);
  return { conn, calls, host, layer };
}

function openPayload(type: string, sender: number, window: number, packetSize: number): Buffer {
  return Buffer.concat([Buffer.from([90]), encodeString(type), encodeUint32(sender), encodeUint32(window), encodeUint32(packetSize)]);
}

function open(layer: ChannelLayer, sender: number, packetSize = 32768): void {
  layer.onOpen({ type: 'session', sender, window: 1 << 20, packetSize }, openPayload('session', sender, 1 << 20, packetSize));
}

function requestPayload(recipient: number, type: string, wantReply: boolean, ...fields: Buffer[]): Buffer {
  return Buffer.concat([Buffer.from([98]), encodeUint32(recipient), encodeString(type), Buffer.from([wantReply ? 1 : 0]), ...fields]);
}

test('opens: refused before authentication (1), past MaxSessionsPerConnection (4) and below the smallest packet size (4); else confirmed with our window', () => {
  const before = setup(false);
  open(before.layer, 3);
  assert.deepEqual(before.calls, ['channelOpenFailure(3,1,not authenticated)']);

  const { calls, host, layer } = setup();
  host.maxChannelCount = 1;
  host.hub.on('SSHChannelOpenRequest', (e) => void (e.accept = true));
  open(layer, 3, 100);
  assert.deepEqual(calls, ['channelOpenFailure(3,4,maximum packet size below 512)']);
  open(layer, 4);
  assert.deepEqual(calls.slice(1), [`channelOpenConfirmation(4,0,${LOCAL_WINDOW},${LOCAL_PACKET_SIZE})`]);
  open(layer, 5);
  assert.deepEqual(calls.slice(2), ['channelOpenFailure(5,4,too many channels)']);
  assert.equal(host.open.size, 1);
});

test('an open the handler leaves refused fails with ADMINISTRATIVELY_PROHIBITED and leaves no channel behind', () => {
  const { calls, host, layer } = setup();
  open(layer, 3);
  assert.deepEqual(calls, ['channelOpenFailure(3,1,refused by server)']);
  assert.equal(host.open.size, 0);
  assert.equal(layer.channels.size, 0);
});

test('input during an asynchronous SSHChannelRequest decision waits: reply, SSHChannelRequested, then data and EOF in order', async () => {
  const { calls, host, layer } = setup();
  const events: string[] = [];
  let decide!: () => void;
  host.hub.on('SSHChannelOpenRequest', (e) => void (e.accept = true));
  host.hub.on('SSHChannelRequest', async (e) => {
    await new Promise<void>((resolve) => (decide = resolve));
    e.success = true;
  });
  host.hub.on('SSHChannelRequested', (e) => void events.push(`requested ${e.requestType}`));
  host.hub.on('SSHChannelDataIn', (e) => void events.push(`data ${e.data.toString()}`));
  host.hub.on('SSHChannelEOF', () => void events.push('eof'));
  open(layer, 3);
  layer.onRequest(0, requestPayload(0, 'exec', true, encodeString('cmd')));
  layer.onData(0, Buffer.from('early'), 0);
  layer.onEof(0);
  assert.deepEqual(events, [], 'nothing is delivered while the decision runs');
  decide();
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(events, ['requested exec', 'data early', 'eof']);
  assert.equal(calls.filter((c) => c.startsWith('channelSuccess')).length, 1);
  assert.ok(calls.indexOf('channelSuccess(3)') > calls.findIndex((c) => c.startsWith('channelOpenConfirm')));
});

test('data beyond our window is a WindowOverrun violation and is not delivered', () => {
  const { host, layer } = setup();
  const delivered: number[] = [];
  host.hub.on('SSHChannelOpenRequest', (e) => void (e.accept = true));
  host.hub.on('SSHChannelDataIn', (e) => void delivered.push(e.data.length));
  open(layer, 3);
  layer.onData(0, Buffer.alloc(LOCAL_WINDOW / 4), 0);
  layer.onData(0, Buffer.alloc(LOCAL_WINDOW), 0);
  assert.deepEqual(delivered, [LOCAL_WINDOW / 4]);
  assert.equal(host.violations.length, 1);
  assert.match(host.violations[0], new RegExp(`^${ErrorCodes.WindowOverrun}: channel \\S+: client sent ${LOCAL_WINDOW} bytes`));
});

test('output: the channel layer sends data, EOF and CLOSE for the channel state in order; the client CLOSE finishes it', async () => {
  const { calls, host, layer } = setup();
  host.hub.on('SSHChannelOpenRequest', (e) => void (e.accept = true));
  const closed: string[] = [];
  host.hub.on('SSHChannelClosed', (e) => void closed.push(e.channelId));
  open(layer, 3);
  const state = [...host.open.values()][0];
  const done = Promise.all([state.send(Buffer.from('out'), 0), state.close()]);
  assert.deepEqual(calls.slice(1), ['channelData(3,out,0)', 'channelEof(3)', 'channelClose(3)']);
  await done;
  layer.onClose(0);
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(closed, [state.id]);
  assert.equal(host.open.size, 0);
  assert.equal(layer.channels.size, 0);
});
