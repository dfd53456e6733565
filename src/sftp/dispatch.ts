/** Request type and extension name -> handler: the dispatch tables, and which requests write. */
import type { WireReader } from '../packet/wire';
import { SFTPError, SFTPStatus } from './FileSystem';
import {
  copyData,
  expandPath,
  fstatvfs,
  fsync,
  hardlink,
  homeDirectory,
  limits,
  lsetstat,
  statvfs,
  usersGroupsById,
} from './extensionRequests';
import { close, fsetstat, fstat, open, opendir, read, readdir, write } from './fileRequests';
import { mkdir, readlink, realpath, remove, rename, rmdir, setstat, stat, symlink } from './pathRequests';
import { FXP } from './protocol';
import { denied } from './replies';
import type { SFTPRequestContext } from './requestContext';

/** One request handler: runs on the session (as its {@link SFTPRequestContext}), resolves with the reply. */
export type Handler = (this: SFTPRequestContext, r: WireReader, id: number) => Promise<Buffer>;

/** Request type -> its name in `failed` audit events. */
export const OPERATION: Record<number, string> = Object.fromEntries(Object.entries(FXP).map(([k, v]) => [v, k.toLowerCase()]));

/** Requests refused with read-only access. */
export const WRITE_OPERATIONS = new Set<number>([FXP.SETSTAT, FXP.FSETSTAT, FXP.REMOVE, FXP.MKDIR, FXP.RMDIR, FXP.RENAME, FXP.SYMLINK]);
const WRITE_EXTENSIONS = new Set(['posix-rename@openssh.com', 'hardlink@openssh.com', 'lsetstat@openssh.com', 'copy-data']);

/** @internal SFTP request handler. */
export async function extended(this: SFTPRequestContext, r: WireReader, id: number): Promise<Buffer> {
  const name = r.string();
  // Own properties only: 'constructor' or 'toString' named Object.prototype methods, whose
  // non-Buffer "replies" stalled the session.
  const ext = Object.hasOwn(EXTENDED, name) ? EXTENDED[name] : undefined;
  if (!ext) throw new SFTPError(SFTPStatus.OP_UNSUPPORTED, `Unsupported extension ${name}`);
  if (this.access === 'read-only' && WRITE_EXTENSIONS.has(name)) throw denied('read-only access');
  return ext.call(this, r, id);
}

/** Request type -> handler: the dispatch table. */
export const HANDLERS: Partial<Record<number, Handler>> = {
  [FXP.OPEN]: open,
  [FXP.CLOSE]: close,
  [FXP.READ]: read,
  [FXP.WRITE]: write,
  [FXP.LSTAT]: function (r, id) {
    return stat.call(this, r, id, false);
  },
  [FXP.STAT]: function (r, id) {
    return stat.call(this, r, id, true);
  },
  [FXP.FSTAT]: fstat,
  [FXP.SETSTAT]: setstat,
  [FXP.FSETSTAT]: fsetstat,
  [FXP.OPENDIR]: opendir,
  [FXP.READDIR]: readdir,
  [FXP.REMOVE]: remove,
  [FXP.MKDIR]: mkdir,
  [FXP.RMDIR]: rmdir,
  [FXP.REALPATH]: realpath,
  [FXP.RENAME]: function (r, id) {
    return rename.call(this, r, id, false);
  },
  [FXP.READLINK]: readlink,
  [FXP.SYMLINK]: symlink,
  [FXP.EXTENDED]: extended,
};

/** Extension name -> handler. */
const EXTENDED: Record<string, Handler> = {
  'posix-rename@openssh.com': function (r, id) {
    return rename.call(this, r, id, true);
  },
  'statvfs@openssh.com': statvfs,
  'fstatvfs@openssh.com': fstatvfs,
  'hardlink@openssh.com': hardlink,
  'fsync@openssh.com': fsync,
  'lsetstat@openssh.com': lsetstat,
  'limits@openssh.com': limits,
  'expand-path@openssh.com': expandPath,
  'copy-data': copyData,
  'home-directory': homeDirectory,
  'users-groups-by-id@openssh.com': usersGroupsById,
};
