/**
 * The SFTP server with lftp (Debian: lftp). lftp runs OpenSSH's `ssh -s sftp` as its
 * connect-program under a pty of its own and answers the password prompt itself; the escape test
 * logs in with the user key instead (empty lftp password, the key given to ssh). Every case runs
 * against both client sets (test/fixtures/clientSets.ts): lftp 4.9.2 over OpenSSH 9.2 and over 10.0.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, readlinkSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type RunResult } from './fixtures/clients';
import { type ClientSet, testEachSet } from './fixtures/clientSets';
import { assertNoAuditThroughLinks, bigFile, clientHome, plantEscapeFixture, re, shaOf, TIMEOUT } from './fixtures/sftpClients';
import { SFTP_PASSWORD, SFTP_USER, withSftpServer, type SftpScope } from './fixtures/sftpServer';

interface LftpOptions {
  /** Log in with the user key rather than the password. */
  key?: boolean;
  /** Stop at the first failing command (exit code 1); otherwise the exit code is the last command's. */
  failExit?: boolean;
}

/** Runs `commands` in one lftp session (a script file, `lftp -f`), with `lcd` to the local directory first. */
async function lftp(
  clients: ClientSet,
  s: SftpScope,
  commands: string[],
  opts: LftpOptions = {},
): Promise<{ code: number | null; out: string; err: string }> {
  clients.path('ssh');
  const ssh = [
    'ssh',
    '-a',
    '-x',
    '-F',
    '/dev/null',
    '-o',
    'StrictHostKeyChecking=no',
    '-o',
    'UserKnownHostsFile=/dev/null',
    '-o',
    'LogLevel=ERROR',
  ];
  if (opts.key)
    ssh.push(
      '-o',
      'PasswordAuthentication=no',
      '-o',
      'KbdInteractiveAuthentication=no',
      '-o',
      'IdentitiesOnly=yes',
      '-o',
      `IdentityFile=${s.key.privateKeyPath}`,
    );
  else ssh.push('-o', 'PubkeyAuthentication=no');
  const script = [
    `set cmd:fail-exit ${opts.failExit === false ? 'no' : 'yes'}`,
    'set sftp:auto-confirm yes',
    `set sftp:connect-program "${ssh.join(' ')}"`,
    'set net:max-retries 1',
    'set net:timeout 30',
    'set xfer:clobber yes',
    `open -u ${SFTP_USER},${opts.key ? '' : SFTP_PASSWORD} -p ${s.port} sftp://127.0.0.1`,
    `lcd ${s.local}`,
    ...commands,
  ];
  const file = join(s.local, 'lftp-script');
  writeFileSync(file, script.join('\n') + '\n');
  const r: RunResult = await clients.run('lftp', ['-f', file], { timeoutMs: 100_000, env: { HOME: clientHome(s) } });
  return { code: r.code, out: r.stdout.toString(), err: r.stderr };
}

testEachSet('lftp: 64 MiB up and down with matching checksums; cls, mv, rm, mkdir, rmdir; audit events', TIMEOUT, (clients) =>
  withSftpServer(async (s) => {
    const big = bigFile(s);
    const xfer = await lftp(clients, s, ['put big.bin -o up.bin', 'get up.bin -o down.bin', 'cls -l']);
    assert.equal(xfer.code, 0, xfer.err);
    assert.equal(shaOf(join(s.root, 'up.bin')), big.sha, 'uploaded bytes match');
    assert.equal(shaOf(join(s.local, 'down.bin')), big.sha, 'downloaded bytes match');
    assert.match(xfer.out, /^-rw-r--r--\s+1\s+\S+\s+\S+\s+67108864 \w{3} [ \d]\d .* up\.bin$/m, xfer.out);

    const ops = await lftp(clients, s, [
      'mkdir dir',
      'mv up.bin dir/moved.bin',
      'cls -l dir/',
      'rm dir/moved.bin',
      'cls -l',
      'rmdir dir',
      'cls -l',
    ]);
    assert.equal(ops.code, 0, ops.err);
    assert.match(ops.out, /^-rw-r--r--\s+1\s+\S+\s+\S+\s+67108864 \w{3} [ \d]\d .* dir\/moved\.bin$/m, ops.out);
    assert.match(ops.out, /^drwx\S+\s+\d+\s+\S+\s+\S+\s+\d+ \w{3} [ \d]\d .* dir\/$/m, 'the directory is listed before rmdir');
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

testEachSet(
  'lftp (key login): escape attempts are refused and leave nothing outside the root: .., absolute paths, links pointing out',
  TIMEOUT,
  (clients) =>
    withSftpServer(async (s) => {
      const f = plantEscapeFixture(s);
      const { outside } = f;
      // Each failing command and the error lftp must print for it.
      const refused: Array<[string, RegExp]> = [
        ['put payload.txt -o door/w.txt', /\/door\/w\.txt: Permission denied/],
        ['put payload.txt -o updoor/w.txt', /\/updoor\/w\.txt: Permission denied/],
        ['put payload.txt -o leak.txt', /put: payload\.txt: Access failed: \/leak\.txt: Permission denied/],
        ['put -c payload.txt -o door/secret.txt', /put: payload\.txt: Access failed: \/door\/secret\.txt: Permission denied/],
        ['get door/secret.txt -o stolen1.txt', /get: Access failed: \/door\/secret\.txt: Permission denied/],
        ['get updoor/secret.txt -o stolen2.txt', /get: Access failed: \/updoor\/secret\.txt: Permission denied/],
        ['get leak.txt -o stolen3.txt', /get: Access failed: \/leak\.txt: Permission denied/],
        ['cat door/inner/deep.txt', /cat: Access failed: \/door\/inner\/deep\.txt: Permission denied/],
        ['cls -l door/', /Access failed: \/door: Permission denied/],
        ['cls -l updoor/inner/', /Access failed: \/updoor\/inner: Permission denied/],
        ['cd door', /cd: Access failed: \/door: Permission denied/],
        ['mkdir door/newdir', /mkdir: Access failed: \/door\/newdir: Permission denied/],
        [
          `mv ${f.dotdotName} door/moved.txt`,
          new RegExp(`mv: Access failed: /${re(f.dotdotName)} -> /door/moved\\.txt: Permission denied`),
        ],
        ['rm door/secret.txt', /rm: Access failed: \/door\/secret\.txt: Permission denied/],
        ['rmdir updoor/inner', /rmdir: Access failed: \/updoor\/inner: Permission denied/],
        ['rm -r updoor/inner', /rm: Access failed: \/updoor(\/inner)?: Permission denied/],
        ['chmod 600 leak.txt', /chmod: Access failed: \/leak\.txt: Permission denied/],
        ['chmod 700 door', /chmod: Access failed: \/door: Permission denied/],
        ['ln -s ../local/outside lnk-rel', /ln: Access failed: \/lnk-rel -> \.\.\/local\/outside: Permission denied/],
      ];
      const r = await lftp(
        clients,
        s,
        [
          // `..` and absolute host paths are confined: they name files in the served tree.
          `put payload.txt -o ../../../${f.dotdotName}`,
          `put payload.txt -o ${outside}/abs.txt`,
          `get ${outside}/secret.txt -o got-abs.txt`,
          'get ../local/outside/secret.txt -o got-dotdot.txt',
          // So is the target of a link the client makes: it points into the served tree.
          `ln -s ${outside} lnk-abs`,
          'put payload.txt -o lnk-abs/via-link.txt',
          ...refused.map(([c]) => c),
          'cls -1',
        ],
        { key: true, failExit: false },
      );
      assert.equal(r.code, 0, `the session survives the refusals: ${r.err}`);
      for (const [command, error] of refused) assert.match(r.err, error, `${command}\n${r.err}`);
      assert.equal(r.err.match(/Access failed/g)?.length, refused.length, r.err);
      assert.equal(readFileSync(join(s.root, f.dotdotName), 'utf8'), 'payload\n');
      assert.equal(readFileSync(join(s.root, outside, 'abs.txt'), 'utf8'), 'payload\n');
      assert.equal(readFileSync(join(s.local, 'got-abs.txt'), 'utf8'), f.decoy.abs);
      assert.equal(readFileSync(join(s.local, 'got-dotdot.txt'), 'utf8'), f.decoy.dotdot);
      assert.equal(readlinkSync(join(s.root, 'lnk-abs')), join(realpathSync(s.root), outside));
      assert.equal(readFileSync(join(s.root, outside, 'via-link.txt'), 'utf8'), 'payload\n');
      assert.equal(existsSync(join(s.root, 'lnk-rel')), false);
      assert.match(r.out, new RegExp(`^${re(f.dotdotName)}$`, 'm'), r.out);
      for (const stolen of ['stolen1.txt', 'stolen2.txt', 'stolen3.txt'])
        assert.equal(existsSync(join(s.local, stolen)), false, `${stolen}: nothing was read`);
      f.assertOutsideUntouched();
      assertNoAuditThroughLinks(s.audit);
      assert.deepEqual(s.audit, [
        `uploaded /${f.dotdotName}`,
        `uploaded ${outside}/abs.txt`,
        `downloaded ${outside}/secret.txt`,
        'downloaded /local/outside/secret.txt',
        'uploaded /lnk-abs/via-link.txt',
      ]);
    }),
);
