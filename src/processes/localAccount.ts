import { readFile } from 'node:fs/promises';
import { userInfo } from 'node:os';

/** A user of this machine, from the passwd database. */
export interface LocalAccount {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
  readonly shell: string;
}

/** The account the daemon runs as (os.userInfo), or undefined where it has none. */
function ownAccount(): LocalAccount | undefined {
  try {
    const u = userInfo();
    return { name: u.username, uid: u.uid, gid: u.gid, home: u.homedir, shell: u.shell ?? '' };
  } catch {
    return undefined;
  }
}

/**
 * Looks an account up by name or uid: the daemon's own through os.userInfo, others in /etc/passwd
 * (Node.js has no getpwnam; accounts only a name service such as LDAP knows are not found, and the
 * defaults apply). Undefined when there is no such account.
 */
export async function findLocalAccount(key: { name: string } | { uid: number }): Promise<LocalAccount | undefined> {
  const own = ownAccount();
  if (own && ('name' in key ? own.name === key.name : own.uid === key.uid)) return own;
  let text: string;
  try {
    text = await readFile('/etc/passwd', 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length < 7 || f[0].startsWith('+') || f[0].startsWith('-')) continue;
    const uid = Number(f[2]);
    if ('name' in key ? f[0] !== key.name : uid !== key.uid) continue;
    return { name: f[0], uid, gid: Number(f[3]), home: f[5], shell: f[6] };
  }
  return undefined;
}
