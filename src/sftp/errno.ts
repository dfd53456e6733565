/**
 * Errno codes of Node's fs errors and the texts clients are told for them: strerror(3)'s wording
 * (glibc), never Node's own messages, which name real paths. Shared by {@link LocalFileSystem}
 * (SFTP status messages) and the SCP server (`name: reason` lines, as OpenSSH's scp prints them).
 */

/** strerror-like texts by errno code. */
const ERRNO_TEXT: Record<string, string> = {
  ENOENT: 'No such file or directory',
  ENOTDIR: 'Not a directory',
  EACCES: 'Permission denied',
  EPERM: 'Operation not permitted',
  EROFS: 'Read-only file system',
  EEXIST: 'File exists',
  ENOTEMPTY: 'Directory not empty',
  EISDIR: 'Is a directory',
  ELOOP: 'Too many levels of symbolic links',
  EXDEV: 'Cross-device link',
  ENOSPC: 'No space left on device',
  EDQUOT: 'Disk quota exceeded',
  EFBIG: 'File too large',
  EINVAL: 'Invalid argument',
  ENAMETOOLONG: 'File name too long',
  EBUSY: 'Device or resource busy',
  EMLINK: 'Too many links',
  ETXTBSY: 'Text file busy',
  EIO: 'Input/output error',
  ENXIO: 'No such device or address',
  EAGAIN: 'Resource temporarily unavailable',
  EBADF: 'Bad file descriptor',
  ENOSYS: 'Operation not supported',
  ENOTSUP: 'Operation not supported',
  EOPNOTSUPP: 'Operation not supported',
};

/** The errno code (`ENOENT`, ...) an error carries, as Node's fs errors do; undefined for any other value. */
export function errnoOf(err: unknown): string | undefined {
  return err !== null && typeof err === 'object' && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

/** An error with an errno `code`, as Node's fs errors carry, and no path in its message. */
export function errnoError(code: string): NodeJS.ErrnoException {
  const e: NodeJS.ErrnoException = new Error(code);
  e.code = code;
  return e;
}

/** The strerror-like text for the errno code `err` carries, or `Failure` (no code, or one not listed). */
export function errnoText(err: unknown): string {
  const code = errnoOf(err);
  return (code && Object.hasOwn(ERRNO_TEXT, code) && ERRNO_TEXT[code]) || 'Failure';
}
