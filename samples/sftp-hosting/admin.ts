/**
 * Manages the sftp-hosting users while the servers run (each login reads the store again).
 *
 *   npm run sample:sftp-admin -- add-user NAME --root DIR [--password PW | --password-stdin] [--access read-only]
 *   npm run sample:sftp-admin -- set-root NAME DIR
 *   npm run sample:sftp-admin -- set-password NAME (--password PW | --password-stdin)
 *   npm run sample:sftp-admin -- disable-user NAME | enable-user NAME
 *   npm run sample:sftp-admin -- add-key NAME (--key 'ssh-ed25519 AAAA... comment' | --key-file id.pub)
 *   npm run sample:sftp-admin -- remove-user NAME
 *   npm run sample:sftp-admin -- list
 *
 * `--db FILE|URL` picks the store: a SQLite file, or a `postgres://` URL shared by several servers
 * (default: `DATABASE_URL`, else samples/sftp-hosting/data/users.sqlite).
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { AuthorizedKeys } from 'sshdaemon';
import { hashPassword } from './passwords';
import { type Access, ACCESS, openUserStore, storeLocation, type UserStore } from './userStore';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    db: { type: 'string' },
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

/** The commands: each returns false when the user it names does not exist. */
const COMMANDS: Record<string, (store: UserStore, name: string, arg: string | undefined) => Promise<boolean>> = {
  'add-user': async (store, name) => {
    if (!ACCESS.includes(values.access as Access)) fail('--access is read-write, read-only or upload-only');
    const pw = await password();
    const added = await store.addUser({
      name,
      password: pw === undefined ? null : await hashPassword(pw),
      root: rootDir(values.root),
      access: values.access as Access,
    });
    if (!added) fail(`user '${name}' exists`);
    return true;
  },
  'set-root': (store, name, arg) => store.setRoot(name, rootDir(arg ?? values.root)),
  'set-password': async (store, name) => {
    const pw = await password();
    if (pw === undefined) fail('set-password needs --password or --password-stdin');
    return store.setPassword(name, await hashPassword(pw));
  },
  'disable-user': (store, name) => store.setDisabled(name, true),
  'enable-user': (store, name) => store.setDisabled(name, false),
  'add-key': (store, name) => {
    const line = (values.key ?? (values['key-file'] ? readFileSync(values['key-file'], 'utf8') : '')).trim();
    // Checked with the parser the server uses, so a bad line is refused here, not at login.
    const parsed = AuthorizedKeys.parse(line);
    if (parsed.entries.length !== 1 || parsed.problems.length)
      fail(`not one authorized_keys line: ${parsed.problems.map((p) => p.reason).join('; ') || 'expected exactly one key'}`);
    return store.addKey(name, line);
  },
  'remove-user': (store, name) => store.removeUser(name),
};

async function main(): Promise<void> {
  const [command, name, arg] = positionals;
  const run = command === 'list' ? undefined : COMMANDS[command ?? ''];
  if (command !== 'list' && !Object.hasOwn(COMMANDS, command ?? ''))
    fail(`unknown command '${command ?? ''}' (${[...Object.keys(COMMANDS), 'list'].join(', ')})`);
  if (command === 'add-user' && (!name || !/^[a-z_][a-z0-9_.-]{0,31}$/i.test(name)))
    fail('add-user needs a user name (letters, digits, _ . -)');
  if (run && !name) fail(`${command} needs a user name`);
  const store = await openUserStore(storeLocation(values.db, join(__dirname, 'data', 'users.sqlite')));
  try {
    if (!run) {
      for (const u of await store.list())
        console.log(
          `${u.name}\t${u.root}\t${u.access}\tpassword=${u.hasPassword ? 'yes' : 'no'}\tkeys=${u.keys}${u.disabled ? '\tdisabled' : ''}`,
        );
      return;
    }
    if (!(await run(store, name, arg))) fail(`no user '${name}'`);
    console.log(`${command} ${name}: done`);
  } finally {
    await store.close();
  }
}

main().catch((err: Error) => fail(err.message));
