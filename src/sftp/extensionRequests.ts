/** The SFTP extensions served (OpenSSH's PROTOCOL file, draft-ietf-secsh-filexfer-extensions-00). */
import type { WireReader } from '../packet/wire';
import { SFTPError, type SFTPFileHandle, SFTPStatus } from './FileSystem';
import { canonical } from './pathRequests';
import { frame, FXP, MAX_OFFSET, MAX_PACKET, MAX_READ, offsetTooLarge, readAttrs, str, u32, uint64 } from './protocol';
import { denied } from './replies';
import type { SFTPRequestContext } from './requestContext';

/** Chunk of a copy-data copy, one buffer per running copy; sftp-server's size, which decides when it answers EOF. */
const COPY_CHUNK = 64 * 1024;

/** @internal SFTP request handler. */
export async function statvfs(this: SFTPRequestContext, r: WireReader, id: number): Promise<Buffer> {
  return statvfsReply.call(this, id, this.path(r));
}

/** @internal SFTP request handler. */
export async function fstatvfs(this: SFTPRequestContext, r: WireReader, id: number): Promise<Buffer> {
  return statvfsReply.call(this, id, this.take(r).path);
}

async function statvfsReply(this: SFTPRequestContext, id: number, path: string): Promise<Buffer> {
  if (!this.fs.statvfs) throw new SFTPError(SFTPStatus.OP_UNSUPPORTED, 'statvfs not supported by this filesystem');
  const s = await this.fs.statvfs(path);
  const fields = [s.bsize, s.frsize, s.blocks, s.bfree, s.bavail, s.files, s.ffree, s.favail, s.fsid, s.flag, s.namemax];
  return frame(FXP.EXTENDED_REPLY, [u32(id), ...fields.map(uint64)]);
}

/** @internal SFTP request handler. */
export async function hardlink(this: SFTPRequestContext, r: WireReader, id: number): Promise<Buffer> {
  if (!this.fs.link) throw new SFTPError(SFTPStatus.OP_UNSUPPORTED, 'hard links not supported by this filesystem');
  const existing = this.path(r);
  const link = this.path(r);
  await this.fs.link(existing, link);
  this.audit('linkCreated', { path: link, target: existing, hard: true });
  return this.ok(id);
}

/** @internal SFTP request handler. */
export async function fsync(this: SFTPRequestContext, r: WireReader, id: number): Promise<Buffer> {
  await this.file(r).handle.sync();
  return this.ok(id);
}

/** @internal SFTP request handler. */
export async function lsetstat(this: SFTPRequestContext, r: WireReader, id: number): Promise<Buffer> {
  const path = this.path(r);
  const attrs = readAttrs(r);
  if (!this.fs.lsetstat) throw new SFTPError(SFTPStatus.OP_UNSUPPORTED, 'lsetstat not supported by this filesystem');
  await this.fs.lsetstat(path, attrs);
  return this.ok(id);
}

/** @internal SFTP request handler. */
export async function limits(this: SFTPRequestContext, _r: WireReader, id: number): Promise<Buffer> {
  return frame(FXP.EXTENDED_REPLY, [u32(id), uint64(MAX_PACKET), uint64(MAX_READ), uint64(MAX_READ), uint64(this.maxHandles)]);
}

/** @internal SFTP request handler. */
export async function expandPath(this: SFTPRequestContext, r: WireReader, id: number): Promise<Buffer> {
  const real = await canonical.call(this, this.path(r, { user: this.user }));
  return this.name(id, [{ filename: real, longname: real, attrs: {} }]);
}

/** @internal SFTP request handler: home-directory (the logged-in user's, or '' for it, is `/`). */
export async function homeDirectory(this: SFTPRequestContext, r: WireReader, id: number): Promise<Buffer> {
  const user = r.string();
  if (user !== '' && user !== this.user) throw new SFTPError(SFTPStatus.FAILURE, `no such user: ${user}`);
  return this.name(id, [{ filename: '/', longname: '/', attrs: {} }]);
}

/**
 * @internal SFTP request handler: copy-data (draft-ietf-secsh-filexfer-extensions-00 section 7,
 * OpenSSH 9.0 `sftp cp`). Copies `length` bytes (0: to the end of file) from one open handle to
 * another through the handles' read and write, so every filesystem has it; EOF when the source
 * ends before `length`, as sftp-server.
 */
export async function copyData(this: SFTPRequestContext, r: WireReader, id: number): Promise<Buffer> {
  // Reading through it is a download: upload-only may not (read-only is refused as a write before).
  if (this.access === 'upload-only') throw denied('upload-only access');
  const src = this.file(r);
  const readOffset = r.uint64();
  const readLength = r.uint64();
  const dst = this.file(r);
  const writeOffset = r.uint64();
  if (src === dst || src.path === dst.path) throw new SFTPError(SFTPStatus.FAILURE, 'copy-data: source and destination are the same file');
  if (!src.flags.read) throw new SFTPError(SFTPStatus.PERMISSION_DENIED, 'copy-data: the source handle is not open for reading');
  if (!dst.flags.write && !dst.flags.append)
    throw new SFTPError(SFTPStatus.PERMISSION_DENIED, 'copy-data: the destination handle is not open for writing');
  if (readOffset > MAX_OFFSET) throw offsetTooLarge('offset', readOffset);
  if (writeOffset > MAX_OFFSET && !dst.flags.append) throw offsetTooLarge('offset', writeOffset);
  const untilEof = readLength === 0n;
  let remaining = untilEof || readLength > MAX_OFFSET ? Number.MAX_SAFE_INTEGER : Number(readLength);
  let from = Number(readOffset);
  let to = Number(writeOffset);
  const buffer = Buffer.allocUnsafe(Math.min(COPY_CHUNK, remaining));
  // sftp-server's accounting: each chunk is read whole (to EOF); EOF is the answer only when a
  // chunk starts at the end of the source and `length` is not used up by it.
  while (remaining > 0) {
    const want = Math.min(buffer.length, remaining);
    remaining -= want;
    let n = 0;
    for (let got = -1; n < want && got !== 0; n += got) {
      if (this.over) throw new SFTPError(SFTPStatus.FAILURE, 'Session ended');
      got = await readChunk(src.handle, from + n, buffer, n, want - n);
    }
    if (n === 0) return untilEof || remaining === 0 ? this.ok(id) : this.status(id, SFTPStatus.EOF, 'End of file');
    src.read += n;
    await dst.handle.write(to, buffer.subarray(0, n));
    dst.written += n;
    from += n;
    to += n;
  }
  return this.ok(id);
}

/** Up to `length` bytes of `handle` at `position` into `target` at `offset`; 0 at end of file. */
async function readChunk(handle: SFTPFileHandle, position: number, target: Buffer, offset: number, length: number): Promise<number> {
  if (handle.readInto) return handle.readInto(position, target, offset, length);
  const data = await handle.read(position, length);
  return data.copy(target, offset, 0, Math.min(data.length, length));
}

/**
 * @internal SFTP request handler: users-groups-by-id@openssh.com (OpenSSH 9.1+ `sftp ls -l`
 * names), through {@link SFTPFileSystem.usersGroupsById}; announced only when the filesystem has it.
 */
export async function usersGroupsById(this: SFTPRequestContext, r: WireReader, id: number): Promise<Buffer> {
  if (!this.fs.usersGroupsById) throw new SFTPError(SFTPStatus.OP_UNSUPPORTED, 'users-groups-by-id not supported by this filesystem');
  const ids = (b: Buffer): number[] => {
    if (b.length % 4 !== 0) throw new SFTPError(SFTPStatus.BAD_MESSAGE, 'users-groups-by-id: id list is not a whole number of uint32');
    return Array.from({ length: b.length / 4 }, (_, i) => b.readUInt32BE(i * 4));
  };
  const uids = ids(r.bytes());
  const gids = ids(r.bytes());
  const names = await this.fs.usersGroupsById(uids, gids);
  if (names.users.length !== uids.length || names.groups.length !== gids.length)
    throw new SFTPError(SFTPStatus.FAILURE, 'users-groups-by-id: the filesystem answered a different number of names');
  const list = (xs: string[]): Buffer => str(Buffer.concat(xs.map((x) => str(x))));
  const reply = frame(FXP.EXTENDED_REPLY, [u32(id), list(names.users), list(names.groups)]);
  if (reply.length > MAX_PACKET) throw new SFTPError(SFTPStatus.FAILURE, 'users-groups-by-id: too many ids for one reply');
  return reply;
}
