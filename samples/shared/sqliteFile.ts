/**
 * A SQLite database kept in one file, for the samples whose users and rights an admin script changes
 * while the server runs (sftp-hosting, git-server). SQLite comes from sql.js (compiled to
 * WebAssembly: no native build, works wherever Node runs). sql.js keeps the database in memory, so
 * the file is written whole (to a temporary file, then renamed, so a reader never sees half of it)
 * and the server reads it again when it changed.
 */
import { existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import initSqlJs, { type Database, type SqlJsStatic } from 'sql.js';

export type { Database } from 'sql.js';

let sqlJs: Promise<SqlJsStatic> | undefined;
const engine = () => (sqlJs ??= initSqlJs());

/**
 * Opens the file (or a new empty database when it does not exist), creates the schema's tables, then
 * runs `upgrade` (columns added to a table that an older version created: `CREATE TABLE IF NOT
 * EXISTS` leaves it as it was).
 */
export async function openDatabase(path: string, schema: string, upgrade?: (db: Database) => void): Promise<Database> {
  const SQL = await engine();
  const db = existsSync(path) ? new SQL.Database(readFileSync(path)) : new SQL.Database();
  db.run('PRAGMA foreign_keys = ON');
  db.run(schema);
  upgrade?.(db);
  return db;
}

/** Writes the whole database to `path` atomically (temporary file + rename), readable by its owner only. */
export function saveDatabase(db: Database, path: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, db.export(), { mode: 0o600 });
  renameSync(tmp, path);
}

/** The rows of a query as arrays (empty when nothing matched). */
export function rows(db: Database, sql: string, params: (string | number | null)[] = []): unknown[][] {
  return db.exec(sql, params)[0]?.values ?? [];
}

/** The database file, opened again whenever it changed on disk (mtime, size or inode). */
export class LiveDatabase {
  private db?: Database;
  private stamp = '';

  constructor(
    private readonly path: string,
    private readonly schema: string,
    private readonly upgrade?: (db: Database) => void,
  ) {}

  /** The current state of the file, or undefined while it does not exist. */
  async current(): Promise<Database | undefined> {
    if (!existsSync(this.path)) return undefined;
    const s = statSync(this.path);
    const stamp = `${s.mtimeMs}:${s.size}:${s.ino}`;
    if (!this.db || stamp !== this.stamp) {
      this.db?.close();
      this.db = await openDatabase(this.path, this.schema, this.upgrade);
      this.stamp = stamp;
    }
    return this.db;
  }
}
