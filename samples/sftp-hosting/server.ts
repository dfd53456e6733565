/**
 * SFTP hosting: users, their roots and keys live in a user store (userStore.ts: a SQLite file, or
 * PostgreSQL shared by several nodes) that admin.ts changes while the servers run; each login reads
 * the current state, so no restart is needed. Passwords are scrypt hashes with a per-user salt;
 * keys are authorized_keys lines per user.
 *
 *   npm run sample:sftp-admin -- add-user alice --root /srv/sftp/alice --password 'correct horse'
 *   npm run sample:sftp                      # 127.0.0.1:2222
 *   npm run sample:sftp -- --db postgres://sftp@db.example/sftp   # or DATABASE_URL=postgres://...
 *   sftp -P 2222 alice@127.0.0.1
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { AuthorizedKeys, escapeLogText, LocalFileSystem, SSHDaemon } from 'sshdaemon';
import { COMMON_OPTIONS, commonOptions, hostKey, listen } from '../shared/sampleHost';
import { verifyPassword } from './passwords';
import { type Access, openUserStore, storeLocation, type UserRecord, type UserStore } from './userStore';

const { values } = parseArgs({ options: { ...COMMON_OPTIONS, db: { type: 'string' } } });
const options = commonOptions(values, __dirname);
/** Opened before the daemon listens (end of file). */
let store: UserStore;

/** The user as the store has it now; a disabled user is no user. Undefined when the store fails (logged; the login is refused). */
async function currentUser(name: string, connectionId: string): Promise<UserRecord | undefined> {
  try {
    const user = await store.user(name);
    return user?.disabled ? undefined : user;
  } catch (err) {
    console.log(`[${connectionId}] user store unavailable, login refused: ${escapeLogText((err as Error).message)}`);
    return undefined;
  }
}

/** What a connection logged in with: the root and access of that moment, kept for its whole life. */
const logins = new Map<string, { root: string; access: Access }>();

const daemon = new SSHDaemon();
daemon.sshCert = hostKey(options.data);
daemon.defaultAuthMethods = 'publickey,password';
daemon
  .on('SSHServiceRequest', (e) => void (e.accept = true))
  .on('SSHUserAuthRequest', async (e) => {
    if (e.authMethod !== 'password' && e.authMethod !== 'publickey') return;
    const user = await currentUser(e.user, e.connectionId);
    if (e.authMethod === 'password') {
      // verifyPassword spends the same scrypt time on unknown users.
      e.accept = (await verifyPassword(e.authParam, user?.password)) && user !== undefined;
    } else if (user) {
      AuthorizedKeys.parse(user.keys.join('\n'), `keys of ${user.name}`).authorize(
        e,
        daemon.sshConnections.get(e.connectionId)?.remoteHost ?? '',
      );
    }
    if (e.accept && user) logins.set(e.connectionId, { root: user.root, access: user.access });
  })
  .on('SSHChannelOpenRequest', (e) => void (e.accept = e.service === 'session'))
  .on('Disconnected', (e) => logins.delete(e.connectionId))
  .on('Log', (e) => console.log(`[${e.connectionId || '-'}] ${e.message}`));

// Only the sftp subsystem is served (every other channel request is refused by default).
daemon.enableSFTP((connection) => {
  const login = logins.get(connection.connectionId);
  if (!login || !existsSync(login.root) || !statSync(login.root).isDirectory()) {
    console.log(
      `[${connection.connectionId}] ${escapeLogText(connection.user)}: root ${login?.root ?? '(none)'} is not a directory; sftp refused`,
    );
    return undefined;
  }
  return {
    fileSystem: new LocalFileSystem(login.root, { umask: 0o022 }),
    access: login.access,
    // User names and paths are the client's text: escaped, so they cannot forge log lines.
    onSession: (session) =>
      session.on('uploaded', (u) =>
        console.log(`[${connection.connectionId}] ${escapeLogText(connection.user)} uploaded ${escapeLogText(u.path)} (${u.bytes} bytes)`),
      ),
  };
});

openUserStore(storeLocation(values.db, join(options.data, 'users.sqlite'))).then(
  (opened) => {
    store = opened;
    return listen(daemon, options);
  },
  (err: Error) => {
    console.error(`cannot open the user store: ${err.message}`);
    process.exit(1);
  },
);
