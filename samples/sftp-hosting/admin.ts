/**
 * Manages the sftp-hosting users while the server runs (it reads the database again at the next login).
 *
 *   npm run sample:sftp-admin -- add-user NAME --root DIR [--password PW | --password-stdin] [--access read-only]
 *   npm run sample:sftp-admin -- set-root NAME DIR
 *   npm run sample:sftp-admin -- set-password NAME (--password PW | --password-stdin)
 *   npm run sample:sftp-admin -- add-key NAME (--key 'ssh-ed25519 AAAA... comment' | --key-file id.pub)
 *   npm run sample:sftp-admin -- remove-user NAME
 *   npm run sample:sftp-admin -- list
 *
 * `--db FILE` picks the database (default samples/sftp-hosting/data/users.sqlite).
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { AuthorizedKeys } from 'sshdaemon';
import { hashPassword, openDatabase, saveDatabase, type Access } from './userDb';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    db: { type: 'string', default: join(__dirname, 'data', 'users.sqlite') },
    root: { type: 'string' },
    password: { type: 'string' },
    'password-stdin': { type: 'boolean' },
    access: { type: 'string', default: 'read-write' },
    key: { type: 'string' },
    'key-file': { type: 'string' },
  },
});

function fail(message: string): never {
  console.error(`admin: ${message}`);
  process.exit(2);
}

async function password(): Promise<string | undefined> {
  if (values.password !== undefined) return values.password;
  if (!values['password-stdin']) return undefined;
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/** A root given as a relative path is stored absolute (the server may run elsewhere), and created. */
function rootDir(dir: string | undefined): string {
  if (!dir) fail('a root directory is required');
  const abs = resolve(dir);
  mkdirSync(abs, { recursive: true });
  return abs;
}

async function main(): Promise<void> {
  const [command, name, arg] = positionals;
  mkdirSync(dirname(values.db!), { recursive: true });
  const db = await openDatabase(values.db!);
  const exists = (n: string) => db.exec('SELECT 1 FROM users WHERE name = ?', [n]).length > 0;
  const need = () => {
    if (!name) fail(`${command} needs a user name`);
    if (!exists(name)) fail(`no user '${name}'`);
    return name;
  };
  switch (command) {
    case 'add-user': {
      if (!name || !/^[a-z_][a-z0-9_.-]{0,31}$/i.test(name)) fail('add-user needs a user name (letters, digits, _ . -)');
      if (exists(name)) fail(`user '${name}' exists`);
      if (!['read-write', 'read-only', 'upload-only'].includes(values.access!)) fail('--access is read-write, read-only or upload-only');
      const pw = await password();
      db.run('INSERT INTO users (name, password, root, access) VALUES (?, ?, ?, ?)', [
        name,
        pw === undefined ? null : await hashPassword(pw),
        rootDir(values.root),
        values.access as Access,
      ]);
      break;
    }
    case 'set-root':
      db.run('UPDATE users SET root = ? WHERE name = ?', [rootDir(arg ?? values.root), need()]);
      break;
    case 'set-password': {
      const user = need();
      const pw = await password();
      if (pw === undefined) fail('set-password needs --password or --password-stdin');
      db.run('UPDATE users SET password = ? WHERE name = ?', [await hashPassword(pw), user]);
      break;
    }
    case 'add-key': {
      const user = need();
      const line = (values.key ?? (values['key-file'] ? readFileSync(values['key-file'], 'utf8') : '')).trim();
      // Checked with the parser the server uses, so a bad line is refused here, not at login.
      const parsed = AuthorizedKeys.parse(line);
      if (parsed.entries.length !== 1 || parsed.problems.length)
        fail(`not one authorized_keys line: ${parsed.problems.map((p) => p.reason).join('; ') || 'expected exactly one key'}`);
      db.run('INSERT INTO keys (user, line) VALUES (?, ?)', [user, line]);
      break;
    }
    case 'remove-user':
      db.run('DELETE FROM users WHERE name = ?', [need()]);
      break;
    case 'list':
      for (const row of db.exec(
        'SELECT name, root, access, password IS NOT NULL, (SELECT count(*) FROM keys WHERE user = name) FROM users ORDER BY name',
      )[0]?.values ?? []) {
        console.log(`${row[0]}\t${row[1]}\t${row[2]}\tpassword=${row[3] ? 'yes' : 'no'}\tkeys=${row[4]}`);
      }
      return;
    default:
      fail(`unknown command '${command ?? ''}' (add-user, set-root, set-password, add-key, remove-user, list)`);
  }
  saveDatabase(db, values.db!);
  console.log(`${command} ${name}: done`);
}

main().catch((err: Error) => fail(err.message));
