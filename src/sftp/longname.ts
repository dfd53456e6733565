/**
 * The `ls -l` line of SSH_FXP_NAME entries (`longname`), byte for byte as OpenSSH's sftp-server
 * builds it (`ls_file()` in sftp-common.c): some clients show it as is, some (older GUI clients)
 * parse it, so the column layout matters more than its looks.
 */
import type { SFTPAttributes } from './FileSystem';
import type { decodeFileName, encodeFileName } from './fileNames';

const S_IFMT = 0o170000;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** OpenSSH's "recent" window: `(365*24*60*60)/2` seconds. */
const HALF_YEAR_S = (365 * 24 * 60 * 60) / 2;

/** What {@link formatLongname} needs: the SFTP attributes plus what `ls -l` shows besides. */
export type LongnameAttributes = SFTPAttributes & {
  /** Hard link count; `1` when unknown (a `?` as OpenSSH's client prints breaks clients that parse the line). */
  nlink?: number;
  /** Owner name; the numeric uid when absent. */
  user?: string;
  /** Group name; the numeric gid when absent. */
  group?: string;
};

/**
 * The 10-character mode column as BSD `strmode()` writes it (without its trailing space):
 * type letter then rwx triplets with s/S, t/T for setuid, setgid and sticky.
 */
export function formatMode(mode: number): string {
  let type: string;
  switch (mode & S_IFMT) {
    case 0o040000:
      type = 'd';
      break;
    case 0o020000:
      type = 'c';
      break;
    case 0o060000:
      type = 'b';
      break;
    case 0o100000:
      type = '-';
      break;
    case 0o120000:
      type = 'l';
      break;
    case 0o140000:
      type = 's';
      break;
    case 0o010000:
      type = 'p';
      break;
    default:
      type = '?';
  }
  const bit = (mask: number, ch: string): string => (mode & mask ? ch : '-');
  const exec = (x: number, special: number, on: string, off: string): string =>
    mode & special ? (mode & x ? on : off) : mode & x ? 'x' : '-';
  return (
    type +
    bit(0o400, 'r') +
    bit(0o200, 'w') +
    exec(0o100, 0o4000, 's', 'S') +
    bit(0o040, 'r') +
    bit(0o020, 'w') +
    exec(0o010, 0o2000, 's', 'S') +
    bit(0o004, 'r') +
    bit(0o002, 'w') +
    exec(0o001, 0o1000, 't', 'T')
  );
}

/**
 * The date column: `%b %e %H:%M` for times in the last six months (and not in the future), else
 * `%b %e  %Y`, in the server's local time zone with C-locale month names, as OpenSSH does.
 */
export function formatLsDate(mtime: number, now: number = Date.now() / 1000): string {
  const d = new Date(mtime * 1000);
  if (Number.isNaN(d.getTime())) return '';
  const day = String(d.getDate()).padStart(2, ' ');
  const recent = now - HALF_YEAR_S < mtime && now >= mtime;
  const text = recent
    ? `${MONTHS[d.getMonth()]} ${day} ${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`
    : `${MONTHS[d.getMonth()]} ${day}  ${d.getFullYear()}`;
  // OpenSSH's strftime buffer holds 12 characters; a longer date (year > 9999) comes out empty.
  return text.length > 12 ? '' : text;
}

/** `%-8s` as printf counts: in bytes (UTF-8), so a non-ASCII user name keeps the columns where OpenSSH has them. */
function padBytes(text: string, width: number): string {
  return text + ' '.repeat(Math.max(0, width - Buffer.byteLength(text)));
}

/**
 * An OpenSSH-style `ls -l` line for a directory entry, e.g.
 * `-rw-r--r--    1 alice    staff        1234 Mar  5 14:02 notes.txt`
 * (`"%s %3s %-*s %-*s %8llu %s %s"` with the strmode column's trailing space, user and group
 * padded to at least 8). Missing attributes show as OpenSSH shows zeroed fields.
 *
 * @param filename the entry's name (not a path), as a {@link decodeFileName} string: the line goes
 *   on the wire through {@link encodeFileName}, so a name that is not UTF-8 ends it with its own bytes
 * @param attrs its attributes; `nlink`, `user`, `group` are optional extras
 * @param now the current time in seconds, for the recent/old date format (tests)
 */
export function formatLongname(filename: string, attrs: LongnameAttributes, now?: number): string {
  const mode = formatMode(attrs.mode ?? 0);
  const links = String(attrs.nlink ?? 1).padStart(3, ' ');
  const user = padBytes(attrs.user ?? String(attrs.uid ?? 0), 8);
  const group = padBytes(attrs.group ?? String(attrs.gid ?? 0), 8);
  const size = String(attrs.size ?? 0).padStart(8, ' ');
  const date = formatLsDate(attrs.mtime ?? 0, now);
  return `${mode}  ${links} ${user} ${group} ${size} ${date} ${filename}`;
}
