// Host keys signing through a KeyObject (src/engine/hostKeySigning.ts): for each host key type the
// signature ssh2's own verify() accepts, the same bytes as ssh2's PEM path where signatures are
// deterministic (Ed25519, RSA PKCS#1 v1.5 with each hash an exchange may ask for), and a parse error
// reported as ssh2 would. Real logins with each key type: host-keys, interop-openssh.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { signingHostKey } from '../../src/engine/hostKeySigning';
import { requireBinary } from '../fixtures/clients';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { parseKey } = require('ssh2/lib/protocol/keyParser.js') as { parseKey(t: string): { sign(d: Buffer, a?: string): Buffer } };

const KEYS: [string, string[], (string | undefined)[]][] = [
  ['ed25519', [], [undefined]],
  ['rsa', ['-b', '2048'], ['sha512', 'sha256', 'sha1']],
  ['ecdsa', ['-b', '256'], [undefined]],
  ['ecdsa', ['-b', '521'], [undefined]],
];

test('each host key type signs through its KeyObject as ssh2 does through its PEM', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hks-'));
  try {
    for (const [i, [type, bits, algos]] of KEYS.entries()) {
      const path = join(dir, `k${i}`);
      execFileSync(requireBinary('ssh-keygen'), ['-q', '-t', type, ...bits, '-N', '', '-f', path]);
      const text = readFileSync(path, 'utf8');
      const { key } = signingHostKey(text);
      const plain = parseKey(text);
      const data = Buffer.from(`exchange hash ${i}`);
      for (const algo of algos) {
        const ours = key.sign(data, algo);
        assert.ok(ours instanceof Buffer, `${type} ${algo}`);
        assert.equal(key.verify(data, ours, algo), true, `${type} ${algo} verifies`);
        if (type !== 'ecdsa') assert.deepEqual(ours, plain.sign(data, algo), `${type} ${algo}: same bytes as ssh2`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a key ssh2 cannot parse fails as ssh2 reports it', () => {
  assert.throws(() => signingHostKey('not a key'), /Cannot parse privateKey/);
});
