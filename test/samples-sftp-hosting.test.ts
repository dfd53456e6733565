/**
 * samples/sftp-hosting: users in SQLite changed by admin.ts while the server runs, driven by
 * OpenSSH sftp (key logins) and lftp (password logins).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { requireBinary, run, sftpBatch } from './fixtures/clients';
import { runSampleScript, startSample, tempDir } from './fixtures/samples';

const DIR = tempDir('sftp');
after(() => rmSync(DIR, { recursive: true, force: true }));
const DB = join(DIR, 'users.sqlite');
const LOCAL = join(DIR, 'local');

async function admin(...args: string[]): Promise<string> {
  const r = await runSampleScript('sftp-hosting/admin.ts', [...args, '--db', DB]);
  assert.equal(r.code, 0, `admin ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.toString();
}

const SSH_OPTS = ['-F', '/dev/null', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR'];

/** OpenSSH sftp in batch mode with a key (test/fixtures/clients.ts); `from`: another loopback source address. */
const sftp = (port: number, user: string, key: string, commands: string[], from?: string) =>
  sftpBatch(port, user, { key }, commands, join(LOCAL, 'batch'), from);

/** lftp logging in with a password (lftp answers ssh's password prompt itself). */
async function lftp(port: number, user: string, password: string, commands: string[]) {
  const ssh = ['ssh', '-a', '-x', ...SSH_OPTS, '-o', 'PubkeyAuthentication=no', '-o', 'NumberOfPasswordPrompts=1'];
  const script = [
    'set cmd:fail-exit yes',
    'set sftp:auto-confirm yes',
    `set sftp:connect-program "${ssh.join(' ')}"`,
    'set net:max-retries 1',
    'set net:timeout 15',
    `open -u "${user},${password}" -p ${port} sftp://127.0.0.1`,
    `lcd ${LOCAL}`,
    ...commands,
  ];
  const file = join(LOCAL, 'lftp-script');
  writeFileSync(file, script.join('\n') + '\n');
  const home = join(LOCAL, 'home');
  mkdirSync(home, { recursive: true });
  return run(requireBinary('lftp'), ['-f', file], { timeoutMs: 40_000, env: { HOME: home } });
}

test(
  'sftp-hosting: per-user roots, scrypt passwords and keys from SQLite; admin changes apply at the next login without restart',
  { timeout: 150_000 },
  async () => {
    mkdirSync(LOCAL, { recursive: true });
    writeFileSync(join(LOCAL, 'report.txt'), 'quarterly numbers\n');
    const key = join(DIR, 'bob_key');
    const keygen = await run(requireBinary('ssh-keygen'), ['-q', '-t', 'ed25519', '-N', '', '-C', 'bob@test', '-f', key]);
    assert.equal(keygen.code, 0, keygen.stderr);

    await admin('add-user', 'alice', '--root', join(DIR, 'roots', 'alice'), '--password', 'correct horse');
    await admin('add-user', 'bob', '--root', join(DIR, 'roots', 'bob'));
    await admin('add-key', 'bob', '--key-file', `${key}.pub`);
    assert.ok(!readFileSync(DB).includes('correct horse'), 'no password in clear in the database');
    assert.match(readFileSync(DB, 'latin1'), /scrypt\$N=16384,r=8,p=1\$/);
    assert.match(
      await admin('list'),
      /^alice\t.*\/roots\/alice\tread-write\tpassword=yes\tkeys=0\nbob\t.*\/roots\/bob\tread-write\tpassword=no\tkeys=1\n$/,
    );

    const server = await startSample('sftp-hosting/server.ts', join(DIR, 'data'), ['--db', DB]);
    try {
      // alice with her password (lftp), bob with his key (sftp): each lands in their own root.
      const up = await lftp(server.port, 'alice', 'correct horse', ['put report.txt', 'cls']);
      assert.equal(up.code, 0, up.stderr);
      assert.equal(readFileSync(join(DIR, 'roots', 'alice', 'report.txt'), 'utf8'), 'quarterly numbers\n');
      assert.match(up.stdout.toString(), /^report\.txt$/m);
      const bob = await sftp(server.port, 'bob', key, [`put ${join(LOCAL, 'report.txt')} bob.txt`, 'ls']);
      assert.equal(bob.code, 0, bob.stderr);
      assert.ok(existsSync(join(DIR, 'roots', 'bob', 'bob.txt')));
      assert.ok(!existsSync(join(DIR, 'roots', 'alice', 'bob.txt')), 'roots are separate');

      const wrong = await lftp(server.port, 'alice', 'wrong horse', ['cls']);
      assert.notEqual(wrong.code, 0, 'a wrong password is refused');
      const noKey = await sftp(server.port, 'alice', key, ['ls']);
      assert.notEqual(noKey.code, 0, "bob's key is not alice's");
      assert.match(noKey.stderr, /Permission denied/);

      // While the server runs: move alice to another root, give her bob's key, remove bob.
      mkdirSync(join(DIR, 'roots', 'alice2'), { recursive: true });
      writeFileSync(join(DIR, 'roots', 'alice2', 'moved.txt'), 'new root\n');
      await admin('set-root', 'alice', join(DIR, 'roots', 'alice2'));
      await admin('add-key', 'alice', '--key', readFileSync(`${key}.pub`, 'utf8'));
      await admin('remove-user', 'bob');

      const moved = await lftp(server.port, 'alice', 'correct horse', ['cls']);
      assert.equal(moved.code, 0, moved.stderr);
      assert.equal(moved.stdout.toString(), 'moved.txt\n', 'the new root applies at the next login');
      const aliceKey = await sftp(server.port, 'alice', key, [`get moved.txt ${join(LOCAL, 'fetched.txt')}`]);
      assert.equal(aliceKey.code, 0, aliceKey.stderr);
      assert.equal(readFileSync(join(LOCAL, 'fetched.txt'), 'utf8'), 'new root\n');
      const gone = await sftp(server.port, 'bob', key, ['ls']);
      assert.notEqual(gone.code, 0, 'a removed user cannot log in');
      assert.match(gone.stderr, /Permission denied/);

      // Disabled: refused with the key (from a source of its own: failed logins add per-source
      // penalties); enabled again: back.
      await admin('disable-user', 'alice');
      assert.match(await admin('list'), /^alice\t.*\tkeys=1\tdisabled\n$/);
      const disabled = await sftp(server.port, 'alice', key, ['ls'], '127.0.0.2');
      assert.notEqual(disabled.code, 0, 'a disabled user cannot log in');
      assert.match(disabled.stderr, /Permission denied/);
      await admin('enable-user', 'alice');
      const enabled = await sftp(server.port, 'alice', key, ['ls'], '127.0.0.3');
      assert.equal(enabled.code, 0, enabled.stderr);
    } finally {
      assert.equal(await server.stop(), 0);
    }
  },
);
