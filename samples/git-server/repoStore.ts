/**
 * The git-server store: users, their public keys, the repositories and who may read or write each,
 * in one SQLite file (../shared/sqliteFile.ts) that admin.ts changes while the server runs. Logins
 * read the current state, so a new key or a revoked right applies to the next connection.
 */
import { type Database, LiveDatabase, openDatabase as openFile, rows, saveDatabase } from '../shared/sqliteFile';

export { saveDatabase };

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY
  );
  CREATE TABLE IF NOT EXISTS keys (
    user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    line TEXT NOT NULL               -- one authorized_keys line (options allowed)
  );
  CREATE TABLE IF NOT EXISTS repos (
    name TEXT PRIMARY KEY            -- as gitCommand.repositoryName() gives it: 'team/app' for team/app.git
  );
  CREATE TABLE IF NOT EXISTS rights (
    user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    repo TEXT NOT NULL REFERENCES repos(name) ON DELETE CASCADE,
    access TEXT NOT NULL CHECK (access IN ('read', 'write')),   -- write includes read
    PRIMARY KEY (user, repo)
  );`;

/** What a user may do with one repository: `read` (clone, fetch, archive) or `write` (push too). */
export type Access = 'read' | 'write';

export function openDatabase(path: string): Promise<Database> {
  return openFile(path, SCHEMA);
}

export function userKeys(db: Database, name: string): string[] | undefined {
  if (!rows(db, 'SELECT 1 FROM users WHERE name = ?', [name]).length) return undefined;
  return rows(db, 'SELECT line FROM keys WHERE user = ?', [name]).map((r) => String(r[0]));
}

export function accessOf(db: Database, user: string, repo: string): Access | undefined {
  const row = rows(db, 'SELECT access FROM rights WHERE user = ? AND repo = ?', [user, repo])[0];
  return row ? (String(row[0]) as Access) : undefined;
}

/** The database file as the server reads it: opened again whenever admin.ts changed it. */
export class RepoStore {
  private readonly file: LiveDatabase;

  constructor(path: string) {
    this.file = new LiveDatabase(path, SCHEMA);
  }

  /** The user's authorized_keys lines, or undefined for an unknown user. */
  async keys(user: string): Promise<string[] | undefined> {
    const db = await this.file.current();
    return db && userKeys(db, user);
  }

  /** The user's right on a repository, or undefined when they have none (or either does not exist). */
  async access(user: string, repo: string): Promise<Access | undefined> {
    const db = await this.file.current();
    return db && accessOf(db, user, repo);
  }
}
