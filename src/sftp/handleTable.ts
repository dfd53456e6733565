/** The open file and directory handles of one SFTP session, by the opaque key the client holds. */
import type { WireReader } from '../packet/wire';
import { type SFTPDirHandle, SFTPError, type SFTPFileHandle, type SFTPOpenFlags, SFTPStatus } from './FileSystem';

/** An open file: its virtual path, how it was opened, and the bytes read and written through it (audit). */
export type FileEntry = { kind: 'file'; path: string; flags: SFTPOpenFlags; handle: SFTPFileHandle; read: number; written: number };
/** An open directory listing. */
export type DirEntry = { kind: 'dir'; path: string; handle: SFTPDirHandle };
/** One open handle. */
export type Handle = FileEntry | DirEntry;

/** Handles by key (hex of the 4 bytes the client holds); looks keys up in place in request buffers. */
export class HandleTable extends Map<string, Handle> {
  private lastHandle?: Buffer;
  private lastHandleKey = '';
  private handleCounter = 0;

  /**
   * The map key of the handle in `buf` from `start` to `end`; the last one is remembered, compared
   * in place (a transfer sends one handle over and over).
   */
  key(buf: Buffer, start: number, end: number): string {
    if (this.lastHandle?.compare(buf, start, end) !== 0) {
      this.lastHandle = Buffer.from(buf.subarray(start, end));
      this.lastHandleKey = this.lastHandle.toString('hex');
    }
    return this.lastHandleKey;
  }

  add(h: Handle): Buffer {
    const key = Buffer.alloc(4);
    key.writeUInt32BE(this.handleCounter++ >>> 0);
    this.set(key.toString('hex'), h);
    return key;
  }

  take(r: WireReader): Handle {
    // Looked up in place: a READ or WRITE per 32 KiB is no reason for a Buffer view per request.
    const length = r.uint32();
    if (r.remaining < length) throw new SFTPError(SFTPStatus.BAD_MESSAGE, 'Bad message: truncated handle');
    const h = this.get(this.key(r.buf, r.offset, r.offset + length));
    r.offset += length;
    if (!h) throw new SFTPError(SFTPStatus.FAILURE, 'Invalid handle');
    return h;
  }

  file(r: WireReader): FileEntry {
    const h = this.take(r);
    if (h.kind !== 'file') throw new SFTPError(SFTPStatus.FAILURE, 'Not a file handle');
    return h;
  }
}
