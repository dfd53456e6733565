/**
 * What a client may set beyond permission bits (issue 16.9): a daemon running as root must not
 * hand out more than OpenSSH's sftp-server running as the user could, which has no privilege:
 * setuid and setgid bits come off every mode a client sets, and owner and group change only as an
 * unprivileged process with the daemon's own ids could change them. {@link LocalFileSystem}
 * options `allowSetuid` and `allowChown` lift each rule.
 */
import { SFTPError, SFTPStatus } from './FileSystem';

/** S_ISUID | S_ISGID. */
const SETID_BITS = 0o6000;

/** The permission bits to apply for a mode a client sent: file type bits off, setuid/setgid off unless allowed. */
export function clientMode(mode: number, allowSetuid: boolean): number {
  return mode & 0o7777 & (allowSetuid ? 0o7777 : ~SETID_BITS);
}

let processIds: { uid: number; groups: Set<number> } | undefined;

/** The process's uid and its groups (primary and supplementary), read once. */
function ids(): { uid: number; groups: Set<number> } {
  if (!processIds) {
    const uid = process.getuid?.() ?? -1;
    const groups = new Set<number>(process.getgroups?.() ?? []);
    const gid = process.getgid?.();
    if (gid !== undefined) groups.add(gid);
    processIds = { uid, groups };
  }
  return processIds;
}

/**
 * Refuses an owner or group change that an unprivileged process with the daemon's ids could not
 * make (chown(2) without CAP_CHOWN): the owner stays as it is, and the group changes only on a
 * file the process owns, to one of the process's groups. Unchanged ids always pass (clients send
 * the current ones back).
 *
 * @param current the file's owner and group now
 * @param label the virtual path(s) for the message
 * @throws SFTPError PERMISSION_DENIED
 */
export function checkOwnerChange(
  current: { uid: number; gid: number },
  uid: number | undefined,
  gid: number | undefined,
  allowChown: boolean,
  label: string,
): void {
  if (allowChown) return;
  const uidChanges = uid !== undefined && uid !== current.uid;
  const gidChanges = gid !== undefined && gid !== current.gid;
  if (!uidChanges && !gidChanges) return;
  const me = ids();
  const ok = !uidChanges && current.uid === me.uid && gid !== undefined && me.groups.has(gid);
  if (!ok) throw new SFTPError(SFTPStatus.PERMISSION_DENIED, `${label}: Operation not permitted`);
}
