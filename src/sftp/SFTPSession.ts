import { TypedEmitter } from 'tiny-typed-emitter';
import { WireReader } from '../packet/wire';
import {
  type SFTPAttributes,
  type SFTPDirHandle,
  SFTPError,
  type SFTPFileHandle,
  type SFTPFileSystem,
  type SFTPOpenFlags,
  SFTPStatus,
  type SFTPStatusCode,
} from './FileSystem';
import { formatLongname } from './longname';
import { resolveClientPath } from './paths';
import { decodeOpenFlags, encodeAttrs, EXTENSIONS, frame, FXP, MAX_PACKET, MAX_READ, readAttrs, SFTP_VERSION, str, u32, uint64 } from './protocol';

/** Who may do what: `upload-only` may write and list but not read file contents. */
export type SFTPAccess = 'read-write' | 'read-only' | 'upload-only';

/** How an SFTP session serves its filesystem. */
export interface SFTPSessionOptions {
  /** What the session serves: {@link LocalFileSystem} or your own {@link SFTPFileSystem}. */
  fileSystem: SFTPFileSystem;
  /** Default `read-write`. */
  access?: SFTPAccess;
  /** Open file and directory handles allowed at once (default 256). */
  maxHandles?: number;
  /** Called with the new session before its first packet: subscribe to its audit events here. */
  onSession?: (session: SFTPSession) => void;
}

/** Audit events of one SFTP session; paths are virtual. */
export interface SFTPSessionEvents {
  /** A file was opened. */
  opened: (e: { path: string; flags: SFTPOpenFlags }) => void;
  /** A handle that wrote data was closed. */
  uploaded: (e: { path: string; bytes: number }) => void;
  /** A handle that read data was closed. */
  downloaded: (e: { path: string; bytes: number }) => void;
  /** A file was removed. */
  removed: (e: { path: string }) => void;
  /** A file or directory was renamed. */
  renamed: (e: { from: string; to: string }) => void;
  /** A directory was created. */
  directoryCreated: (e: { path: string }) => void;
  /** A directory was removed. */
  directoryRemoved: (e: { path: string }) => void;
  /** A symbolic (`hard` false) or hard link was created. */
  linkCreated: (e: { path: string; target: string; hard: boolean }) => void;
  /** A request answered with an error status (refusals included). */
  failed: (e: { operation: string; path?: string; status: SFTPStatusCode; message: string }) => void;
  /** The session is over (client EOF or channel closed); every handle is closed. */
  ended: () => void;
}

/** How the session talks to its channel. */
export interface SFTPTransport {
  /** Resolves once the packet is handed to the connection. */
  send(packet: Buffer): Promise<void>;
  /** True: stop reopening the client's window (we are behind). */
  holdInput(hold: boolean): void;
  /** Closes the channel. */
  close(): void;
}

type FileEntry = { kind: 'file'; path: string; handle: SFTPFileHandle; read: number; written: number };
type DirEntry = { kind: 'dir'; path: string; handle: SFTPDirHandle };
type Handle = FileEntry | DirEntry;

interface Request {
  seq: number;
  type: number;
  id: number;
  body: WireReader;
}

type Handler = (this: SFTPSession, r: WireReader, id: number) => Promise<Buffer>;

/** Reads and writes may run side by side; everything else waits for what came before. */
const OVERLAPPABLE = new Set<number>([FXP.READ, FXP.WRITE]);
const MAX_OVERLAP = 16;
/** Past these the client's window stays shut until we catch up. */
const MAX_QUEUED_REQUESTS = 256;
const MAX_UNSENT_REPLY_BYTES = 8 * 1024 * 1024;
const REPLY_POOL_SIZE = 32;

const OPERATION: Record<number, string> = Object.fromEntries(Object.entries(FXP).map(([k, v]) => [v, k.toLowerCase()]));

const WRITE_OPERATIONS = new Set<number>([FXP.SETSTAT, FXP.FSETSTAT, FXP.REMOVE, FXP.MKDIR, FXP.RMDIR, FXP.RENAME, FXP.SYMLINK]);
const WRITE_EXTENSIONS = new Set(['posix-rename@openssh.com', 'hardlink@openssh.com', 'lsetstat@openssh.com']);

function statusOf(err: unknown): { status: SFTPStatusCode; message: string } {
  if (err instanceof SFTPError) return { status: err.status, message: err.message };
  const code = (err as NodeJS.ErrnoException)?.code;
  // Node messages name real paths; clients get a generic text.
  if (code === 'ENOENT' || code === 'ENOTDIR') return { status: SFTPStatus.NO_SUCH_FILE, message: 'No such file' };
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') return { status: SFTPStatus.PERMISSION_DENIED, message: 'Permission denied' };
  if (code) return { status: SFTPStatus.FAILURE, message: `Failure (${code})` };
  if (err instanceof Error && /^(Malformed|truncated)/i.test(err.message)) return { status: SFTPStatus.BAD_MESSAGE, message: 'Bad message' };
  return { status: SFTPStatus.FAILURE, message: 'Failure' };
}

const denied = (what: string) => new SFTPError(SFTPStatus.PERMISSION_DENIED, `Permission denied: ${what}`);

/**
 * One SFTP v3 server session on one channel: frames packets, runs requests against the
 * filesystem in order (reads and writes overlapping), answers in request order, and keeps memory
 * bounded by holding the client's window when it is ahead.
 */
export class SFTPSession extends TypedEmitter<SFTPSessionEvents> {
  private readonly fs: SFTPFileSystem;
  private readonly access: SFTPAccess;
  private readonly maxHandles: number;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private initialised = false;
  private readonly queue: Request[] = [];
  private inFlight = 0;
  private barrierRunning = false;
  private nextSeq = 0;
  private nextReply = 0;
  private readonly replies = new Map<number, Buffer>();
  private unsentBytes = 0;
  /** Free DATA reply buffers, and the buffer each pooled reply was cut from. */
  private readonly replyPool: Buffer[] = [];
  private readonly pooled = new WeakMap<Buffer, Buffer>();
  private readonly handles = new Map<string, Handle>();
  private handleCounter = 0;
  private ending = false;
  private over = false;

  constructor(
    options: SFTPSessionOptions,
    private readonly transport: SFTPTransport,
  ) {
    super();
    this.fs = options.fileSystem;
    this.access = options.access ?? 'read-write';
    this.maxHandles = options.maxHandles ?? 256;
  }

  /** Open handles, for diagnostics. */
  get openHandles(): number {
    return this.handles.size;
  }

  // ---- framing --------------------------------------------------------------

  /** Channel data from the client. */
  data(chunk: Buffer): void {
    if (this.over) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    while (this.buffered >= 4) {
      const head = this.chunks[0].length >= 4 ? this.chunks[0] : Buffer.concat(this.chunks);
      const length = head.readUInt32BE(0);
      if (length < 1 || length > MAX_PACKET + 1024) return this.fatal(`packet of ${length} bytes`);
      if (this.buffered < 4 + length) return;
      const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
      const packet = all.subarray(4, 4 + length);
      const rest = all.subarray(4 + length);
      this.chunks = rest.length ? [rest] : [];
      this.buffered = rest.length;
      this.packet(packet);
    }
  }

  private packet(p: Buffer): void {
    const type = p[0];
    if (!this.initialised) {
      if (type !== FXP.INIT) return this.fatal('the first packet is not INIT');
      this.initialised = true;
      const ext = EXTENSIONS.flatMap(([name, version]) => [str(name), str(version)]);
      this.sendNow(frame(FXP.VERSION, [u32(SFTP_VERSION), ...ext]));
      return;
    }
    if (p.length < 5) return this.fatal('packet without request id');
    const id = p.readUInt32BE(1);
    this.queue.push({ seq: this.nextSeq++, type, id, body: new WireReader(p, 5) });
    this.pump();
  }

  private fatal(why: string): void {
    this.emit('failed', { operation: 'protocol', status: SFTPStatus.BAD_MESSAGE, message: why });
    this.shutdown();
    this.transport.close();
  }

  // ---- scheduling -----------------------------------------------------------

  private pump(): void {
    // Replies the client has not taken yet stop new work: a client queuing thousands of reads
    // and reading nothing makes us hold at most MAX_UNSENT_REPLY_BYTES of replies.
    while (this.queue.length > 0 && !this.over && this.unsentBytes <= MAX_UNSENT_REPLY_BYTES) {
      const req = this.queue[0];
      const overlappable = OVERLAPPABLE.has(req.type);
      if (this.inFlight > 0 && (this.barrierRunning || !overlappable || this.inFlight >= MAX_OVERLAP)) break;
      this.queue.shift();
      this.inFlight++;
      this.barrierRunning = !overlappable;
      void this.run(req).then((reply) => this.finished(req, reply));
    }
    this.updateHold();
    if (this.ending && this.queue.length === 0 && this.inFlight === 0) this.finish();
  }

  private async run(req: Request): Promise<Buffer> {
    const handler = HANDLERS[req.type];
    try {
      if (!handler) throw new SFTPError(SFTPStatus.OP_UNSUPPORTED, `Unsupported request ${req.type}`);
      if (this.access === 'read-only' && WRITE_OPERATIONS.has(req.type)) throw denied('read-only access');
      return await handler.call(this, req.body, req.id);
    } catch (err) {
      const { status, message } = statusOf(err);
      this.emit('failed', { operation: OPERATION[req.type] ?? String(req.type), status, message });
      return this.status(req.id, status, message);
    }
  }

  private finished(req: Request, reply: Buffer): void {
    this.inFlight--;
    if (!OVERLAPPABLE.has(req.type)) this.barrierRunning = false;
    if (this.over) return;
    this.replies.set(req.seq, reply);
    while (this.replies.has(this.nextReply)) {
      const packet = this.replies.get(this.nextReply)!;
      this.replies.delete(this.nextReply++);
      this.sendNow(packet);
    }
    this.pump();
  }

  /**
   * DATA reply buffers are reused once the channel has copied them into SSH packets: a download
   * otherwise allocates a fresh 32 KiB ArrayBuffer per read, and the collector spent more time on
   * them than anything else.
   */
  private replyBuffer(size: number): Buffer {
    const i = this.replyPool.findIndex((b) => b.length >= size);
    if (i >= 0) return this.replyPool.splice(i, 1)[0];
    return Buffer.allocUnsafeSlow(Math.max(size, 13 + 32 * 1024));
  }

  private recycle(buffer: Buffer): void {
    if (this.replyPool.length < REPLY_POOL_SIZE) this.replyPool.push(buffer);
  }

  /** The channel layer packs consecutive replies into full SSH packets, so each goes as it is. */
  private sendNow(packet: Buffer): void {
    this.unsentBytes += packet.length;
    this.transport.send(packet).then(
      () => {
        this.unsentBytes -= packet.length;
        const base = this.pooled.get(packet);
        if (base) this.recycle(base);
        this.pump();
      },
      () => this.shutdown(),
    );
  }

  private updateHold(): void {
    const behind = this.queue.length + this.inFlight > MAX_QUEUED_REQUESTS || this.unsentBytes > MAX_UNSENT_REPLY_BYTES;
    this.transport.holdInput(behind && !this.over);
  }

  /**
   * The client sent EOF: as OpenSSH's sftp-server, requests not started yet are dropped (a client
   * that stopped writing may also have stopped reading); those running finish, then every handle
   * closes and so does the channel.
   */
  end(): void {
    this.ending = true;
    this.queue.length = 0;
    this.pump();
  }

  private finish(): void {
    if (this.over) return;
    this.shutdown();
    this.transport.close();
  }

  /** The channel is gone (or we are done): close every handle, once. */
  shutdown(): void {
    if (this.over) return;
    this.over = true;
    this.queue.length = 0;
    this.replies.clear();
    this.transport.holdInput(false);
    const handles = [...this.handles.values()];
    this.handles.clear();
    void Promise.allSettled(handles.map((h) => this.closeHandle(h))).then(() => this.emit('ended'));
  }

  // ---- replies --------------------------------------------------------------

  /** @internal Builds an SSH_FXP_STATUS reply. */
  status(id: number, code: SFTPStatusCode, message = ''): Buffer {
    return frame(FXP.STATUS, [u32(id), u32(code), str(message), str('en')]);
  }
  private ok(id: number): Buffer {
    return this.status(id, SFTPStatus.OK, 'Success');
  }
  private name(id: number, entries: Array<{ filename: string; longname: string; attrs: SFTPAttributes }>): Buffer {
    return frame(FXP.NAME, [u32(id), u32(entries.length), ...entries.flatMap((e) => [str(e.filename), str(e.longname), encodeAttrs(e.attrs)])]);
  }

  // ---- handles --------------------------------------------------------------

  private addHandle(h: Handle): Buffer {
    const key = Buffer.alloc(4);
    key.writeUInt32BE(this.handleCounter++ >>> 0);
    this.handles.set(key.toString('hex'), h);
    return key;
  }

  private take(r: WireReader): Handle {
    const h = this.handles.get(r.bytes().toString('hex'));
    if (!h) throw new SFTPError(SFTPStatus.FAILURE, 'Invalid handle');
    return h;
  }

  private file(r: WireReader): FileEntry {
    const h = this.take(r);
    if (h.kind !== 'file') throw new SFTPError(SFTPStatus.FAILURE, 'Not a file handle');
    return h;
  }

  /**
   * A handle opened after the session ended (the channel closed while the open was in flight)
   * would never be closed: shutdown() has already closed the others. Close it and drop the reply.
   */
  private async closeIfEnded(handle: SFTPFileHandle | SFTPDirHandle): Promise<void> {
    if (!this.over) return;
    await handle.close();
    throw new SFTPError(SFTPStatus.CONNECTION_LOST, 'The session ended while the handle was being opened');
  }

  private checkHandleLimit(): void {
    if (this.handles.size >= this.maxHandles) throw new SFTPError(SFTPStatus.FAILURE, `Too many open handles (${this.maxHandles})`);
  }

  private async closeHandle(h: Handle): Promise<void> {
    await h.handle.close();
    if (h.kind !== 'file') return;
    if (h.written > 0) this.emit('uploaded', { path: h.path, bytes: h.written });
    if (h.read > 0) this.emit('downloaded', { path: h.path, bytes: h.read });
  }

  private path(r: WireReader): string {
    return resolveClientPath(r.string());
  }

  // ---- requests -------------------------------------------------------------

  /** @internal SFTP request handler. */
  async open(r: WireReader, id: number): Promise<Buffer> {
    const path = this.path(r);
    const flags = decodeOpenFlags(r.uint32());
    const attrs = readAttrs(r);
    const writes = flags.write || flags.append || flags.create || flags.truncate;
    if (this.access === 'read-only' && writes) throw denied('read-only access');
    if (this.access === 'upload-only' && flags.read) throw denied('upload-only access');
    this.checkHandleLimit();
    const handle = await this.fs.open(path, flags, attrs);
    await this.closeIfEnded(handle);
    this.emit('opened', { path, flags });
    return frame(FXP.HANDLE, [u32(id), str(this.addHandle({ kind: 'file', path, handle, read: 0, written: 0 }))]);
  }

  /** @internal SFTP request handler. */
  async close(r: WireReader, id: number): Promise<Buffer> {
    const key = r.bytes().toString('hex');
    const h = this.handles.get(key);
    if (!h) throw new SFTPError(SFTPStatus.FAILURE, 'Invalid handle');
    this.handles.delete(key);
    await this.closeHandle(h);
    return this.ok(id);
  }

  /** @internal SFTP request handler. */
  async read(r: WireReader, id: number): Promise<Buffer> {
    const h = this.file(r);
    const offset = Number(r.uint64());
    const length = Math.min(r.uint32(), MAX_READ);
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
  async write(r: WireReader, id: number): Promise<Buffer> {
    const h = this.file(r);
    const offset = Number(r.uint64());
    const data = r.bytes();
    await h.handle.write(offset, data);
    h.written += data.length;
    return this.ok(id);
  }

  /** @internal SFTP request handler. */
  async stat(r: WireReader, id: number, follow = true): Promise<Buffer> {
    const path = this.path(r);
    const attrs = follow ? await this.fs.stat(path) : await this.fs.lstat(path);
    return frame(FXP.ATTRS, [u32(id), encodeAttrs(attrs)]);
  }

  /** @internal SFTP request handler. */
  async fstat(r: WireReader, id: number): Promise<Buffer> {
    return frame(FXP.ATTRS, [u32(id), encodeAttrs(await this.file(r).handle.stat())]);
  }

  /** @internal SFTP request handler. */
  async setstat(r: WireReader, id: number): Promise<Buffer> {
    const path = this.path(r);
    await this.fs.setstat(path, readAttrs(r));
    return this.ok(id);
  }

  /** @internal SFTP request handler. */
  async fsetstat(r: WireReader, id: number): Promise<Buffer> {
    const h = this.file(r);
    await h.handle.setstat(readAttrs(r));
    return this.ok(id);
  }

  /** @internal SFTP request handler. */
  async opendir(r: WireReader, id: number): Promise<Buffer> {
    const path = this.path(r);
    this.checkHandleLimit();
    const handle = await this.fs.opendir(path);
    await this.closeIfEnded(handle);
    return frame(FXP.HANDLE, [u32(id), str(this.addHandle({ kind: 'dir', path, handle }))]);
  }

  /** @internal SFTP request handler. */
  async readdir(r: WireReader, id: number): Promise<Buffer> {
    const h = this.take(r);
    if (h.kind !== 'dir') throw new SFTPError(SFTPStatus.FAILURE, 'Not a directory handle');
    const entries = await h.handle.next();
    if (!entries || entries.length === 0) return this.status(id, SFTPStatus.EOF, 'End of directory');
    return this.name(id, entries.map((e) => ({ filename: e.filename, longname: e.longname ?? formatLongname(e.filename, e.attrs), attrs: e.attrs })));
  }

  /** @internal SFTP request handler. */
  async remove(r: WireReader, id: number): Promise<Buffer> {
    const path = this.path(r);
    await this.fs.remove(path);
    this.emit('removed', { path });
    return this.ok(id);
  }

  /** @internal SFTP request handler. */
  async mkdir(r: WireReader, id: number): Promise<Buffer> {
    const path = this.path(r);
    await this.fs.mkdir(path, readAttrs(r));
    this.emit('directoryCreated', { path });
    return this.ok(id);
  }

  /** @internal SFTP request handler. */
  async rmdir(r: WireReader, id: number): Promise<Buffer> {
    const path = this.path(r);
    await this.fs.rmdir(path);
    this.emit('directoryRemoved', { path });
    return this.ok(id);
  }

  /** @internal SFTP request handler. */
  async realpath(r: WireReader, id: number): Promise<Buffer> {
    const path = this.path(r);
    const real = this.fs.realpath ? await this.fs.realpath(path) : path;
    return this.name(id, [{ filename: real, longname: real, attrs: {} }]);
  }

  /** @internal SFTP request handler. */
  async rename(r: WireReader, id: number, overwrite = false): Promise<Buffer> {
    const from = this.path(r);
    const to = this.path(r);
    await this.fs.rename(from, to, overwrite);
    this.emit('renamed', { from, to });
    return this.ok(id);
  }

  /** @internal SFTP request handler. */
  async readlink(r: WireReader, id: number): Promise<Buffer> {
    const target = await this.fs.readlink(this.path(r));
    return this.name(id, [{ filename: target, longname: target, attrs: {} }]);
  }

  /** @internal SFTP request handler. OpenSSH sends (and expects) the target first, the link path second: the reverse of the draft. */
  async symlink(r: WireReader, id: number): Promise<Buffer> {
    const targetText = r.string();
    const linkPath = this.path(r);
    const target = targetText.startsWith('/') ? resolveClientPath(targetText) : targetText;
    await this.fs.symlink(linkPath, target);
    this.emit('linkCreated', { path: linkPath, target, hard: false });
    return this.ok(id);
  }

  /** @internal SFTP request handler. */
  async extended(r: WireReader, id: number): Promise<Buffer> {
    const name = r.string();
    // Own properties only: 'constructor' or 'toString' named Object.prototype methods, whose
    // non-Buffer "replies" stalled the session.
    const ext = Object.hasOwn(EXTENDED, name) ? EXTENDED[name] : undefined;
    if (!ext) throw new SFTPError(SFTPStatus.OP_UNSUPPORTED, `Unsupported extension ${name}`);
    if (this.access === 'read-only' && WRITE_EXTENSIONS.has(name)) throw denied('read-only access');
    return ext.call(this, r, id);
  }

  /** @internal SFTP request handler. */
  async statvfs(r: WireReader, id: number): Promise<Buffer> {
    return this.statvfsReply(id, this.path(r));
  }

  /** @internal SFTP request handler. */
  async fstatvfs(r: WireReader, id: number): Promise<Buffer> {
    return this.statvfsReply(id, this.take(r).path);
  }

  private async statvfsReply(id: number, path: string): Promise<Buffer> {
    if (!this.fs.statvfs) throw new SFTPError(SFTPStatus.OP_UNSUPPORTED, 'statvfs not supported by this filesystem');
    const s = await this.fs.statvfs(path);
    const fields = [s.bsize, s.frsize, s.blocks, s.bfree, s.bavail, s.files, s.ffree, s.favail, s.fsid, s.flag, s.namemax];
    return frame(FXP.EXTENDED_REPLY, [u32(id), ...fields.map(uint64)]);
  }

  /** @internal SFTP request handler. */
  async hardlink(r: WireReader, id: number): Promise<Buffer> {
    if (!this.fs.link) throw new SFTPError(SFTPStatus.OP_UNSUPPORTED, 'hard links not supported by this filesystem');
    const existing = this.path(r);
    const link = this.path(r);
    await this.fs.link(existing, link);
    this.emit('linkCreated', { path: link, target: existing, hard: true });
    return this.ok(id);
  }

  /** @internal SFTP request handler. */
  async fsync(r: WireReader, id: number): Promise<Buffer> {
    await this.file(r).handle.sync();
    return this.ok(id);
  }

  /** @internal SFTP request handler. */
  async lsetstat(r: WireReader, id: number): Promise<Buffer> {
    const path = this.path(r);
    const attrs = readAttrs(r);
    if (!this.fs.lsetstat) throw new SFTPError(SFTPStatus.OP_UNSUPPORTED, 'lsetstat not supported by this filesystem');
    await this.fs.lsetstat(path, attrs);
    return this.ok(id);
  }

  /** @internal SFTP request handler. */
  async limits(_r: WireReader, id: number): Promise<Buffer> {
    return frame(FXP.EXTENDED_REPLY, [u32(id), uint64(MAX_PACKET), uint64(MAX_READ), uint64(MAX_READ), uint64(this.maxHandles)]);
  }

  /** @internal SFTP request handler. */
  async expandPath(r: WireReader, id: number): Promise<Buffer> {
    const path = this.path(r);
    return this.name(id, [{ filename: path, longname: path, attrs: {} }]);
  }
}

/** Request type -> handler: the dispatch table. */
const HANDLERS: Partial<Record<number, Handler>> = {
  [FXP.OPEN]: SFTPSession.prototype.open,
  [FXP.CLOSE]: SFTPSession.prototype.close,
  [FXP.READ]: SFTPSession.prototype.read,
  [FXP.WRITE]: SFTPSession.prototype.write,
  [FXP.LSTAT]: function (r, id) {
    return this.stat(r, id, false);
  },
  [FXP.STAT]: function (r, id) {
    return this.stat(r, id, true);
  },
  [FXP.FSTAT]: SFTPSession.prototype.fstat,
  [FXP.SETSTAT]: SFTPSession.prototype.setstat,
  [FXP.FSETSTAT]: SFTPSession.prototype.fsetstat,
  [FXP.OPENDIR]: SFTPSession.prototype.opendir,
  [FXP.READDIR]: SFTPSession.prototype.readdir,
  [FXP.REMOVE]: SFTPSession.prototype.remove,
  [FXP.MKDIR]: SFTPSession.prototype.mkdir,
  [FXP.RMDIR]: SFTPSession.prototype.rmdir,
  [FXP.REALPATH]: SFTPSession.prototype.realpath,
  [FXP.RENAME]: function (r, id) {
    return this.rename(r, id, false);
  },
  [FXP.READLINK]: SFTPSession.prototype.readlink,
  [FXP.SYMLINK]: SFTPSession.prototype.symlink,
  [FXP.EXTENDED]: SFTPSession.prototype.extended,
};

/** Extension name -> handler. */
const EXTENDED: Record<string, Handler> = {
  'posix-rename@openssh.com': function (r, id) {
    return this.rename(r, id, true);
  },
  'statvfs@openssh.com': SFTPSession.prototype.statvfs,
  'fstatvfs@openssh.com': SFTPSession.prototype.fstatvfs,
  'hardlink@openssh.com': SFTPSession.prototype.hardlink,
  'fsync@openssh.com': SFTPSession.prototype.fsync,
  'lsetstat@openssh.com': SFTPSession.prototype.lsetstat,
  'limits@openssh.com': SFTPSession.prototype.limits,
  'expand-path@openssh.com': SFTPSession.prototype.expandPath,
};
