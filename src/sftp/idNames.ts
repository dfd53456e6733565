/**
 * User and group names of numeric ids, from /etc/passwd and /etc/group: the `ls -l` columns of
 * {@link LocalFileSystem}'s long names and its users-groups-by-id@openssh.com answers. Node has
 * no getpwuid(); accounts known only to NSS (LDAP...) show numerically (or as '' in the
 * extension), as OpenSSH allows.
 */
import { promises as fsp } from 'node:fs';
import os from 'node:os';

/** uid and gid to name maps. */
export interface IdNames {
  /** uid -> user name. */
  readonly users: ReadonlyMap<number, string>;
  /** gid -> group name. */
  readonly groups: ReadonlyMap<number, string>;
}

/** Shared by every filesystem of the process and read again at most once a minute. */
const NAMES_TTL_MS = 60_000;
let cache: (IdNames & { at: number }) | undefined;
let loading: Promise<void> | undefined;

async function readIdFile(file: string): Promise<Map<number, string>> {
  const map = new Map<number, string>();
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch {
    return map;
  }
  for (const line of text.split('\n')) {
    const [name, , id] = line.split(':');
    const n = Number(id);
    if (name && id !== undefined && Number.isInteger(n) && !map.has(n)) map.set(n, name);
  }
  return map;
}

/** The current maps (read on first use, then refreshed at most once a minute). */
export async function idNames(): Promise<IdNames> {
  if (!cache || Date.now() - cache.at > NAMES_TTL_MS) {
    loading ??= (async () => {
      const [users, groups] = await Promise.all([readIdFile('/etc/passwd'), readIdFile('/etc/group')]);
      try {
        const me = os.userInfo();
        if (!users.has(me.uid) && me.uid >= 0) users.set(me.uid, me.username);
      } catch {
        // No passwd entry for this process: numeric it is.
      }
      cache = { at: Date.now(), users, groups };
    })().finally(() => {
      loading = undefined;
    });
    await loading;
  }
  return cache!;
}
