/**
 * The SFTP server with OpenSSH's `sftp` (batch mode) and `scp` (SFTP protocol), as separate processes,
 * every case against both client sets (test/fixtures/clientSets.ts): OpenSSH 9.2 and 10.0.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { testEachSet } from './fixtures/clientSets';
import { MiB, sha, TIMEOUT } from './fixtures/sftpClients';
import { scpTo, sftpBatch } from './fixtures/sftpReference';
import { withSftpServer } from './fixtures/sftpServer';

testEachSet('OpenSSH sftp: 64 MiB up and down with matching checksums; ls, rename, rm, mkdir, rmdir; audit events', TIMEOUT, (clients) =>
  withSftpServer(async (s) => {
    const data = randomBytes(64 * MiB);
    writeFileSync(join(s.local, 'big.bin'), data);
    const r = await sftpBatch(
      s,
      [
        `lcd ${s.local}`,
        'put big.bin up.bin',
        'get up.bin down.bin',
        'mkdir dir',
        'rename up.bin dir/moved.bin',
        'ls -l dir',
        'rm dir/moved.bin',
        'rmdir dir',
        'ls -la',
      ],
      clients,
    );
    assert.equal(r.code, 0, r.err);
    assert.equal(sha(readFileSync(join(s.local, 'down.bin'))), sha(data), 'downloaded bytes match');
    // users-groups-by-id (LocalFileSystem has it): sftp 9.1+ formats the line itself, with names and
    // '?' for the link count, exactly as against sftp-server (test/sftp-extensions.test.ts compares).
    assert.match(r.out, /-rw-r--r--\s+\?\s+\S+\s+\S+\s+67108864 \w{3} [ \d]\d .* dir\/moved\.bin/, r.out);
    assert.deepEqual(readdirSync(s.root), [], 'everything removed again');
    assert.deepEqual(s.audit, [
      'uploaded /up.bin',
      'downloaded /up.bin',
      'mkdir /dir',
      'renamed /up.bin -> /dir/moved.bin',
      'removed /dir/moved.bin',
      'rmdir /dir',
    ]);
  }),
);

testEachSet('OpenSSH scp (SFTP mode): 64 MiB up and down with matching checksums', TIMEOUT, (clients) =>
  withSftpServer(async (s) => {
    const data = randomBytes(64 * MiB);
    writeFileSync(join(s.local, 'big.bin'), data);
    const up = await scpTo(s, [join(s.local, 'big.bin'), 'HOST:copy.bin'], clients);
    assert.equal(up.code, 0, up.stderr);
    assert.equal(sha(readFileSync(join(s.root, 'copy.bin'))), sha(data));
    const down = await scpTo(s, ['HOST:copy.bin', join(s.local, 'back.bin')], clients);
    assert.equal(down.code, 0, down.stderr);
    assert.equal(sha(readFileSync(join(s.local, 'back.bin'))), sha(data));
  }),
);

testEachSet(
  'escape attempts are refused and leave nothing outside the root: .., absolute paths, symlinks pointing out',
  TIMEOUT,
  (clients) =>
    withSftpServer(async (s) => {
      const outside = join(s.local, 'outside');
      mkdirSync(outside);
      writeFileSync(join(outside, 'secret.txt'), 'secret');
      symlinkSync(outside, join(s.root, 'door'));
      writeFileSync(join(s.local, 'payload.txt'), 'payload');
      const r = await sftpBatch(
        s,
        [
          `lcd ${s.local}`,
          'put payload.txt ../../../payload-dotdot.txt',
          `-put payload.txt ${outside}/payload-abs.txt`,
          '-put payload.txt door/payload-link.txt',
          '-get door/secret.txt stolen.txt',
          '-ls door',
          '-mkdir door/newdir',
          '-rename payload-dotdot.txt door/moved.txt',
          'ls -1',
        ],
        clients,
      );
      assert.equal(r.code, 0, r.err);
      // `..` and absolute paths are confined: they land inside the root.
      assert.ok(existsSync(join(s.root, 'payload-dotdot.txt')));
      assert.deepEqual(readdirSync(outside).sort(), ['secret.txt'], 'nothing was written outside the root');
      assert.equal(existsSync(join(s.local, 'stolen.txt')), false, 'nothing was read through the link');
      assert.match(r.err, /Permission denied/);
    }),
);

testEachSet('access modes: read-only refuses every change; upload-only refuses downloads but takes uploads', TIMEOUT, async (clients) => {
  await withSftpServer(async (s) => {
    writeFileSync(join(s.root, 'existing.txt'), 'hello');
    writeFileSync(join(s.local, 'new.txt'), 'new');
    const r = await sftpBatch(
      s,
      [`lcd ${s.local}`, 'get existing.txt got.txt', '-put new.txt new.txt', '-rm existing.txt', '-mkdir d', '-rename existing.txt e.txt'],
      clients,
    );
    assert.equal(r.code, 0, r.err);
    assert.equal(readFileSync(join(s.local, 'got.txt'), 'utf8'), 'hello', 'reads work');
    assert.deepEqual(readdirSync(s.root), ['existing.txt'], 'nothing changed');
    assert.equal((r.err.match(/Permission denied/g) ?? []).length, 4, r.err);
  }, 'read-only');
  await withSftpServer(async (s) => {
    writeFileSync(join(s.root, 'existing.txt'), 'hello');
    writeFileSync(join(s.local, 'new.txt'), 'new');
    const r = await sftpBatch(s, [`lcd ${s.local}`, '-get existing.txt got.txt', 'put new.txt new.txt', 'ls -1'], clients);
    assert.equal(r.code, 0, r.err);
    assert.equal(existsSync(join(s.local, 'got.txt')), false, 'no download');
    assert.equal(readFileSync(join(s.root, 'new.txt'), 'utf8'), 'new', 'upload worked');
    assert.match(r.out, /existing\.txt/, 'listing works');
  }, 'upload-only');
});
