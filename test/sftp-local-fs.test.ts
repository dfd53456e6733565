/**
 * LocalFileSystem against a temp directory, called directly (the jail is not protocol-visible):
 * file I/O, attributes, listings with OpenSSH longnames, namespace operations, and the jail —
 * every way out through symlinks, hard links and `..` is refused and creates nothing outside.
 */
process.env.TZ = 'UTC'; // longname dates are local time: pin the zone before any Date is made
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { SFTPError, SFTPStatus, type SFTPFileSystem, type SFTPOpenFlags, type SFTPStatusCode } from '../src/sftp/FileSystem';
import { LocalFileSystem } from '../src/sftp/LocalFileSystem';
import { formatLongname, formatMode } from '../src/sftp/longname';

const isRoot = process.getuid?.() === 0;
process.umask(0o022); // the kernel applies it on top of the modes asked for: pin it for exact expectations
const R: SFTPOpenFlags = { read: true, write: false, append: false, create: false, truncate: false, exclusive: false };
const W: SFTPOpenFlags = { read: false, write: true, append: false, create: true, truncate: true, exclusive: false };
const RW: SFTPOpenFlags = { read: true, write: true, append: false, create: true, truncate: false, exclusive: false };
const APPEND: SFTPOpenFlags = { read: false, write: true, append: true, create: true, truncate: false, exclusive: false };
const EXCL: SFTPOpenFlags = { read: false, write: true, append: false, create: true, truncate: false, exclusive: true };

interface Scope {
  /** The temp dir holding both the root and `outside`. */
  base: string;
  root: string;
  outside: string;
  lfs: LocalFileSystem;
}

/** A fresh root plus a sibling `outside` dir with a secret file, removed afterwards. */
async function withRoot(body: (s: Scope) => Promise<void>, options?: ConstructorParameters<typeof LocalFileSystem>[1]): Promise<void> {
  const base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'sftp-lfs-')));
  const root = path.join(base, 'root');
  const outside = path.join(base, 'outside');
  fs.mkdirSync(root);
  fs.mkdirSync(outside);
  fs.writeFileSync(path.join(outside, 'secret.txt'), 'top secret');
  try {
    await body({ base, root, outside, lfs: new LocalFileSystem(root, options) });
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
}

/** Asserts `p` rejects with an SFTPError of `status` whose message leaks no host path; returns it. */
async function rejectsWith(p: Promise<unknown>, status: SFTPStatusCode, hostPaths: string[], what = ''): Promise<SFTPError> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof SFTPError, `${what}: expected an SFTPError, got ${String(err)}`);
  assert.equal(err.status, status, `${what}: status ${err.status} (${err.message})`);
  for (const h of hostPaths) assert.ok(!err.message.includes(h), `${what}: message ${JSON.stringify(err.message)} leaks ${h}`);
  return err;
}

async function writeFile(lfs: SFTPFileSystem, p: string, data: string | Buffer, flags = W): Promise<void> {
  const h = await lfs.open(p, flags, {});
  await h.write(0, Buffer.from(data));
  await h.close();
}

async function readAll(lfs: SFTPFileSystem, p: string, chunk = 256 * 1024): Promise<Buffer> {
  const h = await lfs.open(p, R, {});
  const parts: Buffer[] = [];
  for (let pos = 0; ;) {
    const b = await h.read(pos, chunk);
    if (b.length === 0) break;
    parts.push(b);
    pos += b.length;
  }
  await h.close();
  return Buffer.concat(parts);
}

/** Every path under `dir`, for "nothing was created" checks. */
function tree(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[]).sort();
}

test('the root must be an existing directory; options are checked', () => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'sftp-lfs-'));
  try {
    assert.throws(() => new LocalFileSystem(path.join(base, 'missing')), /does not exist/);
    fs.writeFileSync(path.join(base, 'file'), 'x');
    assert.throws(() => new LocalFileSystem(path.join(base, 'file')), /not a directory/);
    assert.throws(() => new LocalFileSystem(base, { umask: 0o1000 }), /umask/);
    assert.throws(() => new LocalFileSystem(base, { followSymlinksOutside: true as unknown as false }), /followSymlinksOutside/);
    assert.ok(new LocalFileSystem(base));
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
});

test('files: create, positional write and read, EOF, 4 MiB round trip, append, exclusive, truncate', async () => {
  await withRoot(async ({ root, lfs }) => {
    const h = await lfs.open('/a.txt', RW, {});
    await h.write(0, Buffer.from('hello'));
    await h.write(10, Buffer.from('world')); // leaves a hole of zeros
    assert.deepEqual(await h.read(0, 100), Buffer.from('hello\0\0\0\0\0world'));
    assert.equal((await h.read(3, 4)).toString('latin1'), 'lo\0\0');
    assert.equal((await h.read(15, 10)).length, 0, 'empty buffer at EOF');
    assert.equal((await h.read(1000, 10)).length, 0, 'empty buffer past EOF');
    assert.equal((await h.stat()).size, 15);
    await h.sync();
    await h.close();
    await h.close(); // idempotent
    assert.equal(fs.readFileSync(path.join(root, 'a.txt'), 'latin1'), 'hello\0\0\0\0\0world');

    const big = randomBytes(4 * 1024 * 1024);
    const w = await lfs.open('/big.bin', W, {});
    // Out of order, as pipelining clients send them.
    const chunks: number[] = [];
    for (let pos = 0; pos < big.length; pos += 32 * 1024) chunks.push(pos);
    chunks.reverse();
    await Promise.all(chunks.map((pos) => w.write(pos, big.subarray(pos, pos + 32 * 1024))));
    await w.close();
    const back = await readAll(lfs, '/big.bin');
    assert.equal(back.length, big.length);
    assert.equal(createHash('sha256').update(back).digest('hex'), createHash('sha256').update(big).digest('hex'));
    const r = await lfs.open('/big.bin', R, {});
    assert.equal((await r.read(0, 64 * 1024 * 1024)).length, 1024 * 1024, 'one read is capped at 1 MiB (a legal short read)');
    await r.close();

    await writeFile(lfs, '/log.txt', 'one\n');
    const a = await lfs.open('/log.txt', APPEND, {});
    await a.write(0, Buffer.from('two\n')); // the offset is ignored in append mode
    await a.write(0, Buffer.from('three\n'));
    await a.close();
    assert.equal(fs.readFileSync(path.join(root, 'log.txt'), 'utf8'), 'one\ntwo\nthree\n');

    await rejectsWith(lfs.open('/log.txt', EXCL, {}), SFTPStatus.FAILURE, [root], 'exclusive create of an existing file');
    await (await lfs.open('/fresh.txt', EXCL, {})).close();
    assert.ok(fs.existsSync(path.join(root, 'fresh.txt')));

    await writeFile(lfs, '/log.txt', 'x'); // W truncates
    assert.equal(fs.readFileSync(path.join(root, 'log.txt'), 'utf8'), 'x');

    const e = await rejectsWith(lfs.open('/nope.txt', R, {}), SFTPStatus.NO_SUCH_FILE, [root], 'open missing');
    assert.equal(e.message, '/nope.txt: No such file or directory');
    await rejectsWith(lfs.open('/nodir/x.txt', W, {}), SFTPStatus.NO_SUCH_FILE, [root], 'create in a missing dir');
    await rejectsWith(lfs.open('/a.txt/x', R, {}), SFTPStatus.NO_SUCH_FILE, [root], 'file as a directory (ENOTDIR)');

    // A directory opens (reads then fail), as with sftp-server; writing to one does not.
    const d = await lfs.open('/', R, {});
    await rejectsWith(d.read(0, 10), SFTPStatus.FAILURE, [root], 'read a directory');
    await d.close();
    await rejectsWith(lfs.open('/', W, {}), SFTPStatus.FAILURE, [root], 'open a directory for writing');
  });
});

test('files: create modes (attrs, default, umask option) and FIFOs are refused without blocking', async () => {
  const processUmask = 0o022; // pinned at the top of the file
  await withRoot(async ({ root, lfs }) => {
    await writeFile(lfs, '/default', 'x');
    const um = fs.statSync(path.join(root, 'default')).mode & 0o777;
    assert.equal(um, 0o666 & ~processUmask, 'default 0666 less the process umask');
    await (await lfs.open('/private', W, { mode: 0o600 })).close();
    assert.equal(fs.statSync(path.join(root, 'private')).mode & 0o777, 0o600);

    execFileSync('mkfifo', [path.join(root, 'fifo')]);
    const t0 = Date.now();
    await rejectsWith(lfs.open('/fifo', R, {}), SFTPStatus.FAILURE, [root], 'open a FIFO');
    assert.ok(Date.now() - t0 < 5000, 'did not block');
  });
  await withRoot(
    async ({ root, lfs }) => {
      await writeFile(lfs, '/d', 'x');
      await (await lfs.open('/e', W, { mode: 0o644 })).close();
      await lfs.mkdir('/dir', { mode: 0o755 });
      assert.equal(fs.statSync(path.join(root, 'd')).mode & 0o777, 0o600);
      assert.equal(fs.statSync(path.join(root, 'e')).mode & 0o777, 0o600, 'umask applies to a mode the client sent too');
      assert.equal(fs.statSync(path.join(root, 'dir')).mode & 0o777, 0o700);
    },
    { umask: 0o077 },
  );
});

test('stat and setstat: mode, times, size, owner, by path and by handle', async () => {
  await withRoot(async ({ root, lfs }) => {
    await writeFile(lfs, '/f.txt', '0123456789');
    const st = await lfs.stat('/f.txt');
    const real = fs.statSync(path.join(root, 'f.txt'));
    assert.deepEqual(st, {
      size: 10,
      uid: real.uid,
      gid: real.gid,
      mode: real.mode,
      atime: Math.floor(real.atimeMs / 1000),
      mtime: Math.floor(real.mtimeMs / 1000),
    });
    assert.equal(st.mode! & 0o170000, 0o100000, 'full st_mode: regular file bits');
    assert.equal((await lfs.stat('/')).mode! & 0o170000, 0o040000);

    await lfs.setstat('/f.txt', { mode: 0o640 });
    assert.equal(fs.statSync(path.join(root, 'f.txt')).mode & 0o7777, 0o640);
    await lfs.setstat('/f.txt', { atime: 1_000_000_000, mtime: 1_234_567_890 });
    let s = fs.statSync(path.join(root, 'f.txt'));
    assert.equal(s.atimeMs, 1_000_000_000_000);
    assert.equal(s.mtimeMs, 1_234_567_890_000);
    await lfs.setstat('/f.txt', { size: 4 });
    assert.equal(fs.readFileSync(path.join(root, 'f.txt'), 'utf8'), '0123');
    await lfs.setstat('/f.txt', { size: 8 });
    assert.equal(fs.statSync(path.join(root, 'f.txt')).size, 8);
    assert.equal((await lfs.stat('/f.txt')).mtime !== 1_234_567_890, true, 'truncate touched mtime');
    await lfs.setstat('/f.txt', { mtime: 1_500_000_000 }); // only one time: the other is kept
    s = fs.statSync(path.join(root, 'f.txt'));
    assert.equal(s.mtimeMs, 1_500_000_000_000);
    await rejectsWith(lfs.setstat('/missing', { mode: 0o600 }), SFTPStatus.NO_SUCH_FILE, [root], 'setstat missing');

    const h = await lfs.open('/f.txt', RW, {});
    await h.setstat({ size: 2, mode: 0o600, atime: 1_100_000_000, mtime: 1_200_000_000 });
    const hs = await h.stat();
    assert.equal(hs.size, 2);
    assert.equal(hs.mode! & 0o7777, 0o600);
    assert.equal(hs.atime, 1_100_000_000);
    assert.equal(hs.mtime, 1_200_000_000);
    // The current ids sent back (as some clients do with every setstat) always pass; changes: test/sftp-jail.test.ts.
    const mine = fs.statSync(path.join(root, 'f.txt'));
    await h.setstat({ uid: mine.uid, gid: mine.gid });
    await lfs.setstat('/f.txt', { uid: mine.uid, gid: mine.gid });
    await h.close();
  });
});

test('lstat and lsetstat operate on the link itself', async () => {
  await withRoot(async ({ root, lfs }) => {
    await writeFile(lfs, '/t.txt', 'x');
    fs.symlinkSync('t.txt', path.join(root, 'l'));
    assert.equal((await lfs.lstat('/l')).mode! & 0o170000, 0o120000);
    assert.equal((await lfs.stat('/l')).mode! & 0o170000, 0o100000);
    const before = fs.statSync(path.join(root, 't.txt'));
    await lfs.lsetstat!('/l', { mode: 0o600, atime: 1_000_000_000, mtime: 1_000_000_000 });
    const link = fs.lstatSync(path.join(root, 'l'));
    assert.equal(link.mtimeMs, 1_000_000_000_000, 'times set on the link');
    const after = fs.statSync(path.join(root, 't.txt'));
    assert.equal(after.mtimeMs, before.mtimeMs, 'target times untouched');
    assert.equal(after.mode, before.mode, 'target mode untouched (the link mode is skipped on Linux)');
    await lfs.lsetstat!('/t.txt', { mode: 0o604 });
    assert.equal(fs.statSync(path.join(root, 't.txt')).mode & 0o777, 0o604, 'a non-link gets its mode');
    await rejectsWith(lfs.lsetstat!('/l', { size: 0 }), SFTPStatus.BAD_MESSAGE, [root], 'lsetstat size');
  });
});

test('longname: OpenSSH ls_file layout', () => {
  const now = Date.UTC(2024, 5, 15, 12, 0, 0) / 1000;
  const base = { size: 1234, uid: 1000, gid: 100, atime: 0 };
  // Recent: "%b %e %H:%M"; old and future: "%b %e  %Y".
  assert.equal(
    formatLongname(
      'notes.txt',
      { ...base, mode: 0o100644, mtime: Date.UTC(2024, 2, 5, 14, 2) / 1000, nlink: 1, user: 'alice', group: 'staff' },
      now,
    ),
    '-rw-r--r--    1 alice    staff        1234 Mar  5 14:02 notes.txt',
  );
  assert.equal(
    formatLongname('old', { ...base, mode: 0o040755, mtime: Date.UTC(2020, 0, 15, 3, 4) / 1000, nlink: 12 }, now),
    'drwxr-xr-x   12 1000     100          1234 Jan 15  2020 old',
  );
  assert.equal(
    formatLongname('future', { ...base, mode: 0o100600, mtime: now + 3600, nlink: 1 }, now),
    '-rw-------    1 1000     100          1234 Jun 15  2024 future',
  );
  // Just over six months ago is old.
  assert.match(formatLongname('x', { ...base, mode: 0o100644, mtime: now - 15_768_001 }, now), / Dec 1[4-6]  2023 x$/);
  // Long names widen their column; big sizes overflow theirs; unknown fields as OpenSSH zeroes them.
  assert.equal(
    formatLongname(
      'l',
      { size: 123456789012, uid: 1, gid: 2, mode: 0o120777, mtime: now - 60, nlink: 1, user: 'averyverylonguser', group: 'g' },
      now,
    ),
    'lrwxrwxrwx    1 averyverylonguser g        123456789012 Jun 15 11:59 l',
  );
  assert.equal(formatLongname('z', {}, now), '?---------    1 0        0               0 Jan  1  1970 z');
  assert.equal(formatMode(0o104755), '-rwsr-xr-x');
  assert.equal(formatMode(0o102745), '-rwxr-Sr-x');
  assert.equal(formatMode(0o041777), 'drwxrwxrwt');
  assert.equal(formatMode(0o041776), 'drwxrwxrwT');
  assert.equal(formatMode(0o104644), '-rwSr--r--');
  assert.equal(formatMode(0o010644), 'prw-r--r--');
  assert.equal(formatMode(0o140755), 'srwxr-xr-x');
  assert.equal(formatMode(0o020620), 'crw--w----');
  assert.equal(formatMode(0o060660), 'brw-rw----');
});

test('opendir: batches with . and .., lstat attrs and OpenSSH longnames', async () => {
  await withRoot(async ({ root, lfs }) => {
    fs.writeFileSync(path.join(root, 'old.txt'), 'hello');
    fs.chmodSync(path.join(root, 'old.txt'), 0o644);
    fs.utimesSync(path.join(root, 'old.txt'), 1_578_229_620, 1_578_229_620); // 2020-01-05 13:07 UTC
    fs.writeFileSync(path.join(root, 'new.txt'), 'abc');
    const recent = Math.floor(Date.now() / 1000) - 3600;
    fs.utimesSync(path.join(root, 'new.txt'), recent, recent);
    fs.mkdirSync(path.join(root, 'sub'));
    fs.symlinkSync('old.txt', path.join(root, 'link'));
    if (isRoot) fs.chownSync(path.join(root, 'old.txt'), 54321, 54322); // ids with no names: numeric columns

    fs.utimesSync(path.dirname(root), 1_000_000_000, 1_000_000_000); // the host's parent: must not show as `..`
    const d = await lfs.opendir('/');
    const batch = await d.next();
    assert.ok(batch);
    assert.equal(await d.next(), undefined, 'no more entries');
    assert.equal(await d.next(), undefined, 'still none');
    await d.close();
    await d.close();
    const byName = new Map(batch.map((e) => [e.filename, e]));
    assert.deepEqual([...byName.keys()].sort(), ['.', '..', 'link', 'new.txt', 'old.txt', 'sub']);
    const lsLine =
      /^[-dlcbps?][-r][-w][-xsS][-r][-w][-xsS][-r][-w][-xtT] {2}[ \d]{2}\d \S+ +\S+ +\d+ [A-Z][a-z]{2} [ \d]\d ( \d{4}|\d\d:\d\d) \S+$/;
    for (const e of batch) assert.match(e.longname!, lsLine, e.longname);
    for (const e of batch) assert.ok(e.longname!.endsWith(` ${e.filename}`));

    const old = byName.get('old.txt')!;
    assert.equal(old.attrs.size, 5);
    assert.equal(old.attrs.mtime, 1_578_229_620);
    if (isRoot) assert.equal(old.longname, '-rw-r--r--    1 54321    54322           5 Jan  5  2020 old.txt');
    else assert.match(old.longname!, /^-rw-r--r-- {4}1 \S+ +\S+ +5 Jan {2}5 {2}2020 old\.txt$/);

    const t = new Date(recent * 1000);
    const hhmm = `${String(t.getUTCHours()).padStart(2, '0')}:${String(t.getUTCMinutes()).padStart(2, '0')}`;
    const mon = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][t.getUTCMonth()];
    assert.ok(
      byName.get('new.txt')!.longname!.endsWith(` 3 ${mon} ${String(t.getUTCDate()).padStart(2, ' ')} ${hhmm} new.txt`),
      byName.get('new.txt')!.longname,
    );
    if (isRoot)
      assert.match(byName.get('new.txt')!.longname!, /^-[-rwx]{9} {4}1 root {5}root {12}3 /, 'names from /etc/passwd and /etc/group');

    const link = byName.get('link')!;
    assert.equal(link.attrs.mode! & 0o170000, 0o120000, 'attrs from lstat');
    assert.match(link.longname!, /^lrwxrwxrwx /);
    assert.match(byName.get('sub')!.longname!, /^d/);
    const rootIno = fs.statSync(root).ino;
    assert.equal(byName.get('.')!.attrs.mtime, Math.floor(fs.statSync(root).mtimeMs / 1000));
    // `..` of the root is the root: nothing about the host's parent directory.
    assert.equal(byName.get('..')!.attrs.mtime, byName.get('.')!.attrs.mtime);
    assert.notEqual(byName.get('..')!.attrs.mtime, 1_000_000_000);
    assert.equal(fs.statSync(root).ino, rootIno);

    // Many entries come in batches of at most 100.
    for (let i = 0; i < 250; i++) fs.writeFileSync(path.join(root, 'sub', `f${String(i).padStart(3, '0')}`), '');
    const sd = await lfs.opendir('/sub');
    const sizes: number[] = [];
    const names: string[] = [];
    for (let b = await sd.next(); b; b = await sd.next()) {
      sizes.push(b.length);
      names.push(...b.map((e) => e.filename));
    }
    await sd.close();
    assert.ok(
      sizes.every((n) => n <= 100),
      `batch sizes ${sizes.join(',')}`,
    );
    assert.equal(names.length, 252);
    assert.equal(new Set(names).size, 252);

    await rejectsWith(lfs.opendir('/old.txt'), SFTPStatus.NO_SUCH_FILE, [root], 'opendir a file (ENOTDIR)');
    await rejectsWith(lfs.opendir('/missing'), SFTPStatus.NO_SUCH_FILE, [root], 'opendir missing');
    // Through a symlink inside: fine, and `..` is the real parent inside.
    fs.symlinkSync('sub', path.join(root, 'sublink'));
    const ld = await lfs.opendir('/sublink');
    const first = (await ld.next())!;
    await ld.close();
    assert.equal(first.length, 100);
    assert.deepEqual(
      first.slice(0, 2).map((e) => e.filename),
      ['.', '..'],
    );
    assert.equal(first[1].attrs.mtime, Math.floor(fs.statSync(root).mtimeMs / 1000));
    assert.ok(first.slice(2).every((e) => /^f\d{3}$/.test(e.filename)));
  });
});

test('mkdir, rmdir, remove', async () => {
  await withRoot(async ({ root, lfs }) => {
    await lfs.mkdir('/d', { mode: 0o700 });
    assert.equal(fs.statSync(path.join(root, 'd')).mode & 0o777, 0o700);
    await lfs.mkdir('/d2', {});
    assert.equal(fs.statSync(path.join(root, 'd2')).mode & 0o777, 0o755, '0777 less the process umask');
    await rejectsWith(lfs.mkdir('/d', {}), SFTPStatus.FAILURE, [root], 'mkdir existing');
    await rejectsWith(lfs.mkdir('/no/such', {}), SFTPStatus.NO_SUCH_FILE, [root], 'mkdir in missing');
    await writeFile(lfs, '/d/f', 'x');
    await rejectsWith(lfs.rmdir('/d'), SFTPStatus.FAILURE, [root], 'rmdir non-empty');
    await rejectsWith(lfs.remove('/d'), SFTPStatus.FAILURE, [root], 'remove a directory');
    await rejectsWith(lfs.rmdir('/d/f'), SFTPStatus.NO_SUCH_FILE, [root], 'rmdir a file (ENOTDIR)');
    await lfs.remove('/d/f');
    assert.ok(!fs.existsSync(path.join(root, 'd', 'f')));
    await rejectsWith(lfs.remove('/d/f'), SFTPStatus.NO_SUCH_FILE, [root], 'remove missing');
    await lfs.rmdir('/d');
    assert.ok(!fs.existsSync(path.join(root, 'd')));
    await rejectsWith(lfs.rmdir('/d'), SFTPStatus.NO_SUCH_FILE, [root], 'rmdir missing');
    // A symlink to a directory is removed as a link, not refused as a directory.
    fs.symlinkSync('d2', path.join(root, 'dl'));
    await lfs.remove('/dl');
    assert.ok(!fs.existsSync(path.join(root, 'dl')) && fs.existsSync(path.join(root, 'd2')));
  });
});

test('rename: SSH_FXP_RENAME never overwrites; posix-rename does', async () => {
  await withRoot(async ({ root, lfs }) => {
    await writeFile(lfs, '/a', 'A');
    await writeFile(lfs, '/b', 'B');
    const e = await rejectsWith(lfs.rename('/a', '/b', false), SFTPStatus.FAILURE, [root], 'rename onto existing');
    assert.match(e.message, /File exists/);
    assert.equal(fs.readFileSync(path.join(root, 'a'), 'utf8'), 'A');
    assert.equal(fs.readFileSync(path.join(root, 'b'), 'utf8'), 'B');
    await lfs.rename('/a', '/c', false);
    assert.ok(!fs.existsSync(path.join(root, 'a')));
    assert.equal(fs.readFileSync(path.join(root, 'c'), 'utf8'), 'A');
    assert.equal(fs.statSync(path.join(root, 'c')).nlink, 1, 'no spare link left behind');
    await lfs.rename('/c', '/b', true);
    assert.ok(!fs.existsSync(path.join(root, 'c')));
    assert.equal(fs.readFileSync(path.join(root, 'b'), 'utf8'), 'A');

    await lfs.mkdir('/d1', {});
    await lfs.mkdir('/d2', {});
    await rejectsWith(lfs.rename('/d1', '/d2', false), SFTPStatus.FAILURE, [root], 'dir onto existing dir');
    await rejectsWith(lfs.rename('/d1', '/b', false), SFTPStatus.FAILURE, [root], 'dir onto existing file');
    await lfs.rename('/d1', '/d3', false);
    assert.ok(fs.statSync(path.join(root, 'd3')).isDirectory());
    await lfs.rename('/d3', '/d2', true); // empty dir over empty dir: rename(2) allows it
    assert.ok(!fs.existsSync(path.join(root, 'd3')));
    // A dangling symlink at `to` counts as existing.
    fs.symlinkSync('nowhere', path.join(root, 'dang'));
    await rejectsWith(lfs.rename('/b', '/dang', false), SFTPStatus.FAILURE, [root], 'onto a dangling link');
    // Renaming a symlink moves the link, not its target.
    fs.symlinkSync('b', path.join(root, 'bl'));
    await lfs.rename('/bl', '/bl2', false);
    assert.equal(fs.readlinkSync(path.join(root, 'bl2')), 'b');
    await rejectsWith(lfs.rename('/missing', '/x', false), SFTPStatus.NO_SUCH_FILE, [root], 'rename missing');
  });
});

test('symlink and readlink: absolute targets are virtual, relative ones stored as given', async () => {
  await withRoot(async ({ root, lfs }) => {
    await lfs.mkdir('/docs', {});
    await writeFile(lfs, '/docs/a.txt', 'AAA');
    await lfs.symlink('/abs', '/docs/a.txt');
    assert.equal(fs.readlinkSync(path.join(root, 'abs')), path.join(root, 'docs/a.txt'), 'stored as the real path inside the root');
    assert.equal(await lfs.readlink('/abs'), '/docs/a.txt');
    assert.equal((await readAll(lfs, '/abs')).toString(), 'AAA');
    await lfs.symlink('/docs/rel', 'a.txt');
    assert.equal(fs.readlinkSync(path.join(root, 'docs/rel')), 'a.txt');
    assert.equal(await lfs.readlink('/docs/rel'), 'a.txt');
    assert.equal((await readAll(lfs, '/docs/rel')).toString(), 'AAA');
    await lfs.symlink('/up', 'docs/../docs/a.txt');
    assert.equal((await lfs.stat('/up')).size, 3);
    await lfs.symlink('/rootlink', '/');
    assert.equal(await lfs.readlink('/rootlink'), '/');

    // Dangling inside is allowed, and creating through it lands on its (inside) target.
    await lfs.symlink('/later', '/docs/later.txt');
    await rejectsWith(lfs.stat('/later'), SFTPStatus.NO_SUCH_FILE, [root], 'stat dangling');
    await writeFile(lfs, '/later', 'made');
    assert.equal(fs.readFileSync(path.join(root, 'docs/later.txt'), 'utf8'), 'made');
    assert.ok(fs.lstatSync(path.join(root, 'later')).isSymbolicLink());

    await rejectsWith(lfs.symlink('/abs', '/docs'), SFTPStatus.FAILURE, [root], 'symlink over an existing name');
    await rejectsWith(lfs.readlink('/docs/a.txt'), SFTPStatus.FAILURE, [root], 'readlink a file (EINVAL)');
    await rejectsWith(lfs.readlink('/missing'), SFTPStatus.NO_SUCH_FILE, [root], 'readlink missing');
  });
});

test('hard links and realpath', async () => {
  await withRoot(async ({ root, lfs }) => {
    await writeFile(lfs, '/a', 'A');
    await lfs.link!('/a', '/b');
    assert.equal(fs.statSync(path.join(root, 'a')).ino, fs.statSync(path.join(root, 'b')).ino);
    assert.equal((await lfs.stat('/b')).size, 1);
    await rejectsWith(lfs.link!('/a', '/b'), SFTPStatus.FAILURE, [root], 'link onto existing');
    await rejectsWith(lfs.link!('/missing', '/c'), SFTPStatus.NO_SUCH_FILE, [root], 'link missing');

    await lfs.mkdir('/d', {});
    await lfs.mkdir('/d/e', {});
    await lfs.symlink('/d/l', 'e');
    assert.equal(await lfs.realpath!('/'), '/');
    assert.equal(await lfs.realpath!('/d/l'), '/d/e');
    assert.equal(await lfs.realpath!('/d/e'), '/d/e');
    await rejectsWith(lfs.realpath!('/nope'), SFTPStatus.NO_SUCH_FILE, [root], 'realpath missing');
  });
});

test('statvfs agrees with statfs', async () => {
  await withRoot(async ({ root, lfs }) => {
    const v = await lfs.statvfs!('/');
    const s = fs.statfsSync(root);
    assert.equal(v.bsize, s.bsize);
    assert.equal(v.frsize, s.bsize);
    assert.equal(v.blocks, s.blocks);
    assert.ok(Math.abs(v.bfree - s.bfree) <= Math.max(4096, s.blocks / 100), 'bfree close (others share the disk)');
    assert.ok(v.bavail <= v.bfree && v.bfree <= v.blocks);
    assert.equal(v.files, s.files);
    assert.equal(v.favail, v.ffree);
    assert.equal(v.fsid, 0);
    assert.equal(v.flag, 0);
    assert.equal(v.namemax, 255);
    assert.ok(v.blocks > 0 && v.bsize > 0);
  });
});

test('jail: symlinks, hard links and .. leading outside are refused and create nothing outside', async () => {
  await withRoot(async ({ base, root, outside, lfs }) => {
    const hide = [base, root, outside];
    const PD = SFTPStatus.PERMISSION_DENIED;
    fs.symlinkSync(outside, path.join(root, 'escape')); // ln -s /outside root/escape
    fs.symlinkSync(path.join(outside, 'secret.txt'), path.join(root, 'secretlink'));
    fs.symlinkSync('../outside/secret.txt', path.join(root, 'relsecret'));
    fs.symlinkSync(path.join(outside, 'created-through-dangling'), path.join(root, 'dangling-out'));
    fs.mkdirSync(path.join(root, 'in'));
    fs.writeFileSync(path.join(root, 'in', 'mine.txt'), 'mine');
    const outsideBefore = tree(outside);
    const secretBefore = fs.statSync(path.join(outside, 'secret.txt'));
    const outsideDirBefore = fs.statSync(outside);
    const errors: SFTPError[] = [];
    const refused = async (p: Promise<unknown>, what: string, status: SFTPStatusCode = PD): Promise<void> => {
      errors.push(await rejectsWith(p, status, hide, what));
    };

    // Reading, listing, stat through a link to an outside directory or file.
    await refused(lfs.open('/escape/secret.txt', R, {}), 'read through a dir link');
    await refused(lfs.open('/secretlink', R, {}), 'read a file link');
    await refused(lfs.open('/relsecret', R, {}), 'read a relative file link');
    await refused(lfs.opendir('/escape'), 'list a dir link');
    await refused(lfs.opendir('/escape/'), 'list a dir link with a slash');
    await refused(lfs.stat('/escape'), 'stat a dir link');
    await refused(lfs.stat('/escape/secret.txt'), 'stat through a dir link');
    await refused(lfs.lstat('/escape/secret.txt'), 'lstat through a dir link');
    await refused(lfs.stat('/secretlink'), 'stat a file link');
    await refused(lfs.realpath!('/escape'), 'realpath a dir link');
    await refused(lfs.realpath!('/escape/secret.txt'), 'realpath through');
    await refused(lfs.statvfs!('/escape'), 'statvfs a dir link');
    await refused(lfs.readlink('/escape'), 'readlink naming a host path');
    await refused(lfs.readlink('/relsecret'), 'readlink of a relative link leading out');

    // Writing and creating through them.
    await refused(lfs.open('/escape/new.txt', W, {}), 'create through a dir link');
    await refused(lfs.open('/escape/secret.txt', W, {}), 'truncate through a dir link');
    await refused(lfs.open('/secretlink', APPEND, {}), 'append to a file link');
    await refused(lfs.open('/dangling-out', W, {}), 'create through a dangling link leading out');
    await refused(lfs.mkdir('/escape/d', {}), 'mkdir through a dir link');
    await refused(lfs.setstat('/escape/secret.txt', { mode: 0o777 }), 'setstat through a dir link');
    await refused(lfs.setstat('/secretlink', { mode: 0o777, size: 0, atime: 1, mtime: 1 }), 'setstat a file link');
    await refused(lfs.setstat('/escape', { mode: 0o777 }), 'setstat a dir link');
    await refused(lfs.lsetstat!('/escape/secret.txt', { mode: 0o777 }), 'lsetstat through a dir link');
    await refused(lfs.remove('/escape/secret.txt'), 'remove through a dir link');
    await refused(lfs.rmdir('/escape'), 'rmdir... of a link is ENOTDIR', SFTPStatus.NO_SUCH_FILE);
    await refused(lfs.rename('/in/mine.txt', '/escape/mine.txt', false), 'rename into a dir link');
    await refused(lfs.rename('/in/mine.txt', '/escape/mine.txt', true), 'posix-rename into a dir link');
    await refused(lfs.rename('/escape/secret.txt', '/stolen.txt', false), 'rename out of a dir link');
    await refused(lfs.rename('/in', '/escape/in', true), 'move a directory out');
    await refused(lfs.rename('/', '/x', false), 'rename the root');
    await refused(lfs.rename('/in', '/', true), 'rename onto the root');
    await refused(lfs.remove('/'), 'remove the root');
    await refused(lfs.rmdir('/'), 'rmdir the root');

    // Links leading out.
    await refused(lfs.symlink('/x', '/../../etc/passwd'), 'absolute target climbing out');
    await refused(lfs.symlink('/x', '../../etc/passwd'), 'relative target climbing out');
    await refused(lfs.symlink('/in/x', '../../outside/secret.txt'), 'relative target climbing out from a subdir');
    await refused(lfs.symlink('/x', '/escape/secret.txt'), 'absolute target through a dir link');
    await refused(lfs.symlink('/x', 'escape/secret.txt'), 'relative target through a dir link');
    await refused(lfs.symlink('/x', 'escape/not-yet'), 'dangling target through a dir link');
    await refused(lfs.symlink('/escape/x', '/in/mine.txt'), 'link created in an outside dir');
    await refused(lfs.link!('/escape/secret.txt', '/hl'), 'hard link to an outside file');
    await refused(lfs.link!('/secretlink', '/hl'), 'hard link to a link leading out');
    await refused(lfs.link!('/in/mine.txt', '/escape/hl'), 'hard link placed outside');

    // `..` in a virtual path stops at the root (the protocol layer normalises; this is defence in depth).
    await refused(lfs.open('/../outside/secret.txt', R, {}), '.. above the root', SFTPStatus.NO_SUCH_FILE);
    await refused(lfs.stat('/in/../../outside'), '.. above the root (stat)', SFTPStatus.NO_SUCH_FILE);

    // Operations on the link itself are allowed and touch nothing outside.
    assert.equal((await lfs.lstat('/escape')).mode! & 0o170000, 0o120000);
    await lfs.lsetstat!('/escape', { atime: 1_000_000_000, mtime: 1_000_000_000 });
    await lfs.rename('/secretlink', '/secretlink2', false);
    await lfs.remove('/secretlink2');
    await lfs.remove('/escape');
    assert.ok(!fs.existsSync(path.join(root, 'escape')));

    assert.ok(errors.length > 40);
    for (const e of errors) assert.ok(e.message.startsWith('/'), `message names a virtual path: ${e.message}`);
    assert.deepEqual(tree(outside), outsideBefore, 'nothing created or removed outside');
    const secretAfter = fs.statSync(path.join(outside, 'secret.txt'));
    assert.equal(fs.readFileSync(path.join(outside, 'secret.txt'), 'utf8'), 'top secret');
    assert.equal(secretAfter.mode, secretBefore.mode);
    assert.equal(secretAfter.mtimeMs, secretBefore.mtimeMs);
    assert.equal(fs.statSync(outside).mtimeMs, outsideDirBefore.mtimeMs);
    assert.ok(fs.existsSync(path.join(root, 'in', 'mine.txt')), 'refused rename left the file');
    assert.deepEqual(
      tree(base).filter((p) => !p.startsWith('root') && !p.startsWith('outside')),
      [],
    );
  });
});

test('jail: a root given through a symlink works, and maps link targets written with either form back', async () => {
  await withRoot(async ({ root }) => {
    const alias = path.join(path.dirname(root), 'alias');
    fs.symlinkSync(root, alias);
    const viaAlias = new LocalFileSystem(alias);
    await writeFile(viaAlias, '/z.txt', 'z');
    assert.equal(await viaAlias.realpath('/z.txt'), '/z.txt');
    await viaAlias.symlink('/zl', '/z.txt');
    assert.equal(await viaAlias.readlink('/zl'), '/z.txt');
    fs.symlinkSync(path.join(alias, 'z.txt'), path.join(root, 'zl2')); // written by the host with the alias
    assert.equal(await viaAlias.readlink('/zl2'), '/z.txt');
    assert.equal((await readAll(viaAlias, '/zl2')).toString(), 'z', 'followed inside the root');
  });
});

test('readOnly refuses every change and still serves reads', async () => {
  await withRoot(
    async ({ root, lfs }) => {
      fs.writeFileSync(path.join(root, 'f'), 'data');
      fs.mkdirSync(path.join(root, 'd'));
      fs.symlinkSync('f', path.join(root, 'l'));
      const before = tree(root);
      const PD = SFTPStatus.PERMISSION_DENIED;
      const attempts: [string, () => Promise<unknown>][] = [
        ['open write', () => lfs.open('/f', { ...R, write: true }, {})],
        ['open create', () => lfs.open('/new', { ...R, create: true }, {})],
        ['open truncate', () => lfs.open('/f', { ...R, truncate: true }, {})],
        ['open append', () => lfs.open('/f', { ...R, append: true }, {})],
        ['setstat', () => lfs.setstat('/f', { mode: 0o600 })],
        ['lsetstat', () => lfs.lsetstat('/l', { atime: 1, mtime: 1 })],
        ['remove', () => lfs.remove('/f')],
        ['mkdir', () => lfs.mkdir('/nd', {})],
        ['rmdir', () => lfs.rmdir('/d')],
        ['rename', () => lfs.rename('/f', '/g', false)],
        ['posix-rename', () => lfs.rename('/f', '/g', true)],
        ['symlink', () => lfs.symlink('/s', '/f')],
        ['link', () => lfs.link('/f', '/h')],
      ];
      for (const [what, run] of attempts) await rejectsWith(run(), PD, [root], what);
      const h = await lfs.open('/f', R, {});
      assert.equal((await h.read(0, 10)).toString(), 'data');
      await rejectsWith(h.write(0, Buffer.from('x')), PD, [root], 'handle write');
      await rejectsWith(h.setstat({ mode: 0o600 }), PD, [root], 'handle setstat');
      await h.close();
      assert.equal((await lfs.stat('/l')).size, 4);
      assert.equal(await lfs.readlink('/l'), 'f');
      const d = await lfs.opendir('/');
      assert.ok((await d.next())!.length >= 5);
      await d.close();
      assert.equal((await lfs.statvfs('/')).flag, 1, 'ST_RDONLY');
      assert.deepEqual(tree(root), before);
      assert.equal(fs.readFileSync(path.join(root, 'f'), 'utf8'), 'data');
    },
    { readOnly: true },
  );
});
