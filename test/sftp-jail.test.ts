/**
 * The SFTP jail under attack (issue 16.1 and 16.9), through the protocol with hand-made requests
 * (test/fixtures/rawSftp.ts over in-process ssh2 clients):
 * - the kernel primitives the descriptor walk relies on, probed on the running kernel;
 * - a symlink planted by renaming it (or its folder) nearer the root points outside but nothing
 *   can be done through it: read, create, chmod, hard link, list, readlink, realpath;
 * - a bounded race (20 s, two channels) swapping a folder for such a link while hard-linking,
 *   creating and chmod-ing through it leaves the outside directory exactly as it was;
 * - setuid/setgid bits never reach the disk and owners do not change, unless the options allow.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { LocalFileSystem, SFTPStatus } from '../src';
import { FXF, type Reply } from './fixtures/rawSftp';
import { rawSftpLogin, withSftpServer, type SftpScope } from './fixtures/sftpServer';

const TIMEOUT = { timeout: 180_000 };
const isRoot = process.getuid?.() === 0;
const O_PATH = 0o10000000;

/** Everything about a directory tree that an escape could change: names, types, modes, link counts, sizes, contents, owners. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, rel: string): void => {
    const st = fs.lstatSync(d);
    let what = `${st.mode.toString(8)} nlink=${st.nlink} ${st.uid}:${st.gid} ${st.size} ${st.mtimeMs}`;
    if (st.isSymbolicLink()) what += ` -> ${fs.readlinkSync(d)}`;
    else if (st.isFile()) what += ` ${createHash('sha256').update(fs.readFileSync(d)).digest('hex')}`;
    out[rel || '.'] = what;
    if (st.isDirectory()) for (const name of fs.readdirSync(d).sort()) walk(path.join(d, name), rel ? `${rel}/${name}` : name);
  };
  walk(dir, '');
  return out;
}

/** Inode numbers of every file below `dir` (to find outside files hard-linked in). */
function inodes(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string): void => {
    for (const name of fs.readdirSync(d)) {
      const p = path.join(d, name);
      const st = fs.lstatSync(p);
      out.set(`${st.dev}:${st.ino}`, p);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}

/** An outside directory next to the root (`../outside` from it) with files worth stealing. */
function plantOutside(s: SftpScope): string {
  const outside = path.join(path.dirname(s.root), 'outside');
  fs.mkdirSync(outside);
  fs.writeFileSync(path.join(outside, 'secret.txt'), 'OUTSIDE SECRET\n');
  fs.chmodSync(path.join(outside, 'secret.txt'), 0o600);
  fs.writeFileSync(path.join(outside, 'victim.sh'), '#!/bin/sh\necho outside\n');
  fs.chmodSync(path.join(outside, 'victim.sh'), 0o755);
  return outside;
}

function ok(r: Reply, what: string): void {
  assert.equal(r.status, SFTPStatus.OK, `${what}: ${r.message}`);
}

function refused(r: Reply, what: string): void {
  assert.ok(r.status !== undefined && r.status !== SFTPStatus.OK, `${what}: expected a refusal, got ${JSON.stringify(r)}`);
}

test('kernel primitives of the descriptor walk hold on this kernel (O_PATH, /proc/self/fd magic links)', (t) => {
  if (process.platform !== 'linux') return t.skip('descriptor mode is Linux-only; other platforms use path mode');
  const base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'jail-probe-')));
  const fds: number[] = [];
  const open = (p: string | Buffer, flags: number, mode?: number): number => {
    const fd = fs.openSync(p, flags, mode);
    fds.push(fd);
    return fd;
  };
  try {
    const { O_NOFOLLOW, O_DIRECTORY, O_CREAT, O_WRONLY, O_EXCL } = fs.constants;
    fs.mkdirSync(path.join(base, 'd'));
    fs.mkdirSync(path.join(base, 'out'));
    fs.writeFileSync(path.join(base, 'd', 'f'), 'x');
    fs.symlinkSync('../out', path.join(base, 'd', 'lnk'));
    fs.symlinkSync('nowhere', path.join(base, 'd', 'dang'));
    const dfd = open(path.join(base, 'd'), O_PATH | O_NOFOLLOW | O_DIRECTORY);
    const at = (n: string): string => `/proc/self/fd/${dfd}/${n}`;
    assert.throws(() => fs.readSync(dfd, Buffer.alloc(1)), { code: 'EBADF' }, 'O_PATH opens without read access');
    assert.ok(fs.fstatSync(dfd).isDirectory(), 'fstat works on an O_PATH descriptor');
    assert.throws(() => open(at('lnk'), O_PATH | O_NOFOLLOW | O_DIRECTORY), { code: 'ENOTDIR' }, 'a symlink step is not entered');
    assert.throws(() => open(at('f'), O_PATH | O_NOFOLLOW | O_DIRECTORY), { code: 'ENOTDIR' });
    assert.throws(
      () => open(at('dang'), O_WRONLY | O_CREAT | O_NOFOLLOW),
      { code: 'ELOOP' },
      'O_CREAT|O_NOFOLLOW does not create through a link',
    );
    assert.throws(() => open(at('lnk'), O_WRONLY | O_CREAT | O_NOFOLLOW), { code: 'ELOOP' });
    assert.throws(() => open(at('dang'), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW), { code: 'EEXIST' });
    // The directory renamed away and a link to the outside swapped in: the descriptor still means the directory.
    fs.renameSync(path.join(base, 'd'), path.join(base, 'd2'));
    fs.symlinkSync('out', path.join(base, 'd'));
    open(at('created'), O_WRONLY | O_CREAT | O_NOFOLLOW, 0o644);
    assert.ok(
      fs.existsSync(path.join(base, 'd2', 'created')) && !fs.existsSync(path.join(base, 'out', 'created')),
      'O_CREAT lands in the renamed directory',
    );
    fs.mkdirSync(at('sub'));
    assert.ok(fs.statSync(path.join(base, 'd2', 'sub')).isDirectory(), 'mkdir');
    fs.rmdirSync(at('sub'));
    assert.ok(!fs.existsSync(path.join(base, 'd2', 'sub')), 'rmdir');
    fs.symlinkSync('f', at('sl'));
    assert.equal(fs.readlinkSync(path.join(base, 'd2', 'sl')), 'f', 'symlink');
    assert.equal(fs.readlinkSync(at('sl')), 'f', 'readlink');
    fs.linkSync(at('sl'), at('hl'));
    assert.ok(fs.lstatSync(path.join(base, 'd2', 'hl')).isSymbolicLink(), 'link(2) does not follow the old name');
    fs.linkSync(at('f'), at('f2'));
    assert.equal(fs.statSync(path.join(base, 'd2', 'f')).nlink, 2, 'link');
    fs.unlinkSync(at('f2'));
    assert.equal(fs.statSync(path.join(base, 'd2', 'f')).nlink, 1, 'unlink');
    const ofd = open(path.join(base, 'out'), O_PATH | O_DIRECTORY);
    fs.renameSync(at('created'), `/proc/self/fd/${ofd}/moved`);
    assert.ok(fs.existsSync(path.join(base, 'out', 'moved')), 'rename between two descriptors');
    fs.lutimesSync(at('sl'), 1000, 1000);
    assert.equal(fs.lstatSync(path.join(base, 'd2', 'sl')).mtimeMs, 1_000_000, 'lutimes on the link');
    assert.notEqual(fs.statSync(path.join(base, 'd2', 'f')).mtimeMs, 1_000_000, '... not its target');
    assert.ok(fs.lstatSync(at('sl')).isSymbolicLink(), 'lstat does not follow the last name');
    // An object pinned with O_PATH: attribute changes through its own magic link reach it and nothing else.
    const ffd = open(at('f'), O_PATH | O_NOFOLLOW);
    assert.throws(() => fs.fchmodSync(ffd, 0o600), { code: 'EBADF' }, 'fchmod refuses O_PATH (hence chmod through /proc)');
    fs.chmodSync(`/proc/self/fd/${ffd}`, 0o640);
    assert.equal(fs.statSync(path.join(base, 'd2', 'f')).mode & 0o7777, 0o640, 'chmod /proc/self/fd/M');
    fs.utimesSync(`/proc/self/fd/${ffd}`, 2000, 2000);
    assert.equal(fs.statSync(path.join(base, 'd2', 'f')).mtimeMs, 2_000_000, 'utimes /proc/self/fd/M');
    if (isRoot) {
      fs.chownSync(`/proc/self/fd/${ffd}`, 77, 88);
      assert.deepEqual(
        [fs.statSync(path.join(base, 'd2', 'f')).uid, fs.statSync(path.join(base, 'd2', 'f')).gid],
        [77, 88],
        'chown /proc/self/fd/M',
      );
    }
    const w = open(`/proc/self/fd/${ffd}`, O_WRONLY);
    fs.ftruncateSync(w, 0);
    assert.equal(fs.statSync(path.join(base, 'd2', 'f')).size, 0, 'reopen for writing and truncate');
    const lfd = open(at('sl'), O_PATH | O_NOFOLLOW);
    assert.ok(fs.fstatSync(lfd).isSymbolicLink(), 'O_PATH|O_NOFOLLOW pins the link itself');
    assert.throws(
      () => fs.chmodSync(`/proc/self/fd/${lfd}`, 0o600),
      { code: 'ENOTSUP' },
      'chmod of a pinned link does not reach its target',
    );
    const names = fs.readdirSync(`/proc/self/fd/${dfd}`, { encoding: 'buffer' }).map(String).sort();
    assert.deepEqual(names, ['dang', 'f', 'hl', 'lnk', 'sl'], 'a directory is listed through its O_PATH descriptor');
    assert.ok(fs.statfsSync(`/proc/self/fd/${dfd}`).bsize > 0, 'statfs');
    const latin1 = Buffer.concat([Buffer.from(`/proc/self/fd/${dfd}/caf`), Buffer.from([0xe9])]);
    fs.writeFileSync(latin1, 'l1');
    assert.ok(
      fs.readdirSync(path.join(base, 'd2'), { encoding: 'buffer' }).some((b) => b.equals(Buffer.from('636166e9', 'hex'))),
      'Buffer paths keep non-UTF-8 bytes',
    );
    assert.equal(new LocalFileSystem(base).descriptorWalk, true, 'LocalFileSystem found descriptor mode available');
  } finally {
    for (const fd of fds) fs.closeSync(fd);
    fs.rmSync(base, { recursive: true, force: true });
  }
});

test(
  'a symlink planted by renaming it (or its folder) nearer the root leads nowhere: nothing outside is read, created, changed or linked',
  TIMEOUT,
  () =>
    withSftpServer(async (s) => {
      const outside = plantOutside(s);
      const before = snapshot(outside);
      const sftp = await rawSftpLogin(s);
      try {
        // The plant of issue 16.1: allowed where it is made (`/r/../outside` is `/outside`, inside), then moved up.
        ok(await sftp.mkdir('/r'), 'mkdir /r');
        ok(await sftp.symlink('../outside', '/r/esc'), 'symlink in /r');
        ok(await sftp.posixRename('/r/esc', '/esc'), 'posix-rename of the link (as sftp-server, the rename itself is allowed)');
        // The same with the folder holding the link moved up.
        ok(await sftp.mkdir('/a'), 'mkdir /a');
        ok(await sftp.mkdir('/a/b'), 'mkdir /a/b');
        ok(await sftp.symlink('../../outside', '/a/b/l'), 'symlink two levels down');
        ok(await sftp.rename('/a/b', '/b'), 'rename of the folder');
        assert.equal(fs.readlinkSync(path.join(s.root, 'esc')), '../outside', 'planted: the link leads out for a host process');
        assert.equal(fs.readlinkSync(path.join(s.root, 'b', 'l')), '../../outside');
        ok(await sftp.mkdir('/d'), 'mkdir /d');
        fs.writeFileSync(path.join(s.root, 'd', 'mine.txt'), 'mine');

        for (const door of ['/esc', '/b/l']) {
          const attempts: Array<[string, Promise<Reply>]> = [
            ['stat', sftp.stat(door)],
            ['stat through', sftp.stat(`${door}/secret.txt`)],
            ['lstat through', sftp.lstat(`${door}/secret.txt`)],
            ['open read', sftp.open(`${door}/secret.txt`, FXF.READ)],
            ['open create', sftp.open(`${door}/created.txt`, FXF.WRITE | FXF.CREAT | FXF.TRUNC)],
            ['open truncate', sftp.open(`${door}/victim.sh`, FXF.WRITE | FXF.TRUNC)],
            ['setstat 04777', sftp.setstat(`${door}/victim.sh`, { mode: 0o4777 })],
            ['setstat times', sftp.setstat(`${door}/secret.txt`, { atime: 1, mtime: 1 })],
            ['setstat size', sftp.setstat(`${door}/secret.txt`, { size: 0 })],
            ['lsetstat', sftp.lsetstat(`${door}/victim.sh`, { mode: 0o4777 })],
            ['hardlink out', sftp.hardlink(`${door}/secret.txt`, '/stolen.txt')],
            ['hardlink in', sftp.hardlink('/d/mine.txt', `${door}/planted.txt`)],
            ['opendir', sftp.opendir(door)],
            ['readlink', sftp.readlink(door)],
            ['realpath', sftp.realpath(door)],
            ['realpath through', sftp.realpath(`${door}/secret.txt`)],
            ['mkdir through', sftp.mkdir(`${door}/newdir`)],
            ['remove through', sftp.remove(`${door}/secret.txt`)],
            ['rename into', sftp.rename('/d/mine.txt', `${door}/mine.txt`)],
            ['rename out of', sftp.rename(`${door}/secret.txt`, '/stolen2.txt')],
            ['symlink through', sftp.symlink('/d/mine.txt', `${door}/l2`)],
            ['symlink to', sftp.symlink(`${door}/secret.txt`, '/l3')],
          ];
          for (const [what, p] of attempts) {
            const r = await p;
            refused(r, `${what} via ${door}`);
            assert.ok(!(r.message ?? '').includes(path.dirname(s.root)), `${what}: the message leaks no host path (${r.message})`);
          }
        }
        // Operations on the links themselves work and touch nothing outside.
        assert.equal((await sftp.lstat('/esc')).attrs!.mode! & 0o170000, 0o120000);
        ok(await sftp.remove('/esc'), 'remove the planted link');
        ok(await sftp.remove('/b/l'), 'remove the other');
      } finally {
        sftp.end();
      }
      assert.deepEqual(snapshot(outside), before, 'the outside directory is exactly as it was');
      assert.deepEqual(fs.readdirSync(path.dirname(s.root)).sort(), ['local', 'outside', 'root'], 'nothing appeared next to the root');
      const outsideInodes = inodes(outside);
      for (const [ino, p] of inodes(s.root)) assert.ok(!outsideInodes.has(ino), `${p} is an outside file hard-linked in`);
    }),
);

test(
  'a 20 s race of two channels, one swapping a folder for an outside-pointing link, the other hard-linking, creating and chmod-ing through it, changes nothing outside',
  TIMEOUT,
  (t) =>
    withSftpServer(async (s) => {
      const outside = plantOutside(s);
      fs.mkdirSync(path.join(s.root, 'd'));
      fs.writeFileSync(path.join(s.root, 'd', 'secret.txt'), 'inside\n');
      fs.writeFileSync(path.join(s.root, 'd', 'victim.sh'), 'inside\n');
      const a = await rawSftpLogin(s);
      const b = await rawSftpLogin(s);
      // The plant, through the protocol as an attacker makes it.
      ok(await a.mkdir('/r'), 'mkdir');
      ok(await a.symlink('../outside', '/r/esc'), 'symlink');
      ok(await a.posixRename('/r/esc', '/esc'), 'plant');
      // A second plant for the last component: `/e/x` -> `../../outside/victim.sh`, made two levels down.
      fs.mkdirSync(path.join(s.root, 'e'));
      fs.writeFileSync(path.join(s.root, 'e', 'victim.sh'), 'inside\n');
      ok(await a.mkdir('/r/s'), 'mkdir');
      ok(await a.symlink('../../outside/victim.sh', '/r/s/x'), 'symlink');
      ok(await a.posixRename('/r/s/x', '/e/x'), 'plant');
      const before = snapshot(outside);
      const outsideInodes = inodes(outside);
      const stats = { swaps: 0, attempts: 0, linked: 0, created: 0, chmodded: 0, refused: 0, readOutside: 0 };
      const deadline = Date.now() + 20_000;
      const swapper = (async () => {
        // /d <-> /esc, pipelined: /d is a folder, then the link, then the folder again...
        while (Date.now() < deadline) {
          await Promise.all([
            a.posixRename('/d', '/tmpd'),
            a.posixRename('/esc', '/d'),
            a.posixRename('/e/victim.sh', '/e/tmp'),
            a.posixRename('/e/x', '/e/victim.sh'),
            a.posixRename('/d', '/esc'),
            a.posixRename('/tmpd', '/d'),
            a.posixRename('/e/victim.sh', '/e/x'),
            a.posixRename('/e/tmp', '/e/victim.sh'),
          ]);
          stats.swaps++;
        }
      })();
      const attacker = (async () => {
        for (let i = 0; Date.now() < deadline; i++) {
          const [link, created, chmod, opened, chmodLast, truncLast] = await Promise.all([
            b.hardlink('/d/secret.txt', `/stolen-${i}`),
            b.open(`/d/created-${i}.txt`, FXF.WRITE | FXF.CREAT | FXF.EXCL),
            b.setstat('/d/victim.sh', { mode: 0o4777 }),
            b.open('/d/secret.txt', FXF.READ),
            b.setstat('/e/victim.sh', { mode: 0o4777, atime: 1, mtime: 1 }),
            b.open('/e/victim.sh', FXF.WRITE | FXF.TRUNC),
          ]);
          stats.attempts += 6;
          if (truncLast.handle) await b.close(truncLast.handle);
          if (chmodLast.status === SFTPStatus.OK) stats.chmodded++;
          for (const r of [link, created, chmod, opened, chmodLast, truncLast])
            if (r.status !== undefined && r.status !== SFTPStatus.OK) stats.refused++;
          if (link.status === SFTPStatus.OK) stats.linked++;
          if (chmod.status === SFTPStatus.OK) stats.chmodded++;
          if (created.handle) {
            stats.created++;
            await b.close(created.handle);
          }
          if (opened.handle) {
            const data = await b.read(opened.handle, 0, 1024);
            if (data.data?.toString().includes('OUTSIDE')) stats.readOutside++;
            await b.close(opened.handle);
          }
        }
      })();
      try {
        await Promise.all([swapper, attacker]);
      } finally {
        a.end();
        b.end();
      }
      t.diagnostic(`race: ${JSON.stringify(stats)}`);
      // The race ran both ways: some requests met the folder (and worked, inside), some met the link (and were refused).
      assert.ok(stats.swaps > 10, `swaps: ${JSON.stringify(stats)}`);
      assert.ok(stats.linked > 0 && stats.refused > 0, `both states were hit: ${JSON.stringify(stats)}`);
      assert.equal(stats.readOutside, 0, `an outside file was read: ${JSON.stringify(stats)}`);
      assert.deepEqual(snapshot(outside), before, `the outside directory is exactly as it was (${JSON.stringify(stats)})`);
      for (const [ino, p] of inodes(s.root)) assert.ok(!outsideInodes.has(ino), `${p} is an outside file hard-linked in`);
      assert.deepEqual(fs.readdirSync(path.dirname(s.root)).sort(), ['local', 'outside', 'root'], 'nothing appeared next to the root');
      const setuid = [...inodes(s.root).values()].filter((p) => (fs.lstatSync(p).mode & 0o6000) !== 0);
      assert.deepEqual(setuid, [], 'no setuid or setgid file anywhere');
    }),
);

test(
  'setuid and setgid bits are dropped from every mode a client sets (setstat, fsetstat, lsetstat, open, mkdir); the sticky bit stays',
  TIMEOUT,
  () =>
    withSftpServer(async (s) => {
      const sftp = await rawSftpLogin(s);
      try {
        fs.writeFileSync(path.join(s.root, 'f'), 'x');
        const mode = (p: string): number => fs.statSync(path.join(s.root, p)).mode & 0o7777;
        ok(await sftp.setstat('/f', { mode: 0o4777 }), 'setstat');
        assert.equal(mode('f'), 0o777);
        ok(await sftp.setstat('/f', { mode: 0o2755 }), 'setstat setgid');
        assert.equal(mode('f'), 0o755);
        ok(await sftp.lsetstat('/f', { mode: 0o6711 }), 'lsetstat');
        assert.equal(mode('f'), 0o711);
        const h = await sftp.open('/f', FXF.WRITE);
        ok(await sftp.fsetstat(h.handle!, { mode: 0o6755 }), 'fsetstat');
        assert.equal(mode('f'), 0o755);
        await sftp.close(h.handle!);
        const c = await sftp.open('/new', FXF.WRITE | FXF.CREAT, { mode: 0o4755 });
        assert.ok(c.handle, 'created');
        await sftp.close(c.handle!);
        assert.equal(mode('new') & 0o6000, 0, 'open attrs');
        ok(await sftp.mkdir('/dir', { mode: 0o2775 }), 'mkdir');
        assert.equal(mode('dir') & 0o6000, 0, 'mkdir attrs');
        ok(await sftp.setstat('/dir', { mode: 0o1777 }), 'sticky');
        assert.equal(mode('dir'), 0o1777, 'the sticky bit is no privilege: kept');
      } finally {
        sftp.end();
      }
    }),
);

test('chown and chgrp to other ids are refused (the current ids sent back pass); nothing changes', TIMEOUT, () =>
  withSftpServer(async (s) => {
    const sftp = await rawSftpLogin(s);
    try {
      fs.writeFileSync(path.join(s.root, 'f'), 'x');
      const st = fs.statSync(path.join(s.root, 'f'));
      const foreignGid = [4242, 4243, 4244].find((g) => !process.getgroups?.().includes(g) && g !== process.getgid?.())!;
      const r1 = await sftp.setstat('/f', { uid: 4321, gid: st.gid });
      assert.equal(r1.status, SFTPStatus.PERMISSION_DENIED, `chown: ${r1.message}`);
      const r2 = await sftp.setstat('/f', { uid: st.uid, gid: foreignGid, mode: 0o600 });
      assert.equal(r2.status, SFTPStatus.PERMISSION_DENIED, `chgrp: ${r2.message}`);
      assert.equal(
        fs.statSync(path.join(s.root, 'f')).mode & 0o777,
        st.mode & 0o777,
        'a refused setstat changes nothing, the mode included',
      );
      const h = await sftp.open('/f', FXF.WRITE);
      const r3 = await sftp.fsetstat(h.handle!, { uid: 4321, gid: st.gid, size: 0 });
      assert.equal(r3.status, SFTPStatus.PERMISSION_DENIED, `fchown: ${r3.message}`);
      await sftp.close(h.handle!);
      const r4 = await sftp.lsetstat('/f', { uid: 4321, gid: 4321 });
      assert.equal(r4.status, SFTPStatus.PERMISSION_DENIED, `lchown: ${r4.message}`);
      ok(await sftp.setstat('/f', { uid: st.uid, gid: st.gid }), 'unchanged ids');
      const after = fs.statSync(path.join(s.root, 'f'));
      assert.deepEqual([after.uid, after.gid, after.size], [st.uid, st.gid, 1]);
    } finally {
      sftp.end();
    }
  }),
);

test('allowSetuid and allowChown lift the two rules; usersGroupsById names ids from /etc/passwd and /etc/group', async () => {
  const base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'jail-opts-')));
  try {
    fs.writeFileSync(path.join(base, 'f'), 'x');
    assert.throws(() => new LocalFileSystem(base, { allowSetuid: 'yes' as unknown as boolean }), /allowSetuid must be a boolean/);
    const strict = new LocalFileSystem(base);
    await strict.setstat('/f', { mode: 0o4755 });
    assert.equal(fs.statSync(path.join(base, 'f')).mode & 0o7777, 0o755);
    const lax = new LocalFileSystem(base, { allowSetuid: true, allowChown: true });
    await lax.setstat('/f', { mode: 0o4755 });
    assert.equal(fs.statSync(path.join(base, 'f')).mode & 0o7777, 0o4755, 'kept with allowSetuid');
    if (isRoot) {
      await assert.rejects(strict.setstat('/f', { uid: 4321, gid: 4322 }), { status: SFTPStatus.PERMISSION_DENIED });
      await lax.setstat('/f', { uid: 4321, gid: 4322 });
      const st = fs.statSync(path.join(base, 'f'));
      assert.deepEqual([st.uid, st.gid], [4321, 4322], 'changed with allowChown (the process is root)');
    }
    const passwd = fs.readFileSync('/etc/passwd', 'utf8').split('\n')[0].split(':');
    const group = fs.readFileSync('/etc/group', 'utf8').split('\n')[0].split(':');
    const unknown = 3_999_999_999;
    const names = await strict.usersGroupsById([Number(passwd[2]), unknown], [Number(group[2]), unknown]);
    assert.deepEqual(names, { users: [passwd[0], ''], groups: [group[0], ''] });
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
});
