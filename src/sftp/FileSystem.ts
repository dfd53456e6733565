/**
 * What the SFTP server needs from storage. Paths are virtual, absolute, normalised POSIX paths
 * (`/`, `/docs/a.txt`): the protocol layer resolves the client's relative paths, `.` and `..`
 * before calling, so an implementation never sees them. Errors are {@link SFTPError}s (or Node
 * errors with a `code` such as `ENOENT`, mapped to SFTP status codes).
 */

/** SFTP v3 status codes (draft-ietf-secsh-filexfer-02, 7). */
export const SFTPStatus = {
  OK: 0,
  EOF: 1,
  NO_SUCH_FILE: 2,
  PERMISSION_DENIED: 3,
  FAILURE: 4,
  BAD_MESSAGE: 5,
  NO_CONNECTION: 6,
  CONNECTION_LOST: 7,
  OP_UNSUPPORTED: 8,
} as const;
export type SFTPStatusCode = (typeof SFTPStatus)[keyof typeof SFTPStatus];

/** An error with the SFTP status the client gets. */
export class SFTPError extends Error {
  constructor(
    readonly status: SFTPStatusCode,
    message: string,
  ) {
    super(message);
    this.name = 'SFTPError';
  }
}

/** File attributes (SFTP v3 ATTRS); absent fields are unknown or unchanged. Times are seconds since the epoch. */
export interface SFTPAttributes {
  size?: number;
  uid?: number;
  gid?: number;
  /** Type and permission bits as in `st_mode` (S_IFREG | 0o644, ...). */
  mode?: number;
  atime?: number;
  mtime?: number;
}

/** One directory entry: `longname` is the `ls -l` line; the server builds it when absent. */
export interface SFTPDirEntry {
  filename: string;
  longname?: string;
  attrs: SFTPAttributes;
}

/** How a file is opened (SSH_FXF_* flags, decoded). */
export interface SFTPOpenFlags {
  read: boolean;
  write: boolean;
  append: boolean;
  create: boolean;
  truncate: boolean;
  /** Fail if the file exists (with `create`). */
  exclusive: boolean;
}

/** An open file. `read` returns an empty Buffer at end of file. */
export interface SFTPFileHandle {
  read(position: number, length: number): Promise<Buffer>;
  write(position: number, data: Buffer): Promise<void>;
  stat(): Promise<SFTPAttributes>;
  setstat(attrs: SFTPAttributes): Promise<void>;
  /** fsync@openssh.com */
  sync(): Promise<void>;
  close(): Promise<void>;
}

/** An open directory: `next` returns a batch of entries, or `undefined` when there are no more. */
export interface SFTPDirHandle {
  next(): Promise<SFTPDirEntry[] | undefined>;
  close(): Promise<void>;
}

/** statvfs@openssh.com (fields of `struct statvfs`). */
export interface SFTPStatVFS {
  bsize: number;
  frsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  favail: number;
  fsid: number;
  flag: number;
  namemax: number;
}

/** A filesystem an SFTP session serves: local disk ({@link LocalFileSystem}), or your own (database, object store, ...). */
export interface SFTPFileSystem {
  open(path: string, flags: SFTPOpenFlags, attrs: SFTPAttributes): Promise<SFTPFileHandle>;
  opendir(path: string): Promise<SFTPDirHandle>;
  stat(path: string): Promise<SFTPAttributes>;
  lstat(path: string): Promise<SFTPAttributes>;
  setstat(path: string, attrs: SFTPAttributes): Promise<void>;
  /** lsetstat@openssh.com: as setstat, without following a final symlink. Optional. */
  lsetstat?(path: string, attrs: SFTPAttributes): Promise<void>;
  remove(path: string): Promise<void>;
  mkdir(path: string, attrs: SFTPAttributes): Promise<void>;
  rmdir(path: string): Promise<void>;
  /** `overwrite` false: SSH_FXP_RENAME (fails if `to` exists); true: posix-rename@openssh.com. */
  rename(from: string, to: string, overwrite: boolean): Promise<void>;
  /** The link's target as stored (a virtual path when it points inside the filesystem). */
  readlink(path: string): Promise<string>;
  /** Creates `linkPath` pointing to `targetPath` (virtual). */
  symlink(linkPath: string, targetPath: string): Promise<void>;
  /** hardlink@openssh.com. Optional. */
  link?(existingPath: string, newPath: string): Promise<void>;
  /** statvfs@openssh.com. Optional. */
  statvfs?(path: string): Promise<SFTPStatVFS>;
  /**
   * The canonical virtual path of an existing path with symlinks resolved (SSH_FXP_REALPATH of
   * an existing file). Optional: without it, the protocol layer's normalised path is returned.
   */
  realpath?(path: string): Promise<string>;
}
