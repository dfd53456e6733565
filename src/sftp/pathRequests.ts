/** SFTP requests on paths: STAT/LSTAT, SETSTAT, REMOVE, MKDIR, RMDIR, REALPATH, RENAME, READLINK, SYMLINK. */
import type { WireReader } from '../packet/wire';
import { type SFTPAttributes, SFTPError, SFTPStatus } from './FileSystem';
import { decodeFileName } from './fileNames';
import { resolveClientPath, splitVirtual } from './paths';
import { encodeAttrs, frame, FXP, readAttrs, u32 } from './protocol';
import { statusOf } from './replies';
import type { SFTPRequestContext } from './requestContext';

/** Symlinks followed when REALPATH meets a dangling one (SYMLOOP_MAX of sftp-realpath.c). */
const SYMLOOP_MAX = 32;
const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const isType = (attrs: SFTPAttributes, type: number): boolean => attrs.mode !== undefined && (attrs.mode & S_IFMT) === type;

/** @internal SFTP request handler. */
export async function stat(this: SFTPRequestContext, r: WireReader, id: number, follow = true): Promise<Buffer> {
  const path = this.path(r);
  const attrs = follow ? await this.fs.stat(path) : await this.fs.lstat(path);
  return frame(FXP.ATTRS, [u32(id), encodeAttrs(attrs)]);
}

/** @internal SFTP request handler. */
export async function setstat(this: SFTPRequestContext, r: WireReader, id: number): Promise<Buffer> {
  const path = this.path(r);
  await this.fs.setstat(path, readAttrs(r));
  return this.ok(id);
}

/** @internal SFTP request handler. */
export async function remove(this: SFTPRequestContext, r: WireReader, id: number): Promise<Buffer> {
  const path = this.path(r);
  await this.fs.remove(path);
  this.audit('removed', { path });
  return this.ok(id);
}

/** @internal SFTP request handler. */
export async function mkdir(this: SFTPRequestContext, r: WireReader, id: number): Promise<Buffer> {
  const path = this.path(r);
  await this.fs.mkdir(path, readAttrs(r, 'drop'));
  this.audit('directoryCreated', { path });
  return this.ok(id);
}

/** @internal SFTP request handler. */
export async function rmdir(this: SFTPRequestContext, r: WireReader, id: number): Promise<Buffer> {
  const path = this.path(r);
  await this.fs.rmdir(path);
  this.audit('directoryRemoved', { path });
  return this.ok(id);
}

/** @internal SFTP request handler. */
export async function realpath(this: SFTPRequestContext, r: WireReader, id: number): Promise<Buffer> {
  const real = await canonical.call(this, this.path(r));
  return this.name(id, [{ filename: real, longname: real, attrs: {} }]);
}

/**
 * REALPATH as OpenSSH's sftp-server (`sftp_realpath`): the canonical path of an existing path;
 * a missing last name is allowed (its parent is resolved and the name appended, so `scp -r dir
 * host:new` and `put -r` can name what they are about to create), a missing parent is
 * NO_SUCH_FILE; a dangling symlink resolves to where it points.
 */
export async function canonical(this: SFTPRequestContext, path: string, links = 0): Promise<string> {
  try {
    if (this.fs.realpath) return await this.fs.realpath(path);
    await this.fs.lstat(path);
    return path;
  } catch (err) {
    if (path === '/' || statusOf(err).status !== SFTPStatus.NO_SUCH_FILE) throw err;
  }
  const { parent, name } = splitVirtual(path);
  const realParent = this.fs.realpath ? await this.fs.realpath(parent) : parent;
  const dir = await this.fs.stat(realParent);
  if (dir.mode !== undefined && !isType(dir, S_IFDIR)) throw new SFTPError(SFTPStatus.NO_SUCH_FILE, `${parent}: Not a directory`);
  const candidate = realParent === '/' ? `/${name}` : `${realParent}/${name}`;
  const link = await this.fs.lstat(candidate).catch(() => undefined);
  if (!link || !isType(link, S_IFLNK)) return candidate;
  if (links >= SYMLOOP_MAX) throw new SFTPError(SFTPStatus.FAILURE, `${path}: Too many levels of symbolic links`);
  const target = await this.fs.readlink(candidate);
  return canonical.call(this, resolveClientPath(target.startsWith('/') ? target : `${realParent}/${target}`), links + 1);
}

/** @internal SFTP request handler. */
export async function rename(this: SFTPRequestContext, r: WireReader, id: number, overwrite = false): Promise<Buffer> {
  const from = this.path(r);
  const to = this.path(r);
  await this.fs.rename(from, to, overwrite);
  this.audit('renamed', { from, to });
  return this.ok(id);
}

/** @internal SFTP request handler. */
export async function readlink(this: SFTPRequestContext, r: WireReader, id: number): Promise<Buffer> {
  const target = await this.fs.readlink(this.path(r));
  return this.name(id, [{ filename: target, longname: target, attrs: {} }]);
}

/** @internal SFTP request handler. OpenSSH sends (and expects) the target first, the link path second: the reverse of the draft. */
export async function symlink(this: SFTPRequestContext, r: WireReader, id: number): Promise<Buffer> {
  const targetText = decodeFileName(r.bytes());
  const linkPath = this.path(r);
  const target = targetText.startsWith('/') ? resolveClientPath(targetText) : targetText;
  await this.fs.symlink(linkPath, target);
  this.audit('linkCreated', { path: linkPath, target, hard: false });
  return this.ok(id);
}
