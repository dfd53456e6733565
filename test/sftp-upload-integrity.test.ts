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
import { join } from 'node:path';
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
import { FragmentingSocket, fragmentingConnection, prng, randomCuts } from './fixtures/fragmentingSocket';

const LONG = { timeout: 180_000 };
const KiB = 1024;
const SEED = process.env.FRAG_SEED ? Number(process.env.FRAG_SEED) : Math.floor(Math.random() * 2 ** 31);
const replay = `(replay: FRAG_SEED=${SEED})`;

interface Fragmented {
  client: Client;
  sock: FragmentingSocket;
  /** The algorithms of the first key exchange. */
  negotiated: { cs: { cipher: string; mac: string } };
}

/** An ssh2 client logged in as the test user over a FragmentingSocket to the daemon. */
async function fragmentedClient(port: number, seed: number, algorithms?: ConnectConfig['algorithms']): Promise<Fragmented> {
  const sock = await fragmentingConnection(port, randomCuts(prng(seed)));
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
