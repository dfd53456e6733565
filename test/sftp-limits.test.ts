/**
 * SFTP under clients that push: thousands of queued reads from a client that reads nothing keep
 * the server's memory bounded; handles are limited; a bad first packet ends the session.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { SFTPWrapper } from 'ssh2';
import { SFTP_PASSWORD, SFTP_USER, withSftpServer } from './fixtures/sftpServer';
import { connect } from './helpers-ssh2';
import { sleep, until } from './fixtures/wait';

const MiB = 1024 * 1024;

function sftpOf(c: import('ssh2').Client): Promise<SFTPWrapper> {
  return new Promise((resolve, reject) => c.sftp((err, s) => (err ? reject(err) : resolve(s))));
}

test(
  '2,000 queued 255 KiB reads from a client that reads nothing: server memory stays bounded, and all are answered once it reads',
  { timeout: 120_000 },
  () =>
    withSftpServer(async ({ root, port }) => {
      writeFileSync(join(root, 'data.bin'), randomBytes(64 * MiB));
      const c = await connect(port, { username: SFTP_USER, password: SFTP_PASSWORD });
      const sftp = await sftpOf(c);
      const handle = await new Promise<Buffer>((resolve, reject) =>
        sftp.open('data.bin', 'r', (err, h) => (err ? reject(err) : resolve(h))),
      );
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
      assert.ok(
        peak < 128 * MiB,
        `server-side memory stayed bounded: RSS grew ${(peak / MiB).toFixed(1)} MiB for ${((total * chunk) / MiB).toFixed(0)} MiB of requested reads`,
      );
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

const openCount = (): number => readdirSync('/proc/self/fd').length;

test(
  'handles per user across channels and connections (the attack: 3 connections x 2 channels opening until refused): 1024 in all, the next open fails cleanly, another user still logs in and opens; everything is given back on disconnect',
  { timeout: 180_000 },
  () =>
    withSftpServer(async ({ daemon, root, port }) => {
      writeFileSync(join(root, 'f.txt'), 'data');
      daemon.on('SSHUserAuthRequest', (e) => {
        if (e.user === 'other' && e.authMethod === 'password') e.accept = e.authParam === 'other-pw';
      });
      const baseline = openCount();
      const attackers = await Promise.all([0, 1, 2].map(() => connect(port, { username: SFTP_USER, password: SFTP_PASSWORD })));
      const sessions = (await Promise.all(attackers.flatMap((c) => [sftpOf(c), sftpOf(c)]))) as SFTPWrapper[];
      const open = (sftp: SFTPWrapper, name = 'f.txt') =>
        new Promise<Buffer | Error>((resolve) => sftp.open(name, 'r', (err, h) => resolve(err ?? h)));
      // Each session opens until it is refused (the per-session limit is 256), 32 requests in flight.
      const held: Array<[SFTPWrapper, Buffer]> = [];
      const refusals = new Set<string>();
      await Promise.all(
        sessions.map(async (sftp) => {
          for (let refused = false; !refused;) {
            const batch = await Promise.all(Array.from({ length: 32 }, () => open(sftp)));
            for (const h of batch) {
              if (Buffer.isBuffer(h)) held.push([sftp, h]);
              else {
                refused = true;
                refusals.add(h.message);
              }
            }
          }
        }),
      );
      assert.equal(held.length, 1024, 'the user holds exactly the default maxHandlesPerUser');
      assert.ok(refusals.has('Too many open handles for this user (1024)'), [...refusals].join('; '));
      assert.ok(openCount() - baseline < 1024 + 64, `descriptors held: ${openCount() - baseline}`);
      // Another user is not affected.
      const other = await connect(port, { username: 'other', password: 'other-pw' });
      const otherSftp = await sftpOf(other);
      const h = await open(otherSftp);
      assert.ok(Buffer.isBuffer(h), `the other user opens: ${String(h)}`);
      // Closing one handle frees exactly one slot for the attacker.
      const [owner, first] = held.shift()!;
      await new Promise<void>((resolve, reject) => owner.close(first, (err) => (err ? reject(err) : resolve())));
      const again = await open(sessions[5]);
      assert.ok(Buffer.isBuffer(again), String(again));
      assert.ok(!Buffer.isBuffer(await open(sessions[5])), 'and no more');
      // Disconnecting gives everything back: descriptors close and the user can open again.
      for (const c of attackers) c.end();
      await until("the attacker's descriptors to close", () => openCount() - baseline < 32);
      const back = await connect(port, { username: SFTP_USER, password: SFTP_PASSWORD });
      const fresh = await sftpOf(back);
      const handles = await Promise.all(Array.from({ length: 256 }, () => open(fresh)));
      assert.ok(
        handles.every((x) => Buffer.isBuffer(x)),
        'a full session again after the disconnect',
      );
      back.end();
      other.end();
    }),
);

test(
  'maxHandlesPerUser: a smaller limit applies to the user over sessions; invalid values refuse the subsystem with Error',
  { timeout: 60_000 },
  () =>
    withSftpServer(async ({ daemon, root, port }) => {
      writeFileSync(join(root, 'f.txt'), 'x');
      daemon.enableSFTP({ fileSystem: new (await import('../src')).LocalFileSystem(root), maxHandlesPerUser: 3 });
      const c = await connect(port, { username: SFTP_USER, password: SFTP_PASSWORD });
      const [a, b] = [await sftpOf(c), await sftpOf(c)];
      const open = (sftp: SFTPWrapper) => new Promise<Buffer | Error>((resolve) => sftp.open('f.txt', 'r', (err, h) => resolve(err ?? h)));
      assert.ok(Buffer.isBuffer(await open(a)) && Buffer.isBuffer(await open(b)) && Buffer.isBuffer(await open(a)));
      const refused = await open(b);
      assert.ok(refused instanceof Error && /Too many open handles for this user \(3\)/.test(refused.message), String(refused));
      c.end();
      const errors: string[] = [];
      daemon.on('Error', (e) => void errors.push(e.description));
      daemon.enableSFTP({ fileSystem: new (await import('../src')).LocalFileSystem(root), maxHandlesPerUser: 0 });
      const d = await connect(port, { username: SFTP_USER, password: SFTP_PASSWORD });
      await assert.rejects(sftpOf(d));
      assert.ok(
        errors.some((m) => /maxHandlesPerUser must be an integer of at least 1, got 0/.test(m)),
        errors.join('; '),
      );
      d.end();
    }),
);
