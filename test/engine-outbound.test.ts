/**
 * The outbound fast path of the engine adapter (src/engine/writeBatching.ts, packetBuffers.ts,
 * paddingPool.ts): one writev per tick, pooled padding randomness, reused packet memory.
 *
 * - Padding stays random: read on the wire by an in-process ssh2 client's decipher (the session
 *   keys), no two packets share padding bytes; the same capture against a plain ssh2 server (the
 *   reference, unpatched) shows the same properties.
 * - Order and integrity under backpressure: OpenSSH's client moves 256 MiB down, up and both ways at
 *   once through a reader that stalls, with re-keys every 32 MiB; the SHA-256 of what arrives is the
 *   SHA-256 of what was sent, and the arena's "socket still holds it" path was taken.
 * - Strict KEX (the Terrapin countermeasure) still holds: OpenSSH reports it, and a client that
 *   sends a message before its strict KEXINIT is dropped (a non-strict one is served).
 * - A tick's corked writes reach the peer when the socket is destroyed in the same tick.
 */
import assert from 'node:assert/strict';
import { createCipheriv, createHash, generateKeyPairSync, timingSafeEqual } from 'node:crypto';
import { createServer, Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { Client, Server as Ssh2Server, type Connection } from 'ssh2';
import { Certificate, requestParamsOf, type SSHDaemon } from '../src';
import { RandomPool } from '../src/engine/paddingPool';
import { packetBufferStats } from '../src/engine/packetBuffers';
import { batchWrites } from '../src/engine/writeBatching';
import type { Ssh2Connection } from '../src/engine/ssh2Types';
import { encodeString } from '../src/packet/wire';
import { withBareDaemon } from './fixtures/bareDaemon';
import { requireBinary } from './fixtures/clients';
import { withKeyLogin } from './fixtures/keyLogin';
import { RawTransport } from './fixtures/rawTransport';
import { sleep, until } from './fixtures/wait';

const MiB = 1024 * 1024;
const TIMEOUT = { timeout: 600_000 };

// ---- the padding pool ------------------------------------------------------------------------

test('the padding pool hands out each byte of a refill once, in order, then refills', () => {
  // Every refill writes the byte positions 0..63, so each slice tells where in the block it came from.
  let refills = 0;
  const pool = new RandomPool(64, (block) => {
    refills++;
    for (let i = 0; i < block.length; i++) block[i] = i;
  });
  const dst = Buffer.alloc(32);
  let last = { refill: 0, end: 0 };
  for (let i = 0; i < 100; i++) {
    const n = 4 + (i % 16);
    pool.copyTo(dst, 3, n);
    const start = dst[3];
    for (let k = 1; k < n; k++) assert.equal(dst[3 + k], start + k, 'a slice is consecutive bytes of one block');
    if (refills === last.refill) assert.ok(start >= last.end, `slice at ${start} overlaps bytes handed out up to ${last.end}`);
    else assert.equal(start, 0, 'a new block is used from its start');
    last = { refill: refills, end: start + n };
  }
  assert.ok(refills >= 18, `refilled when used up (${refills} blocks for 1150 bytes)`);
  assert.throws(() => pool.copyTo(dst, 0, 65), /exceeds the pool block/);
});

// ---- padding on the wire ---------------------------------------------------------------------

interface Capture {
  pads: Buffer[];
  payloads: number;
}

/**
 * An ssh2 client whose decipher reports each packet's padding: ssh2 decrypts the packet (padding
 * length, payload, padding) in place and hands the payload over as a view of it, so the padding
 * length is the byte before the view and the padding the bytes after it.
 */
function capturingClient(port: number, cipher: string, capture: Capture): Promise<Client> {
  const c = new Client();
  const ready = new Promise<Client>((resolve, reject) => c.on('ready', () => resolve(c)).on('error', reject));
  c.connect({
    host: '127.0.0.1',
    port,
    username: 'tester',
    password: 'pw',
    readyTimeout: 30_000,
    algorithms: { cipher: [cipher] } as never,
  });
  const proto = (c as unknown as { _protocol: { _onPayload(p: Buffer): unknown } })._protocol;
  assert.equal(typeof proto?._onPayload, 'function', 'ssh2 Client builds its protocol in connect()');
  const onPayload = proto._onPayload;
  // Deciphers built at each NEWKEYS take `_onPayload` from here.
  proto._onPayload = (payload: Buffer) => {
    const padLen = new Uint8Array(payload.buffer, payload.byteOffset - 1, 1)[0];
    capture.pads.push(Buffer.from(new Uint8Array(payload.buffer, payload.byteOffset + payload.length, padLen)));
    capture.payloads++;
    return onPayload(payload);
  };
  return ready;
}

/** Sizes of the server's writes: small packets, packet-sized ones, and bulk that splits into many. */
const SIZES = [1, 7, 100, 1000, 4095, 4096, 5000, 32768, 40000, 70000];

async function produce(send: (chunk: Buffer) => Promise<unknown>, rounds: number): Promise<void> {
  for (let i = 0; i < rounds; i++) await send(Buffer.alloc(SIZES[i % SIZES.length], i & 0xff));
}

function assertRandomPadding(capture: Capture, label: string): void {
  assert.ok(capture.pads.length >= 1000, `${label}: ${capture.pads.length} packets captured`);
  for (const pad of capture.pads) assert.ok(pad.length >= 4, `${label}: padding of ${pad.length} bytes`);
  // Reused bytes would repeat: no 8-byte run of the padding stream occurs twice (random: ~1e-10).
  const all = Buffer.concat(capture.pads);
  const runs = new Set<string>();
  for (let i = 0; i + 8 <= all.length; i++) {
    const run = all.toString('hex', i, i + 8);
    assert.ok(!runs.has(run), `${label}: padding bytes repeat (${run} at ${i} of ${all.length})`);
    runs.add(run);
  }
  // And they look uniform: every byte value turns up (expected count ${all.length / 256} each).
  const counts = new Array<number>(256).fill(0);
  for (const b of all) counts[b]++;
  const expected = all.length / 256;
  assert.ok(
    Math.min(...counts) > expected * 0.4 && Math.max(...counts) < expected * 1.8,
    `${label}: byte counts ${Math.min(...counts)}-${Math.max(...counts)}, expected ~${expected.toFixed(0)}`,
  );
}

const ROUNDS = 1200;

for (const cipher of ['aes128-gcm@openssh.com', 'chacha20-poly1305@openssh.com']) {
  test(`${cipher}: padding read on the wire is random and never shared between packets, as with plain ssh2`, TIMEOUT, async () => {
    // The reference: an unpatched ssh2 server doing the same writes.
    const hostKey = Certificate.generate('ed25519');
    const reference = new Ssh2Server({ hostKeys: [hostKey.toOpenSSH()] }, (conn: Connection) => {
      conn.on('authentication', (ctx) => ctx.accept());
      conn.on('ready', () =>
        conn.on('session', (accept) => {
          accept().on('exec', (acceptExec) => {
            const stream = acceptExec();
            void produce((chunk) => new Promise((r) => (stream.write(chunk) ? r(undefined) : stream.once('drain', r))), ROUNDS).then(() => {
              stream.exit(0);
              stream.end();
            });
          });
        }),
      );
    });
    await new Promise<void>((r) => reference.listen(0, '127.0.0.1', r));
    const referencePort = (reference.address() as { port: number }).port;
    const got = { ours: { pads: [], payloads: 0 } as Capture, reference: { pads: [], payloads: 0 } as Capture };
    const run = async (port: number, capture: Capture) => {
      const c = await capturingClient(port, cipher, capture);
      await new Promise<void>((resolve, reject) =>
        c.exec('produce', (err, stream) => {
          if (err) return reject(err);
          stream.resume();
          stream.on('close', () => resolve());
        }),
      );
      c.end();
    };
    try {
      await run(referencePort, got.reference);
    } finally {
      reference.close();
    }
    await withBareDaemon(async ({ daemon, port, errors }) => {
      daemon.on('SSHUserAuthRequest', (e) => void (e.accept = e.authMethod === 'password'));
      daemon.on('SSHChannelOpenRequest', (e) => void (e.accept = true));
      daemon.on('SSHChannelRequest', (e) => void (e.success = e.requestType === 'exec'));
      daemon.on('SSHChannelRequested', (e) => {
        if (e.requestType !== 'exec') return;
        void produce((chunk) => daemon.sendChannelData(e.channelId, chunk), ROUNDS).then(() =>
          daemon.sendExitStatus(e.channelId, 0).then(() => daemon.closeChannel(e.channelId)),
        );
      });
      const before = { ...packetBufferStats };
      await run(port, got.ours);
      // The daemon's packets came from the patched allocation: bulk ones from the arena, small ones from Node's pool.
      assert.ok(packetBufferStats.arena - before.arena > 500, `arena packets: ${packetBufferStats.arena - before.arena}`);
      assert.ok(packetBufferStats.small - before.small > 300, `small packets: ${packetBufferStats.small - before.small}`);
      assert.deepEqual(errors, []);
    });
    assertRandomPadding(got.reference, `${cipher} plain ssh2`);
    assertRandomPadding(got.ours, `${cipher} daemon`);
  });
}

// ---- order and integrity under backpressure, with OpenSSH ------------------------------------

/** A deterministic stream without period (AES-128-CTR keystream), so a reordered packet changes the hash. */
const SEED = createHash('sha256').update('engine-outbound').digest().subarray(0, 16);
function keystream(): (n: number) => Buffer {
  const c = createCipheriv('aes-128-ctr', SEED, Buffer.alloc(16));
  return (n) => c.update(Buffer.alloc(n));
}
function keystreamHash(bytes: number): string {
  const next = keystream();
  const h = createHash('sha256');
  for (let left = bytes; left > 0; left -= MiB) h.update(next(Math.min(MiB, left)));
  return h.digest('hex');
}
/** The same keystream from openssl (the client side's source for uploads). */
const opensslSource = (bytes: number) =>
  `openssl enc -aes-128-ctr -K ${SEED.toString('hex')} -iv ${'0'.repeat(32)} -nosalt -in /dev/zero 2>/dev/null | head -c ${bytes}`;
/** Reads stdin in 256 KiB blocks, stalling 0.2 s every 16 MiB (the socket fills meanwhile); prints the SHA-256 and the count. */
const SLOW_READER = `python3 -c 'import sys,hashlib,time
h=hashlib.sha256();n=0
while True:
  b=sys.stdin.buffer.read(262144)
  if not b: break
  h.update(b);n+=len(b)
  if n%(16<<20)<262144: time.sleep(0.2)
print(h.hexdigest(),n)'`;

/** Write sizes of the download: a packet's worth, less, more, and bulk. */
const DOWN_SIZES = [1, 100, 4095, 32768, 32769, 65536, 200_000, 262_144, 1_000_000];

function serveTransfers(daemon: SSHDaemon): void {
  daemon.on('SSHChannelRequest', (e) => void (e.success = e.requestType === 'exec'));
  const uploads = new Map<string, { hash: ReturnType<typeof createHash>; bytes: number }>();
  daemon.on('SSHChannelRequested', (e) => {
    const [verb, arg] = (requestParamsOf(e, 'exec')?.command ?? '').split(' ');
    const id = e.channelId;
    if (verb === 'down') {
      // A failed transfer shows in the client's checksum; the send rejecting then is no second failure.
      void (async () => {
        const next = keystream();
        for (let left = Number(arg), i = 0; left > 0; i++) {
          const n = Math.min(left, DOWN_SIZES[i % DOWN_SIZES.length]);
          await daemon.sendChannelData(id, next(n));
          left -= n;
        }
        await daemon.sendExitStatus(id, 0);
        await daemon.closeChannel(id);
      })().catch(() => undefined);
    } else if (verb === 'up') {
      uploads.set(id, { hash: createHash('sha256'), bytes: 0 });
    } else if (verb === 'echo') {
      const channel = daemon.channelStream(id);
      const through = new PassThrough();
      channel.pipe(through).pipe(channel, { end: false });
      through.on('end', () => channel.exit(0));
    }
  });
  daemon.on('SSHChannelDataIn', (e) => {
    const u = uploads.get(e.channelId);
    if (!u) return;
    const crossed = Math.floor((u.bytes + e.data.length) / (8 * MiB)) > Math.floor(u.bytes / (8 * MiB));
    u.hash.update(e.data);
    u.bytes += e.data.length;
    // Now and then the application is slow: its input (and the client's window) is held a while.
    if (crossed) return sleep(50);
  });
  daemon.on('SSHChannelEOF', (e) => {
    const u = uploads.get(e.channelId);
    if (!u) return;
    uploads.delete(e.channelId);
    void daemon
      .sendChannelData(e.channelId, `${u.hash.digest('hex')} ${u.bytes}\n`)
      .then(() => daemon.sendExitStatus(e.channelId, 0))
      .then(() => daemon.closeChannel(e.channelId));
  });
}

const TRANSFER_CASES: { cipher: string; mac: string; bytes: number }[] = [
  { cipher: 'aes128-gcm@openssh.com', mac: 'hmac-sha2-256-etm@openssh.com', bytes: 256 * MiB },
  { cipher: 'chacha20-poly1305@openssh.com', mac: 'hmac-sha2-256-etm@openssh.com', bytes: 64 * MiB },
  { cipher: 'aes128-ctr', mac: 'hmac-sha2-256-etm@openssh.com', bytes: 32 * MiB },
];

test(
  'OpenSSH: SHA-256 of what arrives equals what was sent, down, up and both ways at once, through a stalling reader and re-keys every 32 MiB',
  TIMEOUT,
  () =>
    withKeyLogin(async ({ daemon, shell, errors }) => {
      requireBinary('openssl');
      requireBinary('python3');
      serveTransfers(daemon);
      const before = { ...packetBufferStats };
      for (const { cipher, mac, bytes } of TRANSFER_CASES) {
        const ssh = `$SSH -c ${cipher} -m ${mac} -o RekeyLimit=32M`;
        const expected = `${keystreamHash(bytes)} ${bytes}`;
        const down = await shell(`${ssh} 'down ${bytes}' | ${SLOW_READER}`, { timeoutMs: 300_000 });
        assert.equal(down.stdout.toString().trim(), expected, `${cipher} download: ${down.stderr} ${errors.join('; ')}`);
        const up = await shell(`${opensslSource(bytes)} | ${ssh} up`, { timeoutMs: 300_000 });
        assert.equal(up.stdout.toString().trim(), expected, `${cipher} upload: ${up.stderr} ${errors.join('; ')}`);
        const echo = await shell(`${opensslSource(bytes)} | ${ssh} echo | ${SLOW_READER}`, { timeoutMs: 300_000 });
        assert.equal(echo.stdout.toString().trim(), expected, `${cipher} both ways: ${echo.stderr} ${errors.join('; ')}`);
      }
      assert.ok(packetBufferStats.arena - before.arena > 1000, `arena packets: ${packetBufferStats.arena - before.arena}`);
      assert.deepEqual(errors, []);
    }),
);

test(
  'a socket that stops taking data: packets the socket still holds are never overwritten (8 channels, 64 MiB, the client stops reading its socket now and then)',
  TIMEOUT,
  () =>
    withBareDaemon(async ({ daemon, port, errors }) => {
      daemon.on('SSHUserAuthRequest', (e) => void (e.accept = e.authMethod === 'password'));
      daemon.on('SSHChannelOpenRequest', (e) => void (e.accept = true));
      serveTransfers(daemon);
      const c = await new Promise<Client>((resolve, reject) => {
        const client = new Client();
        client.on('ready', () => resolve(client)).on('error', reject);
        client.connect({
          host: '127.0.0.1',
          port,
          username: 'tester',
          password: 'pw',
          readyTimeout: 30_000,
          algorithms: { cipher: ['aes128-gcm@openssh.com'] } as never,
        });
      });
      const sock = (c as unknown as { _sock: Socket })._sock;
      const bytes = 8 * MiB;
      const before = { ...packetBufferStats };
      let received = 0;
      let stalled = false;
      const hashes = await Promise.all(
        Array.from(
          { length: 8 },
          () =>
            new Promise<string>((resolve, reject) =>
              c.exec(`down ${bytes}`, (err, stream) => {
                if (err) return reject(err);
                const h = createHash('sha256');
                stream.on('data', (d: Buffer) => {
                  h.update(d);
                  received += d.length;
                  // Every 4 MiB the client stops reading its socket for a while: eight 2 MiB windows
                  // are more than the kernel buffers, so the daemon's socket fills.
                  if (!stalled && received % (4 * MiB) < d.length) {
                    stalled = true;
                    sock.pause();
                    setTimeout(() => {
                      stalled = false;
                      sock.resume();
                    }, 150);
                  }
                });
                stream.on('close', () => resolve(h.digest('hex')));
              }),
            ),
        ),
      );
      c.end();
      const expected = keystreamHash(bytes);
      assert.deepEqual(hashes, Array(8).fill(expected));
      assert.ok(
        packetBufferStats.pending - before.pending > 0,
        `packets allocated while the socket still held the arena: ${packetBufferStats.pending - before.pending}`,
      );
      assert.ok(packetBufferStats.arena - before.arena > 500, `arena packets: ${packetBufferStats.arena - before.arena}`);
      assert.deepEqual(errors, []);
    }),
);

// ---- strict KEX ------------------------------------------------------------------------------

test('strict KEX: OpenSSH negotiates it and re-keys every MiB of a transfer with the fast path in place', TIMEOUT, () =>
  withKeyLogin(async ({ daemon, shell, errors }) => {
    requireBinary('python3');
    serveTransfers(daemon);
    const bytes = 16 * MiB;
    const r = await shell(`$SSH -vvv -o RekeyLimit=1M 'down ${bytes}' 2>ssh.err | ${SLOW_READER}; cat ssh.err >&2; rm -f ssh.err`, {
      timeoutMs: 300_000,
    });
    assert.equal(r.stdout.toString().trim(), `${keystreamHash(bytes)} ${bytes}`, r.stderr.slice(-2000));
    assert.match(r.stderr, /will use strict KEX ordering/);
    const newkeys = r.stderr.match(/SSH2_MSG_NEWKEYS received/g)?.length ?? 0;
    assert.ok(newkeys >= 5, `${newkeys} key exchanges`);
    assert.deepEqual(errors, []);
  }),
);

/** An X25519 public value, for KEX_ECDH_INIT. */
function x25519Public(): Buffer {
  const { publicKey } = generateKeyPairSync('x25519');
  return publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
}

test(
  'strict KEX: a message before the client KEXINIT is refused when the client asked for strict KEX, and served otherwise (Terrapin)',
  TIMEOUT,
  () =>
    withBareDaemon(async ({ port }) => {
      const IGNORE = Buffer.concat([Buffer.from([2]), encodeString('x')]);
      const ECDH_INIT = 30;
      const ECDH_REPLY = 31;
      const probe = async (strict: boolean) => {
        const t = new RawTransport(port);
        try {
          await until('the server KEXINIT', () => t.received(20));
          t.send(IGNORE);
          t.kexinit(strict ? 'curve25519-sha256,kex-strict-c-v00@openssh.com' : 'curve25519-sha256');
          t.send(Buffer.concat([Buffer.from([ECDH_INIT]), encodeString(x25519Public())]));
          await Promise.race([t.closed, until('the ECDH reply or the close', () => t.received(ECDH_REPLY))]);
          return t.received(ECDH_REPLY);
        } finally {
          t.destroy();
        }
      };
      assert.equal(await probe(false), true, 'without strict KEX an IGNORE before KEXINIT is allowed (RFC 4253)');
      const strictTransport = await probe(true);
      assert.equal(strictTransport, false, 'with kex-strict-c the IGNORE before KEXINIT ends the connection');
    }),
);

// ---- write batching --------------------------------------------------------------------------

test("a tick's batched writes count in writableLength, go out in order, and reach the peer when the socket is destroyed in the same tick", async () => {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const received = (destroy: (s: Socket) => void, batched: boolean) =>
    new Promise<Buffer>((resolve, reject) => {
      server.once('connection', (peer: Socket) => {
        const chunks: Buffer[] = [];
        peer
          .on('data', (d: Buffer) => chunks.push(d))
          .on('close', () => resolve(Buffer.concat(chunks)))
          .on('error', reject);
      });
      const s = new Socket();
      s.connect(port, '127.0.0.1', () => {
        // What ssh2's server.js gives the engine: an onWrite that writes to the socket.
        const fake = { _protocol: { _onWrite: (d: Uint8Array) => void s.write(d) }, _sock: s } as unknown as Ssh2Connection;
        if (batched) batchWrites(fake);
        const proto = (fake as unknown as { _protocol: { _onWrite(d: Uint8Array): void } })._protocol;
        for (let i = 0; i < 10; i++) proto._onWrite(Buffer.alloc(1000, i));
        if (batched) assert.equal(s.writableLength, 10_000, 'corked bytes are queued bytes for OutBufferSize');
        destroy(s);
      });
    });
  try {
    const expected = Buffer.concat(Array.from({ length: 10 }, (_, i) => Buffer.alloc(1000, i)));
    const got = await received((s) => s.destroy(), true);
    assert.ok(timingSafeEqual(got, expected) && got.length === expected.length, `peer got ${got.length} bytes`);
    // The reference: a plain socket corked by hand loses them at destroy (what the wrapper prevents).
    const plain = await received((s) => {
      s.cork();
      s.write(Buffer.alloc(10));
      s.destroy();
    }, false);
    assert.equal(plain.length, 10_000, 'writes before the hand-made cork went out; the corked ones did not');
  } finally {
    server.close();
  }
});
