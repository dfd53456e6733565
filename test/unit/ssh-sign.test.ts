// sshSign (src/certs/sshSign.ts), the daemon's own SSH signatures (host-key proofs): every
// algorithm verifies with the independent checker (sshSignature.ts), and a wrong pairing throws;
// parsed client keys are cached by blob, bounded.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { test } from 'node:test';
import { publicKeyBlob } from '../../src/certs/opensshKey';
import { checkSshSignature, parseSshPublicKey } from '../../src/certs/sshSignature';
import { sshSign } from '../../src/certs/sshSign';

const data = Buffer.from('hostkeys-prove-00@openssh.com and more');
const keys = {
  'ssh-ed25519': generateKeyPairSync('ed25519').privateKey,
  'ecdsa-sha2-nistp256': generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey,
  'ecdsa-sha2-nistp384': generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey,
  'ecdsa-sha2-nistp521': generateKeyPairSync('ec', { namedCurve: 'P-521' }).privateKey,
  'ssh-rsa': generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey,
};

test('every signature algorithm verifies with the independent checker', () => {
  const cases: [keyof typeof keys, string][] = [
    ['ssh-ed25519', 'ssh-ed25519'],
    ['ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp256'],
    ['ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp384'],
    ['ecdsa-sha2-nistp521', 'ecdsa-sha2-nistp521'],
    ['ssh-rsa', 'rsa-sha2-512'],
    ['ssh-rsa', 'rsa-sha2-256'],
    ['ssh-rsa', 'ssh-rsa'],
  ];
  for (const [type, algorithm] of cases) {
    // ECDSA r and s are mpints of varying length: sign a few times to meet short values and high bits.
    for (let i = 0; i < (type.startsWith('ecdsa') ? 20 : 1); i++) {
      const sig = sshSign(keys[type], type, algorithm, data);
      const check = checkSshSignature(publicKeyBlob(keys[type]), data, sig, {
        expectedAlgorithm: algorithm,
        allowedAlgorithms: [algorithm],
      });
      assert.ok(check.ok, `${algorithm}: ${check.ok ? '' : check.reason}`);
    }
  }
});

test('an algorithm that does not fit the key type throws', () => {
  assert.throws(
    () => sshSign(keys['ssh-ed25519'], 'ssh-ed25519', 'rsa-sha2-512', data),
    /cannot sign with rsa-sha2-512 using a ssh-ed25519 key/,
  );
  assert.throws(() => sshSign(keys['ssh-rsa'], 'ssh-rsa', 'rsa-sha2-1024', data), /cannot sign/);
});

test('parsed public keys are kept by blob: the same blob gives the same key, another blob its own, failures stay failures, and the cache is bounded', () => {
  const blob = publicKeyBlob(generateKeyPairSync('ed25519').publicKey);
  const first = parseSshPublicKey(blob);
  assert.ok(first.ok);
  assert.equal(parseSshPublicKey(Buffer.from(blob)), first, 'an equal blob in another buffer: the parsed key is reused');
  const other = parseSshPublicKey(publicKeyBlob(generateKeyPairSync('ed25519').publicKey));
  assert.ok(other.ok);
  assert.notEqual(other.key, first.key);
  assert.ok(!other.key.equals(first.key), 'a different key is never answered from the cache');

  const truncated = blob.subarray(0, blob.length - 1);
  const bad = parseSshPublicKey(truncated);
  assert.equal(bad.ok, false);
  assert.equal(parseSshPublicKey(truncated).ok, false);

  // A client presenting many keys turns the cache over; the first one is parsed afresh afterwards.
  for (let i = 0; i < 600; i++) assert.ok(parseSshPublicKey(publicKeyBlob(generateKeyPairSync('ed25519').publicKey)).ok);
  const again = parseSshPublicKey(blob);
  assert.ok(again.ok);
  assert.notEqual(again, first, 'evicted after 600 other keys');
  assert.ok(again.key.equals(first.key));
});
