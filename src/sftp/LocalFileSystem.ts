/**
 * {@link LocalFileSystem}: an {@link SFTPFileSystem} on local disk, jailed to a root directory.
 *
 * Jail: every operation resolves its path with the kernel's `realpath` (or that of the deepest
 * existing ancestor, for paths about to be created) and refuses with PERMISSION_DENIED whatever
 * lies outside the root, so a symlink inside pointing out (`ln -s /etc root/x`) is never followed.
 * Operations on a link itself (lstat, readlink, remove, rename, lsetstat) check only its directory.
 *
 * Remaining races (documented, not closed): the check and the system call are separate steps, so
 * a process that can rename directories inside the root concurrently (another SFTP request on a
 * pipelined session, or a local user) could swap a checked directory for a symlink in between.
 * `open` narrows this: it opens the canonical path with O_NOFOLLOW and then asks the kernel where
 * the descriptor really points (`/proc/self/fd`, Linux) before handing it out, but a file created
 * by O_CREAT in that window stays where it was created. `opendir` does the same on Linux. Other
 * calls are path-based without a re-check (mkdir, rmdir, remove, rename, link, symlink, chmod,
 * statvfs, the lstat of listed entries); they never follow a final symlink swapped in after the
 * check (stat uses lstat on the canonical path, times and owners lutimes/lchown, truncate an
 * O_NOFOLLOW descriptor) except chmod, which Linux offers only following.
 */
import { constants, promises as fsp, read as fsRead, write as fsWrite, type Dir, type Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  SFTPError,
  SFTPStatus,
  type SFTPAttributes,
  type SFTPDirEntry,
  type SFTPDirHandle,
  type SFTPFileHandle,
  type SFTPFileSystem,
  type SFTPOpenFlags,
  type SFTPStatVFS,
  type SFTPStatusCode,
} from './FileSystem';
import { Jail, JailEscapeError, climbsAbove, normalizeVirtual } from './localPaths';
import { formatLongname } from './longname';

/** Options of {@link LocalFileSystem}. */
export interface LocalFileSystemOptions {
  /** Refuse every change (writes, creates, setstat, remove, rename, links) with PERMISSION_DENIED. */
  readOnly?: boolean;
  /**
   * Bits cleared from the mode of every file and directory created, whether the client sent a
   * mode or not, like `sftp-server -u` (OpenSSH's client sends the local file's mode with every
   * upload). The process umask still applies on top, by the kernel. Default: none beyond it.
   */
  umask?: number;
  /** Reserved: links leading outside the root are never followed; only `false` is accepted. */
  followSymlinksOutside?: false;
}

/** Entries per SSH_FXP_READDIR answer. */
const DIR_BATCH = 100;
/** Longest single read: a short read is legal, and it bounds the memory one request can take. */
const MAX_READ = 1024 * 1024;
const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0;
// Opening a FIFO or device without it would block a libuv pool thread for every session.
const O_NONBLOCK = constants.O_NONBLOCK ?? 0;
const ST_RDONLY = 1;

/** strerror-like texts: Node's own messages name the real path, which clients must not see. */
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

function errnoOf(err: unknown): string | undefined {
  return err !== null && typeof err === 'object' && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

/** An SFTPError for `err` whose message names only the virtual path(s) in `label`. */
function toSFTPError(err: unknown, label: string): SFTPError {
  if (err instanceof SFTPError) return err;
  if (err instanceof JailEscapeError) return new SFTPError(SFTPStatus.PERMISSION_DENIED, `${label}: Permission denied`);
  const code = errnoOf(err);
  const status = (code && ERRNO_STATUS[code]) || SFTPStatus.FAILURE;
  const text = (code && ERRNO_TEXT[code]) || 'Failure';
  return new SFTPError(status, `${label}: ${text}`);
}

function denied(label: string): SFTPError {
  return new SFTPError(SFTPStatus.PERMISSION_DENIED, `${label}: Permission denied`);
}

/** SFTP attributes of a Stats: full st_mode, times truncated to whole seconds. */
function toAttrs(st: Stats): SFTPAttributes {
  return {
    size: st.size,
    uid: st.uid,
    gid: st.gid,
    mode: st.mode,
    atime: Math.floor(st.atimeMs / 1000),
    mtime: Math.floor(st.mtimeMs / 1000),
  };
}

/** The two times utimes needs, the missing one (SFTP sends both; be lenient) taken from `current`. */
async function timesFor(attrs: SFTPAttributes, current: () => Promise<Stats>): Promise<[number, number] | undefined> {
  if (attrs.atime === undefined && attrs.mtime === undefined) return undefined;
  if (attrs.atime !== undefined && attrs.mtime !== undefined) return [attrs.atime, attrs.mtime];
  const st = await current();
  return [attrs.atime ?? st.atimeMs / 1000, attrs.mtime ?? st.mtimeMs / 1000];
}

// uid/gid → name maps from /etc/passwd and /etc/group, shared and refreshed at most once a minute.
// Node has no getpwuid(); accounts known only to NSS (LDAP...) show numerically, as allowed.
const NAMES_TTL_MS = 60_000;
let namesCache: { at: number; users: Map<number, string>; groups: Map<number, string> } | undefined;
let namesLoading: Promise<void> | undefined;

async function readIdFile(file: string): Promise<Map<number, string>> {
  const map = new Map<number, string>();
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch {
    return map;
  }
  for (const line of text.split('\n')) {
    const [name, , id] = line.split(':');
    const n = Number(id);
    if (name && id !== undefined && Number.isInteger(n) && !map.has(n)) map.set(n, name);
  }
  return map;
}

async function idNames(): Promise<NonNullable<typeof namesCache>> {
  if (!namesCache || Date.now() - namesCache.at > NAMES_TTL_MS) {
    namesLoading ??= (async () => {
      const [users, groups] = await Promise.all([readIdFile('/etc/passwd'), readIdFile('/etc/group')]);
      try {
        const me = os.userInfo();
        if (!users.has(me.uid) && me.uid >= 0) users.set(me.uid, me.username);
      } catch {
        // No passwd entry for this process: numeric it is.
      }
      namesCache = { at: Date.now(), users, groups };
    })().finally(() => {
      namesLoading = undefined;
    });
    await namesLoading;
  }
  return namesCache!;
}

/** A directory entry with attrs from lstat (as sftp-server) and an OpenSSH longname. */
function dirEntry(filename: string, st: Stats, names: NonNullable<typeof namesCache>): SFTPDirEntry {
  const attrs = toAttrs(st);
  const longname = formatLongname(filename, {
    ...attrs,
    nlink: st.nlink,
    user: names.users.get(st.uid),
    group: names.groups.get(st.gid),
  });
  return { filename, longname, attrs };
}

/** An open local file; errors name the virtual path it was opened by. */
class LocalFileHandle implements SFTPFileHandle {
  private closed = false;

  constructor(
    private readonly fh: FileHandle,
    private readonly label: string,
    private readonly append: boolean,
    private readonly readOnly: boolean,
  ) {}

  async readInto(position: number, target: Buffer, offset: number, length: number): Promise<number> {
    try {
      const n = Math.min(Math.max(0, Math.trunc(length)), MAX_READ, target.length - offset);
      if (n <= 0) return 0;
      // The callback read on the descriptor: FileHandle.read costs several times more per call,
      // and a download makes one call per 32 KiB.
      return await new Promise<number>((resolve, reject) => fsRead(this.fh.fd, target, offset, n, position, (err, bytesRead) => (err ? reject(err) : resolve(bytesRead))));
    } catch (err) {
      throw toSFTPError(err, this.label);
    }
  }

  async read(position: number, length: number): Promise<Buffer> {
    try {
      const n = Math.min(Math.max(0, Math.trunc(length)), MAX_READ);
      if (n === 0) return Buffer.alloc(0);
      const buf = Buffer.allocUnsafeSlow(n);
      const { bytesRead } = await this.fh.read(buf, 0, n, position);
      return bytesRead === n ? buf : buf.subarray(0, bytesRead);
    } catch (err) {
      throw toSFTPError(err, this.label);
    }
  }

  async write(position: number, data: Buffer): Promise<void> {
    if (this.readOnly) throw denied(this.label);
    try {
      let done = 0;
      while (done < data.length) {
        // With O_APPEND the kernel appends whatever the offset; OpenSSH ignores it too.
        const at = this.append ? null : position + done;
        // The descriptor's callback API, as in readInto: an upload makes one call per 32 KiB.
        const bytesWritten = await new Promise<number>((resolve, reject) => fsWrite(this.fh.fd, data, done, data.length - done, at, (err, n) => (err ? reject(err) : resolve(n))));
        if (bytesWritten <= 0) throw Object.assign(new Error('short write'), { code: 'EIO' });
        done += bytesWritten;
      }
    } catch (err) {
      throw toSFTPError(err, this.label);
    }
  }

  async stat(): Promise<SFTPAttributes> {
    try {
      return toAttrs(await this.fh.stat());
    } catch (err) {
      throw toSFTPError(err, this.label);
    }
  }

  async setstat(attrs: SFTPAttributes): Promise<void> {
    if (this.readOnly) throw denied(this.label);
    try {
      // OpenSSH's order: size, permissions, times, owner.
      if (attrs.size !== undefined) await this.fh.truncate(attrs.size);
      if (attrs.mode !== undefined) await this.fh.chmod(attrs.mode & 0o7777);
      const times = await timesFor(attrs, () => this.fh.stat());
      if (times) await this.fh.utimes(times[0], times[1]);
      if (attrs.uid !== undefined || attrs.gid !== undefined) await this.fh.chown(attrs.uid ?? -1, attrs.gid ?? -1);
    } catch (err) {
      throw toSFTPError(err, this.label);
    }
  }

  async sync(): Promise<void> {
    try {
      await this.fh.sync();
    } catch (err) {
      throw toSFTPError(err, this.label);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.fh.close();
    } catch (err) {
      throw toSFTPError(err, this.label);
    }
  }
}

/** An open local directory, read in batches of {@link DIR_BATCH}; the first batch starts with `.` and `..`. */
class LocalDirHandle implements SFTPDirHandle {
  private dotsSent = false;
  private done = false;
  private closed = false;

  constructor(
    private readonly dir: Dir,
    /** Canonical real path of the directory. */
    private readonly real: string,
    /** Canonical real path of its parent, the directory itself at the root. */
    private readonly parentReal: string,
    private readonly label: string,
  ) {}

  async next(): Promise<SFTPDirEntry[] | undefined> {
    if (this.done || this.closed) return undefined;
    try {
      const names = await idNames();
      const batch: SFTPDirEntry[] = [];
      if (!this.dotsSent) {
        // readdir(3) yields . and .. and OpenSSH passes them on; `..` of the root is the root, never its real parent.
        this.dotsSent = true;
        const [dot, dotdot] = await Promise.all([fsp.lstat(this.real), fsp.lstat(this.parentReal)]);
        batch.push(dirEntry('.', dot, names), dirEntry('..', dotdot, names));
      }
      const filenames: string[] = [];
      while (filenames.length + batch.length < DIR_BATCH) {
        const ent = await this.dir.read();
        if (!ent) {
          this.done = true;
          break;
        }
        filenames.push(ent.name);
      }
      const stats = await Promise.all(filenames.map((n) => fsp.lstat(path.join(this.real, n)).catch(() => undefined)));
      filenames.forEach((n, i) => {
        const st = stats[i];
        // Gone since readdir: skipped, as sftp-server does.
        if (st) batch.push(dirEntry(n, st, names));
      });
      if (batch.length === 0 && this.done) return undefined;
      return batch;
    } catch (err) {
      throw toSFTPError(err, this.label);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.dir.close();
    } catch (err) {
      throw toSFTPError(err, this.label);
    }
  }
}

/**
 * A directory on local disk served over SFTP: virtual `/` is `root`, and nothing outside it can be
 * reached, through symlinks either (see the module comment for the checks and their limits).
 *
 * - Symlink targets: an absolute target is a virtual path and is stored as the real path inside
 *   the root (`root + target`), a relative one as given; both are refused (PERMISSION_DENIED) when
 *   they resolve outside the root. `readlink` gives absolute targets back as virtual paths and
 *   refuses targets outside the root rather than reveal host paths.
 * - Directory listings include `.` and `..` (as OpenSSH's sftp-server), attributes from lstat, and
 *   longnames as OpenSSH builds them, with user and group names from /etc/passwd and /etc/group
 *   (numeric ids when not found there).
 * - `lsetstat` cannot change a symlink's mode on Linux (no lchmod): the mode is skipped for links
 *   (their permission bits are unused there); times and owner use lutimes/lchown. It refuses a
 *   size, as OpenSSH does.
 * - File names are handled as UTF-8 strings; names that are not valid UTF-8 are listed mangled.
 */
export class LocalFileSystem implements SFTPFileSystem {
  private readonly jail: Jail;
  private readonly readOnly: boolean;
  private readonly umask: number;

  /**
   * @param root an existing directory; virtual `/` maps to it
   * @throws Error when `root` does not exist or is not a directory, or an option is invalid
   */
  constructor(root: string, options: LocalFileSystemOptions = {}) {
    const umask = options.umask ?? 0;
    if (!Number.isInteger(umask) || umask < 0 || umask > 0o777) throw new Error(`LocalFileSystem umask must be an integer between 0 and 0o777, got ${String(options.umask)}`);
    if (options.followSymlinksOutside !== undefined && options.followSymlinksOutside !== false) throw new Error('LocalFileSystem followSymlinksOutside must be false: links leading outside the root are never followed');
    this.jail = new Jail(root);
    this.readOnly = options.readOnly ?? false;
    this.umask = umask;
  }

  /** Runs `fn`, turning whatever it throws into an SFTPError that names only `label`. */
  private async guard<T>(label: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw toSFTPError(err, label);
    }
  }

  private writable(label: string): void {
    if (this.readOnly) throw denied(label);
  }

  /** Refuses operations that would remove, replace or move the root itself. */
  private notRoot(p: string, label: string): void {
    if (normalizeVirtual(p) === '/') throw denied(label);
  }

  async open(p: string, flags: SFTPOpenFlags, attrs: SFTPAttributes): Promise<SFTPFileHandle> {
    const writes = flags.write || flags.append || flags.truncate;
    return this.guard(p, async () => {
      if (writes || flags.create) this.writable(p);
      const real = await this.jail.resolve(p, true);
      let f = O_NOFOLLOW | O_NONBLOCK;
      f |= writes ? (flags.read ? constants.O_RDWR : constants.O_WRONLY) : constants.O_RDONLY;
      if (flags.append) f |= constants.O_APPEND;
      if (flags.create) f |= constants.O_CREAT;
      if (flags.create && flags.exclusive) f |= constants.O_EXCL;
      if (flags.truncate) f |= constants.O_TRUNC;
      const mode = (attrs.mode ?? 0o666) & 0o7777 & ~this.umask;
      // `real` is canonical, so its last component is no symlink: O_NOFOLLOW only trips on a swap.
      const fh = await fsp.open(real, f, mode);
      try {
        const st = await fh.stat();
        if (!(await this.jail.fdIsInside(fh.fd, real, st))) throw new JailEscapeError();
        if (!st.isFile() && !st.isDirectory()) throw new SFTPError(SFTPStatus.FAILURE, `${p}: Not a regular file`);
      } catch (err) {
        await fh.close().catch(() => undefined);
        throw err;
      }
      return new LocalFileHandle(fh, p, flags.append, this.readOnly);
    });
  }

  async opendir(p: string): Promise<SFTPDirHandle> {
    return this.guard(p, async () => {
      const real = await this.jail.resolve(p, true);
      const dir = await this.openCheckedDir(real);
      const v = this.jail.toVirtual(real) ?? '/';
      const parentReal = v === '/' ? real : this.jail.toReal(path.posix.dirname(v));
      return new LocalDirHandle(dir, real, parentReal, p);
    });
  }

  /**
   * Opens a canonical directory path. On Linux the directory is first opened with O_NOFOLLOW and
   * checked where the kernel says it is, then listed through its `/proc/self/fd` link, so a
   * directory swapped for a symlink after the check is not listed.
   */
  private async openCheckedDir(real: string): Promise<Dir> {
    if (process.platform !== 'linux' || !constants.O_DIRECTORY) return fsp.opendir(real, { bufferSize: 64 });
    const fh = await fsp.open(real, constants.O_RDONLY | constants.O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK);
    try {
      const st = await fh.stat();
      if (!(await this.jail.fdIsInside(fh.fd, real, st))) throw new JailEscapeError();
      try {
        return await fsp.opendir(`/proc/self/fd/${fh.fd}`, { bufferSize: 64 });
      } catch {
        // No /proc: fdIsInside fell back to comparing with `real`, which is what gets listed.
        return await fsp.opendir(real, { bufferSize: 64 });
      }
    } finally {
      await fh.close().catch(() => undefined);
    }
  }

  async stat(p: string): Promise<SFTPAttributes> {
    // lstat of the canonical path: its last component is no symlink, unless one was swapped in, which is then not followed.
    return this.guard(p, async () => toAttrs(await fsp.lstat(await this.jail.resolve(p, true))));
  }

  async lstat(p: string): Promise<SFTPAttributes> {
    return this.guard(p, async () => toAttrs(await fsp.lstat(await this.jail.resolve(p, false))));
  }

  async setstat(p: string, attrs: SFTPAttributes): Promise<void> {
    return this.guard(p, async () => {
      this.writable(p);
      const real = await this.jail.resolve(p, true);
      if (attrs.size !== undefined) {
        // Through a descriptor opened without following, so a swapped-in symlink is not truncated through.
        const fh = await fsp.open(real, constants.O_WRONLY | O_NOFOLLOW | O_NONBLOCK);
        try {
          await fh.truncate(attrs.size);
        } finally {
          await fh.close();
        }
      }
      if (attrs.mode !== undefined) await fsp.chmod(real, attrs.mode & 0o7777);
      const times = await timesFor(attrs, () => fsp.stat(real));
      if (times) await fsp.lutimes(real, times[0], times[1]);
      if (attrs.uid !== undefined || attrs.gid !== undefined) await fsp.lchown(real, attrs.uid ?? -1, attrs.gid ?? -1);
    });
  }

  async lsetstat(p: string, attrs: SFTPAttributes): Promise<void> {
    return this.guard(p, async () => {
      this.writable(p);
      if (attrs.size !== undefined) throw new SFTPError(SFTPStatus.BAD_MESSAGE, `${p}: lsetstat cannot change the size`);
      const real = await this.jail.resolve(p, false);
      const st = await fsp.lstat(real);
      if (attrs.mode !== undefined) {
        const mode = attrs.mode & 0o7777;
        if (!st.isSymbolicLink()) await fsp.chmod(real, mode);
        // Linux has no lchmod (and ignores a link's mode); macOS has one.
        else if (process.platform === 'darwin') await fsp.lchmod(real, mode);
      }
      const times = await timesFor(attrs, async () => st);
      if (times) await fsp.lutimes(real, times[0], times[1]);
      if (attrs.uid !== undefined || attrs.gid !== undefined) await fsp.lchown(real, attrs.uid ?? -1, attrs.gid ?? -1);
    });
  }

  async remove(p: string): Promise<void> {
    return this.guard(p, async () => {
      this.writable(p);
      this.notRoot(p, p);
      const real = await this.jail.resolve(p, false);
      // unlink(2) says EISDIR on Linux but EPERM elsewhere: answer FAILURE everywhere.
      if ((await fsp.lstat(real)).isDirectory()) throw new SFTPError(SFTPStatus.FAILURE, `${p}: Is a directory`);
      await fsp.unlink(real);
    });
  }

  async mkdir(p: string, attrs: SFTPAttributes): Promise<void> {
    return this.guard(p, async () => {
      this.writable(p);
      const real = await this.jail.resolve(p, false);
      await fsp.mkdir(real, { mode: (attrs.mode ?? 0o777) & 0o7777 & ~this.umask });
    });
  }

  async rmdir(p: string): Promise<void> {
    return this.guard(p, async () => {
      this.writable(p);
      this.notRoot(p, p);
      await fsp.rmdir(await this.jail.resolve(p, false));
    });
  }

  async rename(from: string, to: string, overwrite: boolean): Promise<void> {
    const label = `${from} -> ${to}`;
    return this.guard(label, async () => {
      this.writable(label);
      this.notRoot(from, label);
      this.notRoot(to, label);
      const src = await this.jail.resolve(from, false);
      const dst = await this.jail.resolve(to, false);
      if (overwrite) return fsp.rename(src, dst);
      const exists = (): SFTPError => new SFTPError(SFTPStatus.FAILURE, `${to}: File exists`);
      const checkedRename = async (): Promise<void> => {
        try {
          await fsp.lstat(dst);
        } catch (err) {
          if (errnoOf(err) !== 'ENOENT') throw err;
          return fsp.rename(src, dst);
        }
        throw exists();
      };
      if (!(await fsp.lstat(src)).isFile()) return checkedRename();
      // As sftp-server: link() fails atomically when `to` exists, then drop the old name.
      try {
        await fsp.link(src, dst);
      } catch (err) {
        const code = errnoOf(err);
        if (code === 'EEXIST') throw exists();
        // Filesystems without hard links (and protected_hardlinks' EPERM): stat, then rename.
        if (code === 'EXDEV' || code === 'EPERM' || code === 'ENOSYS' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'EMLINK') return checkedRename();
        throw err;
      }
      try {
        await fsp.unlink(src);
      } catch (err) {
        await fsp.unlink(dst).catch(() => undefined);
        throw err;
      }
    });
  }

  async readlink(p: string): Promise<string> {
    return this.guard(p, async () => {
      const real = await this.jail.resolve(p, false);
      const target = await fsp.readlink(real);
      // Targets leading out of the root would name host paths: those stay with the server.
      if (target.startsWith('/')) {
        const v = this.jail.toVirtual(target);
        if (v === undefined || climbsAbove(0, v)) throw new JailEscapeError();
        return v;
      }
      if (climbsAbove(this.jail.depthOf(path.dirname(real)), target)) throw new JailEscapeError();
      return target;
    });
  }

  async symlink(linkPath: string, targetPath: string): Promise<void> {
    const label = `${linkPath} -> ${targetPath}`;
    return this.guard(label, async () => {
      this.writable(label);
      const real = await this.jail.resolve(linkPath, false);
      const dir = path.dirname(real);
      let stored: string;
      let resolved: string;
      if (targetPath.startsWith('/')) {
        // A virtual path: `/../x` is refused rather than clamped, so the link means what it says.
        if (climbsAbove(0, targetPath)) throw new JailEscapeError();
        stored = this.jail.root === '/' ? targetPath : this.jail.root + targetPath;
        resolved = stored;
      } else {
        if (climbsAbove(this.jail.depthOf(dir), targetPath)) throw new JailEscapeError();
        stored = targetPath;
        resolved = `${dir}/${targetPath}`;
      }
      // The kernel's view (symlinks on the way included) must stay inside; a dangling target is fine.
      await this.jail.canonical(resolved);
      await fsp.symlink(stored, real);
    });
  }

  async link(existingPath: string, newPath: string): Promise<void> {
    const label = `${existingPath} -> ${newPath}`;
    return this.guard(label, async () => {
      this.writable(label);
      const src = await this.jail.resolve(existingPath, false);
      const dst = await this.jail.resolve(newPath, false);
      // link(2) does not follow on Linux, but a copy of a link leading out is refused all the same.
      if ((await fsp.lstat(src)).isSymbolicLink()) await this.jail.canonical(src);
      await fsp.link(src, dst);
    });
  }

  async statvfs(p: string): Promise<SFTPStatVFS> {
    return this.guard(p, async () => {
      const s = await fsp.statfs(await this.jail.resolve(p, true));
      return {
        bsize: s.bsize,
        frsize: s.bsize,
        blocks: s.blocks,
        bfree: s.bfree,
        bavail: s.bavail,
        files: s.files,
        ffree: s.ffree,
        favail: s.ffree,
        fsid: 0,
        flag: this.readOnly ? ST_RDONLY : 0,
        namemax: 255,
      };
    });
  }

  async realpath(p: string): Promise<string> {
    return this.guard(p, async () => {
      const v = this.jail.toVirtual(await fsp.realpath(this.jail.toReal(p)));
      if (v === undefined) throw new JailEscapeError();
      return v;
    });
  }
}
