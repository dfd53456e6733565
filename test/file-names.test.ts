import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { decodeFileName, encodeFileName, isUtf8FileName } from '../src';

test('file names: any bytes survive decode then encode (surrogateescape), UTF-8 names are unchanged', () => {
  for (let k = 0; k < 20_000; k++) {
    const bytes = randomBytes(k % 16);
    assert.deepEqual(encodeFileName(decodeFileName(bytes)), bytes);
  }
  for (const name of ['plain.txt', 'café', '日本語.md', '\u{10080}x', '\ufffd literal']) {
    assert.equal(decodeFileName(Buffer.from(name)), name);
    assert.ok(isUtf8FileName(name));
  }
  const latin1 = decodeFileName(Buffer.from('caf\xe9.txt', 'latin1'));
  assert.equal(latin1, 'caf\udce9.txt');
  assert.equal(isUtf8FileName(latin1), false);
  assert.notEqual(decodeFileName(Buffer.from('caf\xe8.txt', 'latin1')), latin1, 'two Latin-1 names stay two names');
  assert.throws(() => encodeFileName('bad\ud800'), TypeError);
  assert.throws(() => encodeFileName('bad\udc10'), TypeError);
});
