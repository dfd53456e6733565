/**
 * The root behind {@link LocalFileSystem}: where virtual `/` is on disk, and how virtual paths and
 * symlink targets map to and from it. Walking a path inside the root is {@link JailWalker}'s job
 * (`jailWalk.ts`); nothing here touches more than the root itself.
 */
import { realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { errnoError, errnoOf } from './errno';
import { decodeFileName, encodeFileName } from './fileNames';
import { lexicalPath } from './paths';

/** Thrown when a path resolves outside the root; carries no path so that nothing real leaks. */
export class JailEscapeError extends Error {
  constructor() {
    super('outside the root');
    this.name = 'JailEscapeError';
  }
}

/**
 * The normalised absolute form of a virtual path. The protocol layer already normalises; this
 * clamps `..` at `/` (as a chroot does) in case a caller did not, and refuses NUL bytes.
 */
export function normalizeVirtual(p: string): string {
  if (typeof p !== 'string' || p.includes('\0')) throw errnoError('EINVAL');
  return lexicalPath(p);
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

/** A root directory on local disk. */
export class Jail {
  /**
   * The root with symlinks resolved (names as {@link decodeFileName} strings, so a root whose
   * path is not UTF-8 works): every walk starts here.
   */
  readonly root: string;
  /** The root as configured (absolute), also recognised when mapping symlink targets back. */
  private readonly configured: string;

  /** @throws Error when `root` does not exist or is not a directory. */
  constructor(root: string) {
    this.configured = path.resolve(root);
    let real: string;
    try {
      real = decodeFileName(realpathSync.native(encodeFileName(this.configured), { encoding: 'buffer' }));
    } catch (err) {
      throw new Error(`LocalFileSystem root ${JSON.stringify(root)} does not exist or cannot be resolved (${errnoOf(err) ?? String(err)})`);
    }
    if (!statSync(encodeFileName(real)).isDirectory()) throw new Error(`LocalFileSystem root ${JSON.stringify(root)} is not a directory`);
    this.root = real;
  }

  /**
   * The virtual path of an absolute host path inside the root (canonical or configured form of
   * the root), else undefined. Used for symlink targets, which are stored as host paths.
   */
  toVirtual(real: string): string | undefined {
    for (const base of [this.root, this.configured]) {
      if (real === base) return '/';
      if (base === '/') return real.startsWith('/') ? real : undefined;
      if (real.startsWith(base + '/')) return real.slice(base.length);
    }
    return undefined;
  }

  /** The host path stored for an absolute (virtual) symlink target: the root's path in front. */
  toHost(virtualPath: string): string {
    return this.root === '/' ? virtualPath : this.root + virtualPath;
  }
}
