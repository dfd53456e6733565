/**
 * Reads into one reused buffer (src/engine/transientReads.ts): once a connection serves SFTP, its
 * socket is read into a process-wide buffer that every later read overwrites.
 *
 * - The switch happens (once per connection, after authentication) and an upload through it
 *   arrives whole while the client's writes are cut into pieces (test/fixtures/fragmentingSocket.ts),
 *   so SSH packets, their MACs and tags end inside reads; the decipher's pending packet was copied at least once,
 *   and the connection's byte count still counts every byte.
 * - Everything else the connection keeps is its own copy: an exec channel on the same connection
 *   whose SSHChannelDataIn handler keeps every `data` Buffer as given (no copy) still holds exactly
 *   what was sent once the upload beside it has overwritten the read buffer many times.
 * - `SFTPReuseReadBuffer=false`: no switch, the same upload arrives whole.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Client, type SFTPWrapper } from 'ssh2';
import { requestParamsOf } from '../src';
import { transientReadStats } from '../src/engine/transientReads';
import { SFTP_PASSWORD, SFTP_USER, withSftpServer } from './fixtures/sftpServer';
import { until } from './fixtures/wait';
import { fragmentingConnection, prng, randomCuts } from './fixtures/fragmentingSocket';

const MiB = 1024 * 1024;
const TIMEOUT = { timeout: 300_000 };
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function login(port: number, seed: number): Promise<Client> {
  const sock = await fragmentingConnection(port, randomCuts(prng(seed)));
  return new Promise((resolve, reject) => {
    const c = new Client();
    c.on('ready', () => resolve(c)).on('error', reject);
    c.connect({ sock, username: SFTP_USER, password: SFTP_PASSWORD, readyTimeout: 30_000 });
  });
}

const sftpOf = (c: Client) => new Promise<SFTPWrapper>((resolve, reject) => c.sftp((err, s) => (err ? reject(err) : resolve(s))));

/** Writes `data` to `path` in WRITEs of `chunk` bytes, `parallel` at a time. */
async function upload(sftp: SFTPWrapper, path: string, data: Buffer, chunk: number, parallel: number): Promise<void> {
  const handle = await new Promise<Buffer>((resolve, reject) => sftp.open(path, 'w', (err, h) => (err ? reject(err) : resolve(h))));
  let next = 0;
  const worker = async () => {
    while (next < data.length) {
      const at = next;
      next += chunk;
      const piece = data.subarray(at, Math.min(data.length, at + chunk));
      await new Promise<void>((resolve, reject) =>
        sftp.write(handle, piece, 0, piece.length, at, (err) => (err ? reject(err) : resolve())),
      );
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  await new Promise<void>((resolve, reject) => sftp.close(handle, (err) => (err ? reject(err) : resolve())));
}

test('an SFTP session switches its connection to the reused read buffer; a fragmented upload arrives whole and is counted', TIMEOUT, () =>
  withSftpServer(async ({ daemon, port, root }) => {
    const before = transientReadStats();
    const client = await login(port, 7);
    try {
      const sftp = await sftpOf(client);
      await until('the connection switched', () => transientReadStats().switched === before.switched + 1);
      const data = randomBytes(12 * MiB);
      // 32 KiB WRITEs as OpenSSH without limits sends, and 200 KiB ones that span several SSH packets.
      await upload(sftp, '/a.bin', data.subarray(0, 6 * MiB), 32 * 1024, 16);
      await upload(sftp, '/b.bin', data.subarray(6 * MiB), 200 * 1024, 4);
      assert.equal(sha(readFileSync(join(root, 'a.bin'))), sha(data.subarray(0, 6 * MiB)));
      assert.equal(sha(readFileSync(join(root, 'b.bin'))), sha(data.subarray(6 * MiB)));
      const after = transientReadStats();
      assert.ok(after.reads > before.reads, 'reads went through the reused buffer');
      assert.ok(after.pendingCopied > before.pendingCopied, 'a packet whose MAC or tag came in the next read was copied out of the buffer');
      const [conn] = [...daemon.sshConnections.values()];
      assert.ok(conn.bytesIn > 12 * MiB, `bytesIn ${conn.bytesIn} counts the upload`);
    } finally {
      client.end();
    }
  }),
);

test('on a switched connection, an exec channel whose handler keeps every data Buffer as given still holds what was sent', TIMEOUT, () =>
  withSftpServer(async ({ daemon, port, root }) => {
    const kept: Buffer[] = [];
    daemon.on('SSHChannelRequest', (e) => {
      if (requestParamsOf(e, 'exec')?.command === 'keep') e.success = true;
    });
    daemon.on('SSHChannelDataIn', (e) => void kept.push(e.data));
    const client = await login(port, 11);
    try {
      const sftp = await sftpOf(client);
      await until('the connection switched', () => transientReadStats().switched > 0);
      const sent = randomBytes(4 * MiB);
      const exec = new Promise<void>((resolve, reject) =>
        client.exec('keep', (err, channel) => {
          if (err) return reject(err);
          channel.on('close', () => resolve());
          channel.resume();
          channel.end(sent);
        }),
      );
      const data = randomBytes(8 * MiB);
      await Promise.all([
        upload(sftp, '/c.bin', data, 32 * 1024, 16),
        until('all exec data arrived', () => kept.reduce((n, b) => n + b.length, 0) >= sent.length),
      ]);
      // The upload overwrote the read buffer many times since the exec data arrived.
      await upload(sftp, '/d.bin', data, 64 * 1024, 8);
      assert.equal(sha(Buffer.concat(kept)), sha(sent), 'the data Buffers handed to the handler were its own');
      assert.equal(sha(readFileSync(join(root, 'c.bin'))), sha(data));
      void exec;
    } finally {
      client.end();
    }
  }),
);

test('SFTPReuseReadBuffer=false: the connection keeps a buffer per read, and the upload arrives whole', TIMEOUT, () =>
  withSftpServer(async ({ daemon, port, root }) => {
    daemon.config('SFTPReuseReadBuffer=false');
    const before = transientReadStats();
    const client = await login(port, 3);
    try {
      const sftp = await sftpOf(client);
      const data = randomBytes(4 * MiB);
      await upload(sftp, '/e.bin', data, 32 * 1024, 16);
      assert.equal(sha(readFileSync(join(root, 'e.bin'))), sha(data));
      assert.equal(transientReadStats().switched, before.switched, 'no switch');
      assert.equal(transientReadStats().reads, before.reads);
    } finally {
      client.end();
    }
  }),
);
