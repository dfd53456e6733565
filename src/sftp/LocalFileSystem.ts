/**
 * {@link LocalFileSystem}: an {@link SFTPFileSystem} on local disk, jailed to a root directory.
 *
 * Jail: every operation walks its path from the root with {@link JailWalker} at the moment it
 * runs, one component at a time, and acts on the last name relative to the directory the walk
 * holds (Linux: through `/proc/self/fd` descriptors, so a directory swapped for a symlink between
 * the check and the call changes nothing; see `jailWalk.ts`). Symlinks inside the root are
 * followed by the walker, inside the root; one leading out is refused with PERMISSION_DENIED.
 * Operations on a link itself (lstat, readlink, remove, rename, lsetstat, link) do not follow it.
 *
 * Without /proc (macOS): the same walk on real paths, and the call on the resulting path: a
 * concurrent rename inside the root between the two can still redirect the call. `open` then
 * checks the opened descriptor against the path (device and inode).
 *
 * Names are bytes: every path reaches the kernel as the Buffer {@link encodeFileName} gives, and
 * directory entries and link targets come back through {@link decodeFileName}, so a name that is
 * not UTF-8 is listed, opened, renamed and removed as it is on disk.
 */
import { constants, promises as fsp, type Stats } from 'node:fs';
import { checkOwnerChange, clientMode } from './attrPolicy';
import { errnoError, errnoOf } from './errno';
import { decodeFileName, encodeFileName } from './fileNames';
import {
  SFTPError,
  SFTPStatus,
  type SFTPAttributes,
  type SFTPDirHandle,
  type SFTPFileHandle,
  type SFTPFileSystem,
  type SFTPIdNames,
  type SFTPOpenFlags,
  type SFTPStatVFS,
} from './FileSystem';
import { idNames } from './idNames';
import { DIR_FLAGS, JailWalker, type Place } from './jailWalk';
import { Jail, JailEscapeError, climbsAbove, normalizeVirtual } from './localPaths';
import { timesFor, toAttrs } from './localAttrs';
import { LocalDirHandle } from './LocalDirHandle';
import { denied, toSFTPError } from './localErrors';
import { type HandlePolicy, LocalFileHandle } from './LocalFileHandle';

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
  /**
   * Keep the setuid and setgid bits (04000, 02000) of modes clients set: setstat, fsetstat,
   * lsetstat, and the attributes of open (create) and mkdir. Default false: they are cleared, so a
   * daemon running as root cannot be made to create a setuid-root program. sftp-server running as
   * the user can only make files setuid to that user; turn this on only when the daemon does the
   * same (runs as the user) or the filesystem is mounted `nosuid`.
   */
  allowSetuid?: boolean;
  /**
   * Let clients change owner and group to any ids the daemon process may set. Default false: the
   * owner never changes and the group changes only on files the process owns, to one of the
   * process's own groups (what chown(2) allows an unprivileged process); other changes are
   * refused with PERMISSION_DENIED. Ids sent back unchanged always pass.
   */
  allowChown?: boolean;
}

const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0;
// Opening a FIFO or device without it would block a libuv pool thread for every session.
const O_NONBLOCK = constants.O_NONBLOCK ?? 0;
const ST_RDONLY = 1;

/**
 * A directory on local disk served over SFTP: virtual `/` is `root`, and nothing outside it can be
 * reached, through symlinks either (see the module comment and `jailWalk.ts`).
 *
 * - Symlink targets: an absolute target is a virtual path and is stored as the host path inside
 *   the root (`root + target`), a relative one as given; both are refused (PERMISSION_DENIED) when
 *   they resolve outside the root from where the link is created. Links are followed only by the
 *   jail's walk, which decides again on every use, so a link that a rename moved (or whose folder
 *   it moved) to where it would lead out is refused when used. `readlink` gives absolute targets
 *   back as virtual paths and refuses targets leading out rather than reveal host paths.
 * - Directory listings include `.` and `..` (as OpenSSH's sftp-server), attributes from lstat, and
 *   longnames as OpenSSH builds them, with user and group names from /etc/passwd and /etc/group
 *   (numeric ids when not found there).
 * - `lsetstat` cannot change a symlink's mode on Linux (no lchmod): the mode is skipped for links
 *   (their permission bits are unused there); times and owner use lutimes/lchown. It refuses a
 *   size, as OpenSSH does.
 * - Modes lose setuid and setgid, and owners do not change, unless `allowSetuid` / `allowChown`.
 * - File names are bytes: see {@link decodeFileName}.
 */
export class LocalFileSystem implements SFTPFileSystem {
  private readonly walker: JailWalker;
  private readonly jail: Jail;
  private readonly policy: HandlePolicy;
  private readonly umask: number;

  /**
   * @param root an existing directory; virtual `/` maps to it
   * @throws Error when `root` does not exist or is not a directory, or an option is invalid
   */
  constructor(root: string, options: LocalFileSystemOptions = {}) {
    const umask = options.umask ?? 0;
    if (!Number.isInteger(umask) || umask < 0 || umask > 0o777)
      throw new Error(`LocalFileSystem umask must be an integer between 0 and 0o777, got ${String(options.umask)}`);
    if (options.followSymlinksOutside !== undefined && options.followSymlinksOutside !== false)
      throw new Error('LocalFileSystem followSymlinksOutside must be false: links leading outside the root are never followed');
    for (const name of ['readOnly', 'allowSetuid', 'allowChown'] as const) {
      if (options[name] !== undefined && typeof options[name] !== 'boolean')
        throw new Error(`LocalFileSystem ${name} must be a boolean, got ${String(options[name])}`);
    }
    this.jail = new Jail(root);
    this.walker = new JailWalker(this.jail);
    this.policy = {
      readOnly: options.readOnly ?? false,
      allowSetuid: options.allowSetuid ?? false,
      allowChown: options.allowChown ?? false,
    };
    this.umask = umask;
  }

  /**
   * Whether paths are walked through `/proc/self/fd` descriptors (Linux), closing the races of
   * the path mode used elsewhere (see the module comment).
   */
  get descriptorWalk(): boolean {
    return this.walker.descriptors;
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
    if (this.policy.readOnly) throw denied(label);
  }

  /** Refuses operations that would remove, replace or move the root itself. */
  private notRoot(p: string, label: string): void {
    if (normalizeVirtual(p) === '/') throw denied(label);
  }

  /** The normalised path, checked for NUL. */
  private v(p: string): string {
    return normalizeVirtual(p);
  }

  /** The mode a created file or directory gets: the client's (or `fallback`), less setuid/setgid and the umask. */
  private createMode(attrs: SFTPAttributes, fallback: number): number {
    return clientMode(attrs.mode ?? fallback, this.policy.allowSetuid) & ~this.umask;
  }

  /**
   * In path mode, an opened descriptor must be the object the walk named (a swap between the walk
   * and the open is caught, not prevented). Descriptor mode needs no check: the open was relative
   * to the walked directory.
   */
  private async samePlace(st: Stats, place: Place): Promise<void> {
    if (this.walker.descriptors) return;
    const now = await fsp.lstat(this.walker.pathOf(place)).catch(() => undefined);
    if (!now || now.dev !== st.dev || now.ino !== st.ino) throw new JailEscapeError();
  }

  async open(p: string, flags: SFTPOpenFlags, attrs: SFTPAttributes): Promise<SFTPFileHandle> {
    const writes = flags.write || flags.append || flags.truncate;
    return this.guard(p, async () => {
      if (writes || flags.create) this.writable(p);
      let f = O_NOFOLLOW | O_NONBLOCK;
      f |= writes ? (flags.read ? constants.O_RDWR : constants.O_WRONLY) : constants.O_RDONLY;
      if (flags.append) f |= constants.O_APPEND;
      if (flags.create) f |= constants.O_CREAT;
      if (flags.create && flags.exclusive) f |= constants.O_EXCL;
      if (flags.truncate) f |= constants.O_TRUNC;
      const mode = this.createMode(attrs, 0o666);
      return this.walker.use(this.v(p), true, async (place) => {
        // The walk expanded a final symlink; O_NOFOLLOW trips only on one swapped in since (ELOOP).
        const fh = await fsp.open(this.walker.pathOf(place), f, mode);
        try {
          const st = await fh.stat();
          await this.samePlace(st, place);
          if (!st.isFile() && !st.isDirectory()) throw new SFTPError(SFTPStatus.FAILURE, `${p}: Not a regular file`);
        } catch (err) {
          await fh.close().catch(() => undefined);
          throw err;
        }
        return new LocalFileHandle(fh, p, flags.append, this.policy);
      });
    });
  }

  async opendir(p: string): Promise<SFTPDirHandle> {
    return this.guard(p, async () =>
      this.walker.use(this.v(p), true, async (place) => {
        const parent = await fsp.stat(this.walker.dirPathOf(place.dir));
        if (!this.walker.descriptors) {
          const real = this.walker.pathOf(place);
          const dot = await fsp.lstat(real);
          if (!dot.isDirectory()) throw errnoError(dot.isSymbolicLink() ? 'ELOOP' : 'ENOTDIR');
          const dir = await fsp.opendir(real, { bufferSize: 64, encoding: 'buffer' as BufferEncoding });
          return new LocalDirHandle(
            dir,
            Buffer.concat([real, Buffer.from('/')]),
            undefined,
            [dot, place.name === undefined ? dot : parent],
            p,
          );
        }
        // O_PATH: a directory with search but no read permission still opens, as a walk step would.
        const handle = await fsp.open(this.walker.pathOf(place), DIR_FLAGS);
        try {
          const dot = await handle.stat();
          const base = `/proc/self/fd/${handle.fd}`;
          const dir = await fsp.opendir(base, { bufferSize: 64, encoding: 'buffer' as BufferEncoding });
          return new LocalDirHandle(dir, Buffer.from(`${base}/`), handle, [dot, place.name === undefined ? dot : parent], p);
        } catch (err) {
          await handle.close().catch(() => undefined);
          throw err;
        }
      }),
    );
  }

  async stat(p: string): Promise<SFTPAttributes> {
    return this.guard(p, async () =>
      this.walker.use(this.v(p), true, async (place) => {
        if (place.stats) return toAttrs(place.stats);
        const st = await fsp.lstat(this.walker.pathOf(place));
        // A symlink here was swapped in after the walk expanded the name.
        if (st.isSymbolicLink()) throw errnoError('ELOOP');
        return toAttrs(st);
      }),
    );
  }

  async lstat(p: string): Promise<SFTPAttributes> {
    return this.guard(p, async () =>
      this.walker.use(this.v(p), false, async (place) => toAttrs(await fsp.lstat(this.walker.pathOf(place)))),
    );
  }

  /** Applies attributes to the object at `place` (a symlink only when `lsetstat`). */
  private async applyAttrs(place: Place, attrs: SFTPAttributes, label: string, onLink: boolean): Promise<void> {
    const pinned = await this.walker.pin(place, onLink);
    try {
      const st = pinned.stats;
      const changesOwner = attrs.uid !== undefined || attrs.gid !== undefined;
      if (changesOwner) checkOwnerChange(st, attrs.uid, attrs.gid, this.policy.allowChown, label);
      const isLink = st.isSymbolicLink();
      // Through the pinned object (descriptor mode: `/proc/self/fd/M`, which the kernel follows to
      // it and nowhere else); path mode acts on the path without following where it can.
      const viaPath = !this.walker.descriptors || isLink;
      const target = isLink ? this.walker.pathOf(place) : pinned.target;
      if (attrs.size !== undefined) {
        const fh = await fsp.open(target, constants.O_WRONLY | O_NONBLOCK | (this.walker.descriptors ? 0 : O_NOFOLLOW));
        try {
          await fh.truncate(attrs.size);
        } finally {
          await fh.close();
        }
      }
      if (attrs.mode !== undefined) {
        const mode = clientMode(attrs.mode, this.policy.allowSetuid);
        // Linux has no lchmod (and ignores a link's mode); macOS has one.
        if (!isLink) await fsp.chmod(target, mode);
        else if (process.platform === 'darwin') await fsp.lchmod(target, mode);
      }
      const times = await timesFor(attrs, async () => st);
      if (times) await (viaPath ? fsp.lutimes(target, times[0], times[1]) : fsp.utimes(target, times[0], times[1]));
      if (changesOwner)
        await (viaPath ? fsp.lchown(target, attrs.uid ?? -1, attrs.gid ?? -1) : fsp.chown(target, attrs.uid ?? -1, attrs.gid ?? -1));
    } finally {
      pinned.close();
    }
  }

  async setstat(p: string, attrs: SFTPAttributes): Promise<void> {
    return this.guard(p, async () => {
      this.writable(p);
      await this.walker.use(this.v(p), true, (place) => this.applyAttrs(place, attrs, p, false));
    });
  }

  async lsetstat(p: string, attrs: SFTPAttributes): Promise<void> {
    return this.guard(p, async () => {
      this.writable(p);
      if (attrs.size !== undefined) throw new SFTPError(SFTPStatus.BAD_MESSAGE, `${p}: lsetstat cannot change the size`);
      await this.walker.use(this.v(p), false, (place) => this.applyAttrs(place, attrs, p, true));
    });
  }

  async remove(p: string): Promise<void> {
    return this.guard(p, async () => {
      this.writable(p);
      this.notRoot(p, p);
      await this.walker.use(this.v(p), false, async (place) => {
        const at = this.walker.pathOf(place);
        // unlink(2) says EISDIR on Linux but EPERM elsewhere: answer FAILURE everywhere.
        if ((await fsp.lstat(at)).isDirectory()) throw new SFTPError(SFTPStatus.FAILURE, `${p}: Is a directory`);
        await fsp.unlink(at);
      });
    });
  }

  async mkdir(p: string, attrs: SFTPAttributes): Promise<void> {
    return this.guard(p, async () => {
      this.writable(p);
      await this.walker.use(this.v(p), false, async (place) => {
        await fsp.mkdir(this.walker.pathOf(place), { mode: this.createMode(attrs, 0o777) });
      });
    });
  }

  async rmdir(p: string): Promise<void> {
    return this.guard(p, async () => {
      this.writable(p);
      this.notRoot(p, p);
      await this.walker.use(this.v(p), false, async (place) => fsp.rmdir(this.walker.pathOf(place)));
    });
  }

  async rename(from: string, to: string, overwrite: boolean): Promise<void> {
    const label = `${from} -> ${to}`;
    return this.guard(label, async () => {
      this.writable(label);
      this.notRoot(from, label);
      this.notRoot(to, label);
      await this.walker.use(this.v(from), false, (srcPlace) =>
        this.walker.use(this.v(to), false, async (dstPlace) => {
          const src = this.walker.pathOf(srcPlace);
          const dst = this.walker.pathOf(dstPlace);
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
            if (
              code === 'EXDEV' ||
              code === 'EPERM' ||
              code === 'ENOSYS' ||
              code === 'ENOTSUP' ||
              code === 'EOPNOTSUPP' ||
              code === 'EMLINK'
            )
              return checkedRename();
            throw err;
          }
          try {
            await fsp.unlink(src);
          } catch (err) {
            await fsp.unlink(dst).catch(() => undefined);
            throw err;
          }
        }),
      );
    });
  }

  async readlink(p: string): Promise<string> {
    return this.guard(p, async () =>
      this.walker.use(this.v(p), false, async (place) => {
        const target = decodeFileName(await fsp.readlink(this.walker.pathOf(place), { encoding: 'buffer' }));
        // Targets leading out of the root, from where the link is now, would name host paths: those stay with the server.
        if (target.startsWith('/')) {
          const v = this.jail.toVirtual(target);
          if (v === undefined || climbsAbove(0, v)) throw new JailEscapeError();
          return v;
        }
        if (climbsAbove(place.dir.parts.length, target)) throw new JailEscapeError();
        return target;
      }),
    );
  }

  /**
   * Refuses (JailEscapeError) when a path, walked now from the root (`..` included, physically),
   * leads out of the root; a missing name is fine.
   */
  private async leadsInside(virtualPath: string): Promise<void> {
    try {
      await this.walker.use(virtualPath, true, async () => undefined);
    } catch (err) {
      if (err instanceof JailEscapeError) throw err;
    }
  }

  async symlink(linkPath: string, targetPath: string): Promise<void> {
    const label = `${linkPath} -> ${targetPath}`;
    return this.guard(label, async () => {
      this.writable(label);
      if (targetPath.includes('\0')) throw errnoError('EINVAL');
      await this.walker.use(this.v(linkPath), false, async (place) => {
        // Checked from where the link is made, as walked now (not from the lexical path).
        const depth = place.dir.parts.length;
        let stored: string;
        let resolved: string;
        if (targetPath.startsWith('/')) {
          // A virtual path: `/../x` is refused rather than clamped, so the link means what it says.
          if (climbsAbove(0, targetPath)) throw new JailEscapeError();
          stored = this.jail.toHost(targetPath);
          resolved = targetPath;
        } else {
          if (climbsAbove(depth, targetPath)) throw new JailEscapeError();
          stored = targetPath;
          resolved = `/${[...place.dir.parts, targetPath].join('/')}`;
        }
        // Through links on the way, `..` taken where they lead (not lexically): what it names now must be inside (dangling is fine).
        await this.leadsInside(resolved);
        await fsp.symlink(encodeFileName(stored), this.walker.pathOf(place));
      });
    });
  }

  async link(existingPath: string, newPath: string): Promise<void> {
    const label = `${existingPath} -> ${newPath}`;
    return this.guard(label, async () => {
      this.writable(label);
      await this.walker.use(this.v(existingPath), false, (srcPlace) =>
        this.walker.use(this.v(newPath), false, async (dstPlace) => {
          const src = this.walker.pathOf(srcPlace);
          // link(2) does not follow on Linux, but a copy of a link leading out is refused all the same.
          if ((await fsp.lstat(src)).isSymbolicLink()) await this.leadsInside(this.v(existingPath));
          await fsp.link(src, this.walker.pathOf(dstPlace));
        }),
      );
    });
  }

  async statvfs(p: string): Promise<SFTPStatVFS> {
    return this.guard(p, async () =>
      this.walker.use(this.v(p), true, async (place) => {
        const pinned = await this.walker.pin(place, false);
        try {
          const s = await fsp.statfs(pinned.target);
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
            flag: this.policy.readOnly ? ST_RDONLY : 0,
            namemax: 255,
          };
        } finally {
          pinned.close();
        }
      }),
    );
  }

  async realpath(p: string): Promise<string> {
    return this.guard(p, async () =>
      this.walker.use(this.v(p), true, async (place) => {
        if (!place.stats && place.name !== undefined) {
          const st = await fsp.lstat(this.walker.pathOf(place));
          if (st.isSymbolicLink()) throw errnoError('ELOOP');
        }
        return this.walker.virtualOf(place);
      }),
    );
  }

  async usersGroupsById(uids: readonly number[], gids: readonly number[]): Promise<SFTPIdNames> {
    const names = await idNames();
    return { users: uids.map((u) => names.users.get(u) ?? ''), groups: gids.map((g) => names.groups.get(g) ?? '') };
  }
}
