/**
 * The jail behind {@link LocalFileSystem}: maps virtual paths (`/docs/a.txt`) to real paths under a
 * root directory and refuses any whose real location, symlinks resolved by the kernel, lies outside.
 */
import { promises as fsp, realpathSync, statSync } from 'node:fs';
import path from 'node:path';

/** Thrown when a path resolves outside the root; carries no path so that nothing real leaks. */
export class JailEscapeError extends Error {
  constructor() {
    super('outside the root');
    this.name = 'JailEscapeError';
  }
}

/** Linux's limit on symlinks followed in one lookup (MAXSYMLINKS). */
const MAX_HOPS = 40;

function errnoOf(err: unknown): string | undefined {
  return err !== null && typeof err === 'object' && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

function errnoError(code: string): NodeJS.ErrnoException {
  const e: NodeJS.ErrnoException = new Error(code);
  e.code = code;
  return e;
}

/**
 * The normalised absolute form of a virtual path. The protocol layer already normalises; this
 * clamps `..` at `/` (as a chroot does) in case a caller did not, and refuses NUL bytes.
 */
export function normalizeVirtual(p: string): string {
  if (typeof p !== 'string' || p.includes('\0')) throw errnoError('EINVAL');
  return path.posix.resolve('/', p);
}

/** Whether a path's `..` components climb above a directory `depth` levels below the root. */
export function climbsAbove(depth: number, target: string): boolean {
  for (const part of target.split('/')) {
    if (part === '' || part === '.') continue;
    depth += part === '..' ? -1 : 1;
    if (depth < 0) return true;
  }
  return false;
}

/** A root directory on local disk and the rules for staying inside it. */
export class Jail {
  /** The root with symlinks resolved: every check compares against this. */
  readonly root: string;
  /** The root as configured (absolute), also recognised when mapping symlink targets back. */
  private readonly configured: string;

  /** @throws Error when `root` does not exist or is not a directory. */
  constructor(root: string) {
    this.configured = path.resolve(root);
    let real: string;
    try {
      real = realpathSync.native(this.configured);
    } catch (err) {
      throw new Error(`LocalFileSystem root ${JSON.stringify(root)} does not exist or cannot be resolved (${errnoOf(err) ?? String(err)})`);
    }
    if (!statSync(real).isDirectory()) throw new Error(`LocalFileSystem root ${JSON.stringify(root)} is not a directory`);
    this.root = real;
  }

  /** Whether a canonical real path is the root or below it. */
  isInside(real: string): boolean {
    if (this.root === '/') return real.startsWith('/');
    return real === this.root || real.startsWith(this.root + '/');
  }

  /** The real path a virtual path names, lexically (no symlinks resolved, nothing checked). */
  toReal(virtualPath: string): string {
    const v = normalizeVirtual(virtualPath);
    return v === '/' ? this.root : path.join(this.root, v);
  }

  /** The virtual path of a real path inside the root (canonical or configured form), else undefined. */
  toVirtual(real: string): string | undefined {
    for (const base of [this.root, this.configured]) {
      if (real === base) return '/';
      if (base === '/') return real.startsWith('/') ? real : undefined;
      if (real.startsWith(base + '/')) return real.slice(base.length);
    }
    return undefined;
  }

  /** How many directories a canonical real path inside the root lies below it. */
  depthOf(real: string): number {
    const v = this.toVirtual(real) ?? '/';
    return v.split('/').filter(Boolean).length;
  }

  /**
   * The canonical real path of a virtual path, checked to be inside the root.
   *
   * @param follow resolve a final symlink too (stat, open, opendir...); false keeps the last
   *   component as is, for operations on the link itself (lstat, remove, rename, readlink...),
   *   checking only its directory.
   * @throws JailEscapeError when it resolves outside; Node errors (ENOENT, ENOTDIR, ELOOP...) otherwise
   */
  async resolve(virtualPath: string, follow: boolean): Promise<string> {
    const real = this.toReal(virtualPath);
    if (follow) return this.canonical(real);
    if (real === this.root) return this.root;
    const dir = await this.canonical(path.dirname(real));
    return path.join(dir, path.basename(real));
  }

  /**
   * The kernel's resolution of a real path (which may contain `..` and symlinks), checked to be
   * inside the root. When the path does not exist, its deepest existing ancestor is resolved and
   * the rest appended; a dangling symlink on the way is followed by hand, so that creating a file
   * through it cannot land outside.
   */
  async canonical(real: string, hops = 0): Promise<string> {
    let resolved: string;
    try {
      resolved = await fsp.realpath(real);
    } catch (err) {
      if (errnoOf(err) !== 'ENOENT') throw err;
      resolved = await this.canonicalMissing(real, hops);
    }
    if (!this.isInside(resolved)) throw new JailEscapeError();
    return resolved;
  }

  private async canonicalMissing(real: string, hops: number): Promise<string> {
    const dirname = path.dirname(real);
    if (dirname === real) throw errnoError('ENOENT');
    const dir = await this.canonical(dirname, hops);
    const here = path.join(dir, path.basename(real));
    let isLink = false;
    try {
      isLink = (await fsp.lstat(here)).isSymbolicLink();
    } catch (err) {
      const code = errnoOf(err);
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw err;
    }
    if (!isLink) return here;
    // A dangling link: what the kernel would create is its target.
    if (hops >= MAX_HOPS) throw errnoError('ELOOP');
    const target = await fsp.readlink(here);
    return this.canonical(target.startsWith('/') ? target : `${dir}/${target}`, hops + 1);
  }

  /**
   * Whether an open descriptor's file lies inside the root, asked of the kernel: on Linux the
   * `/proc/self/fd` link names the file actually opened, so a symlink swapped in between the
   * check and the open is caught. Elsewhere, the opened file must be the one at `expected`.
   */
  async fdIsInside(fd: number, expected: string, fdIdentity: { dev: number; ino: number }): Promise<boolean> {
    if (process.platform === 'linux') {
      try {
        const opened = (await fsp.readlink(`/proc/self/fd/${fd}`)).replace(/ \(deleted\)$/, '');
        return this.isInside(opened);
      } catch {
        // No /proc (some containers): fall through to the identity check.
      }
    }
    try {
      const st = await fsp.lstat(expected);
      return st.dev === fdIdentity.dev && st.ino === fdIdentity.ino;
    } catch {
      return false;
    }
  }
}
