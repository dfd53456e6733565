import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { constants as zlibConstants, deflateSync } from 'node:zlib';
import { INFLATE_LIMIT_CODE, MAX_INFLATED_PACKET } from '../src/engine/inflateLimit';
import { userAuthTakeoverInstalled } from '../src/engine/userAuthControl';
import { firstProposals } from '../src/engine/guessedKexPacketFix';
import { cryptoBindingAvailable, engineAlgorithms, engineVersionProblem, PINNED_SSH2_VERSION } from '../src/engine/ssh2Internals';
import { installEngine } from '../src/engine/installEngine';
import { methodHash, patchedCipherClasses } from '../src/engine/packetBuffers';

// The adapter's process-wide patches and source checks run here, as the daemon runs them before its first listen.
installEngine();

test('the installed ssh2 is the version the engine adapter was written for', () => {
  assert.equal(engineVersionProblem(), undefined);
  assert.equal(PINNED_SSH2_VERSION, '1.17.0');
});

test("ssh2's native crypto binding is built and loaded (throughput depends on it)", () => {
  assert.equal(cryptoBindingAvailable(), true, 'sshcrypto.node missing: npm ci must run ssh2 install script (allowScripts)');
});

test('the engine still lists the algorithms our defaults rely on', () => {
  const supported = engineAlgorithms();
  for (const a of ['curve25519-sha256', 'ecdh-sha2-nistp256']) assert.ok(supported.kex.includes(a), a);
  for (const a of ['chacha20-poly1305@openssh.com', 'aes128-gcm@openssh.com']) assert.ok(supported.cipher.includes(a), a);
  assert.ok(supported.hmac.includes('hmac-sha2-256-etm@openssh.com'));
});

test('the outbound fast path knows every cipher class ssh2 builds (writeBatching.ts and packetBuffers.ts check their sources at installEngine)', () => {
  // installEngine() ran the checks: the ssh2 lines they depend on, and each class's allocPacket and encrypt by SHA-256.
  assert.deepEqual(patchedCipherClasses().sort(), [
    'AESGCMCipherBinding',
    'AESGCMCipherNative',
    'ChaChaPolyCipherBinding',
    'ChaChaPolyCipherNative',
    'GenericCipherBinding',
    'GenericCipherNative',
    'NullCipher',
  ]);
});

test('the pin of a cipher method changes with its text (a patched ssh2 method stops installEngine)', () => {
  const source = readFileSync(require.resolve('ssh2/lib/protocol/crypto.js'), 'utf8');
  const pinned = methodHash(source, 'AESGCMCipherBinding', 'allocPacket');
  assert.equal(pinned, '7eda521a01bfe25d');
  const start = source.indexOf('class AESGCMCipherBinding');
  const edited =
    source.slice(0, start) +
    source.slice(start).replace('randomFillSync(packet, 5 + payloadLen, padLen);', 'packet.fill(0, 5 + payloadLen);');
  assert.notEqual(methodHash(edited, 'AESGCMCipherBinding', 'allocPacket'), pinned);
  assert.equal(
    methodHash(edited, 'AESGCMCipherNative', 'allocPacket'),
    methodHash(source, 'AESGCMCipherNative', 'allocPacket'),
    'other classes keep their pin',
  );
  assert.equal(methodHash(source, 'NoSuchCipher', 'allocPacket'), undefined);
});

test('the guessed-KEX-packet fix is installed on ssh2 Protocol and reads KEXINIT name-lists', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const Protocol: { prototype: object } = require('ssh2/lib/protocol/Protocol.js');
  const d = Object.getOwnPropertyDescriptor(Protocol.prototype, '_skipNextInboundPacket');
  assert.ok(d && d.get && d.set, 'accessor installed by src/engine/guessedKexPacketFix.ts');
  const list = (s: string) => Buffer.concat([Buffer.from([0, 0, 0, s.length]), Buffer.from(s)]);
  const rest = ['aes128-ctr', 'aes128-ctr', 'hmac-sha2-256', 'hmac-sha2-256', 'none', 'none', '', ''].map(list);
  const kexinit = Buffer.concat([
    Buffer.from([20]),
    Buffer.alloc(16),
    list('curve25519-sha256,ext-info-c'),
    list('ssh-ed25519,rsa-sha2-512'),
    ...rest,
    Buffer.alloc(5),
  ]);
  assert.deepEqual(firstProposals(kexinit), { kex: 'curve25519-sha256', hostKey: 'ssh-ed25519' });
  assert.equal(firstProposals(kexinit.subarray(0, 30)), undefined);
});

test('inbound inflation is bounded by the engine packet limit (src/engine/inflateLimit.ts)', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { ZlibPacketReader } = require('ssh2/lib/protocol/zlib.js') as {
    ZlibPacketReader: new () => { read(b: Buffer): Buffer; cleanup(): void };
  };
  const crypto = readFileSync(require.resolve('ssh2/lib/protocol/crypto.js'), 'utf8');
  assert.match(
    crypto,
    new RegExp(`const MAX_PACKET_SIZE = ${MAX_INFLATED_PACKET};`),
    'the bound is the largest packet ssh2 accepts on the wire',
  );
  const stream = (n: number) => deflateSync(Buffer.alloc(n), { finishFlush: zlibConstants.Z_SYNC_FLUSH });
  const fine = new ZlibPacketReader();
  assert.equal(fine.read(stream(32 * 1024)).length, 32 * 1024);
  fine.cleanup();
  const bomb = new ZlibPacketReader();
  assert.throws(
    () => bomb.read(stream(16 * 1024 * 1024)),
    (err: Error & { code?: string }) => err.code === INFLATE_LIMIT_CODE && /inflates past 35000 bytes/.test(err.message),
  );
  bomb.cleanup();
});

test('USERAUTH_REQUEST and USERAUTH_INFO_RESPONSE are routed to the daemon for its connections only', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const table = require('ssh2/lib/protocol/handlers.js') as Array<unknown>;
  for (const type of [50, 61]) assert.equal(typeof table[type], 'function');
  assert.equal(userAuthTakeoverInstalled(), true);
});
