/**
 * samples/git-server with a real `git` client over OpenSSH (GIT_SSH_COMMAND): clone, a push of 200
 * commits, pull, git archive --remote; refusals that reach the client as a message and a non-zero
 * exit (a push by a reader, repositories outside the folder, commands other than git's three,
 * option injection), with the remote left unchanged. The parsing cases alone are in
 * test/samples-git-access.test.ts.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { requireBinary, run, type RunResult } from './fixtures/clients';
import { runSampleScript, startSample, tempDir, type RunningSample } from './fixtures/samples';
import { until } from './fixtures/wait';
import { connect } from './helpers-ssh2';
import type { Client, ClientChannel } from 'ssh2';

const DIR = tempDir('git');
const DB = join(DIR, 'git.sqlite');
const REPOS = join(DIR, 'repos');
const HOME = join(DIR, 'home');
const GIT = requireBinary('git');
const SSH = requireBinary('ssh');
const USERS = ['alice', 'bob', 'carol'] as const;
type User = (typeof USERS)[number];
const key = (user: User) => join(DIR, `${user}_key`);
const bare = (name: string) => join(REPOS, `${name}.git`);

let server: RunningSample;

async function admin(...args: string[]): Promise<string> {
  const r = await runSampleScript('git-server/admin.ts', [...args, '--db', DB, '--repos', REPOS]);
  assert.equal(r.code, 0, `admin ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.toString();
}

const sshOptions = (user: User) => [
  '-F',
  '/dev/null',
  '-o',
  'StrictHostKeyChecking=no',
  '-o',
  'UserKnownHostsFile=/dev/null',
  '-o',
  'LogLevel=ERROR',
  '-o',
  'BatchMode=yes',
  '-o',
  'IdentitiesOnly=yes',
  '-i',
  key(user),
  '-p',
  String(server.port),
];

/** git as `user`: ssh through GIT_SSH_COMMAND with the user's key; a HOME of its own (identity, default branch). */
function git(user: User, args: string[], input?: string): Promise<RunResult> {
  const env = {
    HOME,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_SSH_COMMAND: [SSH, ...sshOptions(user)].join(' '),
    GIT_TERMINAL_PROMPT: '0',
    LANG: 'C',
    LC_ALL: 'C',
  };
  return run(GIT, args, { env, input, timeoutMs: 60_000 });
}

/** ssh as `user` running `command` on the server (what git does, by hand). */
const ssh = (user: User, command: string, extra: string[] = [], input?: string) =>
  run(SSH, [...sshOptions(user), ...extra, `${user}@127.0.0.1`, command], { input, timeoutMs: 30_000 });

const url = (user: User, path: string) => `ssh://${user}@127.0.0.1:${server.port}/${path}`;

/** `git rev-parse` in a bare repository on the server side ('' when the ref does not exist). */
async function remoteRef(name: string, ref = 'refs/heads/main'): Promise<string> {
  const r = await run(GIT, ['--git-dir', bare(name), 'rev-parse', '--verify', '--quiet', ref]);
  return r.stdout.toString().trim();
}

function ok(r: RunResult, what: string): string {
  assert.equal(r.code, 0, `${what}: exit ${r.code}\n${r.stderr}`);
  return r.stdout.toString();
}

/** A refused git command: non-zero exit, our message on stderr, and `git` says it could not read from the remote. */
function refused(r: RunResult, message: RegExp): void {
  assert.notEqual(r.code, 0, `expected a refusal:\n${r.stderr}`);
  assert.match(r.stderr, message);
}

before(async () => {
  mkdirSync(HOME, { recursive: true });
  writeFileSync(
    join(HOME, '.gitconfig'),
    '[user]\n\tname = Test\n\temail = test@example.com\n[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n',
  );
  for (const user of USERS) {
    ok(await run(requireBinary('ssh-keygen'), ['-q', '-t', 'ed25519', '-N', '', '-C', `${user}@test`, '-f', key(user)]), 'ssh-keygen');
    await admin('add-user', user);
    await admin('add-key', user, '--key-file', `${key(user)}.pub`);
  }
  await admin('add-repo', 'team/app');
  await admin('grant', 'alice', 'team/app', 'write');
  await admin('grant', 'bob', 'team/app', 'read');
  server = await startSample('git-server/server.ts', join(DIR, 'data'), ['--db', DB, '--repos', REPOS]);
});

after(async () => {
  try {
    if (server) assert.equal(await server.stop(), 0, server.output());
  } finally {
    rmSync(DIR, { recursive: true, force: true });
  }
});

/** 200 commits, each changing `counter.txt`, made by one `git fast-import` (no 200 processes). */
function fastImportStream(count: number): string {
  const lines: string[] = [];
  for (let i = 1; i <= count; i++) {
    const data = `commit ${i}\n`;
    const message = `commit number ${i}`;
    lines.push(
      'commit refs/heads/main',
      `committer Test <test@example.com> ${1_700_000_000 + i} +0000`,
      `data ${Buffer.byteLength(message)}`,
      message,
    );
    lines.push(`M 100644 inline counter.txt`, `data ${Buffer.byteLength(data)}`, data.slice(0, -1), '');
  }
  return `${lines.join('\n')}\n`;
}

test(
  'git push of 200 commits by a writer arrives whole; git clone by a reader gets them; git pull brings a later push',
  { timeout: 120_000 },
  async () => {
    const work = join(DIR, 'alice-work');
    ok(await git('alice', ['init', '--quiet', work]), 'git init');
    ok(await git('alice', ['-C', work, 'fast-import', '--quiet'], fastImportStream(200)), 'fast-import');
    ok(await git('alice', ['-C', work, 'checkout', '--quiet', 'main']), 'checkout');
    const head = ok(await git('alice', ['-C', work, 'rev-parse', 'HEAD']), 'rev-parse').trim();
    assert.equal(ok(await git('alice', ['-C', work, 'rev-list', '--count', 'HEAD']), 'count').trim(), '200');

    const push = await git('alice', ['-C', work, 'push', url('alice', 'team/app.git'), 'main']);
    ok(push, 'push');
    assert.match(push.stderr, /\* \[new branch\]\s+main -> main/);
    assert.equal(await remoteRef('team/app'), head, 'the server has the pushed head');
    const fsck = await run(GIT, ['--git-dir', bare('team/app'), 'fsck', '--strict']);
    ok(fsck, 'the pushed repository is complete (fsck)');
    assert.equal((await run(GIT, ['--git-dir', bare('team/app'), 'rev-list', '--count', 'main'])).stdout.toString().trim(), '200');

    // bob (read) clones over ssh://, with git's default protocol (v2, GIT_PROTOCOL passed through env).
    const clone = join(DIR, 'bob-clone');
    ok(await git('bob', ['clone', '--quiet', url('bob', 'team/app.git'), clone]), 'clone');
    assert.equal(ok(await git('bob', ['-C', clone, 'rev-parse', 'HEAD']), 'rev-parse').trim(), head);
    assert.equal(ok(await git('bob', ['-C', clone, 'show', 'HEAD:counter.txt']), 'show'), 'commit 200\n');
    assert.equal(ok(await git('bob', ['-C', clone, 'rev-list', '--count', 'HEAD']), 'count').trim(), '200');

    // alice pushes once more (scp-style address this time); bob's pull brings it.
    writeFileSync(join(work, 'counter.txt'), 'commit 201\n');
    ok(await git('alice', ['-C', work, 'commit', '--quiet', '-am', 'commit number 201']), 'commit');
    ok(await git('alice', ['-C', work, 'push', '--quiet', 'alice@127.0.0.1:team/app.git', 'main']), 'second push');
    const newHead = ok(await git('alice', ['-C', work, 'rev-parse', 'HEAD']), 'rev-parse').trim();
    const pull = await git('bob', ['-C', clone, 'pull', '--ff-only']);
    ok(pull, 'pull');
    assert.equal(ok(await git('bob', ['-C', clone, 'rev-parse', 'HEAD']), 'rev-parse').trim(), newHead);
    assert.equal(ok(await git('bob', ['-C', clone, 'show', 'HEAD:counter.txt']), 'show'), 'commit 201\n');
    // scp-style with ~/ (the user's home is the repository folder) names the same repository.
    assert.match(
      ok(await git('bob', ['ls-remote', 'bob@127.0.0.1:~/team/app.git', 'main']), 'ls-remote ~/'),
      new RegExp(`^${newHead}\trefs/heads/main\n$`),
    );
    assert.match(server.output(), /alice: git-receive-pack team\/app/);
    assert.match(server.output(), /bob: git-upload-pack team\/app/);
  },
);

test(
  'a reader cannot push: the client shows the reason, exits non-zero, the remote is unchanged; rights change without a restart',
  { timeout: 60_000 },
  async () => {
    const clone = join(DIR, 'bob-push');
    ok(await git('bob', ['clone', '--quiet', url('bob', 'team/app.git'), clone]), 'clone');
    const before = await remoteRef('team/app');
    assert.notEqual(before, '');
    writeFileSync(join(clone, 'counter.txt'), 'vandalised\n');
    ok(await git('bob', ['-C', clone, 'commit', '--quiet', '-am', 'not allowed']), 'commit');
    const push = await git('bob', ['-C', clone, 'push', 'origin', 'main']);
    refused(push, /git-server: you have read-only access to 'team\/app'; push refused/);
    assert.match(push.stderr, /Could not read from remote repository/);
    assert.equal(await remoteRef('team/app'), before, 'main did not move');
    const forced = await git('bob', ['-C', clone, 'push', '--force', 'origin', 'HEAD:refs/heads/other']);
    refused(forced, /read-only access/);
    assert.equal(await remoteRef('team/app', 'refs/heads/other'), '', 'no new branch either');
    // carol has no right at all: "not found", the same words as for a repository that does not exist.
    const carol = await git('carol', ['ls-remote', url('carol', 'team/app.git')]);
    refused(carol, /git-server: repository 'team\/app' not found, or you have no access to it/);
    const missing = await git('alice', ['ls-remote', url('alice', 'no/such.git')]);
    refused(missing, /git-server: repository 'no\/such' not found, or you have no access to it/);
    // Rights change while the server runs: revoked, bob's next command is refused; granted again, it works.
    assert.match(
      await admin('list'),
      /^alice\tkeys=1\tteam\/app:write\nbob\tkeys=1\tteam\/app:read\ncarol\tkeys=1\t\(no repositories\)\nrepo\tteam\/app\n$/,
    );
    await admin('revoke', 'bob', 'team/app');
    refused(await git('bob', ['ls-remote', url('bob', 'team/app.git')]), /repository 'team\/app' not found/);
    await admin('grant', 'bob', 'team/app', 'read');
    ok(await git('bob', ['ls-remote', url('bob', 'team/app.git')]), 'ls-remote after the grant');
  },
);

test('repositories outside the folder are refused: ../x.git, an absolute path, a symlink leading out', { timeout: 60_000 }, async () => {
  // A real repository next to the folder, with a commit, that nobody may read.
  const outside = join(DIR, 'outside.git');
  ok(await run(GIT, ['init', '--quiet', '--bare', outside]), 'init outside');
  const seed = join(DIR, 'seed');
  ok(await git('alice', ['init', '--quiet', seed]), 'init seed');
  writeFileSync(join(seed, 'secret.txt'), 'secret\n');
  ok(await git('alice', ['-C', seed, 'add', '.']), 'add');
  ok(await git('alice', ['-C', seed, 'commit', '--quiet', '-m', 'secret']), 'commit');
  ok(await run(GIT, ['-C', seed, 'push', '--quiet', outside, 'main']), 'seed outside');
  // A store entry whose directory is a symlink to it, granted to bob.
  symlinkSync(outside, join(REPOS, 'link.git'));
  await admin('add-repo', 'link');
  await admin('grant', 'bob', 'link', 'write');

  const attempts: [string, RegExp][] = [
    ['bob@127.0.0.1:../outside.git', /git-server: invalid repository path '\.\.\/outside\.git'/],
    [url('bob', '../outside.git'), /git-server: invalid repository path/],
    [`bob@127.0.0.1:team/../../outside.git`, /git-server: invalid repository path/],
    [`bob@127.0.0.1:${outside}`, /git-server: repository '.*outside' not found/],
    [url('bob', outside.slice(1)), /git-server: repository '.*outside' not found/],
    [url('bob', 'link.git'), /git-server: repository 'link' not found/],
  ];
  for (const [address, message] of attempts) {
    const target = join(DIR, `clone-${readdirSync(DIR).length}`);
    const r = await git('bob', ['clone', address, target]);
    refused(r, message);
    assert.ok(!existsSync(join(target, 'secret.txt')), `${address}: nothing cloned`);
    const upload = await ssh('bob', `git-upload-pack '${address.replace(/^.*127\.0\.0\.1(:\d+\/|:)/, '')}'`);
    refused(upload, message);
    assert.doesNotMatch(upload.stdout.toString(), /refs\/heads\/main/, 'no ref advertised');
  }
  const push = await git('bob', ['-C', seed, 'push', url('bob', 'link.git'), 'main:refs/heads/pwned']);
  refused(push, /repository 'link' not found/);
  assert.equal(
    await run(GIT, ['--git-dir', outside, 'rev-parse', '--verify', '--quiet', 'refs/heads/pwned']).then((r) => r.stdout.toString()),
    '',
  );
  assert.match(server.output(), /link: resolves to .*outside\.git, outside /, 'the operator sees why');
});

test(
  'only git-upload-pack, git-receive-pack and git-upload-archive run; option injection and shell syntax are refused',
  { timeout: 60_000 },
  async () => {
    const marker = join(DIR, 'pwned');
    for (const command of ['sh -c id', `touch ${marker}`, 'git-shell', 'cat /etc/passwd', 'git-upload-packx team/app']) {
      const r = await ssh('alice', command);
      assert.equal(r.code, 1, `${command}: ${r.stderr}`);
      assert.match(
        r.stderr,
        /^git-server: '.*' is not allowed here; only git-upload-pack, git-receive-pack, git-upload-archive are served\n$/,
      );
      assert.equal(r.stdout.length, 0);
    }
    // git-shell CVE-2017-8386: `--help` started a pager (and its shell escape).
    const help = await ssh('alice', 'git-upload-pack --help');
    assert.equal(help.code, 1);
    assert.equal(help.stderr, 'git-server: a repository path cannot start with "-"\n');
    assert.equal(help.stdout.length, 0, 'no help text, no pager');
    // A real client asked to run something else: --upload-pack adds words to the command.
    const injected = await git('alice', [
      'clone',
      `--upload-pack=touch ${marker}; git-upload-pack`,
      url('alice', 'team/app.git'),
      join(DIR, 'injected'),
    ]);
    refused(injected, /git-server: ';' is not allowed unquoted in a command/);
    const extra = await git('alice', ['ls-remote', '--upload-pack=git-upload-pack --strict', url('alice', 'team/app.git')]);
    refused(extra, /git-server: git-upload-pack takes exactly one argument, the repository/);
    for (const command of [
      `git-upload-pack 'team/app.git'; touch ${marker}`,
      `git-upload-pack "$(touch ${marker})"`,
      `git-upload-pack 'team/app.git' | tee ${marker}`,
    ]) {
      refused(await ssh('alice', command), /git-server: .* not allowed/);
    }
    assert.ok(!existsSync(marker), 'nothing ran');
    // Without a command: who you are, no shell, exit 1 (what GitHub answers to ssh -T).
    const shell = await run(SSH, [...sshOptions('alice'), '-T', 'alice@127.0.0.1'], { timeoutMs: 30_000 });
    assert.equal(shell.code, 1);
    assert.match(shell.stderr, /Hi alice! You've successfully authenticated, but this server does not provide shell access\./);
  },
);

test('only GIT_PROTOCOL passes from the client environment (Soft Serve passed LD_PRELOAD to git)', { timeout: 60_000 }, async () => {
  // GIT_PROTOCOL=version=2 reaches git-upload-pack (it answers with the v2 capability advertisement);
  // LD_PRELOAD does not (the loader would complain on stderr about the missing object).
  const v2 = await ssh('bob', "git-upload-pack 'team/app.git'", [
    '-o',
    'SetEnv=GIT_PROTOCOL=version=2 LD_PRELOAD=/nonexistent/preload.so GIT_CONFIG_COUNT=1',
  ]);
  assert.equal(v2.code, 0, v2.stderr);
  assert.match(v2.stdout.toString(), /^000eversion 2\n/);
  assert.doesNotMatch(v2.stderr, /preload|ld\.so/i);
  const v0 = await ssh('bob', "git-upload-pack 'team/app.git'", [], '0000');
  assert.equal(v0.code, 0, v0.stderr);
  assert.match(v0.stdout.toString(), /^[0-9a-f]{4}[0-9a-f]{40} HEAD\0/, 'without GIT_PROTOCOL: the v0 ref advertisement');
});

test('git archive --remote works for a reader and is refused without a right', { timeout: 60_000 }, async () => {
  const tar = await git('bob', ['archive', `--remote=${url('bob', 'team/app.git')}`, '--format=tar', 'main', 'counter.txt']);
  ok(tar, 'archive');
  const listing = await run(requireBinary('tar'), ['-xO', 'counter.txt'], { input: tar.stdout });
  assert.equal(ok(listing, 'tar'), 'commit 201\n');
  const carol = await git('carol', ['archive', `--remote=${url('carol', 'team/app.git')}`, 'main']);
  refused(carol, /git-server: repository 'team\/app' not found, or you have no access to it/);
  assert.match(server.output(), /bob: git-upload-archive team\/app/);
});

test('a repository named with quotes, spaces and ! (git sq_quotes the path) is pushed and cloned', { timeout: 60_000 }, async () => {
  const name = `it's a "repo"!`;
  await admin('add-repo', name);
  await admin('grant', 'alice', name, 'write');
  const work = join(DIR, 'quoted-work');
  ok(await git('alice', ['init', '--quiet', work]), 'init');
  writeFileSync(join(work, 'a.txt'), 'quoted\n');
  ok(await git('alice', ['-C', work, 'add', '.']), 'add');
  ok(await git('alice', ['-C', work, 'commit', '--quiet', '-m', 'quoted']), 'commit');
  ok(await git('alice', ['-C', work, 'push', '--quiet', `alice@127.0.0.1:${name}.git`, 'main']), 'push');
  const head = ok(await git('alice', ['-C', work, 'rev-parse', 'HEAD']), 'rev-parse').trim();
  assert.equal(await remoteRef(name), head);
  const clone = join(DIR, 'quoted-clone');
  ok(await git('alice', ['clone', '--quiet', `alice@127.0.0.1:/${name}`, clone]), 'clone (leading slash, no .git)');
  assert.equal(ok(await git('alice', ['-C', clone, 'show', 'HEAD:a.txt']), 'show'), 'quoted\n');
});

/** The git processes serving this test's repository folder (their command line names it). */
function gitProcesses(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (argv.some((a) => a.endsWith('-pack') || a === 'upload-pack') && argv.some((a) => a.startsWith(REPOS))) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

const openExec = (client: Client, command: string) =>
  new Promise<ClientChannel>((resolve, reject) => client.exec(command, (err, channel) => (err ? reject(err) : resolve(channel))));

test('a connection holds at most 2 git processes, and they end when it drops (none left in /proc)', { timeout: 60_000 }, async () => {
  const client = await connect(server.port, { username: 'bob', privateKey: readFileSync(key('bob')) });
  try {
    // Each upload-pack advertises its refs and then waits for the client, which never answers.
    const channels = [await openExec(client, "git-upload-pack 'team/app.git'"), await openExec(client, "git-upload-pack 'team/app.git'")];
    for (const channel of channels) channel.on('data', () => undefined);
    await assert.rejects(openExec(client, "git-upload-pack 'team/app.git'"), /too many channels/, 'a third session is refused');
    await until('two upload-pack processes run', () => gitProcesses().length === 2, 30_000);
  } finally {
    client.end();
  }
  await until(
    () => `the git processes end with the connection (left: ${gitProcesses().join(', ')})`,
    () => gitProcesses().length === 0,
    30_000,
  );
});
