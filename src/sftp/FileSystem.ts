/**
 * What the SFTP server needs from storage. Paths are virtual, absolute, normalised POSIX paths
 * (`/`, `/docs/a.txt`): the protocol layer resolves the client's relative paths, `.` and `..`
 * before calling, so an implementation never sees them. Names are the client's bytes: bytes that
 * are not UTF-8 arrive as U+DC80-U+DCFF ({@link decodeFileName}); use {@link encodeFileName} to
 * get the exact bytes back, e.g. before storing a name outside the local disk. Errors are
 * {@link SFTPError}s (or Node errors with a `code` such as `ENOENT`, mapped to SFTP status codes).
 */

/** SFTP v3 status codes (draft-ietf-secsh-filexfer-02, 7). */
export const SFTPStatus = {
  /** Success. */
  OK: 0,
  /** End of file, or no more directory entries. */
  EOF: 1,
  /** The path does not exist. */
  NO_SUCH_FILE: 2,
  /** Not allowed. */
  PERMISSION_DENIED: 3,
  /** Any other failure. */
  FAILURE: 4,
  /** A malformed request. */
  BAD_MESSAGE: 5,
  /** No connection (client-side only). */
  NO_CONNECTION: 6,
  /** Connection lost (client-side only). */
  CONNECTION_LOST: 7,
  /** The server does not support the operation. */
  OP_UNSUPPORTED: 8,
} as const;
/** Any value of {@link SFTPStatus}. */
export type SFTPStatusCode = (typeof SFTPStatus)[keyof typeof SFTPStatus];

/** An error with the SFTP status the client gets. */
export class SFTPError extends Error {
  constructor(
    /** The status the client receives. */
    readonly status: SFTPStatusCode,
    message: string,
  ) {
    super(message);
    this.name = 'SFTPError';
  }
}

/** File attributes (SFTP v3 ATTRS); absent fields are unknown or unchanged. Times are seconds since the epoch. */
export interface SFTPAttributes {
  /** Size in bytes. */
  size?: number;
  /** Owner user id. */
  uid?: number;
  /** Owner group id. */
  gid?: number;
  /** Type and permission bits as in `st_mode` (S_IFREG | 0o644, ...). */
  mode?: number;
  /** Last access, seconds since the epoch. */
  atime?: number;
  /** Last modification, seconds since the epoch. */
  mtime?: number;
}

/** One directory entry: `longname` is the `ls -l` line; the server builds it when absent. */
export interface SFTPDirEntry {
  /** The entry name (no directory part). */
  filename: string;
  /** The `ls -l` line; built from `attrs` when absent. */
  longname?: string;
  /** The entry attributes (as lstat: a symlink is reported as a link). */
  attrs: SFTPAttributes;
}

/** How a file is opened (SSH_FXF_* flags, decoded). */
export interface SFTPOpenFlags {
  /** Open for reading. */
  read: boolean;
  /** Open for writing. */
  write: boolean;
  /** Every write goes to the end of the file. */
  append: boolean;
  /** Create the file if it does not exist. */
  create: boolean;
  /** Truncate an existing file to 0 bytes. */
  truncate: boolean;
  /** Fail if the file exists (with `create`). */
  exclusive: boolean;
}

/** An open file. `read` returns an empty Buffer at end of file. */
export interface SFTPFileHandle {
  /** Reads up to `length` bytes at `position`; an empty Buffer at end of file. */
  read(position: number, length: number): Promise<Buffer>;
  /**
   * Optional fast path: reads up to `length` bytes into `target` at `offset` and returns how many
   * (0 at end of file). The server then builds each DATA reply with one allocation and no copy.
   */
  readInto?(position: number, target: Buffer, offset: number, length: number): Promise<number>;
  /** Writes `data` at `position`. */
  write(position: number, data: Buffer): Promise<void>;
  /** Attributes of the open file. */
  stat(): Promise<SFTPAttributes>;
  /** Changes attributes of the open file (size truncates or extends). */
  setstat(attrs: SFTPAttributes): Promise<void>;
  /** fsync@openssh.com */
  sync(): Promise<void>;
  /** Closes the file; called once. */
  close(): Promise<void>;
}

/** An open directory: `next` returns a batch of entries, or `undefined` when there are no more. */
export interface SFTPDirHandle {
  /** The next batch of entries, or `undefined` when there are no more. */
  next(): Promise<SFTPDirEntry[] | undefined>;
  /** Closes the directory; called once. */
  close(): Promise<void>;
}

/** statvfs@openssh.com (fields of `struct statvfs`). */
export interface SFTPStatVFS {
  /** File system block size. */
  bsize: number;
  /** Fundamental block size. */
  frsize: number;
  /** Size in `frsize` units. */
  blocks: number;
  /** Free blocks. */
  bfree: number;
  /** Free blocks for unprivileged users. */
  bavail: number;
  /** Inodes. */
  files: number;
  /** Free inodes. */
  ffree: number;
  /** Free inodes for unprivileged users. */
  favail: number;
  /** File system id. */
  fsid: number;
  /** Mount flags (1 read-only, 2 no setuid). */
  flag: number;
  /** Maximum file name length. */
  namemax: number;
}

/** A filesystem an SFTP session serves: local disk ({@link LocalFileSystem}), or your own (database, object store, ...). */
export interface SFTPFileSystem {
  /** Opens (or creates, per `flags`) a file; `attrs` are the attributes for a new file. */
  open(path: string, flags: SFTPOpenFlags, attrs: SFTPAttributes): Promise<SFTPFileHandle>;
  /** Opens a directory for listing. */
  opendir(path: string): Promise<SFTPDirHandle>;
  /** Attributes of a path, following symlinks. */
  stat(path: string): Promise<SFTPAttributes>;
  /** Attributes of a path, not following a final symlink. */
  lstat(path: string): Promise<SFTPAttributes>;
  /** Changes attributes (size, mode, uid/gid, times) of a path. */
  setstat(path: string, attrs: SFTPAttributes): Promise<void>;
  /** lsetstat@openssh.com: as setstat, without following a final symlink. Optional. */
  lsetstat?(path: string, attrs: SFTPAttributes): Promise<void>;
  /** Removes a file. */
  remove(path: string): Promise<void>;
  /** Creates a directory. */
  mkdir(path: string, attrs: SFTPAttributes): Promise<void>;
  /** Removes an empty directory. */
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
   * The canonical virtual path of an existing path with symlinks resolved; NO_SUCH_FILE (or ENOENT)
   * when it does not exist. The session builds SSH_FXP_REALPATH and expand-path on it as OpenSSH's
   * sftp-server answers them (a missing last name is appended to its parent's realpath). Optional:
   * without it, the normalised path is returned when `lstat` finds it or `stat` finds its parent folder.
   */
  realpath?(path: string): Promise<string>;
  /**
   * users-groups-by-id@openssh.com: the user and group names of numeric ids, in request order, ''
   * where unknown (OpenSSH's sftp shows names in `ls -l` with it). Optional.
   */
  usersGroupsById?(uids: readonly number[], gids: readonly number[]): Promise<SFTPIdNames>;
}

/** Names of numeric ids, for users-groups-by-id@openssh.com. */
export interface SFTPIdNames {
  /** One name per requested uid, '' where unknown. */
  users: string[];
  /** One name per requested gid, '' where unknown. */
  groups: string[];
}
