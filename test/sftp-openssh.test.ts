/**
 * The SFTP server with OpenSSH's `sftp` (batch mode) and `scp` (SFTP protocol), as separate processes,
 * every case against both client sets (test/fixtures/clientSets.ts): OpenSSH 9.2 and 10.0.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { opensshArgs } from './fixtures/clients';
import { type ClientSet, testEachSet } from './fixtures/clientSets';
import { SFTP_USER, withSftpServer, type SftpScope } from './fixtures/sftpServer';

const TIMEOUT = { timeout: 120_000 };
const MiB = 1024 * 1024;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** sftp's options are ssh's, but the port is -P. */
function sftpArgs(s: SftpScope): string[] {
  const args = opensshArgs(s.port);
  args[0] = '-P';
  return [...args, '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes', '-i', s.key.privateKeyPath];
}

async function batch(clients: ClientSet, s: SftpScope, commands: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const file = join(s.local, 'batch.txt');
  writeFileSync(file, commands.join('\n') + '\n');
  const r = await clients.run('sftp', [...sftpArgs(s), '-b', file, `${SFTP_USER}@127.0.0.1`], { timeoutMs: 90_000 });
  return { code: r.code, out: r.stdout.toString(), err: r.stderr };
}

testEachSet('OpenSSH sftp: 64 MiB up and down with matching checksums; ls, rename, rm, mkdir, rmdir; audit events', TIMEOUT, (clients) =>
  withSftpServer(async (s) => {
    const data = randomBytes(64 * MiB);
    writeFileSync(join(s.local, 'big.bin'), data);
    const r = await batch(clients, s, [
      `lcd ${s.local}`,
      'put big.bin up.bin',
      'get up.bin down.bin',
      'mkdir dir',
      'rename up.bin dir/moved.bin',
      'ls -l dir',
      'rm dir/moved.bin',
      'rmdir dir',
      'ls -la',
    ]);
    assert.equal(r.code, 0, r.err);
    assert.equal(sha(readFileSync(join(s.local, 'down.bin'))), sha(data), 'downloaded bytes match');
    // users-groups-by-id (LocalFileSystem has it): sftp 9.1+ formats the line itself, with names and
    // '?' for the link count, exactly as against sftp-server (test/sftp-extensions.test.ts compares).
    assert.match(r.out, /-rw-r--r--\s+\?\s+\S+\s+\S+\s+67108864 \w{3} [ \d]\d .* dir\/moved\.bin/, r.out);
    assert.deepEqual(readdirSync(s.root), [], 'everything removed again');
    assert.deepEqual(s.audit, ['uploaded /up.bin', 'downloaded /up.bin', 'mkdir /dir', 'renamed /up.bin -> /dir/moved.bin', 'removed /dir/moved.bin', 'rmdir /dir']);
  }),
);

testEachSet('OpenSSH scp (SFTP mode): 64 MiB up and down with matching checksums', TIMEOUT, (clients) =>
  withSftpServer(async (s) => {
    const data = randomBytes(64 * MiB);
    writeFileSync(join(s.local, 'big.bin'), data);
    const args = sftpArgs(s);
    const target = `${SFTP_USER}@127.0.0.1`;
    const up = await clients.run('scp', ['-s', ...args, join(s.local, 'big.bin'), `${target}:copy.bin`], { timeoutMs: 90_000 });
    assert.equal(up.code, 0, up.stderr);
    assert.equal(sha(readFileSync(join(s.root, 'copy.bin'))), sha(data));
    const down = await clients.run('scp', ['-s', ...args, `${target}:copy.bin`, join(s.local, 'back.bin')], { timeoutMs: 90_000 });
    assert.equal(down.code, 0, down.stderr);
    assert.equal(sha(readFileSync(join(s.local, 'back.bin'))), sha(data));
  }),
);

testEachSet('escape attempts are refused and leave nothing outside the root: .., absolute paths, symlinks pointing out', TIMEOUT, (clients) =>
  withSftpServer(async (s) => {
    const outside = join(s.local, 'outside');
    mkdirSync(outside);
    writeFileSync(join(outside, 'secret.txt'), 'secret');
    symlinkSync(outside, join(s.root, 'door'));
    writeFileSync(join(s.local, 'payload.txt'), 'payload');
    const r = await batch(clients, s, [
      `lcd ${s.local}`,
      'put payload.txt ../../../payload-dotdot.txt',
      `-put payload.txt ${outside}/payload-abs.txt`,
      '-put payload.txt door/payload-link.txt',
      '-get door/secret.txt stolen.txt',
      '-ls door',
      '-mkdir door/newdir',
      '-rename payload-dotdot.txt door/moved.txt',
      'ls -1',
    ]);
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
    const r = await batch(clients, s, [`lcd ${s.local}`, 'get existing.txt got.txt', '-put new.txt new.txt', '-rm existing.txt', '-mkdir d', '-rename existing.txt e.txt']);
    assert.equal(r.code, 0, r.err);
    assert.equal(readFileSync(join(s.local, 'got.txt'), 'utf8'), 'hello', 'reads work');
    assert.deepEqual(readdirSync(s.root), ['existing.txt'], 'nothing changed');
    assert.equal((r.err.match(/Permission denied/g) ?? []).length, 4, r.err);
  }, 'read-only');
  await withSftpServer(async (s) => {
    writeFileSync(join(s.root, 'existing.txt'), 'hello');
    writeFileSync(join(s.local, 'new.txt'), 'new');
    const r = await batch(clients, s, [`lcd ${s.local}`, '-get existing.txt got.txt', 'put new.txt new.txt', 'ls -1']);
    assert.equal(r.code, 0, r.err);
    assert.equal(existsSync(join(s.local, 'got.txt')), false, 'no download');
    assert.equal(readFileSync(join(s.root, 'new.txt'), 'utf8'), 'new', 'upload worked');
    assert.match(r.out, /existing\.txt/, 'listing works');
  }, 'upload-only');
});
