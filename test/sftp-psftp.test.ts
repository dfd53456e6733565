/**
 * The SFTP server with PuTTY's `psftp` (Debian: putty-tools), in batch mode with the password and
 * the host key pinned by fingerprint (`-hostkey`), so that it never prompts; every case against both
 * client sets (test/fixtures/clientSets.ts): PuTTY 0.78 and 0.83.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type RunResult } from './fixtures/clients';
import { type ClientSet, testEachSet } from './fixtures/clientSets';
import { assertNoAuditThroughLinks, bigFile, clientHome, plantEscapeFixture, re, shaOf, TIMEOUT } from './fixtures/sftpClients';
import { SFTP_PASSWORD, SFTP_USER, withSftpServer, type SftpScope } from './fixtures/sftpServer';

/**
 * Runs a psftp batch (`-b`, commands echoed with `-bc`), with `lcd` to the local directory first.
 * Without `keepGoing` the batch stops at the first failing command and psftp exits 1.
 */
async function psftp(
  clients: ClientSet,
  s: SftpScope,
  commands: string[],
  keepGoing = false,
): Promise<{ code: number | null; out: string; err: string }> {
  const file = join(s.local, 'psftp-batch');
  writeFileSync(file, [`lcd ${s.local}`, ...commands].join('\n') + '\n');
  const args = [
    '-P',
    String(s.port),
    '-pw',
    SFTP_PASSWORD,
    '-noagent',
    '-hostkey',
    s.daemon.sshCert!.fingerprint,
    '-batch',
    '-bc',
    ...(keepGoing ? ['-be'] : []),
    '-b',
    file,
    `${SFTP_USER}@127.0.0.1`,
  ];
  const r: RunResult = await clients.run('psftp', args, { timeoutMs: 100_000, env: { HOME: clientHome(s) } });
  return { code: r.code, out: r.stdout.toString(), err: r.stderr };
}

testEachSet(
  'psftp: 64 MiB up and down with matching checksums; ls, mv, rm, mkdir, rmdir; reput/reget resume; audit events',
  TIMEOUT,
  (clients) =>
    withSftpServer(async (s) => {
      const big = bigFile(s);
      const xfer = await psftp(clients, s, ['put big.bin up.bin', 'get up.bin down.bin', 'ls']);
      assert.equal(xfer.code, 0, xfer.out + xfer.err);
      assert.equal(shaOf(join(s.root, 'up.bin')), big.sha, 'uploaded bytes match');
      assert.equal(shaOf(join(s.local, 'down.bin')), big.sha, 'downloaded bytes match');
      assert.match(xfer.out, /^-rw-r--r--\s+1\s+\S+\s+\S+\s+67108864 \w{3} [ \d]\d .* up\.bin$/m, xfer.out);

      const ops = await psftp(clients, s, ['mkdir dir', 'mv up.bin dir/moved.bin', 'ls dir', 'rm dir/moved.bin', 'ls', 'rmdir dir', 'ls']);
      assert.equal(ops.code, 0, ops.out + ops.err);
      assert.match(ops.out, /^mkdir \/dir: OK$/m);
      assert.match(ops.out, /^\/up\.bin -> \/dir\/moved\.bin$/m);
      assert.match(ops.out, /^-rw-r--r--\s+1\s+\S+\s+\S+\s+67108864 \w{3} [ \d]\d .* moved\.bin$/m, ops.out);
      assert.match(ops.out, /^drwx\S+\s+\d+\s+\S+\s+\S+\s+\d+ \w{3} [ \d]\d .* dir$/m, 'the directory is listed before rmdir');
      assert.match(ops.out, /^rm \/dir\/moved\.bin: OK$/m);
      assert.match(ops.out, /^rmdir \/dir: OK$/m);
      assert.deepEqual(readdirSync(s.root), [], 'everything removed again');
      assert.deepEqual(s.audit, [
        'uploaded /up.bin',
        'downloaded /up.bin',
        'mkdir /dir',
        'renamed /up.bin -> /dir/moved.bin',
        'removed /dir/moved.bin',
        'rmdir /dir',
      ]);

      // Resuming: reput appends from the remote size, reget from the local size.
      const data = readFileSync(big.path);
      writeFileSync(join(s.root, 'part-up.bin'), data.subarray(0, 10_000_000));
      writeFileSync(join(s.local, 'part-down.bin'), data.subarray(0, 20_000_000));
      const resume = await psftp(clients, s, ['reput big.bin part-up.bin', 'reget part-up.bin part-down.bin']);
      assert.equal(resume.code, 0, resume.out + resume.err);
      assert.match(resume.out, /reput: restarting at file position 10000000/);
      assert.match(resume.out, /reget: restarting at file position 20000000/);
      assert.equal(shaOf(join(s.root, 'part-up.bin')), big.sha);
      assert.equal(shaOf(join(s.local, 'part-down.bin')), big.sha);
    }),
);

testEachSet(
  'psftp: escape attempts are refused and leave nothing outside the root: .., absolute paths, links pointing out',
  TIMEOUT,
  (clients) =>
    withSftpServer(async (s) => {
      const f = plantEscapeFixture(s);
      const { outside } = f;
      // Each failing command and the error psftp must print for it.
      const refused: Array<[string, RegExp]> = [
        ['put payload.txt door/w.txt', /^\/door\/w\.txt: open for write: permission denied/m],
        ['put payload.txt updoor/w.txt', /^\/updoor\/w\.txt: open for write: permission denied/m],
        ['put payload.txt leak.txt', /^\/leak\.txt: open for write: permission denied/m],
        ['reput payload.txt door/secret.txt', /^(\/door\/secret\.txt: open for write|reput: .*door\/secret\.txt).*permission denied/m],
        ['get door/secret.txt stolen1.txt', /^\/door\/secret\.txt: open for read: permission denied/m],
        ['get updoor/inner/deep.txt stolen2.txt', /^\/updoor\/inner\/deep\.txt: open for read: permission denied/m],
        ['get leak.txt stolen3.txt', /^\/leak\.txt: open for read: permission denied/m],
        ['ls door', /^Unable to open door: permission denied/m],
        ['ls updoor/inner', /^Unable to open updoor\/inner: permission denied/m],
        ['cd door', /^Directory \/door: permission denied/m],
        ['mkdir door/newdir', /^mkdir \/door\/newdir: permission denied/m],
        [`mv ${f.dotdotName} door/moved.txt`, new RegExp(`^mv /${re(f.dotdotName)} /door/moved\\.txt: permission denied`, 'm')],
        ['rm door/secret.txt', /^rm \/door\/secret\.txt: permission denied/m],
        ['rmdir updoor/inner', /^rmdir \/updoor\/inner: permission denied/m],
        ['chmod 600 leak.txt', /get attrs for \/leak\.txt: permission denied/],
        ['chmod 700 door', /get attrs for \/door: permission denied/],
      ];
      const r = await psftp(
        clients,
        s,
        [
          // `..` and absolute host paths are confined: they name files in the served tree. psftp
          // canonicalises remote paths with REALPATH (`/../local/...`), which the server clamps at `/`.
          `put payload.txt ../../../${f.dotdotName}`,
          'cd ../../..',
          'pwd',
          `put payload.txt ${outside}/abs.txt`,
          `get ${outside}/secret.txt got-abs.txt`,
          'get ../local/outside/secret.txt got-dotdot.txt',
          ...refused.map(([c]) => c),
          'ls',
        ],
        true,
      );
      const all = r.out + r.err;
      assert.equal(r.code, 0, all);
      // `..` is confined: the upload lands in the root, and `cd ..` stops there.
      assert.match(r.out, new RegExp(`^local:payload\\.txt => remote:/${re(f.dotdotName)}$`, 'm'), r.out);
      assert.match(r.out, /^Remote directory is \/$/m);
      assert.match(r.out, /^remote:\/local\/outside\/secret\.txt => local:got-dotdot\.txt$/m, r.out);
      assert.equal(readFileSync(join(s.root, f.dotdotName), 'utf8'), 'payload\n');
      assert.equal(readFileSync(join(s.root, outside, 'abs.txt'), 'utf8'), 'payload\n');
      assert.equal(readFileSync(join(s.local, 'got-abs.txt'), 'utf8'), f.decoy.abs);
      assert.equal(readFileSync(join(s.local, 'got-dotdot.txt'), 'utf8'), f.decoy.dotdot);
      for (const [command, error] of refused) assert.match(all, error, `${command}\n${all}`);
      assert.equal(all.match(/permission denied/g)?.length, refused.length, all);
      for (const stolen of ['stolen1.txt', 'stolen2.txt', 'stolen3.txt'])
        assert.equal(existsSync(join(s.local, stolen)), false, `${stolen}: nothing was read`);
      f.assertOutsideUntouched();
      assertNoAuditThroughLinks(s.audit);
      assert.deepEqual(s.audit, [
        `uploaded /${f.dotdotName}`,
        `uploaded ${outside}/abs.txt`,
        `downloaded ${outside}/secret.txt`,
        'downloaded /local/outside/secret.txt',
      ]);
    }),
);
