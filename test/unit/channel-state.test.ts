// ChannelState alone, with a recording sink in place of the engine (no socket, no ssh2): the
// client's window and packet size bound what is sent, output leaves in the order it was queued
// (data, requests, EOF, CLOSE), our window reopens as the application takes data, a client that
// overruns it is a violation, and a Promise from the application holds later input in order.
// Real-client coverage of the same rules: channel-input, channel-lifecycle, memory-bounds.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { test } from 'node:test';
import { type ChannelSink, ChannelState, LOCAL_WINDOW } from '../../src/channels/ChannelState';
import { ConnectionRecord } from '../../src/registry/ConnectionRecord';

/** A sink that records what the channel hands to the transport and to the application. */
class RecordingSink implements ChannelSink {
  readonly wire: string[] = [];
  readonly delivered: string[] = [];
  readonly violations: string[] = [];
  /** deliver() returns this for the next chunk when set (an asynchronous handler). */
  hold?: Promise<void>;
  congestedNow = false;
  private drainWaiter?: () => void;

  sendData(remoteId: number, data: Buffer | readonly Buffer[], extended: number): void {
    const bytes = Buffer.isBuffer(data) ? data : Buffer.concat(data as Buffer[]);
    this.wire.push(`data${extended ? `(${extended})` : ''}:${remoteId}:${bytes.toString()}`);
  }
  sendPacket(payload: Buffer): void {
    this.wire.push(`packet:${payload[0]}`);
  }
  sendEof(remoteId: number): void {
    this.wire.push(`eof:${remoteId}`);
  }
  sendClose(remoteId: number): void {
    this.wire.push(`close:${remoteId}`);
  }
  sendWindowAdjust(remoteId: number, amount: number): void {
    this.wire.push(`adjust:${remoteId}:${amount}`);
  }
  congested(): boolean {
    return this.congestedNow;
  }
  waitForDrain(resume: () => void): void {
    this.drainWaiter = resume;
  }
  drain(): void {
    this.congestedNow = false;
    const w = this.drainWaiter;
    this.drainWaiter = undefined;
    w?.();
  }
  deliver(_channel: ChannelState, data: Buffer, extended: number): unknown {
    this.delivered.push(`${extended ? 'stderr' : 'data'}:${data.toString()}`);
    const held = this.hold;
    this.hold = undefined;
    return held;
  }
  readyToSend(): void {}
  violation(_channel: ChannelState, description: string): void {
    this.violations.push(description);
  }
  checkBacklog(): void {}
  inputOverflow(): void {}
  inputFailed(_channel: ChannelState, err: unknown): void {
    throw err;
  }
  finished(): void {}
}

function channel(window: number, packetSize: number): { state: ChannelState; sink: RecordingSink } {
  const socket = Object.assign(new EventEmitter(), { writableLength: 0, bytesRead: 0, bytesWritten: 0 }) as unknown as Socket;
  const conn = new ConnectionRecord('c1', socket, '127.0.0.1', 1, '127.0.0.1', 0);
  const sink = new RecordingSink();
  const state = new ChannelState('ch1', 0, conn, 'session', sink);
  state.open(7, window, packetSize);
  return { state, sink };
}

test('output: packets never exceed the client packet size, the total never exceeds its window; a WINDOW_ADJUST sends the rest', async () => {
  const { state, sink } = channel(10, 4);
  let sent = false;
  const p = state.send(Buffer.from('abcdefghijklmnop'), 0).then(() => (sent = true));
  assert.deepEqual(sink.wire, ['data:7:abcd', 'data:7:efgh', 'data:7:ij']);
  assert.equal(state.readyToSend, false);
  await Promise.resolve();
  assert.equal(sent, false, 'the send is not complete while bytes wait for window');
  state.windowAdjust(100);
  await p;
  assert.deepEqual(sink.wire.slice(3), ['data:7:klmn', 'data:7:op']);
  assert.equal(state.readyToSend, true);
});

test('output order: data, then a channel request, EOF and CLOSE, each behind what was queued before it', async () => {
  const { state, sink } = channel(0, 32768);
  const data = state.send(Buffer.from('out'), 0);
  const err = state.send(Buffer.from('err'), 1);
  const request = state.sendPacket(Buffer.from([98, 0, 0, 0, 7]));
  const closed = state.close();
  assert.deepEqual(sink.wire, [], 'nothing leaves while the window is closed, not even EOF or CLOSE');
  state.windowAdjust(1024);
  await Promise.all([data, err, request, closed]);
  assert.deepEqual(sink.wire, ['data:7:out', 'data(1):7:err', 'packet:98', 'eof:7', 'close:7']);
  await assert.rejects(state.send(Buffer.from('late'), 0), /closed|EOF/);
});

test('output waits while the socket is congested and resumes on drain, in order', async () => {
  const { state, sink } = channel(1 << 20, 32768);
  sink.congestedNow = true;
  const a = state.send(Buffer.from('a'), 0);
  state.eof();
  assert.deepEqual(sink.wire, []);
  sink.drain();
  await a;
  assert.deepEqual(sink.wire, ['data:7:a', 'eof:7']);
});

test('small sends queued behind each other leave as one packet', async () => {
  const { state, sink } = channel(0, 32768);
  const sends = ['one ', 'two ', 'three'].map((s) => state.send(Buffer.from(s), 0));
  state.windowAdjust(1 << 20);
  await Promise.all(sends);
  assert.deepEqual(sink.wire, ['data:7:one two three']);
});

test('input: our window is reopened once the application has taken half of it; a client that overruns it is a violation', () => {
  const { state, sink } = channel(1 << 20, 32768);
  const half = LOCAL_WINDOW / 2;
  assert.equal(state.accept(half - 1), true);
  state.inbound.data(Buffer.alloc(half - 1), 0);
  assert.deepEqual(sink.wire, [], 'no adjust before half the window is taken');
  assert.equal(state.accept(1), true);
  state.inbound.data(Buffer.alloc(1), 0);
  assert.deepEqual(sink.wire, [`adjust:7:${half}`]);
  // The client's window is whole again: it may send LOCAL_WINDOW bytes, not one more.
  assert.equal(state.accept(LOCAL_WINDOW), true);
  assert.equal(state.accept(1), false);
  assert.equal(sink.violations.length, 1);
  assert.match(sink.violations[0], /1 bytes with only 0 left/);
});

test('input order: data held by an asynchronous handler keeps later data and EOF behind it, and its window share', async () => {
  const { state, sink } = channel(1 << 20, 32768);
  let release!: () => void;
  sink.hold = new Promise<void>((resolve) => (release = resolve));
  const events: string[] = [];
  state.accept(3);
  state.inbound.data(Buffer.from('one'), 0);
  state.accept(3);
  state.inbound.data(Buffer.from('two'), 0);
  state.inbound.run(() => void events.push('eof'));
  assert.deepEqual(sink.delivered, ['data:one']);
  assert.deepEqual(events, [], 'EOF waits behind the held data');
  release();
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(sink.delivered, ['data:one', 'data:two']);
  assert.deepEqual(events, ['eof']);
});
