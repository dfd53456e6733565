/**
 * {@link JailWalker}: finds what a virtual path names inside a {@link Jail}, one component at a
 * time, deciding every component against the root at the moment of use.
 *
 * Descriptor mode (Linux with /proc): every directory on the way is opened with
 * `O_PATH | O_NOFOLLOW | O_DIRECTORY` through the `/proc/self/fd/N` magic link of the directory
 * before it. The kernel resolves `/proc/self/fd/N/name` inside the very directory N holds, even
 * after it was renamed, so the walk cannot be redirected by a directory swapped for a symlink
 * between two steps. The operation itself is then made on `/proc/self/fd/N/<last name>` by a call
 * that does not follow a final symlink (open with O_NOFOLLOW, mkdir, unlink, rename, link,
 * lstat, lutimes...), or on `/proc/self/fd/M` of the object opened with O_PATH (chmod, utimes,
 * chown, statfs, reopen to truncate). Node has no openat(); this is the same resolution through
 * the magic links, verified by `test/sftp-jail.test.ts` on the running kernel.
 *
 * Symlinks are never followed by the kernel: the walker reads them and goes on inside the root
 * with chroot semantics (RESOLVE_IN_ROOT: an absolute target, stored as the host path under the
 * root, starts again at the root), except that a `..` above the root is refused with
 * {@link JailEscapeError}, as the jail has always refused links leading out, and so is an
 * absolute target elsewhere on the host. `..` never asks the kernel for a parent: it walks from
 * the root again to the parent as walked. Nothing is cached between walks: a link or folder
 * renamed since (the plant of issue 16.1) is decided again where it now is.
 *
 * Path mode (no /proc: macOS, some containers): the same walk with lstat on real paths, and the
 * operation on the resulting real path. A concurrent rename between the walk and the call can
 * still swap a directory for a symlink there: weaker, and documented so.
 *
 * Trust: the root's own path (an administrator's choice) and the directories walked stay where a
 * client can move them, inside the root; a local user who moves a directory out of the root while
 * it is being walked is outside this model.
 */
import {
  close as fsClose,
  closeSync,
  constants,
  fstat as fsFstat,
  fstatSync,
  lstat as fsLstat,
  open as fsOpen,
  openSync,
  promises as fsp,
  statSync,
  type Stats,
} from 'node:fs';
import { decodeFileName, encodeFileName } from './fileNames';
import { errnoError, errnoOf } from './errno';
import { JailEscapeError, type Jail } from './localPaths';

/** Linux's O_PATH (generic value; every architecture Node ships for on Linux uses it). */
const O_PATH_LINUX = 0o10000000;
/** Flags of a directory opened as a base for the next step (descriptor mode). */
export const DIR_FLAGS = process.platform === 'linux' ? O_PATH_LINUX | constants.O_NOFOLLOW | constants.O_DIRECTORY : 0;
/** Flags pinning a final object (never a symlink's target) for attribute changes. */
const PIN_FLAGS = process.platform === 'linux' ? O_PATH_LINUX | constants.O_NOFOLLOW : 0;
/** Symlinks expanded in one lookup, as Linux's MAXSYMLINKS. */
const MAX_HOPS = 40;
/** Components walked in one lookup, re-walks for `..` included: bounds the work one request costs. */
const MAX_STEPS = 8192;
/** Longest virtual path accepted (Linux's PATH_MAX): a longer one is ENAMETOOLONG, as sftp-server would get. */
const PATH_MAX = 4096;

/** Whether this process can walk through `/proc/self/fd` magic links (probed once). */
let descriptorWalkProbe: boolean | undefined;

/**
 * Probes descriptor mode on this system: O_PATH opens a directory, and a name below its
 * `/proc/self/fd/N` link resolves inside it.
 */
export function descriptorWalkAvailable(): boolean {
  if (descriptorWalkProbe !== undefined) return descriptorWalkProbe;
  descriptorWalkProbe = false;
  if (process.platform !== 'linux') return false;
  let fd = -1;
  try {
    fd = openSync('/', DIR_FLAGS);
    const viaFd = fstatSync(fd);
    const viaLink = statSync(`/proc/self/fd/${fd}/.`);
    descriptorWalkProbe = viaFd.isDirectory() && viaFd.dev === viaLink.dev && viaFd.ino === viaLink.ino;
  } catch {
    descriptorWalkProbe = false;
  } finally {
    if (fd >= 0) closeSync(fd);
  }
  return descriptorWalkProbe;
}

/** Tests only: force path mode (`false`) or descriptor mode for filesystems made from now on; `undefined` probes again. */
export function overrideDescriptorWalk(value: boolean | undefined): void {
  descriptorWalkProbe = value;
}

/** A directory reached by a walk: names in it are `base + '/' + name`. */
export class WalkDir {
  constructor(
    /** The root's real path (`''` for `/`), `/proc/self/fd/N`, or in path mode a real path. */
    readonly base: string,
    /** The descriptor behind `base` (closed by {@link close}), or -1. */
    private fd: number,
    /** The virtual components of this directory, as walked from the root. */
    readonly parts: readonly string[],
  ) {}

  /** Closes the descriptor, once; later calls do nothing. */
  close(): void {
    if (this.fd < 0) return;
    const fd = this.fd;
    this.fd = -1;
    fsClose(fd, () => undefined);
  }
}

/** What a path names: a name in a walked directory, or the root itself (`name` undefined). */
export interface Place {
  /** The directory holding it (for the root: the root). */
  readonly dir: WalkDir;
  /** Its name in `dir`; undefined for the root itself. */
  readonly name: string | undefined;
  /** Its lstat, when the walk looked (a followed lookup of an existing name). */
  readonly stats?: Stats;
}

/** An object opened with O_PATH (descriptor mode) or named by its real path (path mode). */
export interface Pinned {
  /** Its attributes, from the descriptor (or lstat of the path). */
  readonly stats: Stats;
  /** Where to apply an operation to it: `/proc/self/fd/M`, or the real path. */
  readonly target: Buffer;
  /** Closes the descriptor, if any. */
  close(): void;
}

interface Budget {
  hops: number;
  steps: number;
}

const promisedOpen = (p: Buffer, flags: number, mode?: number): Promise<number> =>
  new Promise((resolve, reject) => fsOpen(p, flags, mode, (err, fd) => (err ? reject(err) : resolve(fd))));
const promisedLstat = (p: Buffer): Promise<Stats> =>
  new Promise((resolve, reject) => fsLstat(p, (err, st) => (err ? reject(err) : resolve(st))));
const promisedFstat = (fd: number): Promise<Stats> =>
  new Promise((resolve, reject) => fsFstat(fd, (err, st) => (err ? reject(err) : resolve(st))));

/** Pushes `parts` on a stack so that the first is popped first. */
function pushParts(stack: string[], parts: readonly string[]): void {
  for (let i = parts.length - 1; i >= 0; i--) stack.push(parts[i]);
}

/** The components of a path that walks use (no empty names, no `.`). */
function componentsOf(p: string): string[] {
  return p.split('/').filter((c) => c !== '' && c !== '.');
}

/** Walks virtual paths inside one {@link Jail}; see the module comment. */
export class JailWalker {
  /** The root as a walk's starting directory; never closed. */
  readonly rootDir: WalkDir;

  constructor(
    readonly jail: Jail,
    /** true: descriptor mode; false: path mode (see the module comment). */
    readonly descriptors: boolean = descriptorWalkAvailable(),
  ) {
    this.rootDir = new WalkDir(jail.root === '/' ? '' : jail.root, -1, []);
  }

  /** The bytes of the path an operation on `place` uses (the root's own path for the root). */
  pathOf(place: Place): Buffer {
    return encodeFileName(place.name === undefined ? place.dir.base || '/' : `${place.dir.base}/${place.name}`);
  }

  /** The bytes of the path of a walked directory itself. */
  dirPathOf(dir: WalkDir): Buffer {
    return encodeFileName(dir.base || '/');
  }

  /** The canonical virtual path of a place. */
  virtualOf(place: Place): string {
    const parts = place.name === undefined ? place.dir.parts : [...place.dir.parts, place.name];
    return '/' + parts.join('/');
  }

  /**
   * The place a virtual path names, every directory on the way decided now. A `..` in it (the
   * protocol layer resolves the client's; a symlink target checked before it is made may hold
   * some) is taken where the walk is, and refused above the root.
   *
   * @param follow expand a final symlink too (inside the root, repeatedly): stat, open, opendir,
   *   setstat...; false leaves the last component as is, for operations on a link itself or on a
   *   name being created (lstat, remove, rename, mkdir, symlink...).
   * @throws JailEscapeError when a symlink leads out; ENOENT, ENOTDIR, ELOOP, ENAMETOOLONG errors
   */
  async locate(virtualPath: string, follow: boolean): Promise<Place> {
    if (Buffer.byteLength(virtualPath) > PATH_MAX) throw errnoError('ENAMETOOLONG');
    const budget: Budget = { hops: 0, steps: 0 };
    const stack: string[] = [];
    pushParts(stack, componentsOf(virtualPath));
    const place = await this.walk(this.rootDir, stack, budget);
    return follow ? this.followFinal(place, budget) : place;
  }

  /** Runs `fn` on the place of `virtualPath`, then releases it. */
  async use<T>(virtualPath: string, follow: boolean, fn: (place: Place) => Promise<T>): Promise<T> {
    const place = await this.locate(virtualPath, follow);
    try {
      return await fn(place);
    } finally {
      place.dir.close();
    }
  }

  /**
   * Opens the object at `place` without following (descriptor mode: O_PATH; path mode: lstat of
   * the path). A symlink found there, which a followed lookup had just expanded, means one was
   * swapped in meanwhile: ELOOP, rather than acting on it.
   */
  async pin(place: Place, allowLink: boolean): Promise<Pinned> {
    const p = this.pathOf(place);
    if (!this.descriptors) {
      const stats = await promisedLstat(p);
      if (stats.isSymbolicLink() && !allowLink) throw errnoError('ELOOP');
      return { stats, target: p, close: () => undefined };
    }
    const fd = await promisedOpen(p, PIN_FLAGS);
    const close = (): void => fsClose(fd, () => undefined);
    try {
      const stats = await promisedFstat(fd);
      if (stats.isSymbolicLink() && !allowLink) throw errnoError('ELOOP');
      return { stats, target: Buffer.from(`/proc/self/fd/${fd}`), close };
    } catch (err) {
      close();
      throw err;
    }
  }

  /** Expands symlinks at the final component until it is none (or is missing). Consumes `place`. */
  private async followFinal(place: Place, budget: Budget): Promise<Place> {
    try {
      while (place.name !== undefined) {
        let stats: Stats;
        try {
          stats = await promisedLstat(this.pathOf(place));
        } catch (err) {
          const code = errnoOf(err);
          // Missing: the caller creates it there or reports the error.
          if (code === 'ENOENT') return place;
          throw err;
        }
        if (!stats.isSymbolicLink()) return { dir: place.dir, name: place.name, stats };
        const stack: string[] = [];
        const from = await this.enterLink(place.dir, place.name, stack, budget);
        place = await this.walk(from, stack, budget);
      }
      return place;
    } catch (err) {
      place.dir.close();
      throw err;
    }
  }

  /**
   * Walks the components on `stack` (popped in order) from `start`, which it takes over. Returns
   * the directory holding the last component and its name, unopened.
   */
  private async walk(start: WalkDir, stack: string[], budget: Budget): Promise<Place> {
    let cur = start;
    try {
      for (;;) {
        const name = stack.pop();
        if (name === undefined) {
          // Ended on a directory (the root, or after `..` or a link to a directory): name it from its parent.
          if (cur.parts.length === 0) return { dir: cur, name: undefined };
          pushParts(stack, cur.parts);
          cur.close();
          cur = this.rootDir;
          continue;
        }
        if (++budget.steps > MAX_STEPS) throw errnoError('ELOOP');
        if (name === '..') {
          // Only link targets hold `..` (the protocol layer resolves the client's): above the root is out.
          if (cur.parts.length === 0) throw new JailEscapeError();
          pushParts(stack, cur.parts.slice(0, -1));
          cur.close();
          cur = this.rootDir;
          continue;
        }
        if (stack.length === 0) return { dir: cur, name };
        const next = await this.descend(cur, name);
        if (next === 'link') {
          cur = await this.enterLink(cur, name, stack, budget);
        } else if (next === 'again') {
          stack.push(name);
        } else {
          cur.close();
          cur = next;
        }
      }
    } catch (err) {
      cur.close();
      throw err;
    }
  }

  /**
   * The directory `name` in `cur`, opened; `'link'` when it is a symlink (to expand), `'again'`
   * when it changed under us (a symlink when opened, a directory when looked at).
   */
  private async descend(cur: WalkDir, name: string): Promise<WalkDir | 'link' | 'again'> {
    const p = encodeFileName(`${cur.base}/${name}`);
    const parts = [...cur.parts, name];
    if (this.descriptors) {
      try {
        const fd = await promisedOpen(p, DIR_FLAGS);
        return new WalkDir(`/proc/self/fd/${fd}`, fd, parts);
      } catch (err) {
        const code = errnoOf(err);
        if (code !== 'ENOTDIR' && code !== 'ELOOP') throw err;
      }
    }
    const st = await promisedLstat(p);
    if (st.isSymbolicLink()) return 'link';
    if (!st.isDirectory()) throw errnoError('ENOTDIR');
    if (this.descriptors) return 'again';
    return new WalkDir(`${cur.base}/${name}`, -1, parts);
  }

  /**
   * Reads the symlink `name` in `cur` and pushes its target's components; returns the directory
   * to go on from (`cur`, or the root for an absolute target, closing `cur`).
   */
  private async enterLink(cur: WalkDir, name: string, stack: string[], budget: Budget): Promise<WalkDir> {
    if (++budget.hops > MAX_HOPS) throw errnoError('ELOOP');
    let target: string;
    try {
      target = decodeFileName(await fsp.readlink(encodeFileName(`${cur.base}/${name}`), { encoding: 'buffer' }));
    } catch (err) {
      // No longer a link (swapped back): walk the name again.
      if (errnoOf(err) !== 'EINVAL') throw err;
      stack.push(name);
      return cur;
    }
    if (!target.startsWith('/')) {
      pushParts(stack, componentsOf(target));
      return cur;
    }
    // Absolute targets are stored as host paths under the root; anything else on the host is out.
    const v = this.jail.toVirtual(target);
    if (v === undefined) throw new JailEscapeError();
    pushParts(stack, componentsOf(v));
    cur.close();
    return this.rootDir;
  }
}
