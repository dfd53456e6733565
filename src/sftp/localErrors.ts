/** Errors of LocalFileSystem as SFTP statuses, naming only virtual paths. */
import { errnoOf, errnoText } from './errno';
import { SFTPError, SFTPStatus, type SFTPStatusCode } from './FileSystem';
import { JailEscapeError } from './localPaths';

const ERRNO_STATUS: Record<string, SFTPStatusCode> = {
  ENOENT: SFTPStatus.NO_SUCH_FILE,
  ENOTDIR: SFTPStatus.NO_SUCH_FILE,
  EACCES: SFTPStatus.PERMISSION_DENIED,
  EPERM: SFTPStatus.PERMISSION_DENIED,
  EROFS: SFTPStatus.PERMISSION_DENIED,
  ENOSYS: SFTPStatus.OP_UNSUPPORTED,
  ENOTSUP: SFTPStatus.OP_UNSUPPORTED,
  EOPNOTSUPP: SFTPStatus.OP_UNSUPPORTED,
};

/** An SFTPError for `err` whose message names only the virtual path(s) in `label`. */
export function toSFTPError(err: unknown, label: string): SFTPError {
  if (err instanceof SFTPError) return err;
  if (err instanceof JailEscapeError) return new SFTPError(SFTPStatus.PERMISSION_DENIED, `${label}: Permission denied`);
  const code = errnoOf(err);
  const status = (code && Object.hasOwn(ERRNO_STATUS, code) && ERRNO_STATUS[code]) || SFTPStatus.FAILURE;
  return new SFTPError(status, `${label}: ${errnoText(err)}`);
}

/** PERMISSION_DENIED naming the virtual path(s) in `label`. */
export function denied(label: string): SFTPError {
  return new SFTPError(SFTPStatus.PERMISSION_DENIED, `${label}: Permission denied`);
}
