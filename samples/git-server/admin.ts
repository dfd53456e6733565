/**
 * Manages the git-server users, keys, repositories and rights while the server runs (it reads the
 * store again at the next login or command).
 *
 *   npm run sample:git-admin -- add-user NAME
 *   npm run sample:git-admin -- add-key NAME (--key 'ssh-ed25519 AAAA... comment' | --key-file id.pub)
 *   npm run sample:git-admin -- add-repo REPO            # creates REPO.git (bare) in the repository folder
 *   npm run sample:git-admin -- grant NAME REPO read|write
 *   npm run sample:git-admin -- revoke NAME REPO
 *   npm run sample:git-admin -- remove-user NAME
 *   npm run sample:git-admin -- list
 *
 * `--db FILE` picks the store (default samples/git-server/data/git.sqlite), `--repos DIR` the
 * repository folder (default samples/git-server/data/repos); give the server the same two.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { AuthorizedKeys } from 'sshdaemon';
import { GitCommandError, repositoryName } from './gitCommand';
import { openDatabase, saveDatabase } from './repoStore';
import { rows } from '../shared/sqliteFile';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    db: { type: 'string', default: join(__dirname, 'data', 'git.sqlite') },
    repos: { type: 'string', default: join(__dirname, 'data', 'repos') },
    key: { type: 'string' },
    'key-file': { type: 'string' },
  },
});

function fail(message: string): never {
  console.error(`admin: ${message}`);
  process.exit(2);
}

/** A repository name by the rules the server parses commands with, so what is stored can be asked for. */
function repoName(text: string | undefined): string {
  if (!text) fail('a repository name is required');
  try {
    return repositoryName(text);
  } catch (err) {
    if (err instanceof GitCommandError) fail(err.message);
    throw err;
  }
}

async function main(): Promise<void> {
  const [command, name, repo, access] = positionals;
  mkdirSync(dirname(values.db!), { recursive: true });
  const db = await openDatabase(values.db!);
  const has = (table: 'users' | 'repos', n: string) => rows(db, `SELECT 1 FROM ${table} WHERE name = ?`, [n]).length > 0;
  const needUser = () => {
    if (!name) fail(`${command} needs a user name`);
    if (!has('users', name)) fail(`no user '${name}'`);
    return name;
  };
  const needRepo = (text: string | undefined) => {
    const r = repoName(text);
    if (!has('repos', r)) fail(`no repository '${r}'`);
    return r;
  };
  let done = `${command} ${name ?? ''}`.trim();
  switch (command) {
    case 'add-user':
      if (!name || !/^[a-z_][a-z0-9_.-]{0,31}$/i.test(name)) fail('add-user needs a user name (letters, digits, _ . -)');
      if (has('users', name)) fail(`user '${name}' exists`);
      db.run('INSERT INTO users (name) VALUES (?)', [name]);
      break;
    case 'add-key': {
      const user = needUser();
      const line = (values.key ?? (values['key-file'] ? readFileSync(values['key-file'], 'utf8') : '')).trim();
      // Checked with the parser the server uses, so a bad line is refused here, not at login.
      const parsed = AuthorizedKeys.parse(line);
      if (parsed.entries.length !== 1 || parsed.problems.length)
        fail(`not one authorized_keys line: ${parsed.problems.map((p) => p.reason).join('; ') || 'expected exactly one key'}`);
      db.run('INSERT INTO keys (user, line) VALUES (?, ?)', [user, line]);
      break;
    }
    case 'add-repo': {
      // positionals: add-repo REPO
      const r = repoName(name);
      if (has('repos', r)) fail(`repository '${r}' exists`);
      const dir = join(values.repos!, `${r}.git`);
      if (!existsSync(dir)) {
        mkdirSync(dirname(dir), { recursive: true });
        execFileSync('git', ['init', '--quiet', '--bare', '--initial-branch=main', dir]);
      }
      db.run('INSERT INTO repos (name) VALUES (?)', [r]);
      done = `add-repo ${r} (${dir})`;
      break;
    }
    case 'grant': {
      const user = needUser();
      const r = needRepo(repo);
      if (access !== 'read' && access !== 'write') fail('grant NAME REPO read|write');
      db.run('INSERT INTO rights (user, repo, access) VALUES (?, ?, ?) ON CONFLICT (user, repo) DO UPDATE SET access = excluded.access', [
        user,
        r,
        access,
      ]);
      done = `grant ${user} ${access} on ${r}`;
      break;
    }
    case 'revoke': {
      const user = needUser();
      db.run('DELETE FROM rights WHERE user = ? AND repo = ?', [user, needRepo(repo)]);
      break;
    }
    case 'remove-user':
      db.run('DELETE FROM users WHERE name = ?', [needUser()]);
      break;
    case 'list':
      for (const [user, keys] of rows(db, 'SELECT name, (SELECT count(*) FROM keys WHERE user = name) FROM users ORDER BY name')) {
        const rights = rows(db, 'SELECT repo, access FROM rights WHERE user = ? ORDER BY repo', [String(user)]).map(
          ([r, a]) => `${r}:${a}`,
        );
        console.log(`${user}\tkeys=${keys}\t${rights.join(' ') || '(no repositories)'}`);
      }
      for (const [r] of rows(db, 'SELECT name FROM repos ORDER BY name')) console.log(`repo\t${r}`);
      return;
    default:
      fail(`unknown command '${command ?? ''}' (add-user, add-key, add-repo, grant, revoke, remove-user, list)`);
  }
  saveDatabase(db, values.db!);
  console.log(`${done}: done`);
}

main().catch((err: Error) => fail(err.message));
