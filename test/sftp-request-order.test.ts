/** Unit: which READ/WRITE requests wait for running ones (draft-ietf-secsh-filexfer-02 section 6.1). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type FileAccess, mustWait, RunningAccesses } from '../src/sftp/requestOrder';

const read = (start: number, end: number, file = '/f'): FileAccess => ({ file, start, end, write: false, append: false });
const write = (start: number, end: number, file = '/f'): FileAccess => ({ file, start, end, write: true, append: false });
const append = (file = '/f'): FileAccess => ({ file, start: 0, end: 10, write: true, append: true });

test('overlapping ranges with a write wait; reads never wait for reads; other files never', () => {
  assert.equal(mustWait(read(0, 10), write(5, 15)), true, 'read behind a write it overlaps');
  assert.equal(mustWait(write(5, 15), read(0, 10)), true, 'write behind a read it overlaps');
  assert.equal(mustWait(write(0, 10), write(9, 20)), true, 'write over a write');
  assert.equal(mustWait(read(0, 10), read(5, 15)), false, 'reads overlap freely');
  assert.equal(mustWait(write(10, 20), write(0, 10)), false, 'adjacent writes do not overlap');
  assert.equal(mustWait(write(0, 10, '/g'), write(0, 10)), false, 'another file');
});

test('append writes wait for, and are waited for by, everything on their file', () => {
  assert.equal(mustWait(append(), append()), true);
  assert.equal(mustWait(read(100, 200), append()), true);
  assert.equal(mustWait(append(), read(100, 200)), true);
  assert.equal(mustWait(append('/g'), append()), false);
});

test('RunningAccesses: allows what conflicts with nothing running, and again once the conflict ends', () => {
  const running = new RunningAccesses();
  const w = write(0, 10);
  running.add(w);
  running.add(read(50, 60));
  assert.equal(running.allows(read(5, 6)), false);
  assert.equal(running.allows(read(20, 30)), true);
  assert.equal(running.allows(write(55, 56)), false, 'a write waits for a running read it overlaps');
  running.delete(w);
  assert.equal(running.allows(read(5, 6)), true);
});
