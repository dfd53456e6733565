// EventHub's listener snapshots (taken once per change, not once per event): what emit() guarantees
// must still hold. A listener added or removed while an event runs takes effect from the next event;
// once() listeners run once; removeAllListeners() empties the snapshot; a throwing listener becomes
// an Error event and the others still run.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EventHub } from '../../src/events/EventHub';

const args = { connectionId: 'c', channelId: 'c:1', data: Buffer.from('x'), extended: 0 };

test('a listener added during an event runs from the next event on; one removed during an event still runs in it', () => {
  const hub = new EventHub();
  const calls: string[] = [];
  const late = () => void calls.push('late');
  const second = () => void calls.push('second');
  hub.on('SSHChannelDataIn', () => {
    calls.push('first');
    hub.on('SSHChannelDataIn', late);
    hub.off('SSHChannelDataIn', second);
  });
  hub.on('SSHChannelDataIn', second);
  hub.fireAwaitable('SSHChannelDataIn', args);
  assert.deepEqual(calls, ['first', 'second']);
  calls.length = 0;
  hub.removeAllListeners('SSHChannelDataIn');
  hub.on('SSHChannelDataIn', () => void calls.push('only'));
  hub.fire('SSHChannelDataIn', args);
  assert.deepEqual(calls, ['only']);
});

test('once() listeners run once through fire and fireAwaitable', () => {
  const hub = new EventHub();
  let n = 0;
  hub.once('SSHChannelDataIn', () => void n++);
  hub.fireAwaitable('SSHChannelDataIn', args);
  hub.fireAwaitable('SSHChannelDataIn', args);
  hub.fire('SSHChannelDataIn', args);
  assert.equal(n, 1);
  assert.equal(hub.listenerCount('SSHChannelDataIn'), 0);
});

test('a throwing listener fires Error and the next listener still runs; an async one is awaited', async () => {
  const hub = new EventHub();
  const errors: string[] = [];
  hub.on('Error', (e) => void errors.push(e.description));
  let after = false;
  hub.on('SSHChannelDataIn', () => {
    throw new Error('boom');
  });
  hub.on('SSHChannelDataIn', () => {
    after = true;
  });
  assert.equal(hub.fireAwaitable('SSHChannelDataIn', args), false);
  assert.ok(after);
  assert.match(errors[0] ?? '', /boom/);
  hub.removeAllListeners('SSHChannelDataIn');
  let settled = false;
  hub.on('SSHChannelDataIn', async () => {
    await new Promise((r) => setImmediate(r));
    settled = true;
  });
  const r = hub.fireAwaitable('SSHChannelDataIn', args);
  assert.ok(r instanceof Promise);
  assert.equal(await r, true);
  assert.ok(settled);
});

test('a listener removed between events is not called again', () => {
  const hub = new EventHub();
  let n = 0;
  const listener = () => void n++;
  hub.on('SSHChannelDataIn', listener);
  hub.fire('SSHChannelDataIn', args);
  hub.off('SSHChannelDataIn', listener);
  hub.fire('SSHChannelDataIn', args);
  hub.fireAwaitable('SSHChannelDataIn', args);
  assert.equal(n, 1);
});
