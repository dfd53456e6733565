/**
 * The SFTP server with rclone's sftp backend (Debian: rclone), through on-the-fly remotes
 * (`:sftp,host=...,port=...:path`) and no config file. The server runs no shell commands, so
 * rclone's remote hashing (`md5sum` over exec) is off (`disable_hashcheck=true`) and the tests
 * compare sha256 of the files on disk themselves. Every case runs against both client sets
 * (test/fixtures/clientSets.ts): rclone 1.60 as built by Debian 12 and by Debian 13.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type RunResult } from './fixtures/clients';
import { type ClientSet, testEachSet } from './fixtures/clientSets';
import { assertNoAuditThroughLinks, bigFile, clientHome, filesBelow, plantEscapeFixture, shaOf, TIMEOUT } from './fixtures/sftpClients';
import { SFTP_PASSWORD, SFTP_USER, withSftpServer, type SftpScope } from './fixtures/sftpServer';

interface Rclone {
  /** The remote's prefix: append a path (`${remote}dir/file`). */
  remote: string;
  run(...args: string[]): Promise<{ code: number | null; out: string; err: string }>;
}

/** An on-the-fly sftp remote on the test server, logging in with the password or (`key`) the user key. */
async function rclone(clients: ClientSet, s: SftpScope, auth: 'password' | 'key'): Promise<Rclone> {
  clients.path('rclone');
  // TZ: lsl prints local times.
  const env = {
    TZ: 'UTC',
    RCLONE_CONFIG: '/dev/null',
    HOME: clientHome(s),
    XDG_CACHE_HOME: join(clientHome(s), '.cache'),
    XDG_CONFIG_HOME: join(clientHome(s), '.config'),
  };
  let login: string;
  if (auth === 'key') login = `key_file=${s.key.privateKeyPath}`;
  else {
    const obscured: RunResult = await clients.run('rclone', ['obscure', SFTP_PASSWORD], { env });
    assert.equal(obscured.code, 0, obscured.stderr);
    login = `pass=${obscured.stdout.toString().trim()}`;
  }
  const remote = `:sftp,host=127.0.0.1,port=${s.port},user=${SFTP_USER},${login},disable_hashcheck=true:`;
  return {
    remote,
    async run(...args) {
      // One try each: a refusal must fail now, not after rclone's retries.
      const r: RunResult = await clients.run('rclone', ['--retries', '1', '--low-level-retries', '1', '--contimeout', '20s', ...args], {
        timeoutMs: 100_000,
        env,
      });
      return { code: r.code, out: r.stdout.toString(), err: r.stderr };
    },
  };
}

testEachSet(
  'rclone: 64 MiB up and down (also multi-threaded) with matching checksums and modtime; lsl, moveto, deletefile, mkdir, rmdir; audit events',
  TIMEOUT,
  (clients) =>
    withSftpServer(async (s) => {
      const rc = await rclone(clients, s, 'password');
      const R = rc.remote;
      const big = bigFile(s);
      utimesSync(big.path, new Date('2021-02-03T04:05:06Z'), new Date('2021-02-03T04:05:06Z'));

      const up = await rc.run('copyto', big.path, `${R}up.bin`);
      assert.equal(up.code, 0, up.err);
      assert.equal(shaOf(join(s.root, 'up.bin')), big.sha, 'uploaded bytes match');
      assert.equal(statSync(join(s.root, 'up.bin')).mtime.toISOString(), '2021-02-03T04:05:06.000Z', 'rclone set the modification time');

      const down = await rc.run('copyto', `${R}up.bin`, join(s.local, 'down.bin'));
      assert.equal(down.code, 0, down.err);
      assert.equal(shaOf(join(s.local, 'down.bin')), big.sha, 'downloaded bytes match');
      // Four streams, each on its own SFTP session, reading ranges of the file at once.
      const mt = await rc.run(
        'copyto',
        '--multi-thread-cutoff',
        '8M',
        '--multi-thread-streams',
        '4',
        `${R}up.bin`,
        join(s.local, 'down-mt.bin'),
      );
      assert.equal(mt.code, 0, mt.err);
      assert.equal(shaOf(join(s.local, 'down-mt.bin')), big.sha, 'multi-threaded download bytes match');

      const ls = await rc.run('lsl', R);
      assert.equal(ls.code, 0, ls.err);
      assert.match(ls.out, /^\s*67108864 2021-02-03 04:05:06\.0+ up\.bin$/m, ls.out);

      for (const args of [
        ['mkdir', `${R}dir`],
        ['moveto', `${R}up.bin`, `${R}dir/moved.bin`],
      ]) {
        const r = await rc.run(...args);
        assert.equal(r.code, 0, `${args.join(' ')}: ${r.err}`);
      }
      const lsDir = await rc.run('lsl', `${R}dir`);
      assert.equal(lsDir.code, 0, lsDir.err);
      assert.match(lsDir.out, /^\s*67108864 2021-02-03 04:05:06\.0+ moved\.bin$/m, lsDir.out);
      const lsf = await rc.run('lsf', R);
      assert.equal(lsf.out, 'dir/\n');
      assert.equal(shaOf(join(s.root, 'dir', 'moved.bin')), big.sha);

      for (const args of [
        ['deletefile', `${R}dir/moved.bin`],
        ['rmdir', `${R}dir`],
      ]) {
        const r = await rc.run(...args);
        assert.equal(r.code, 0, `${args.join(' ')}: ${r.err}`);
      }
      assert.deepEqual(readdirSync(s.root), [], 'everything removed again');
      // One download, then one per stream.
      assert.equal(s.audit.filter((e) => e === 'downloaded /up.bin').length, 5, s.audit.join('; '));
      assert.deepEqual(
        s.audit.filter((e) => e !== 'downloaded /up.bin'),
        ['uploaded /up.bin', 'mkdir /dir', 'renamed /up.bin -> /dir/moved.bin', 'removed /dir/moved.bin', 'rmdir /dir'],
      );
    }),
);

testEachSet(
  'rclone (key login): escape attempts are refused and leave nothing outside the root: .., absolute paths, links pointing out',
  TIMEOUT,
  (clients) =>
    withSftpServer(async (s) => {
      const f = plantEscapeFixture(s);
      const { outside } = f;
      const rc = await rclone(clients, s, 'key');
      const R = rc.remote;
      const ok = async (...args: string[]) => {
        const r = await rc.run(...args);
        assert.equal(r.code, 0, `${args.join(' ')}: ${r.err}`);
      };

      // `..` and absolute host paths are confined: they name files in the served tree.
      await ok('copyto', f.payload, `${R}../../../${f.dotdotName}`);
      await ok('copyto', f.payload, `${R}${outside}/abs.txt`);
      await ok('copyto', `${R}${outside}/secret.txt`, join(s.local, 'got-abs.txt'));
      await ok('copyto', `${R}../local/outside/secret.txt`, join(s.local, 'got-dotdot.txt'));
      assert.equal(readFileSync(join(s.root, f.dotdotName), 'utf8'), 'payload\n');
      assert.equal(readFileSync(join(s.root, outside, 'abs.txt'), 'utf8'), 'payload\n');
      assert.equal(readFileSync(join(s.local, 'got-abs.txt'), 'utf8'), f.decoy.abs);
      assert.equal(readFileSync(join(s.local, 'got-dotdot.txt'), 'utf8'), f.decoy.dotdot);

      // Through the links: every one refused.
      const refused: string[][] = [
        ['copyto', f.payload, `${R}door/w.txt`],
        ['copyto', f.payload, `${R}updoor/w.txt`],
        ['copyto', f.payload, `${R}leak.txt`],
        ['copyto', `${R}door/secret.txt`, join(s.local, 'stolen1.txt')],
        ['copyto', `${R}updoor/inner/deep.txt`, join(s.local, 'stolen2.txt')],
        ['copyto', `${R}leak.txt`, join(s.local, 'stolen3.txt')],
        ['cat', `${R}leak.txt`],
        ['lsl', `${R}door`],
        ['lsf', `${R}updoor/inner/`],
        ['mkdir', `${R}door/newdir`],
        ['moveto', `${R}${f.dotdotName}`, `${R}door/moved.txt`],
        ['deletefile', `${R}door/secret.txt`],
        ['rmdir', `${R}updoor/inner`],
        ['purge', `${R}door`],
        ['copy', `${R}door`, join(s.local, 'stolen-tree')],
      ];
      for (const args of refused) {
        const r = await rc.run(...args);
        assert.notEqual(r.code, 0, `${args.join(' ')} must fail: ${r.out}`);
        assert.match(r.err, /permission denied/, `${args.join(' ')}: ${r.err}`);
      }
      assert.equal(readFileSync(join(s.root, f.dotdotName), 'utf8'), 'payload\n', 'the refused move left the file');

      // Whole trees: uploading onto the links and downloading everything copy the rest, never through them.
      const tree = join(s.local, 'tree');
      mkdirSync(join(tree, 'door'), { recursive: true });
      writeFileSync(join(tree, 'door', 'w2.txt'), 'tree\n');
      writeFileSync(join(tree, 'leak.txt'), 'tree\n');
      writeFileSync(join(tree, 'ok.txt'), 'tree\n');
      const upTree = await rc.run('copy', tree, R);
      assert.notEqual(upTree.code, 0, 'copying onto the links fails');
      assert.match(upTree.err, /permission denied/, upTree.err);
      assert.equal(readFileSync(join(s.root, 'ok.txt'), 'utf8'), 'tree\n', 'the rest was copied');
      const mirror = join(s.local, 'mirror');
      const downTree = await rc.run('copy', R, mirror);
      assert.notEqual(downTree.code, 0, 'reading the links fails');
      assert.match(downTree.err, /permission denied/, downTree.err);
      assert.deepEqual(
        filesBelow(mirror),
        [f.dotdotName, 'local/outside/secret.txt', 'ok.txt', `${outside.slice(1)}/abs.txt`, `${outside.slice(1)}/secret.txt`].sort(),
      );

      for (const stolen of ['stolen1.txt', 'stolen2.txt', 'stolen3.txt', 'stolen-tree'])
        assert.equal(existsSync(join(s.local, stolen)), false, `${stolen}: nothing was read`);
      f.assertOutsideUntouched();
      assertNoAuditThroughLinks(s.audit);
    }),
);
