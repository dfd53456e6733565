/**
 * Passwords of the sftp-hosting users: scrypt (a memory-hard KDF, `node:crypto`) with a per-user
 * random salt, stored as `scrypt$N=..,r=..,p=..$salt$hash` so the cost can be raised later. The
 * same strings are stored in SQLite and PostgreSQL.
 */
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

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

/** A stored hash for unknown (and disabled) users, so that their attempts cost the same time as real ones. */
const DECOY = hashPassword(randomBytes(16).toString('hex'));

export async function verifyPassword(password: string, stored: string | null | undefined): Promise<boolean> {
  const m = /^scrypt\$N=(\d+),r=(\d+),p=(\d+)\$([^$]+)\$([^$]+)$/.exec(stored ?? (await DECOY));
  if (!m) return false;
  const expected = Buffer.from(m[5], 'base64');
  const key = await derive(password, Buffer.from(m[4], 'base64'), { N: Number(m[1]), r: Number(m[2]), p: Number(m[3]) });
  return stored != null && key.length === expected.length && timingSafeEqual(key, expected);
}
