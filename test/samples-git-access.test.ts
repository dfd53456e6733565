/**
 * samples/git-server, the decision alone (no server): how the exec command of a git client is parsed
 * and authorized. Each case is a way real clients quote the path, or a report from the trackers of
 * git-shell, gitlab-shell, Gitea or Soft Serve; the end-to-end cases with a real git client are in
 * test/samples-git-server.test.ts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { decide } from '../samples/git-server/gitAccess';
import { GitCommandError, parseGitCommand, splitWords } from '../samples/git-server/gitCommand';
import { requireBinary } from './fixtures/clients';

/** The path exactly as git quotes it in the command it sends (`sq_quote`, via `git rev-parse --sq-quote`). */
function gitQuoted(path: string): string {
  const r = spawnSync(requireBinary('git'), ['rev-parse', '--sq-quote', path], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

const refused = (command: string, message: RegExp) =>
  assert.throws(
    () => parseGitCommand(command),
    (err: Error) => err instanceof GitCommandError && message.test(err.message),
    command,
  );

test("git's own quoting, and the other clients' (double quotes, bare paths, `git upload-pack`) name the same repository", () => {
  const expect = { service: 'git-upload-pack', repository: 'team/app' };
  for (const command of [
    `git-upload-pack ${gitQuoted('team/app.git')}`, // scp-style host:team/app.git
    `git-upload-pack ${gitQuoted('/team/app.git')}`, // ssh://host/team/app.git
    'git-upload-pack /team/app.git', // dulwich, Got: bare path; gitea#12471 kept the slash when unquoted
    'git-upload-pack "/team/app.git"', // libgit2/go-git used double quotes (git2go#852)
    "git upload-pack '/team/app.git'", // Git for Windows 2.14 (handled by gitlab-shell)
    "git-upload-pack '/team/app'", // .git is optional
    "git-upload-pack  '~/team/app.git/'", // ssh://host/~/team/app.git; trailing slash
    "git-upload-pack\t'team/app.git'",
  ]) {
    assert.deepEqual(parseGitCommand(command), expect, command);
  }
  assert.deepEqual(parseGitCommand("git-receive-pack 'app.git'"), { service: 'git-receive-pack', repository: 'app' });
  assert.deepEqual(parseGitCommand("git-upload-archive 'app.git'"), { service: 'git-upload-archive', repository: 'app' });
});

test("names with quotes, spaces and ! survive git's sq_quote (a regex over the quoted form split them)", () => {
  for (const name of ["it's a repo", 'say "hi"!', 'x!y', 'two  spaces', 'ünïcode/ok']) {
    const command = `git-receive-pack ${gitQuoted(`/${name}.git`)}`;
    assert.deepEqual(parseGitCommand(command), { service: 'git-receive-pack', repository: name }, command);
  }
  assert.deepEqual(splitWords(`a 'b c' "d \\"e\\" \\\\ f" g\\ h ''`), ['a', 'b c', 'd "e" \\ f', 'g h', '']);
});

test('only git-upload-pack, git-receive-pack and git-upload-archive run, with exactly one argument', () => {
  for (const command of [
    'sh -c id',
    'git-upload-packx app',
    'git-shell -c id',
    'ls',
    'git status',
    'git',
    'git-lfs-authenticate app download',
    '/usr/bin/git-upload-pack app',
    'bash',
  ]) {
    refused(command, /is not allowed here; only git-upload-pack, git-receive-pack, git-upload-archive are served/);
  }
  refused('', /no command given/);
  refused('   ', /no command given/);
  refused('git-upload-pack', /takes exactly one argument/);
  refused("git-upload-pack --strict 'app.git'", /takes exactly one argument/);
  refused("git-upload-archive 'app.git' extra", /takes exactly one argument/);
});

test('option injection: a path starting with "-" is refused (git-shell CVE-2017-8386: --help started a pager)', () => {
  for (const command of [
    'git-upload-pack --help',
    "git-upload-pack '--help'",
    'git-receive-pack -h',
    "git-upload-pack '--upload-pack=touch /tmp/x'",
    "git upload-archive '--remote=x'",
  ]) {
    refused(command, /cannot start with "-"/);
  }
});

test('nothing a shell would run is accepted: ; | $( ) backquotes, globs, newlines, unterminated quotes', () => {
  for (const command of [
    "git-upload-pack 'app.git'; id",
    "git-upload-pack 'app.git' | cat",
    'git-upload-pack $(id)',
    'git-upload-pack "$(id)"',
    'git-upload-pack "`id`"',
    'git-upload-pack app*',
    "git-upload-pack 'app.git' && id",
    "git-upload-pack 'app.git' > /tmp/x",
    'git-upload-pack app#x',
  ]) {
    refused(command, /not allowed/);
  }
  refused("git-upload-pack 'app.git'\nid", /control characters/);
  refused("git-upload-pack 'app.git\u0000'", /control characters/);
  refused("git-upload-pack 'app.git", /unterminated quote/);
  refused('git-upload-pack "app.git', /unterminated quote/);
  refused('git-upload-pack app\\', /trailing backslash/);
  refused(`git-upload-pack '${'a'.repeat(5000)}'`, /too long/);
});

test('paths that leave the folder or name hidden files are refused (Soft Serve CVE-2025-22130: ../ reached other repositories)', () => {
  for (const path of [
    '../x.git',
    '/../x.git',
    'team/../../x.git',
    'team/../app.git',
    './app.git',
    'team/./app.git',
    '.ssh/authorized_keys',
    'team/.hidden.git',
    '..',
    '/',
    'a//b.git',
    '..\\..\\x.git',
    'team\\..\\x.git',
    'team/-rf.git',
  ]) {
    refused(`git-upload-pack ${gitQuoted(path)}`, /invalid repository path|no repository named/);
  }
  refused("git-upload-pack '~bob/app.git'", /~user paths are not served/);
  refused(`git-upload-pack '${'a/'.repeat(130)}x'`, /too long/);
});

// ---- decide(): rights and the filesystem --------------------------------------------------------

const DIR = realpathSync(mkdtempSync(join(tmpdir(), 'git-access-')));
after(() => rmSync(DIR, { recursive: true, force: true }));
const ROOT = join(DIR, 'repos');

function bare(path: string): void {
  mkdirSync(join(path, 'objects'), { recursive: true });
  mkdirSync(join(path, 'refs'), { recursive: true });
  writeFileSync(join(path, 'HEAD'), 'ref: refs/heads/main\n');
}

test('decide: read right serves upload-pack and upload-archive, write right receive-pack; no right is "not found"; outside the folder is refused', async () => {
  bare(join(ROOT, 'team', 'app.git'));
  bare(join(DIR, 'outside.git'));
  symlinkSync(join(DIR, 'outside.git'), join(ROOT, 'escape.git'));
  symlinkSync(join(ROOT, 'team', 'app.git'), join(ROOT, 'alias.git'));
  mkdirSync(join(ROOT, 'plain.git'));
  const rights: Record<string, 'read' | 'write'> = { 'team/app': 'read', escape: 'write', alias: 'write', plain: 'write', gone: 'write' };
  const accessOf = async (repo: string) => (Object.hasOwn(rights, repo) ? rights[repo] : undefined);

  const read = await decide("git-upload-pack '/team/app.git'", ROOT, accessOf);
  assert.ok('grant' in read, JSON.stringify(read));
  assert.equal(read.grant.directory, join(ROOT, 'team', 'app.git'));
  assert.equal(read.grant.service, 'git-upload-pack');
  const archive = await decide("git-upload-archive 'team/app'", ROOT, accessOf);
  assert.ok('grant' in archive);

  assert.deepEqual(await decide("git-receive-pack 'team/app.git'", ROOT, accessOf), {
    refuse: "you have read-only access to 'team/app'; push refused",
  });
  assert.deepEqual(await decide("git-upload-pack 'other.git'", ROOT, accessOf), {
    refuse: "repository 'other' not found, or you have no access to it",
  });
  // The store may list it, the filesystem decides too: a symlink out, a missing or non-bare directory.
  const escape = await decide("git-upload-pack 'escape.git'", ROOT, accessOf);
  assert.equal('refuse' in escape && escape.refuse, "repository 'escape' not found, or you have no access to it");
  assert.match('log' in escape ? String(escape.log) : '', /outside/);
  const plain = await decide("git-receive-pack 'plain.git'", ROOT, accessOf);
  assert.match('log' in plain ? String(plain.log) : '', /not a bare git repository/);
  const gone = await decide("git-receive-pack 'gone.git'", ROOT, accessOf);
  assert.match('log' in gone ? String(gone.log) : '', /ENOENT/);
  // A symlink that stays inside the folder is followed, and the real path is what git runs on.
  const alias = await decide("git-receive-pack 'alias.git'", ROOT, accessOf);
  assert.ok('grant' in alias && alias.grant.directory === join(ROOT, 'team', 'app.git'));
  // Parse errors come back as refusals, never as exceptions.
  assert.deepEqual(await decide('git-upload-pack --help', ROOT, accessOf), { refuse: 'a repository path cannot start with "-"' });
});
