/**
 * The user database of the sftp-hosting sample: SQLite in one file (../shared/sqliteFile.ts: sql.js,
 * written whole and atomically, read again by the server when it changed).
 */
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { type Database, LiveDatabase, openDatabase as openFile, rows, saveDatabase } from '../shared/sqliteFile';

export { saveDatabase };

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    password TEXT,                -- scrypt$N=..,r=..,p=..$salt$hash, or NULL: keys only
    root TEXT NOT NULL,           -- absolute directory the user's SFTP session is jailed at
    access TEXT NOT NULL DEFAULT 'read-write' CHECK (access IN ('read-write', 'read-only', 'upload-only'))
  );
  CREATE TABLE IF NOT EXISTS keys (
    user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    line TEXT NOT NULL            -- one authorized_keys line (options allowed)
  );`;

export type Access = 'read-write' | 'read-only' | 'upload-only';

export interface UserRecord {
  name: string;
  /** The stored scrypt string, or null for a keys-only user. */
  password: string | null;
  root: string;
  access: Access;
  keys: string[];
}

export function openDatabase(path: string): Promise<Database> {
  return openFile(path, SCHEMA);
}

export function readUser(db: Database, name: string): UserRecord | undefined {
  const row = rows(db, 'SELECT name, password, root, access FROM users WHERE name = ?', [name])[0];
  if (!row) return undefined;
  const keys = rows(db, 'SELECT line FROM keys WHERE user = ?', [name]).map((r) => String(r[0]));
  return {
    name: String(row[0]),
    password: row[1] === null ? null : String(row[1]),
    root: String(row[2]),
    access: String(row[3]) as Access,
    keys,
  };
}

// ---- passwords: scrypt (a memory-hard KDF) with a per-user random salt ----

const COST = { N: 16384, r: 8, p: 1 };
const KEY_LENGTH = 32;

function derive(password: string, salt: Buffer, cost: typeof COST): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFC'), salt, KEY_LENGTH, { ...cost, maxmem: 64 * 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, COST);
  return `scrypt$N=${COST.N},r=${COST.r},p=${COST.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** A stored hash for unknown users, so that their attempts cost the same time as real ones. */
const DECOY = hashPassword(randomBytes(16).toString('hex'));

export async function verifyPassword(password: string, stored: string | null | undefined): Promise<boolean> {
  const m = /^scrypt\$N=(\d+),r=(\d+),p=(\d+)\$([^$]+)\$([^$]+)$/.exec(stored ?? (await DECOY));
  if (!m) return false;
  const expected = Buffer.from(m[5], 'base64');
  const key = await derive(password, Buffer.from(m[4], 'base64'), { N: Number(m[1]), r: Number(m[2]), p: Number(m[3]) });
  return stored != null && key.length === expected.length && timingSafeEqual(key, expected);
}

/** The database file, opened again whenever it changed on disk. */
export class UserStore {
  private readonly file: LiveDatabase;

  constructor(path: string) {
    this.file = new LiveDatabase(path, SCHEMA);
  }

  async user(name: string): Promise<UserRecord | undefined> {
    const db = await this.file.current();
    return db && readUser(db, name);
  }
}
