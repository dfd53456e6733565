import { SFTPError, SFTPStatus } from './FileSystem';

/** How `~name` is read: only expand-path@openssh.com expands it, for the logged-in user. */
export interface TildeUser {
  /** The logged-in user: `~user` and `~user/x` are the home directory `/`; other names are refused. */
  user?: string;
}

/**
 * A client path as the virtual absolute path filesystems see: relative paths start at the home
 * directory `/`, `.` and `..` are resolved, and `..` never climbs above `/` (as in a chroot).
 * `~` and `~/x` are the home directory. With `tilde` (expand-path@openssh.com, as OpenSSH's
 * `tilde_expand`), `~user` and `~user/x` are the home too when `user` is the logged-in user, and any
 * other `~name` is refused with NO_SUCH_FILE "no such user"; without it `~name` is an ordinary name.
 */
export function resolveClientPath(path: string, tilde?: TildeUser): string {
  if (path.includes('\0')) throw new SFTPError(SFTPStatus.BAD_MESSAGE, 'path contains a NUL byte');
  let text = path === '~' ? '/' : path.startsWith('~/') ? path.slice(1) : path;
  if (tilde && text.startsWith('~')) {
    const slash = text.indexOf('/');
    const name = slash < 0 ? text.slice(1) : text.slice(1, slash);
    if (tilde.user === undefined || name !== tilde.user) throw new SFTPError(SFTPStatus.NO_SUCH_FILE, `no such user: ${name}`);
    text = slash < 0 ? '/' : text.slice(slash);
  }
  return lexicalPath(text);
}

/**
 * `text` as a normalised absolute virtual path, lexically: relative paths start at `/`, empty and
 * `.` names are dropped, `..` removes the name before it and never climbs above `/` (as in a
 * chroot). No filesystem is asked (a `..` after a symlink is not the link target's parent).
 */
export function lexicalPath(text: string): string {
  const parts: string[] = [];
  for (const segment of text.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') parts.pop();
    else parts.push(segment);
  }
  return '/' + parts.join('/');
}

/** The parent of a normalised virtual path (`/` for `/` itself) and its last name ('' for `/`). */
export function splitVirtual(path: string): { parent: string; name: string } {
  const i = path.lastIndexOf('/');
  return { parent: i <= 0 ? '/' : path.slice(0, i), name: path.slice(i + 1) };
}
