import { SFTPError, SFTPStatus } from './FileSystem';

/**
 * A client path as the virtual absolute path filesystems see: relative paths start at the home
 * directory `/`, `.` and `..` are resolved, and `..` never climbs above `/` (as in a chroot).
 * `~` and `~/x` (expand-path@openssh.com) are the home directory.
 */
export function resolveClientPath(path: string): string {
  if (path.includes('\0')) throw new SFTPError(SFTPStatus.BAD_MESSAGE, 'path contains a NUL byte');
  const text = path === '~' ? '/' : path.startsWith('~/') ? path.slice(1) : path;
  const parts: string[] = [];
  for (const segment of text.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') parts.pop();
    else parts.push(segment);
  }
  return '/' + parts.join('/');
}
