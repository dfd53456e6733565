/**
 * The shared user store of the sftp-hosting sample: PostgreSQL through `pg` (node-postgres), so
 * several server nodes serve the same users. Every login is one query on a small pool (no cache:
 * a user added, disabled or given a new password on any node is seen by the next login on every
 * node). Every value is a bound parameter ($1, $2, ...), never spliced into the SQL text.
 */
import pg from 'pg';
import type { Access, NewUser, UserRecord, UserStore, UserSummary } from './userStore';

// sftp_ prefixes: the database may be shared with an application that has its own `users`.
const SCHEMA = `
  CREATE TABLE IF NOT EXISTS sftp_users (
    name text PRIMARY KEY,
    password text,                -- scrypt$N=..,r=..,p=..$salt$hash, or NULL: keys only
    root text NOT NULL,           -- absolute directory the user's SFTP session is jailed at
    access text NOT NULL DEFAULT 'read-write' CHECK (access IN ('read-write', 'read-only', 'upload-only')),
    disabled boolean NOT NULL DEFAULT false
  );
  CREATE TABLE IF NOT EXISTS sftp_user_keys (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_name text NOT NULL REFERENCES sftp_users(name) ON DELETE CASCADE,
    line text NOT NULL            -- one authorized_keys line (options allowed)
  );
  CREATE INDEX IF NOT EXISTS sftp_user_keys_user ON sftp_user_keys (user_name);`;

/** Bounds so that a database that hangs refuses logins instead of holding them (milliseconds). */
const CONNECT_TIMEOUT_MS = 5_000;
const QUERY_TIMEOUT_MS = 5_000;

export class PostgresUserStore implements UserStore {
  private constructor(private readonly pool: pg.Pool) {}

  /** Connects (the URL may carry `?host=/socket/dir`, `sslmode=...`) and creates the tables if needed. */
  static async open(url: string): Promise<PostgresUserStore> {
    const pool = new pg.Pool({
      connectionString: url,
      max: 4,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      query_timeout: QUERY_TIMEOUT_MS,
      statement_timeout: QUERY_TIMEOUT_MS,
      application_name: 'sftp-hosting',
    });
    // An idle connection the server dropped (restart, network) reports here; without a listener it
    // would be an uncaught 'error' and end the process. The pool opens a new one at the next query.
    pool.on('error', (err) => console.error(`user store: idle PostgreSQL connection lost: ${err.message}`));
    const client = await pool.connect().catch(async (err: Error) => {
      await pool.end();
      throw new Error(`cannot connect to PostgreSQL: ${err.message}`);
    });
    try {
      // Two nodes starting at once would race on CREATE TABLE IF NOT EXISTS: one takes the lock.
      await client.query('BEGIN');
      await client.query("SELECT pg_advisory_xact_lock(hashtext('sftp-hosting schema'))");
      await client.query(SCHEMA);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
    return new PostgresUserStore(pool);
  }

  async user(name: string): Promise<UserRecord | undefined> {
    const r = await this.pool.query<{
      name: string;
      password: string | null;
      root: string;
      access: Access;
      disabled: boolean;
      keys: string[];
    }>(
      `SELECT name, password, root, access, disabled,
              ARRAY(SELECT line FROM sftp_user_keys k WHERE k.user_name = u.name ORDER BY k.id) AS keys
         FROM sftp_users u WHERE name = $1`,
      [name],
    );
    return r.rows[0];
  }

  async list(): Promise<UserSummary[]> {
    const r = await this.pool.query<UserSummary>(
      `SELECT name, root, access, password IS NOT NULL AS "hasPassword", disabled,
              (SELECT count(*)::int FROM sftp_user_keys k WHERE k.user_name = u.name) AS keys
         FROM sftp_users u ORDER BY name COLLATE "C"`,
    );
    return r.rows;
  }

  addUser(u: NewUser): Promise<boolean> {
    return this.change('INSERT INTO sftp_users (name, password, root, access) VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING', [
      u.name,
      u.password,
      u.root,
      u.access,
    ]);
  }

  setRoot(name: string, root: string): Promise<boolean> {
    return this.change('UPDATE sftp_users SET root = $2 WHERE name = $1', [name, root]);
  }

  setPassword(name: string, hash: string | null): Promise<boolean> {
    return this.change('UPDATE sftp_users SET password = $2 WHERE name = $1', [name, hash]);
  }

  setDisabled(name: string, disabled: boolean): Promise<boolean> {
    return this.change('UPDATE sftp_users SET disabled = $2 WHERE name = $1', [name, disabled]);
  }

  addKey(name: string, line: string): Promise<boolean> {
    return this.change('INSERT INTO sftp_user_keys (user_name, line) SELECT name, $2 FROM sftp_users WHERE name = $1', [name, line]);
  }

  removeUser(name: string): Promise<boolean> {
    return this.change('DELETE FROM sftp_users WHERE name = $1', [name]);
  }

  close(): Promise<void> {
    return this.pool.end();
  }

  private async change(sql: string, params: (string | boolean | null)[]): Promise<boolean> {
    return ((await this.pool.query(sql, params)).rowCount ?? 0) > 0;
  }
}
