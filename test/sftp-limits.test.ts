/**
 * SFTP under clients that push: thousands of queued reads from a client that reads nothing keep
 * the server's memory bounded; handles are limited; a bad first packet ends the session.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { SFTPWrapper } from 'ssh2';
import { SFTP_PASSWORD, SFTP_USER, withSftpServer } from './fixtures/sftpServer';
import { connect } from './helpers-ssh2';

const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function sftpOf(c: import('ssh2').Client): Promise<SFTPWrapper> {
  return new Promise((resolve, reject) => c.sftp((err, s) => (err ? reject(err) : resolve(s))));
}

test('2,000 queued 255 KiB reads from a client that reads nothing: server memory stays bounded, and all are answered once it reads', { timeout: 120_000 }, () =>
  withSftpServer(async ({ root, port }) => {
    writeFileSync(join(root, 'data.bin'), randomBytes(64 * MiB));
    const c = await connect(port, { username: SFTP_USER, password: SFTP_PASSWORD });
    const sftp = await sftpOf(c);
    const handle = await new Promise<Buffer>((resolve, reject) => sftp.open('data.bin', 'r', (err, h) => (err ? reject(err) : resolve(h))));
    const baseline = process.memoryUsage().rss;
    (c as unknown as { _sock: { pause(): void; resume(): void } })._sock.pause();
    let answered = 0;
    const total = 2000;
    const chunk = 255 * 1024;
    for (let i = 0; i < total; i++) {
      const buf = Buffer.allocUnsafe(chunk);
      sftp.read(handle, buf, 0, chunk, (i * chunk) % (64 * MiB - chunk), (err) => {
        assert.ifError(err);
        answered++;
      });
    }
    // The requests reach the server, which answers into a socket nobody reads.
    let peak = 0;
    for (let i = 0; i < 20; i++) {
      await sleep(100);
      peak = Math.max(peak, process.memoryUsage().rss - baseline);
    }
    assert.equal(answered, 0, 'nothing answered while the client does not read');
    assert.ok(peak < 128 * MiB, `server-side memory stayed bounded: RSS grew ${(peak / MiB).toFixed(1)} MiB for ${((total * chunk) / MiB).toFixed(0)} MiB of requested reads`);
    (c as unknown as { _sock: { resume(): void } })._sock.resume();
    const end = Date.now() + 60_000;
    while (answered < total && Date.now() < end) await sleep(50);
    assert.equal(answered, total, 'every read answered once the client reads again');
    c.end();
  }),
);

test('maxHandles: past the limit OPEN fails with a clear status; closing one frees a slot', { timeout: 60_000 }, () =>
  withSftpServer(async ({ daemon, root, port }) => {
    writeFileSync(join(root, 'f.txt'), 'x');
    daemon.enableSFTP({ fileSystem: new (await import('../src')).LocalFileSystem(root), maxHandles: 3 });
    const c = await connect(port, { username: SFTP_USER, password: SFTP_PASSWORD });
    const sftp = await sftpOf(c);
    const open = () => new Promise<Buffer | Error>((resolve) => sftp.open('f.txt', 'r', (err, h) => resolve(err ?? h)));
    const handles = [await open(), await open(), await open()];
    assert.ok(handles.every((h) => Buffer.isBuffer(h)));
    const fourth = await open();
    assert.ok(fourth instanceof Error && /Too many open handles \(3\)/.test(fourth.message), String(fourth));
    await new Promise<void>((resolve, reject) => sftp.close(handles[0] as Buffer, (err) => (err ? reject(err) : resolve())));
    assert.ok(Buffer.isBuffer(await open()));
    c.end();
  }),
);
