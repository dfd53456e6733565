/**
 * The embedded user store of the sftp-hosting sample: SQLite in one file (../shared/sqliteFile.ts:
 * sql.js, written whole and atomically). The server reads the file again when it changed; each
 * admin change opens the file, applies one statement and writes it back.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { type Database, LiveDatabase, openDatabase, rows, saveDatabase } from '../shared/sqliteFile';
import type { Access, NewUser, UserRecord, UserStore, UserSummary } from './userStore';

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    password TEXT,                -- scrypt$N=..,r=..,p=..$salt$hash, or NULL: keys only
    root TEXT NOT NULL,           -- absolute directory the user's SFTP session is jailed at
    access TEXT NOT NULL DEFAULT 'read-write' CHECK (access IN ('read-write', 'read-only', 'upload-only')),
    disabled INTEGER NOT NULL DEFAULT 0
  );
  CREATE TABLE IF NOT EXISTS keys (
    user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    line TEXT NOT NULL            -- one authorized_keys line (options allowed)
  );`;

/** Files written before users could be disabled get the column (in memory until the next write). */
function upgrade(db: Database): void {
  if (!rows(db, 'PRAGMA table_info(users)').some((c) => c[1] === 'disabled'))
    db.run('ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0');
}

export class SqliteUserStore implements UserStore {
  private readonly live: LiveDatabase;

  constructor(private readonly path: string) {
    this.live = new LiveDatabase(path, SCHEMA, upgrade);
  }

  async user(name: string): Promise<UserRecord | undefined> {
    const db = await this.live.current();
    const row = db && rows(db, 'SELECT name, password, root, access, disabled FROM users WHERE name = ?', [name])[0];
    if (!db || !row) return undefined;
    return {
      name: String(row[0]),
      password: row[1] === null ? null : String(row[1]),
      root: String(row[2]),
      access: String(row[3]) as Access,
      disabled: row[4] === 1,
      keys: rows(db, 'SELECT line FROM keys WHERE user = ? ORDER BY rowid', [name]).map((r) => String(r[0])),
    };
  }

  async list(): Promise<UserSummary[]> {
    const db = await this.live.current();
    if (!db) return [];
    const sql =
      'SELECT name, root, access, password IS NOT NULL, (SELECT count(*) FROM keys WHERE user = name), disabled FROM users ORDER BY name';
    return rows(db, sql).map((r) => ({
      name: String(r[0]),
      root: String(r[1]),
      access: String(r[2]) as Access,
      hasPassword: r[3] === 1,
      keys: Number(r[4]),
      disabled: r[5] === 1,
    }));
  }

  addUser(u: NewUser): Promise<boolean> {
    return this.change('INSERT OR IGNORE INTO users (name, password, root, access) VALUES (?, ?, ?, ?)', [
      u.name,
      u.password,
      u.root,
      u.access,
    ]);
  }

  setRoot(name: string, root: string): Promise<boolean> {
    return this.change('UPDATE users SET root = ? WHERE name = ?', [root, name]);
  }

  setPassword(name: string, hash: string | null): Promise<boolean> {
    return this.change('UPDATE users SET password = ? WHERE name = ?', [hash, name]);
  }

  setDisabled(name: string, disabled: boolean): Promise<boolean> {
    return this.change('UPDATE users SET disabled = ? WHERE name = ?', [disabled ? 1 : 0, name]);
  }

  addKey(name: string, line: string): Promise<boolean> {
    return this.change('INSERT INTO keys (user, line) SELECT ?, ? WHERE EXISTS (SELECT 1 FROM users WHERE name = ?)', [name, line, name]);
  }

  removeUser(name: string): Promise<boolean> {
    return this.change('DELETE FROM users WHERE name = ?', [name]);
  }

  async close(): Promise<void> {}

  /** Opens the file as it is now, runs one statement, and writes the file back when it changed a row. */
  private async change(sql: string, params: (string | number | null)[]): Promise<boolean> {
    const db = await openDatabase(this.path, SCHEMA, upgrade);
    try {
      db.run(sql, params);
      if (db.getRowsModified() === 0) return false;
      mkdirSync(dirname(this.path), { recursive: true });
      saveDatabase(db, this.path);
      return true;
    } finally {
      db.close();
    }
  }
}
