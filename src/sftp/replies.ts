/** What goes back to the client: reply packets, and the status an error becomes. */
import { SFTPError, SFTPStatus, type SFTPAttributes, type SFTPStatusCode } from './FileSystem';
import { encodeFileName } from './fileNames';
import { encodeAttrs, frame, FXP, str, u32 } from './protocol';

/** The SFTP status and client-facing text of a failure. */
export function statusOf(err: unknown): { status: SFTPStatusCode; message: string } {
  if (err instanceof SFTPError) return { status: err.status, message: err.message };
  const code = (err as NodeJS.ErrnoException)?.code;
  // Node messages name real paths; clients get a generic text.
  if (code === 'ENOENT' || code === 'ENOTDIR') return { status: SFTPStatus.NO_SUCH_FILE, message: 'No such file' };
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS')
    return { status: SFTPStatus.PERMISSION_DENIED, message: 'Permission denied' };
  if (code) return { status: SFTPStatus.FAILURE, message: `Failure (${code})` };
  if (err instanceof Error && /^(Malformed|truncated)/i.test(err.message))
    return { status: SFTPStatus.BAD_MESSAGE, message: 'Bad message' };
  return { status: SFTPStatus.FAILURE, message: 'Failure' };
}

/** The bytes a name stands for on the wire; a string no bytes decode to (a custom filesystem's) goes as UTF-8. */
export function wireName(name: string): Buffer {
  try {
    return encodeFileName(name);
  } catch {
    return Buffer.from(name, 'utf8');
  }
}

/** A PERMISSION_DENIED refusal. */
export const denied = (what: string) => new SFTPError(SFTPStatus.PERMISSION_DENIED, `Permission denied: ${what}`);

/** An SSH_FXP_STATUS reply. */
export function statusReply(id: number, code: SFTPStatusCode, message = ''): Buffer {
  return frame(FXP.STATUS, [u32(id), u32(code), str(message), str('en')]);
}

/** SSH_FXP_STATUS OK. */
export function okReply(id: number): Buffer {
  return statusReply(id, SFTPStatus.OK, 'Success');
}

/** An SSH_FXP_NAME reply. */
export function nameReply(id: number, entries: Array<{ filename: string; longname: string; attrs: SFTPAttributes }>): Buffer {
  return frame(FXP.NAME, [
    u32(id),
    u32(entries.length),
    ...entries.flatMap((e) => [str(wireName(e.filename)), str(wireName(e.longname)), encodeAttrs(e.attrs)]),
  ]);
}
