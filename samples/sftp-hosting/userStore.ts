/**
 * Where the sftp-hosting users live: one interface, two stores. SQLite in one file
 * (sqliteUsers.ts) is the embedded default; PostgreSQL (postgresUsers.ts) lets several server
 * nodes share the same users. Both are read at every login (no cache), so a change made through
 * admin.ts on any node applies to the next login on every node, without restart.
 *
 * The location is `--db` (a file path, or a `postgres://` / `postgresql://` URL), else the
 * `DATABASE_URL` environment variable, else `<data>/users.sqlite`.
 */
import { PostgresUserStore } from './postgresUsers';
import { SqliteUserStore } from './sqliteUsers';

export type Access = 'read-write' | 'read-only' | 'upload-only';
export const ACCESS: readonly Access[] = ['read-write', 'read-only', 'upload-only'];

/** A user as a login sees it. */
export interface UserRecord {
  name: string;
  /** The stored scrypt string (passwords.ts), or null for a keys-only user. */
  password: string | null;
  /** Absolute directory the user's SFTP session is jailed at. */
  root: string;
  access: Access;
  /** A disabled user keeps its data and keys but cannot log in. */
  disabled: boolean;
  /** authorized_keys lines (options allowed). */
  keys: string[];
}

export type NewUser = Pick<UserRecord, 'name' | 'password' | 'root' | 'access'>;

/** One line of `admin.ts list`. */
export interface UserSummary {
  name: string;
  root: string;
  access: Access;
  hasPassword: boolean;
  keys: number;
  disabled: boolean;
}

/**
 * The operations the server and admin.ts use. Mutations return false when the user does not exist
 * (`addUser`: when it already exists). Every value reaches the database as a query parameter.
 */
export interface UserStore {
  /** The current state of `name` (one read per call: never a cached answer). */
  user(name: string): Promise<UserRecord | undefined>;
  list(): Promise<UserSummary[]>;
  addUser(user: NewUser): Promise<boolean>;
  setRoot(name: string, root: string): Promise<boolean>;
  setPassword(name: string, hash: string | null): Promise<boolean>;
  setDisabled(name: string, disabled: boolean): Promise<boolean>;
  addKey(name: string, line: string): Promise<boolean>;
  removeUser(name: string): Promise<boolean>;
  close(): Promise<void>;
}

const POSTGRES_URL = /^postgres(ql)?:\/\//i;

/** `--db`, else `DATABASE_URL`, else the default file. */
export function storeLocation(db: string | undefined, defaultFile: string): string {
  return db ?? (process.env.DATABASE_URL || defaultFile);
}

/** A PostgreSQL URL opens the PostgreSQL store (creating its tables if needed), anything else a SQLite file. */
export async function openUserStore(location: string): Promise<UserStore> {
  return POSTGRES_URL.test(location) ? PostgresUserStore.open(location) : new SqliteUserStore(location);
}
