/**
 * mlkem768x25519-sha256 (src/engine/pqKex.ts): known answers, the in-process ssh2 client as a
 * post-quantum peer (no Debian 12 client has the method), re-keying, malformed client values over
 * a raw socket, OpenSSH 9.2 still getting curve25519, and the engine shape the patch relies on.
 */
import assert from 'node:assert/strict';
import { createHash, createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect as tcpConnect, type Socket } from 'node:net';
import { test } from 'node:test';
import type { Client } from 'ssh2';
import { DEFAULTS, SUPPORTED } from '../src/config/algorithms';
import {
  clientKeys,
  combineSecrets,
  encapsulationKeyProblem,
  MLKEM768X25519_SHA256,
  postQuantumKexStatus,
  serverEncapsulate,
  SIZES,
  x25519PrivateKey,
} from '../src/engine/pqKex';
import { engineAlgorithms } from '../src/engine/ssh2Internals';
import { installEngine } from '../src/engine/installEngine';
import { withBareDaemon, type BareDaemon } from './fixtures/bareDaemon';
import { opensshArgs, requireBinary, run } from './fixtures/clients';
import { connect, exec } from './helpers-ssh2';
import { until } from './fixtures/wait';

/* eslint-disable @typescript-eslint/no-require-imports */
const { ml_kem768 } = require('@noble/post-quantum/ml-kem.js') as typeof import('@noble/post-quantum/ml-kem.js');
/* eslint-enable @typescript-eslint/no-require-imports */

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

// RFC 7748 §6.1 X25519 test vector.
const RFC7748 = {
  alicePrivate: '77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a',
  alicePublic: '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a',
  bobPrivate: '5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb',
  bobPublic: 'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f',
  shared: '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742',
};

/**
 * C2SP/CCTV ML-KEM "accumulated pq-crystals vectors" (https://c2sp.org/CCTV/ML-KEM), FIPS 203 final:
 * inputs d, z, m, ct drawn from SHAKE-128(""), outputs ek, dk, ct, K, K̄ absorbed by a running SHAKE-128.
 * CCTV publishes the 10 000-vector digest; the 100-vector digest is the prefix published by the
 * crystals-kyber-js tests. Both were reproduced with @noble/post-quantum 0.7.1 (10 000 take ~15 s:
 * set PQ_KAT_FULL=1 to run them).
 */
const ACCUMULATED = {
  100: '8d65b902f28edc683cebee2872962fd165a4d197c9e24ec74caa4470270df0b7',
  10000: 'f959d18d3d1180121433bf0e05f11e7908cf9d03edc150b2b07cb90bef5bc1c1',
} as const;
const PER_VECTOR = 32 + 32 + 32 + SIZES.mlkemCipherText;

function accumulatedVectors(n: number): { digest: string; first: { seed: Buffer; m: Buffer; ek: string; ct: string; k: string } } {
  const rng = createHash('shake128', { outputLength: n * PER_VECTOR }).digest();
  const acc = createHash('shake128', { outputLength: 32 });
  let first: { seed: Buffer; m: Buffer; ek: string; ct: string; k: string } | undefined;
  for (let i = 0; i < n; i++) {
    const o = i * PER_VECTOR;
    const seed = rng.subarray(o, o + 64); // d || z
    const m = rng.subarray(o + 64, o + 96);
    const badCt = rng.subarray(o + 96, o + PER_VECTOR);
    const { publicKey: ek, secretKey: dk } = ml_kem768.keygen(Uint8Array.from(seed));
    const { cipherText: ct, sharedSecret: k } = ml_kem768.encapsulate(ek, Uint8Array.from(m));
    assert.equal(hex(ml_kem768.decapsulate(ct, dk)), hex(k), `vector ${i}: decapsulation disagrees`);
    const kBar = ml_kem768.decapsulate(Uint8Array.from(badCt), dk);
    acc.update(ek).update(dk).update(ct).update(k).update(kBar);
    if (i === 0) first = { seed: Buffer.from(seed), m: Buffer.from(m), ek: hex(ek), ct: hex(ct), k: hex(k) };
  }
  return { digest: acc.digest('hex'), first: first! };
}

test('ML-KEM-768 from @noble/post-quantum matches the C2SP/CCTV accumulated FIPS 203 vectors', () => {
  const n = process.env.PQ_KAT_FULL === '1' ? 10000 : 100;
  assert.equal(createHash('shake128', { outputLength: 16 }).digest('hex'), '7f9c2ba4e88f827d616045507605853e'); // CCTV's RNG check
  assert.equal(accumulatedVectors(n).digest, ACCUMULATED[n]);
});

test('X25519 in node:crypto matches RFC 7748 §6.1', () => {
  const pub = (h: string) =>
    createPublicKey(x25519PrivateKey(Buffer.from(h, 'hex')))
      .export({ format: 'der', type: 'spki' })
      .subarray(12);
  assert.equal(hex(pub(RFC7748.alicePrivate)), RFC7748.alicePublic);
  assert.equal(hex(pub(RFC7748.bobPrivate)), RFC7748.bobPublic);
});

test('hybrid secret derivation: known answers built from the FIPS 203 and RFC 7748 vectors', () => {
  // The draft has no test vectors: the inputs are the first CCTV vector (d||z, m) and RFC 7748's keys,
  // so K_PQ and K_CL are known answers and K must be SHA-256(K_PQ || K_CL).
  const { first } = accumulatedVectors(1);
  const client = clientKeys({ mlkemSeed: first.seed, x25519Private: Buffer.from(RFC7748.alicePrivate, 'hex') });
  assert.equal(client.init.length, SIZES.clientInit);
  assert.equal(hex(client.init), first.ek + RFC7748.alicePublic, 'C_INIT = ML-KEM ek || X25519 public');

  const server = serverEncapsulate(client.init, { mlkemMessage: first.m, x25519Private: Buffer.from(RFC7748.bobPrivate, 'hex') });
  assert.equal(server.reply.length, SIZES.serverReply);
  assert.equal(hex(server.reply), first.ct + RFC7748.bobPublic, 'S_REPLY = ML-KEM ciphertext || X25519 public');

  const expected = createHash('sha256').update(Buffer.from(first.k, 'hex')).update(Buffer.from(RFC7748.shared, 'hex')).digest('hex');
  assert.equal(hex(server.secret), expected, 'K = SHA-256(K_PQ || K_CL)');
  assert.equal(hex(client.finish(server.reply)), expected, 'the client derives the same K');
  assert.equal(hex(combineSecrets(Buffer.from(first.k, 'hex'), Buffer.from(RFC7748.shared, 'hex'))), expected);
  // The resulting known answers, as published in docs/post-quantum.md.
  assert.equal(sha256(client.init), '2067d1750ba6a2eb77512ff8e13e5b82c1df06be5c3c5f6a9288e4835676f0f1');
  assert.equal(sha256(server.reply), '95d1e46cb2ba3e993e760ae08a98c21cab846f29e7cda2c0fffa01aa04bd7a3a');
  assert.equal(expected, 'c842db3eb12209bdae2d61faf903597a236feaa7cdf51e940edbc320bbdfb2da');
});

test('malformed client values are refused by the derivation with a named reason', () => {
  const { publicKey } = ml_kem768.keygen();
  const x = Buffer.from(RFC7748.alicePublic, 'hex');
  assert.throws(() => serverEncapsulate(Buffer.alloc(SIZES.clientInit - 1)), /C_INIT\) is 1215 bytes, expected 1216/);
  assert.throws(() => serverEncapsulate(x), /is 32 bytes, expected 1216/);
  const bad = Buffer.from(publicKey);
  bad[0] = 0xff;
  bad[1] |= 0x0f; // coefficient 0 = 4095 ≥ q
  assert.match(encapsulationKeyProblem(bad) ?? '', /modulus check \(coefficient 0 is 4095/);
  assert.throws(() => serverEncapsulate(Buffer.concat([bad, x])), /modulus check/);
  const q = Buffer.from(publicKey);
  q[3] = 0x01;
  q[4] = (q[4] & 0xf0) | 0x0d; // coefficient 2 = 3329 = q
  assert.throws(() => serverEncapsulate(Buffer.concat([q, x])), /coefficient 2 is 3329/);
  assert.throws(() => serverEncapsulate(Buffer.concat([publicKey, Buffer.alloc(32)])), /X25519 .* failed/); // low-order point
  assert.equal(encapsulationKeyProblem(publicKey), undefined);
  // The library's own check (working since 0.6) agrees.
  assert.throws(() => ml_kem768.encapsulate(Uint8Array.from(bad)), /modulus/);
  const client = clientKeys();
  assert.throws(() => client.finish(Buffer.alloc(SIZES.serverReply - 1)), /S_REPLY\) is 1119 bytes, expected 1120/);
});

test('the name is supported by the engine and first in the default SSHKeyExchangeAlgorithms', () => {
  assert.ok(engineAlgorithms().kex.includes(MLKEM768X25519_SHA256), 'listed before the engine is installed');
  installEngine();
  assert.deepEqual(postQuantumKexStatus(), { available: true });
  assert.ok(engineAlgorithms().kex.includes(MLKEM768X25519_SHA256));
  assert.equal(engineAlgorithms().kex.filter((k) => k === MLKEM768X25519_SHA256).length, 1, 'listed once after the install added it');
  assert.ok(SUPPORTED.kex.includes(MLKEM768X25519_SHA256));
  assert.equal(DEFAULTS.kex[0], MLKEM768X25519_SHA256);
  assert.equal(DEFAULTS.kex[1], 'curve25519-sha256');
});

test('the engine files the patch relies on are byte-identical to ssh2 1.17.0', () => {
  // pqKex.ts depends on handleKexInit parsing the ten lists with bufferParser and then reading
  // `self._offer`, on createKeyExchange's switch and on the KeyExchange class hierarchy. Any change
  // to these files must be reviewed against src/engine/pqKex.ts.
  const digest = (p: string) => sha256(readFileSync(require.resolve(`ssh2/lib/protocol/${p}`)));
  assert.equal(digest('kex.js'), '054ba4b81801596350f0e2e939746d2966297cffd4303b342c25b2fd5d295755');
  assert.equal(digest('utils.js'), '402b39e75ede9e3dc99af5e8af008602546f35aa1472bd4232c06f606987f053');
});

// ---------------------------------------------------------------------------------------------
// Over the wire
// ---------------------------------------------------------------------------------------------

const PQ_ONLY = { kex: [MLKEM768X25519_SHA256] };

function openDoors(daemon: BareDaemon['daemon']): string[] {
  const kex: string[] = [];
  daemon.on('SSHUserAuthRequest', (e) => void (e.accept = e.authMethod === 'password' && e.authParam === 'pw'));
  daemon.on('SSHChannelOpenRequest', (e) => void (e.accept = e.service === 'session'));
  daemon.on('SSHChannelRequest', (e) => void (e.success = true));
  // exec 'bulk': 1 MiB of output before 'ok'; anything else: just 'ok'.
  daemon.on('SSHChannelRequested', async (e) => {
    if (e.requestType !== 'exec') return;
    if ((e.params as { command?: string }).command === 'bulk') {
      for (let i = 0; i < 16; i++) await daemon.sendChannelData(e.channelId, Buffer.alloc(64 * 1024, 7));
    }
    await daemon.sendChannelData(e.channelId, 'ok\n');
    await daemon.sendExitStatus(e.channelId, 0);
    await daemon.closeChannel(e.channelId);
  });
  daemon.on('SSHStatus', (e) => {
    const m = /Key exchange complete: kex=([^,]+)/.exec(e.message);
    if (m) kex.push(m[1]);
  });
  return kex;
}

function clientKex(c: Client): string[] {
  const seen: string[] = [];
  c.on('handshake', (n: { kex: string }) => void seen.push(n.kex));
  return seen;
}

test('an ssh2 client negotiates mlkem768x25519-sha256 with the daemon defaults, strict KEX on', () =>
  withBareDaemon(async ({ daemon, port, errors }) => {
    const kex = openDoors(daemon);
    const c = await connect(port, { password: 'pw', algorithms: { kex: [MLKEM768X25519_SHA256, 'curve25519-sha256'] } as never });
    assert.equal((await exec(c, 'x')).stdout, 'ok\n');
    assert.deepEqual(kex, [MLKEM768X25519_SHA256]);
    assert.equal(
      (c as unknown as { _protocol: { _strictMode: boolean } })._protocol._strictMode,
      true,
      'kex-strict-*-v00@openssh.com negotiated',
    );
    c.end();
    assert.deepEqual(errors, []);
  }));

test('a client that prefers curve25519 still gets it: the client order decides', () =>
  withBareDaemon(async ({ daemon, port }) => {
    const kex = openDoors(daemon);
    const c = await connect(port, { password: 'pw', algorithms: { kex: ['curve25519-sha256', MLKEM768X25519_SHA256] } as never });
    assert.deepEqual(kex, ['curve25519-sha256']);
    c.end();
  }));

test('alias collisions: DH groups listed by the client or the daemon keep their own meaning', () =>
  withBareDaemon(async ({ daemon, port }) => {
    const kex = openDoors(daemon);
    const login = async (list: string[]) => {
      const c = await connect(port, { password: 'pw', algorithms: { kex: list } as never });
      const seen = clientKex(c);
      assert.equal((await exec(c, 'x')).stdout, 'ok\n');
      c.end();
      return seen;
    };
    // diffie-hellman-group1-sha1 is the first alias: a client listing it first must not get it (the daemon does not offer it)...
    await login(['diffie-hellman-group1-sha1', MLKEM768X25519_SHA256]);
    // ...and once the daemon offers the first two alias candidates, they are negotiated for real and the next alias is used.
    daemon.config(`SSHKeyExchangeAlgorithms=${MLKEM768X25519_SHA256},diffie-hellman-group1-sha1,diffie-hellman-group14-sha1`);
    await login(['diffie-hellman-group14-sha1', MLKEM768X25519_SHA256]);
    await login([MLKEM768X25519_SHA256, 'diffie-hellman-group1-sha1']);
    await login(['diffie-hellman-group1-sha1', MLKEM768X25519_SHA256]);
    assert.deepEqual(kex, [MLKEM768X25519_SHA256, 'diffie-hellman-group14-sha1', MLKEM768X25519_SHA256, 'diffie-hellman-group1-sha1']);
  }));

test('re-keying with mlkem768x25519-sha256: daemon.exchangeKeys, client rekey, KeyRenegotiationThreshold', () =>
  withBareDaemon(async ({ daemon, port, errors }) => {
    const kex = openDoors(daemon);
    daemon.config('KeyRenegotiationThreshold=65536');
    const c = await connect(port, { password: 'pw', algorithms: { kex: PQ_ONLY.kex } as never });
    const seen = clientKex(c);
    const [connectionId] = daemon.sshConnections.keys();
    await daemon.exchangeKeys(connectionId);
    await until('the client to see the daemon-initiated re-key', () => seen.length === 1);
    assert.equal((await exec(c, 'a')).stdout, 'ok\n');
    (c as unknown as { _protocol: { rekey(): void } })._protocol.rekey(); // ssh2's Client has no public rekey()
    await until('the client-initiated re-key', () => seen.length === 2);
    // 1 MiB through the channel: past the 64 KiB threshold the daemon re-keys on its own.
    const r = await exec(c, 'bulk');
    assert.equal(r.stdout.length, (1 << 20) + 3);
    assert.ok(r.stdout.endsWith('ok\n'));
    await until('a threshold re-key', () => seen.length >= 3);
    assert.ok(
      seen.every((k) => k === MLKEM768X25519_SHA256),
      seen.join(),
    );
    assert.ok(kex.length >= 4 && kex.every((k) => k === MLKEM768X25519_SHA256), kex.join());
    assert.equal((await exec(c, 'b')).stdout, 'ok\n');
    c.end();
    assert.deepEqual(errors, []);
  }));

/** A minimal SSH transport client: identification, KEXINIT and one KEX_ECDH_INIT with any value, in the clear. */
class RawKexClient {
  private sock: Socket;
  private buf = Buffer.alloc(0);
  private identSeen = false;
  readonly packets: Buffer[] = [];
  readonly closed: Promise<void>;

  constructor(port: number) {
    this.sock = tcpConnect(port, '127.0.0.1');
    this.sock.on('error', () => undefined);
    this.closed = new Promise((resolve) => this.sock.on('close', () => resolve()));
    this.sock.on('data', (d: Buffer) => this.onData(d));
    this.sock.write('SSH-2.0-pqtest_1.0\r\n');
  }

  private onData(d: Buffer): void {
    this.buf = Buffer.concat([this.buf, d]);
    if (!this.identSeen) {
      const nl = this.buf.indexOf('\n');
      if (nl < 0) return;
      this.identSeen = true;
      this.buf = this.buf.subarray(nl + 1);
    }
    while (this.buf.length >= 5) {
      const len = this.buf.readUInt32BE(0);
      if (this.buf.length < 4 + len) return;
      const pad = this.buf[4];
      this.packets.push(this.buf.subarray(5, 4 + len - pad));
      this.buf = this.buf.subarray(4 + len);
    }
  }

  send(payload: Buffer): void {
    let pad = 8 - ((5 + payload.length) % 8);
    if (pad < 4) pad += 8;
    const head = Buffer.alloc(5);
    head.writeUInt32BE(1 + payload.length + pad, 0);
    head[4] = pad;
    this.sock.write(Buffer.concat([head, payload, Buffer.alloc(pad)]));
  }

  kexinit(): void {
    const nameList = (s: string) => {
      const b = Buffer.alloc(4 + s.length);
      b.writeUInt32BE(s.length, 0);
      b.write(s, 4, 'latin1');
      return b;
    };
    const lists = [
      `${MLKEM768X25519_SHA256},kex-strict-c-v00@openssh.com`,
      'ssh-ed25519',
      'aes128-gcm@openssh.com',
      'aes128-gcm@openssh.com',
      'hmac-sha2-256-etm@openssh.com',
      'hmac-sha2-256-etm@openssh.com',
      'none',
      'none',
      '',
      '',
    ].map(nameList);
    this.send(Buffer.concat([Buffer.from([20]), Buffer.alloc(16, 1), ...lists, Buffer.alloc(5)]));
  }

  ecdhInit(value: Buffer): void {
    const p = Buffer.alloc(5 + value.length);
    p[0] = 30;
    p.writeUInt32BE(value.length, 1);
    value.copy(p, 5);
    this.send(p);
  }

  destroy(): void {
    this.sock.destroy();
  }
}

test('malformed client public values: DISCONNECT key-exchange-failed, an Error event, no crash', () =>
  withBareDaemon(async ({ daemon, port, errors }) => {
    openDoors(daemon);
    const { publicKey } = ml_kem768.keygen();
    const x = Buffer.from(RFC7748.alicePublic, 'hex');
    const badModulus = Buffer.from(publicKey);
    badModulus[0] = 0xff;
    badModulus[1] |= 0x0f;
    const cases: [string, Buffer, RegExp][] = [
      ['empty', Buffer.alloc(0), /is 0 bytes, expected 1216/],
      ['X25519 only (32 bytes)', x, /is 32 bytes, expected 1216/],
      ['one byte short', Buffer.concat([publicKey, x]).subarray(1), /is 1215 bytes, expected 1216/],
      ['one byte long', Buffer.concat([publicKey, x, Buffer.from([0])]), /is 1217 bytes, expected 1216/],
      ['ML-KEM key failing the FIPS 203 modulus check', Buffer.concat([badModulus, x]), /modulus check/],
      ['X25519 low-order point', Buffer.concat([publicKey, Buffer.alloc(32)]), /X25519/],
    ];
    for (const [name, value, why] of cases) {
      const before = errors.length;
      const raw = new RawKexClient(port);
      raw.kexinit();
      raw.ecdhInit(value);
      await Promise.race([
        raw.closed,
        new Promise((_, reject) => setTimeout(() => reject(new Error(`${name}: not disconnected`)), 10_000)),
      ]);
      const disconnect = raw.packets.find((p) => p[0] === 1);
      assert.ok(disconnect, `${name}: DISCONNECT sent`);
      assert.equal(disconnect.readUInt32BE(1), 3, `${name}: reason SSH_DISCONNECT_KEY_EXCHANGE_FAILED`);
      assert.ok(!raw.packets.some((p) => p[0] === 31), `${name}: no KEX reply`);
      await until(`${name}: Error event`, () => errors.length > before);
      assert.match(errors.slice(before).join('\n'), why, name);
      raw.destroy();
    }
    // The daemon still serves post-quantum clients.
    const c = await connect(port, { password: 'pw', algorithms: { kex: PQ_ONLY.kex } as never });
    assert.equal((await exec(c, 'x')).stdout, 'ok\n');
    c.end();
  }));

test('OpenSSH 9.2 (no mlkem768x25519-sha256) still negotiates curve25519-sha256 with the new defaults', () =>
  withBareDaemon(async ({ port }) => {
    const ssh = requireBinary('ssh');
    const r = await run(
      ssh,
      [...opensshArgs(port), '-v', '-o', 'BatchMode=yes', '-o', 'PreferredAuthentications=none', 'tester@127.0.0.1', 'true'],
      { timeoutMs: 30_000 },
    );
    const m = /kex: algorithm: (\S+)/.exec(r.stderr);
    assert.ok(m, r.stderr);
    const offered = /peer server KEXINIT proposal[\s\S]*?KEX algorithms: (\S+)/.exec(r.stderr);
    if (offered) assert.ok(offered[1].startsWith(`${MLKEM768X25519_SHA256},curve25519-sha256`), offered[1]);
    assert.equal(m[1], 'curve25519-sha256');
    assert.match(r.stderr, /kex: algorithm: curve25519-sha256/);
    if (process.env.PQ_DEBUG) console.log(r.stderr);
  }));
