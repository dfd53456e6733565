import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cryptoBindingAvailable, engineVersionProblem, PINNED_SSH2_VERSION, SUPPORTED_ALGORITHMS } from '../src/engine/ssh2Internals';

test('the installed ssh2 is the version the engine adapter was written for', () => {
  assert.equal(engineVersionProblem(), undefined);
  assert.equal(PINNED_SSH2_VERSION, '1.17.0');
});

test("ssh2's native crypto binding is built and loaded (throughput depends on it)", () => {
  assert.equal(cryptoBindingAvailable(), true, 'sshcrypto.node missing: npm ci must run ssh2 install script (allowScripts)');
});

test('the engine still lists the algorithms our defaults rely on', () => {
  for (const a of ['curve25519-sha256', 'ecdh-sha2-nistp256']) assert.ok(SUPPORTED_ALGORITHMS.kex.includes(a), a);
  for (const a of ['chacha20-poly1305@openssh.com', 'aes128-gcm@openssh.com']) assert.ok(SUPPORTED_ALGORITHMS.cipher.includes(a), a);
  assert.ok(SUPPORTED_ALGORITHMS.hmac.includes('hmac-sha2-256-etm@openssh.com'));
});
