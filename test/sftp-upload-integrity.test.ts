/**
 * Uploads arrive intact however the client's bytes are cut into socket reads. Every byte the engine
 * and the SFTP session keep past one read (a partial SSH packet, a WRITE split over SSH packets, a
 * WRITE whose data is still being written to disk, channel data handed to a handler) must be theirs;
 * a buffer reused for the next read while something still points into it corrupts files silently.
 * Each case uploads random data and compares the SHA-256 on disk with what was sent:
 * 1. an in-process ssh2 client whose writes are cut into pieces of random sizes (1 byte to 70 KiB,
 *    many ending inside an SSH packet's MAC or tag), fastPut with concurrency, four cipher/MAC kinds;
 * 2. re-keys during the upload: OpenSSH `sftp -o RekeyLimit=4M`, and the ssh2 client re-keying;
 * 3. exec channels (`cat` echoing, `sha256` hashing) on the same connection while the upload runs;
 * 4. hand-made WRITEs of 200-255 KiB (many SSH packets each) mixed with 1-10 byte ones.
 * The cut sizes come from a seeded PRNG: a failure names the seed (FRAG_SEED=n replays it).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect, type Socket } from 'node:net';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import { test } from 'node:test';
import {
  type CipherAlgorithm,
  Client,
  type ClientChannel,
  type ConnectConfig,
  type MacAlgorithm,
  type SFTPWrapper,
  type TransferOptions,
} from 'ssh2';
import { LocalFileSystem } from '../src';
import { requireBinary, run } from './fixtures/clients';
import { FXF, FXP, type RawSftp, rawSftpOverSsh } from './fixtures/rawSftp';
import { MiB, sha } from './fixtures/sftpClients';
import { sftpCommandLine } from './fixtures/sftpReference';
import type { SftpScope } from './fixtures/sftpServer';
import { PASSWORD, registryDrained, startTestServer, type TestServer, USER } from './fixtures/testServer';
import { withTempDirs } from './fixtures/trees';

const LONG = { timeout: 180_000 };
const KiB = 1024;
const SEED = process.env.FRAG_SEED ? Number(process.env.FRAG_SEED) : Math.floor(Math.random() * 2 ** 31);
const replay = `(replay: FRAG_SEED=${SEED})`;

/** mulberry32: a small seeded PRNG, so a failing cut sequence can be replayed. */
function prng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n: number) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

/**
 * A client transport that forwards every outgoing write to a TCP socket in pieces of random sizes,
 * waiting one event-loop turn between pieces so that the server reads each on its own. A piece may
 * span several of the client's writes (ssh2 writes one SSH packet per write); two in five cuts
 * fall 1-72 bytes before the end of a packet (inside its MAC or AEAD tag) or 1-8 bytes into the
 * next one (inside its length field).
 */
class FragmentingSocket extends Duplex {
  private readonly queue: Buffer[] = [];
  private queued = 0;
  private pumping = false;
  private blocked: (() => void) | undefined;
  private finishing: (() => void) | undefined;
  private identPieces = 0;
  /** Pieces sent, and how many of them ended inside the last 72 bytes of a packet. */
  readonly stats = { pieces: 0, inTail: 0 };

  constructor(
    private readonly tcp: Socket,
    private readonly rand: (n: number) => number,
  ) {
    super();
    tcp.setNoDelay(true);
    tcp.on('data', (d: Buffer) => this.push(d));
    tcp.on('end', () => this.push(null));
    tcp.on('error', (err) => this.destroy(err));
    tcp.on('close', () => this.destroy());
  }

  override _read(): void {}

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.queue.push(chunk);
    this.queued += chunk.length;
    // Accepting writes ahead of the pump lets pieces span packets; past 1 MiB queued, the client waits.
    if (this.queued < MiB) cb();
    else this.blocked = () => cb();
    void this.pump();
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (this.queued === 0) {
      this.tcp.end();
      cb();
    } else {
      this.finishing = () => {
        this.tcp.end();
        cb();
      };
    }
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.tcp.destroy();
    cb(err);
  }

  private pieceSize(): { size: number; tail: boolean } {
    const head = this.queue[0].length;
    // The identification line goes in at most two pieces: ssh2 1.17.0's server keeps only the first
    // read of a line split over three or more (Protocol.js parseHeader), and the handshake fails.
    if (this.identPieces < 2) {
      // The client's first write is its identification line: a random cut, then the rest of it in one piece.
      return { size: this.identPieces++ === 0 ? 1 + this.rand(head) : head, tail: false };
    }
    const kind = this.rand(100);
    if (kind < 40) {
      const back = 1 + this.rand(72);
      if (head > back) return { size: head - back, tail: true };
      if (this.queue.length > 1) return { size: head + 1 + this.rand(8), tail: false };
    }
    if (kind < 65) return { size: 1 + this.rand(16), tail: false };
    if (kind < 85) return { size: 17 + this.rand(4 * KiB), tail: false };
    return { size: 4 * KiB + this.rand(66 * KiB), tail: false };
  }

  private takeBytes(n: number): Buffer {
    const parts: Buffer[] = [];
    let left = Math.min(n, this.queued);
    while (left > 0) {
      const c = this.queue[0];
      if (c.length <= left) {
        parts.push(c);
        this.queue.shift();
        left -= c.length;
        this.queued -= c.length;
      } else {
        parts.push(c.subarray(0, left));
        this.queue[0] = c.subarray(left);
        this.queued -= left;
        left = 0;
      }
    }
    return parts.length === 1 ? parts[0] : Buffer.concat(parts);
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    while (this.queued > 0 && !this.tcp.destroyed) {
      const { size, tail } = this.pieceSize();
      const piece = this.takeBytes(size);
      this.stats.pieces++;
      if (tail) this.stats.inTail++;
      if (!this.tcp.write(piece)) await new Promise<void>((resolve) => this.tcp.once('drain', resolve).once('close', resolve));
      // Written in this turn's check phase, the server reads it in the next turn's poll phase, before the next piece.
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.blocked && this.queued < MiB) {
        const go = this.blocked;
        this.blocked = undefined;
        go();
      }
    }
    this.pumping = false;
    if (this.queued === 0 && this.finishing) {
      const done = this.finishing;
      this.finishing = undefined;
      done();
    }
  }
}

interface Fragmented {
  client: Client;
  sock: FragmentingSocket;
  /** The algorithms of the first key exchange. */
  negotiated: { cs: { cipher: string; mac: string } };
}

/** An ssh2 client logged in as the test user over a FragmentingSocket to the daemon. */
async function fragmentedClient(port: number, seed: number, algorithms?: ConnectConfig['algorithms']): Promise<Fragmented> {
  const tcp = tcpConnect(port, '127.0.0.1');
  await once(tcp, 'connect');
  const sock = new FragmentingSocket(tcp, prng(seed));
  const client = new Client();
  let negotiated: Fragmented['negotiated'] | undefined;
  client.once('handshake', (n: Fragmented['negotiated']) => (negotiated = n));
  await new Promise<void>((resolve, reject) => {
    client.on('ready', resolve).on('error', reject);
    client.connect({ sock, username: USER, password: PASSWORD, readyTimeout: 30_000, algorithms });
  });
  return { client, sock, negotiated: negotiated! };
}

function sftpOf(c: Client): Promise<SFTPWrapper> {
  return new Promise((resolve, reject) => c.sftp((err, s) => (err ? reject(err) : resolve(s))));
}

function fastPut(sftp: SFTPWrapper, local: string, remote: string, opts: TransferOptions): Promise<void> {
  return new Promise((resolve, reject) => sftp.fastPut(local, remote, opts, (err) => (err ? reject(err) : resolve())));
}

function fastGet(sftp: SFTPWrapper, remote: string, local: string): Promise<void> {
  return new Promise((resolve, reject) => sftp.fastGet(remote, local, { concurrency: 16 }, (err) => (err ? reject(err) : resolve())));
}

function closed(c: Client): Promise<void> {
  return new Promise((resolve) => {
    c.once('close', () => resolve());
    c.end();
  });
}

/** The test server (exec `cat` and `sha256`, users, keys) serving SFTP from a temporary root; the registry must drain afterwards. */
async function withSftpDaemon(body: (server: TestServer, s: SftpScope) => Promise<void>): Promise<void> {
  await withTempDirs('sftp-integrity-', ['root', 'local'], async ({ root, local }) => {
    const server = await startTestServer({
      configure: (d) => {
        // hmac-sha2-512 (encrypt-and-MAC, the MAC over the plaintext) is off by default; on for case 1.
        d.config(`SSHMacAlgorithms=${d.config('SSHMacAlgorithms')},hmac-sha2-512`);
        d.enableSFTP({ fileSystem: new LocalFileSystem(root), access: 'read-write' });
      },
    });
    try {
      await body(server, { daemon: server.daemon, port: server.port, root, local, key: server.userKey, audit: [] });
      await registryDrained(server.daemon);
    } finally {
      await server.close();
    }
  });
}

/** Counts the re-keys the daemon completes. */
function countRekeys(server: TestServer): { count: number } {
  const n = { count: 0 };
  server.daemon.on('SSHStatus', (e) => void (e.message === 'Re-key complete' && n.count++));
  return n;
}

const CIPHERS: Array<{ cipher: CipherAlgorithm; mac?: MacAlgorithm; chunkSize: number }> = [
  { cipher: 'aes128-gcm@openssh.com', chunkSize: 32 * KiB },
  { cipher: 'chacha20-poly1305@openssh.com', chunkSize: 64 * KiB + 7 },
  { cipher: 'aes128-ctr', mac: 'hmac-sha2-256-etm@openssh.com', chunkSize: 16 * KiB + 3 },
  { cipher: 'aes256-ctr', mac: 'hmac-sha2-512', chunkSize: 200 * KiB },
];

test(
  'fragmented socket reads: 8 MiB fastPut (concurrency 32) arrives intact and downloads back intact, for GCM, chacha20-poly1305, CTR+ETM and CTR+hmac-sha2-512',
  LONG,
  () =>
    withSftpDaemon(async (server, s) => {
      for (const [i, { cipher, mac, chunkSize }] of CIPHERS.entries()) {
        const data = randomBytes(8 * MiB + 12_345);
        const name = `up-${i}.bin`;
        writeFileSync(join(s.local, name), data);
        const seed = SEED + i;
        const f = await fragmentedClient(server.port, seed, { cipher: [cipher], ...(mac ? { hmac: [mac] } : {}) });
        const what = `${cipher}${mac ? ` + ${mac}` : ''} ${replay}`;
        assert.equal(f.negotiated.cs.cipher, cipher, what);
        if (mac) assert.equal(f.negotiated.cs.mac, mac, what);
        const sftp = await sftpOf(f.client);
        await fastPut(sftp, join(s.local, name), name, { concurrency: 32, chunkSize });
        console.error('DBG', cipher, f.sock.stats, Date.now());
        assert.ok(f.sock.stats.inTail > 100, `cuts inside a MAC/tag: ${f.sock.stats.inTail} of ${f.sock.stats.pieces}`);
        assert.equal(sha(readFileSync(join(s.root, name))), sha(data), `file on disk equals the upload, ${what}`);
        await fastGet(sftp, name, join(s.local, `back-${i}.bin`));
        assert.equal(sha(readFileSync(join(s.local, `back-${i}.bin`))), sha(data), `download equals the upload, ${what}`);
        await closed(f.client);
      }
    }),
);

test('re-keys during the upload: OpenSSH sftp with RekeyLimit=4M puts 48 MiB intact, re-keying several times', LONG, () =>
  withSftpDaemon(async (server, s) => {
    const rekeys = countRekeys(server);
    const data = randomBytes(48 * MiB);
    writeFileSync(join(s.local, 'big.bin'), data);
    const batch = join(s.local, 'batch.txt');
    writeFileSync(batch, `lcd ${s.local}\nput big.bin big.bin\n`);
    const r = await run(requireBinary('sftp'), sftpCommandLine(s, ['-o', 'RekeyLimit=4M', '-b', batch]), { timeoutMs: 150_000 });
    assert.equal(r.code, 0, r.stderr);
    console.error('DBG rekeys', rekeys.count);
    assert.ok(rekeys.count >= 5, `re-keyed ${rekeys.count} times`);
    assert.equal(sha(readFileSync(join(s.root, 'big.bin'))), sha(data), 'file on disk equals the upload');
  }),
);

test('re-keys during the upload: the ssh2 client re-keys 5 times during an 8 MiB fastPut over a fragmenting socket, intact', LONG, () =>
  withSftpDaemon(async (server, s) => {
    const rekeys = countRekeys(server);
    const data = randomBytes(8 * MiB);
    writeFileSync(join(s.local, 'up.bin'), data);
    const f = await fragmentedClient(server.port, SEED + 10);
    let handshakes = 0;
    let started = 0;
    f.client.on('handshake', () => void handshakes++);
    const sftp = await sftpOf(f.client);
    const planned = 5;
    await fastPut(sftp, join(s.local, 'up.bin'), 'up.bin', {
      concurrency: 32,
      step: (done: number) => {
        // One re-key at a time (the client ignores one during a key exchange), spread over the upload.
        if (started < planned && handshakes === started && done >= ((started + 1) * data.length) / (planned + 2)) {
          started++;
          (f.client as unknown as { _protocol: { rekey(): void } })._protocol.rekey();
        }
      },
    });
    console.error('DBG rekeys2', rekeys.count, started, f.sock.stats);
    assert.ok(rekeys.count >= 3, `re-keyed ${rekeys.count} times (started ${started}) ${replay}`);
    assert.equal(sha(readFileSync(join(s.root, 'up.bin'))), sha(data), `file on disk equals the upload ${replay}`);
    await fastGet(sftp, 'up.bin', join(s.local, 'back.bin'));
    assert.equal(sha(readFileSync(join(s.local, 'back.bin'))), sha(data), `download equals the upload ${replay}`);
    await closed(f.client);
  }),
);

/** Runs `command` on a new exec channel, writing `input` with backpressure; resolves with all of stdout. */
function execWith(c: Client, command: string, input: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    c.exec(command, (err, ch: ClientChannel) => {
      if (err) return reject(err);
      const out: Buffer[] = [];
      ch.on('data', (d: Buffer) => out.push(d));
      ch.on('close', () => resolve(Buffer.concat(out)));
      ch.on('error', reject);
      void (async () => {
        for (let p = 0; p < input.length; p += 48 * KiB) {
          if (!ch.write(input.subarray(p, p + 48 * KiB))) await once(ch, 'drain');
        }
        ch.end();
      })();
    });
  });
}

test(
  'a second channel on the same connection: exec cat (echoed) and sha256 (hashed) of 4 MiB each while an 8 MiB SFTP upload runs',
  LONG,
  () =>
    withSftpDaemon(async (server, s) => {
      const data = randomBytes(8 * MiB);
      const echoed = randomBytes(4 * MiB);
      const hashed = randomBytes(4 * MiB);
      writeFileSync(join(s.local, 'up.bin'), data);
      const f = await fragmentedClient(server.port, SEED + 20);
      const sftp = await sftpOf(f.client);
      const [, catOut, shaOut] = await Promise.all([
        fastPut(sftp, join(s.local, 'up.bin'), 'up.bin', { concurrency: 32 }),
        execWith(f.client, 'cat', echoed),
        execWith(f.client, 'sha256', hashed),
      ]);
      assert.equal(sha(readFileSync(join(s.root, 'up.bin'))), sha(data), `file on disk equals the upload ${replay}`);
      assert.equal(catOut.length, echoed.length, `cat echoed every byte ${replay}`);
      assert.equal(sha(catOut), sha(echoed), `cat echoed the bytes sent ${replay}`);
      assert.equal(shaOut.toString().trim(), sha(hashed), `the server hashed the bytes sent ${replay}`);
      await closed(f.client);
    }),
);

/**
 * WRITE sizes in a seeded random order: 18 of 200-255 KiB (one WRITE over many SSH packets), 24
 * around the 33 KiB pooled-buffer limit (POOLED_PACKET_SIZE), 2,000 of 1-10 bytes.
 */
function writeSizes(rand: (n: number) => number): number[] {
  const sizes = [
    ...Array.from({ length: 18 }, () => 200 * KiB + rand(55 * KiB)),
    ...Array.from({ length: 24 }, () => 33 * KiB - 64 + rand(128)),
    ...Array.from({ length: 2000 }, () => 1 + rand(10)),
  ];
  for (let i = sizes.length - 1; i > 0; i--) {
    const j = rand(i + 1);
    [sizes[i], sizes[j]] = [sizes[j], sizes[i]];
  }
  return sizes;
}

/** Sends WRITEs of `sizes` covering `data` in order, at most `window` unanswered; every reply must be STATUS OK. */
async function writeAll(sftp: RawSftp, handle: Buffer, data: Buffer, sizes: number[], window: number): Promise<void> {
  const inFlight = new Set<Promise<void>>();
  let offset = 0;
  for (const n of sizes) {
    const at = offset;
    const p: Promise<void> = sftp.write(handle, at, data.subarray(at, at + n)).then((r) => {
      inFlight.delete(p);
      assert.equal(r.type, FXP.STATUS, `WRITE at ${at}`);
      assert.equal(r.status, 0, `WRITE at ${at} (${n} bytes): ${r.message}`);
    });
    inFlight.add(p);
    offset += n;
    if (inFlight.size >= window) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
}

test(
  'WRITEs of 200-255 KiB mixed with many of 1-10 bytes and some around 33 KiB, pipelined over a fragmenting socket: the file is intact',
  LONG,
  () =>
    withSftpDaemon(async (server, s) => {
      const rand = prng(SEED + 30);
      const sizes = writeSizes(rand);
      const data = randomBytes(sizes.reduce((a, b) => a + b, 0));
      const f = await fragmentedClient(server.port, SEED + 31);
      const raw = await rawSftpOverSsh(f.client);
      const handle = await raw.openHandle('mixed.bin', FXF.WRITE | FXF.CREAT | FXF.TRUNC);
      await writeAll(raw, handle, data, sizes, 64);
      assert.equal((await raw.close(handle)).status, 0);
      assert.equal(
        sha(readFileSync(join(s.root, 'mixed.bin'))),
        sha(data),
        `file on disk equals the WRITEs (${sizes.length} of them) ${replay}`,
      );
      raw.end();
      await closed(f.client);
    }),
);
