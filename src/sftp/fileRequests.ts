/** SFTP requests on open handles: OPEN, CLOSE, READ, WRITE, FSTAT, FSETSTAT, OPENDIR, READDIR. */
import type { WireReader } from '../packet/wire';
import { SFTPError, SFTPStatus } from './FileSystem';
import { formatLongname } from './longname';
import { decodeOpenFlags, encodeAttrs, frame, FXP, MAX_OFFSET, MAX_READ, offsetTooLarge, readAttrs, str, u32 } from './protocol';
import { denied } from './replies';
import type { SFTPRequestContext } from './requestContext';

/** @internal SFTP request handler. */
export async function open(this: SFTPRequestContext, r: WireReader, id: number): Promise<Buffer> {
  const path = this.path(r);
  const flags = decodeOpenFlags(r.uint32());
  const attrs = readAttrs(r, 'drop');
  const writes = flags.write || flags.append || flags.create || flags.truncate;
  if (this.access === 'read-only' && writes) throw denied('read-only access');
  if (this.access === 'upload-only' && flags.read) throw denied('upload-only access');
  const key = await this.adopt(
    () => this.fs.open(path, flags, attrs),
    (handle) => ({ kind: 'file', path, flags, handle, read: 0, written: 0 }),
  );
  this.audit('opened', { path, flags });
  return frame(FXP.HANDLE, [u32(id), str(key)]);
}

/** @internal SFTP request handler. */
export async function close(this: SFTPRequestContext, r: WireReader, id: number): Promise<Buffer> {
  const key = r.bytes().toString('hex');
  const h = this.handles.get(key);
  if (!h) throw new SFTPError(SFTPStatus.FAILURE, 'Invalid handle');
  this.handles.delete(key);
  await this.closeHandle(h);
  return this.ok(id);
}

/** @internal SFTP request handler. */
export async function read(this: SFTPRequestContext, r: WireReader, id: number): Promise<Buffer> {
  const h = this.file(r);
  const offset64 = r.uint64();
  const length = Math.min(r.uint32(), MAX_READ);
  // Rounded to a number it would read elsewhere.
  if (offset64 > MAX_OFFSET) throw offsetTooLarge('offset', offset64);
  const offset = Number(offset64);
  if (h.handle.readInto) {
    // One buffer for the whole reply: length, type, id, data length, then the data read in place.
    const reply = this.replyBuffer(13 + length);
    let n: number;
    try {
      n = await h.handle.readInto(offset, reply, 13, length);
    } catch (err) {
      this.recycle(reply);
      throw err;
    }
    if (n === 0) {
      this.recycle(reply);
      return this.status(id, SFTPStatus.EOF, 'End of file');
    }
    h.read += n;
    reply.writeUInt32BE(9 + n, 0);
    reply[4] = FXP.DATA;
    reply.writeUInt32BE(id, 5);
    reply.writeUInt32BE(n, 9);
    const packet = reply.subarray(0, 13 + n);
    this.pooled.set(packet, reply);
    return packet;
  }
  const data = await h.handle.read(offset, length);
  if (data.length === 0) return this.status(id, SFTPStatus.EOF, 'End of file');
  h.read += data.length;
  return frame(FXP.DATA, [u32(id), u32(data.length), data]);
}

/** @internal SFTP request handler. */
export async function write(this: SFTPRequestContext, r: WireReader, id: number): Promise<Buffer> {
  const h = this.file(r);
  const offset = r.uint64();
  const data = r.bytes();
  // Rounded to a number it would land elsewhere; an append handle ignores it (as sftp-server does).
  if (offset > MAX_OFFSET && !h.flags.append) throw offsetTooLarge('offset', offset);
  await h.handle.write(Number(offset), data);
  h.written += data.length;
  return this.ok(id);
}

/** @internal SFTP request handler. */
export async function fstat(this: SFTPRequestContext, r: WireReader, id: number): Promise<Buffer> {
  return frame(FXP.ATTRS, [u32(id), encodeAttrs(await this.file(r).handle.stat())]);
}

/** @internal SFTP request handler. */
export async function fsetstat(this: SFTPRequestContext, r: WireReader, id: number): Promise<Buffer> {
  const h = this.file(r);
  await h.handle.setstat(readAttrs(r));
  return this.ok(id);
}

/** @internal SFTP request handler. */
export async function opendir(this: SFTPRequestContext, r: WireReader, id: number): Promise<Buffer> {
  const path = this.path(r);
  const key = await this.adopt(
    () => this.fs.opendir(path),
    (handle) => ({ kind: 'dir', path, handle }),
  );
  return frame(FXP.HANDLE, [u32(id), str(key)]);
}

/** @internal SFTP request handler. */
export async function readdir(this: SFTPRequestContext, r: WireReader, id: number): Promise<Buffer> {
  const h = this.take(r);
  if (h.kind !== 'dir') throw new SFTPError(SFTPStatus.FAILURE, 'Not a directory handle');
  const entries = await h.handle.next();
  if (!entries || entries.length === 0) return this.status(id, SFTPStatus.EOF, 'End of directory');
  return this.name(
    id,
    entries.map((e) => ({ filename: e.filename, longname: e.longname ?? formatLongname(e.filename, e.attrs), attrs: e.attrs })),
  );
}
