/**
 * samples/sftp-hosting on PostgreSQL: two server nodes share one user store (a cluster this file
 * starts: initdb + postgres on a Unix socket). Users added, disabled, given a new password or
 * removed through admin.ts are served accordingly by both nodes without restart; usernames written
 * as SQL injections are only names; PostgreSQL going away refuses logins without crashing a node,
 * and its return is picked up. Driven by OpenSSH sftp (keys, and passwords through sshpass).
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { requireBinary, requirePythonModule, run, sftpBatch } from './fixtures/clients';
import { runPythonJson } from './fixtures/interop';
import { type RunningPostgres, startPostgres } from './fixtures/postgres';
import { type RunningSample, runSampleScript, startSample, tempDir } from './fixtures/samples';

const DIR = tempDir('sftp-pg');
const LOCAL = join(DIR, 'local');
const ROOTS = join(DIR, 'roots');
const KEY = join(DIR, 'alice_key');
let db: RunningPostgres | undefined;
let url = '';
let nodeA: RunningSample | undefined;
let nodeB: RunningSample | undefined;

async function admin(...args: string[]): Promise<string> {
  const r = await runSampleScript('sftp-hosting/admin.ts', [...args, '--db', url]);
  assert.equal(r.code, 0, `admin ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.toString();
}

/**
 * Every client connects from a loopback address of its own (127.0.0.10, .11, ...): the refusals
 * this file provokes would otherwise add up to a PerSourcePenalties ban of 127.0.0.1.
 */
let sources = 0;
const nextSource = () => `127.0.0.${10 + (sources++ % 240)}`;
const sftp = (node: RunningSample, user: string, auth: { key: string } | { password: string }, commands: string[]) =>
  sftpBatch(node.port, user, auth, commands, join(LOCAL, `batch-${sources}`), nextSource());

/** Both nodes refuse `user` with `auth` at authentication (not at some later step). */
async function refusedOnBoth(user: string, auth: { key: string } | { password: string }, why: string): Promise<void> {
  for (const [name, node] of [
    ['A', nodeA!],
    ['B', nodeB!],
  ] as const) {
    const r = await sftp(node, user, auth, ['ls']);
    assert.notEqual(r.code, 0, `node ${name}: ${why}`);
    assert.match(r.stderr, /Permission denied/, `node ${name}: ${why}`);
  }
}

before(async () => {
  mkdirSync(LOCAL, { recursive: true });
  writeFileSync(join(LOCAL, 'report.txt'), 'quarterly numbers\n');
  const keygen = await run(requireBinary('ssh-keygen'), ['-q', '-t', 'ed25519', '-N', '', '-C', 'alice@test', '-f', KEY]);
  assert.equal(keygen.code, 0, keygen.stderr);
  db = await startPostgres();
  await db.sql('CREATE DATABASE sftp');
  url = db.url('sftp');
  // Node A is told with --db, node B with DATABASE_URL: both ways of choosing PostgreSQL.
  nodeA = await startSample('sftp-hosting/server.ts', join(DIR, 'dataA'), ['--db', url]);
  nodeB = await startSample('sftp-hosting/server.ts', join(DIR, 'dataB'), [], { DATABASE_URL: url });
});

after(async () => {
  const codes = await Promise.all([nodeA?.stop(), nodeB?.stop()]);
  await db?.destroy();
  rmSync(DIR, { recursive: true, force: true });
  assert.deepEqual(codes, [0, 0], 'both nodes exit cleanly');
});

test(
  'two sftp-hosting nodes on one PostgreSQL: a user added, given a new password, disabled, enabled and removed through admin.ts is served accordingly by both, without restart',
  { timeout: 300_000 },
  async () => {
    await admin('add-user', 'alice', '--root', join(ROOTS, 'alice'), '--password', 'correct horse');
    await admin('add-key', 'alice', '--key-file', `${KEY}.pub`);
    assert.match(await admin('list'), /^alice\t.*\/roots\/alice\tread-write\tpassword=yes\tkeys=1\n$/);
    const stored = await db!.sql("SELECT password FROM sftp_users WHERE name = 'alice'", 'sftp');
    assert.match(stored.rows[0].password, /^scrypt\$N=16384,r=8,p=1\$/, 'the password is stored as scrypt, not in clear');

    // Added through the admin tool while both nodes run: node B takes the upload, node A serves it back.
    const up = await sftp(nodeB!, 'alice', { key: KEY }, [`put ${join(LOCAL, 'report.txt')} report.txt`]);
    assert.equal(up.code, 0, up.stderr);
    assert.equal(readFileSync(join(ROOTS, 'alice', 'report.txt'), 'utf8'), 'quarterly numbers\n');
    const down = await sftp(nodeA!, 'alice', { password: 'correct horse' }, [`get report.txt ${join(LOCAL, 'fetched.txt')}`]);
    assert.equal(down.code, 0, down.stderr);
    assert.equal(readFileSync(join(LOCAL, 'fetched.txt'), 'utf8'), 'quarterly numbers\n');

    // A new password: the old one is refused on both nodes at the next login, the new one works.
    await admin('set-password', 'alice', '--password', 'new horse');
    await refusedOnBoth('alice', { password: 'correct horse' }, 'the old password is refused after set-password');
    const newPw = await sftp(nodeB!, 'alice', { password: 'new horse' }, ['ls']);
    assert.equal(newPw.code, 0, newPw.stderr);
    assert.match(newPw.stdout.toString(), /report\.txt/);

    // Disabled: refused on both nodes, with the password and with the key; enabled: back on both.
    await admin('disable-user', 'alice');
    assert.match(await admin('list'), /^alice\t.*\tkeys=1\tdisabled\n$/);
    await refusedOnBoth('alice', { password: 'new horse' }, 'a disabled user is refused (password)');
    await refusedOnBoth('alice', { key: KEY }, 'a disabled user is refused (key)');
    await admin('enable-user', 'alice');
    for (const node of [nodeA!, nodeB!]) {
      const back = await sftp(node, 'alice', { key: KEY }, ['ls']);
      assert.equal(back.code, 0, back.stderr);
    }

    // A second user added while the nodes run; removed: refused on both.
    await admin('add-user', 'bob', '--root', join(ROOTS, 'bob'), '--password', 'bob pw', '--access', 'read-only');
    const bob = await sftp(nodeA!, 'bob', { password: 'bob pw' }, [`put ${join(LOCAL, 'report.txt')} nope.txt`]);
    assert.notEqual(bob.code, 0, 'bob is read-only');
    assert.match(bob.stderr, /Permission denied|Failure/);
    assert.doesNotMatch(bob.stderr, /Authentication failed|Permission denied \(/, 'bob logged in; only the write was refused');
    await admin('remove-user', 'bob');
    await refusedOnBoth('bob', { password: 'bob pw' }, 'a removed user is refused');
    assert.doesNotMatch(nodeA!.output() + nodeB!.output(), /user store unavailable/);
  },
);

/**
 * paramiko logs in with each username by password and by key, each attempt a connection from its
 * own source address: OpenSSH's client refuses to send usernames with shell metacharacters.
 */
const ATTEMPTS = `
import json, socket, sys, paramiko
cfg = json.loads(sys.argv[1])
key = paramiko.Ed25519Key.from_private_key_file(cfg['key'])
sources = iter(cfg['sources'])
out = []
for port in cfg['ports']:
    for user in cfg['users']:
        for method in ('password', 'publickey'):
            s = socket.create_connection(('127.0.0.1', port), timeout=60, source_address=(next(sources), 0))
            t = paramiko.Transport(s)
            try:
                t.start_client(timeout=60)
                try:
                    if method == 'password':
                        t.auth_password(user, cfg['password'])
                    else:
                        t.auth_publickey(user, key)
                    result = 'accepted'
                except paramiko.AuthenticationException:
                    result = 'refused'
            finally:
                t.close()
            out.append([port, user, method, result])
print(json.dumps(out))
`;

test(
  'usernames written as SQL injection are only names: refused with the right password and key on both nodes, the tables intact, no SQL error',
  { timeout: 300_000 },
  async () => {
    requirePythonModule('paramiko');
    await admin('add-user', 'carol', '--root', join(ROOTS, 'carol'), '--password', 'carol pw');
    await admin('add-key', 'carol', '--key-file', `${KEY}.pub`);
    // Spliced into the SQL, these would select carol's row (whose password and key are offered),
    // comment out or end the statement, or union a row in.
    const users = [
      "x' OR '1'='1",
      "x' OR name = 'carol",
      "carol' --",
      "carol'; DROP TABLE sftp_users; --",
      'carol" OR ""="',
      "' UNION SELECT name, password, root, access, false, ARRAY[]::text[] FROM sftp_users WHERE name = 'carol' --",
      'carol\u0000', // NUL: not valid in PostgreSQL text, the query fails, the login is refused
    ];
    const ports = [nodeA!.port, nodeB!.port];
    const sources = Array.from({ length: ports.length * users.length * 2 }, nextSource);
    const results: [number, string, string, string][] = await runPythonJson(ATTEMPTS, {
      ports,
      users,
      sources,
      key: KEY,
      password: 'new horse',
    });
    assert.equal(results.length, sources.length);
    for (const [port, user, method, result] of results)
      assert.equal(result, 'refused', `${port === nodeA!.port ? 'node A' : 'node B'}: ${JSON.stringify(user)} by ${method}`);

    assert.match(await admin('list'), /^carol\t/m, 'sftp_users is still there');
    const still = await sftp(nodeB!, 'carol', { password: 'carol pw' }, ['ls']);
    assert.equal(still.code, 0, still.stderr);
    // Only the NUL name reached a database error, and on both nodes: no other name changed the SQL.
    for (const node of [nodeA!, nodeB!]) {
      const errors = node.output().match(/user store unavailable.*/g) ?? [];
      assert.ok(errors.length > 0, 'the NUL name was refused by PostgreSQL, logged');
      for (const e of errors) assert.match(e, /invalid byte sequence for encoding "UTF8": 0x00/);
    }
  },
);

test(
  'PostgreSQL going away: logins are refused and logged, neither node crashes; when it returns, logins work again without restart',
  { timeout: 300_000 },
  async () => {
    await admin('add-user', 'dave', '--root', join(ROOTS, 'dave'), '--password', 'dave pw');
    await admin('add-key', 'dave', '--key-file', `${KEY}.pub`);
    const before = await sftp(nodeA!, 'dave', { password: 'dave pw' }, ['ls']);
    assert.equal(before.code, 0, before.stderr);
    await db!.stop();
    await refusedOnBoth('dave', { password: 'dave pw' }, 'no user store: refused');
    for (const node of [nodeA!, nodeB!]) {
      assert.equal(node.child.exitCode, null, 'the node is still running');
      assert.match(node.output(), /user store unavailable, login refused/);
    }
    await db!.start();
    for (const node of [nodeA!, nodeB!]) {
      const back = await sftp(node, 'dave', { key: KEY }, ['ls']);
      assert.equal(back.code, 0, back.stderr);
    }
  },
);
