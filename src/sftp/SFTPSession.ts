import { markHandled } from '../errors/unawaited';
import { TypedEmitter } from 'tiny-typed-emitter';
import { ErrorCodes, SSHDaemonError } from '../errors/SSHDaemonError';
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
import { decodeFileName, encodeFileName } from './fileNames';
import type { SFTPHandleBudget } from './handleBudget';
import { formatLongname } from './longname';
import { resolveClientPath, splitVirtual, type TildeUser } from './paths';
import {
  decodeOpenFlags,
  encodeAttrs,
  EXTENSIONS,
  frame,
  FXP,
  MAX_OFFSET,
  MAX_PACKET,
  MAX_READ,
  offsetTooLarge,
  OPTIONAL_EXTENSIONS,
  readAttrs,
  SFTP_VERSION,
  str,
  u32,
  uint64,
} from './protocol';
import { type FileAccess, RunningAccesses } from './requestOrder';

/** Who may do what: `upload-only` may write and list but not read file contents. */
export type SFTPAccess = 'read-write' | 'read-only' | 'upload-only';

/** How an SFTP session serves its filesystem. */
export interface SFTPSessionOptions {
  /** What the session serves: {@link LocalFileSystem} or your own {@link SFTPFileSystem}. */
  fileSystem: SFTPFileSystem;
  /** Default `read-write`. */
  access?: SFTPAccess;
  /** Open file and directory handles allowed at once in this session (default 256). */
  maxHandles?: number;
  /**
   * Open handles allowed at once to the user over all their SFTP sessions of this daemon, every
   * channel and connection together (default 1024): each handle holds a file descriptor of the one
   * daemon process. The limit of the session that opens is the one applied. Only sessions the daemon
   * serves (`enableSFTP`, `serveSFTP`) are counted together.
   */
  maxHandlesPerUser?: number;
  /**
   * The logged-in user: `~user/...` in expand-path@openssh.com (`scp 'host:~user/f'`) is the home
   * directory `/` for this name, and home-directory answers `/` for it; other user names are refused.
   * The daemon fills it with the connection's user; set it to override.
   */
  user?: string;
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
  /** @internal The per-user handle count this session takes from (the daemon's). */
  handleBudget?: SFTPHandleBudget;
  /** @internal An audit listener threw (reported as the daemon's `Error`, as a throwing event handler is). */
  listenerFailed?(event: string, err: unknown): void;
}

type FileEntry = { kind: 'file'; path: string; flags: SFTPOpenFlags; handle: SFTPFileHandle; read: number; written: number };
type DirEntry = { kind: 'dir'; path: string; handle: SFTPDirHandle };
type Handle = FileEntry | DirEntry;

interface Request {
  seq: number;
  type: number;
  id: number;
  body: WireReader;
  /** READ/WRITE: the bytes it touches (null: none known), once looked at. */
  access?: FileAccess | null;
}

type Handler = (this: SFTPSession, r: WireReader, id: number) => Promise<Buffer>;

/**
 * Reads and writes may run side by side unless they touch the same bytes of a file (then, and for
 * appends, in arrival order: see requestOrder.ts); everything else waits for what came before.
 */
const OVERLAPPABLE = new Set<number>([FXP.READ, FXP.WRITE]);
const MAX_OVERLAP = 16;
/** Past these the client's window stays shut until we catch up. */
const MAX_QUEUED_REQUESTS = 256;
/**
 * Bytes of requests received and not finished (WRITE data above all): 256 WRITEs of 256 KiB queued
 * behind one slow request held 64 MiB per channel when only the count was bounded.
 */
const MAX_PENDING_REQUEST_BYTES = 4 * 1024 * 1024;
const MAX_UNSENT_REPLY_BYTES = 8 * 1024 * 1024;
const REPLY_POOL_SIZE = 32;

const OPERATION: Record<number, string> = Object.fromEntries(Object.entries(FXP).map(([k, v]) => [v, k.toLowerCase()]));

const WRITE_OPERATIONS = new Set<number>([FXP.SETSTAT, FXP.FSETSTAT, FXP.REMOVE, FXP.MKDIR, FXP.RMDIR, FXP.RENAME, FXP.SYMLINK]);
const WRITE_EXTENSIONS = new Set(['posix-rename@openssh.com', 'hardlink@openssh.com', 'lsetstat@openssh.com', 'copy-data']);
/** Chunk of a copy-data copy, one buffer per running copy; sftp-server's size, which decides when it answers EOF. */
const COPY_CHUNK = 64 * 1024;
/** Symlinks followed when REALPATH meets a dangling one (SYMLOOP_MAX of sftp-realpath.c). */
const SYMLOOP_MAX = 32;
const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const isType = (attrs: SFTPAttributes, type: number): boolean => attrs.mode !== undefined && (attrs.mode & S_IFMT) === type;

function statusOf(err: unknown): { status: SFTPStatusCode; message: string } {
  if (err instanceof SFTPError) return { status: err.status, message: err.message };
  const code = (err as NodeJS.ErrnoException)?.code;
  // Node messages name real paths; clients get a generic text.
  if (code === 'ENOENT' || code === 'ENOTDIR') return { status: SFTPStatus.NO_SUCH_FILE, message: 'No such file' };
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS')
    return { status: SFTPStatus.PERMISSION_DENIED, message: 'Permission denied' };
  if (code) return { status: SFTPStatus.FAILURE, message: `Failure (${code})` };
  if (err instanceof Error && /^(Malformed|truncated)/i.test(err.message))
    return { status: SFTPStatus.BAD_MESSAGE, message: 'Bad message' };
  return { status: SFTPStatus.FAILURE, message: 'Failure' };
}

/** The bytes a name stands for on the wire; a string no bytes decode to (a custom filesystem's) goes as UTF-8. */
function wireName(name: string): Buffer {
  try {
    return encodeFileName(name);
  } catch {
    return Buffer.from(name, 'utf8');
  }
}

/** A handle limit option as given, or SSHDaemonError InvalidArgument naming it. */
function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1)
    throw new SSHDaemonError(ErrorCodes.InvalidArgument, `SFTP option ${name} must be an integer of at least 1, got ${String(value)}`);
  return value;
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
  private readonly user?: string;
  private readonly running = new RunningAccesses();
  private lastHandle?: Buffer;
  private lastHandleKey = '';
  private chunks: Buffer[] = [];
  private buffered = 0;
  private initialised = false;
  private readonly queue: Request[] = [];
  private inFlight = 0;
  /** Bytes of the requests queued or running (see MAX_PENDING_REQUEST_BYTES). */
  private pendingBytes = 0;
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
    this.maxHandles = positiveInteger('maxHandles', options.maxHandles ?? 256);
    if (options.maxHandlesPerUser !== undefined) positiveInteger('maxHandlesPerUser', options.maxHandlesPerUser);
    this.user = options.user;
  }

  /**
   * Fires an audit event. A listener that throws must not break the session (a request would go
   * unanswered, or its rejection end the process): it is reported, and the other listeners run.
   */
  private audit<E extends keyof SFTPSessionEvents>(event: E, ...args: Parameters<SFTPSessionEvents[E]>): void {
    // Each listener on its own, as the daemon's events: one that throws does not silence the next.
    for (const listener of this.rawListeners(event)) {
      try {
        (listener as (...a: Parameters<SFTPSessionEvents[E]>) => void).apply(this, args);
      } catch (err) {
        this.transport.listenerFailed?.(event, err);
      }
    }
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
      const ext = EXTENSIONS.filter(([name]) => !OPTIONAL_EXTENSIONS[name] || this.fs[OPTIONAL_EXTENSIONS[name]]).flatMap(
        ([name, version]) => [str(name), str(version)],
      );
      this.sendNow(frame(FXP.VERSION, [u32(SFTP_VERSION), ...ext]));
      return;
    }
    if (p.length < 5) return this.fatal('packet without request id');
    const id = p.readUInt32BE(1);
    this.queue.push({ seq: this.nextSeq++, type, id, body: new WireReader(p, 5), access: undefined });
    this.pendingBytes += p.length;
    this.pump();
  }

  private fatal(why: string): void {
    this.audit('failed', { operation: 'protocol', status: SFTPStatus.BAD_MESSAGE, message: why });
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
      if (overlappable) {
        // Head-of-line: a request that must wait for a running one holds back those behind it too,
        // so requests still start in arrival order.
        if (req.access === undefined) req.access = this.accessOf(req);
        if (req.access && !this.running.allows(req.access)) break;
        if (req.access) this.running.add(req.access);
      }
      this.queue.shift();
      this.inFlight++;
      this.barrierRunning = !overlappable;
      markHandled(this.run(req).then((reply) => this.finished(req, reply)));
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
      this.audit('failed', { operation: OPERATION[req.type] ?? String(req.type), status, message });
      return this.status(req.id, status, message);
    }
  }

  /**
   * The bytes a READ or WRITE touches, read ahead of running it (handle, uint64 offset, then the
   * READ length or the WRITE data's length prefix); null for an unknown handle or a short packet,
   * which fails alone.
   */
  private accessOf(req: Request): FileAccess | null {
    const { buf, offset } = req.body;
    if (buf.length < offset + 4) return null;
    const keyLength = buf.readUInt32BE(offset);
    const at = offset + 4 + keyLength;
    if (buf.length < at + 12) return null;
    const h = this.handles.get(this.handleKey(buf, offset + 4, at));
    if (!h || h.kind !== 'file') return null;
    const start = buf.readUInt32BE(at) * 2 ** 32 + buf.readUInt32BE(at + 4);
    const write = req.type === FXP.WRITE;
    const length = write ? buf.readUInt32BE(at + 8) : Math.min(buf.readUInt32BE(at + 8), MAX_READ);
    return { file: h.path, start, end: start + length, write, append: write && h.flags.append };
  }

  /**
   * The map key of the handle in `buf` from `start` to `end`; the last one is remembered, compared
   * in place (a transfer sends one handle over and over).
   */
  private handleKey(buf: Buffer, start: number, end: number): string {
    if (this.lastHandle?.compare(buf, start, end) !== 0) {
      this.lastHandle = Buffer.from(buf.subarray(start, end));
      this.lastHandleKey = this.lastHandle.toString('hex');
    }
    return this.lastHandleKey;
  }

  private finished(req: Request, reply: Buffer): void {
    if (req.access) this.running.delete(req.access);
    this.inFlight--;
    this.pendingBytes -= req.body.buf.length;
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

  /** Drops the requests not started yet (client EOF, shutdown). */
  private dropQueued(): void {
    for (const req of this.queue) this.pendingBytes -= req.body.buf.length;
    this.queue.length = 0;
  }

  private updateHold(): void {
    const behind =
      this.queue.length + this.inFlight > MAX_QUEUED_REQUESTS ||
      this.pendingBytes > MAX_PENDING_REQUEST_BYTES ||
      this.unsentBytes > MAX_UNSENT_REPLY_BYTES;
    this.transport.holdInput(behind && !this.over);
  }

  /**
   * The client sent EOF: as OpenSSH's sftp-server, requests not started yet are dropped (a client
   * that stopped writing may also have stopped reading); those running finish, then every handle
   * closes and so does the channel.
   */
  end(): void {
    this.ending = true;
    this.dropQueued();
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
    this.dropQueued();
    this.replies.clear();
    this.transport.holdInput(false);
    const handles = [...this.handles.values()];
    this.handles.clear();
    void Promise.allSettled(handles.map((h) => this.closeHandle(h))).then(() => this.audit('ended'));
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
    return frame(FXP.NAME, [
      u32(id),
      u32(entries.length),
      ...entries.flatMap((e) => [str(wireName(e.filename)), str(wireName(e.longname)), encodeAttrs(e.attrs)]),
    ]);
  }

  // ---- handles --------------------------------------------------------------

  private addHandle(h: Handle): Buffer {
    const key = Buffer.alloc(4);
    key.writeUInt32BE(this.handleCounter++ >>> 0);
    this.handles.set(key.toString('hex'), h);
    return key;
  }

  private take(r: WireReader): Handle {
    // Looked up in place: a READ or WRITE per 32 KiB is no reason for a Buffer view per request.
    const length = r.uint32();
    if (r.remaining < length) throw new SFTPError(SFTPStatus.BAD_MESSAGE, 'Bad message: truncated handle');
    const h = this.handles.get(this.handleKey(r.buf, r.offset, r.offset + length));
    r.offset += length;
    if (!h) throw new SFTPError(SFTPStatus.FAILURE, 'Invalid handle');
    return h;
  }

  private file(r: WireReader): FileEntry {
    const h = this.take(r);
    if (h.kind !== 'file') throw new SFTPError(SFTPStatus.FAILURE, 'Not a file handle');
    return h;
  }

  /** Opens through `open` within the session's and the user's handle limits; the entry's key. */
  private async adopt<T extends SFTPFileHandle | SFTPDirHandle>(open: () => Promise<T>, entry: (handle: T) => Handle): Promise<Buffer> {
    if (this.handles.size >= this.maxHandles) throw new SFTPError(SFTPStatus.FAILURE, `Too many open handles (${this.maxHandles})`);
    const budget = this.transport.handleBudget;
    if (budget && !budget.take()) throw new SFTPError(SFTPStatus.FAILURE, `Too many open handles for this user (${budget.limit})`);
    let handle: T;
    try {
      handle = await open();
    } catch (err) {
      budget?.give();
      throw err;
    }
    if (this.over) {
      // The channel went while the file was being opened: nothing would ever close it.
      await handle.close().catch(() => undefined);
      budget?.give();
      throw new SFTPError(SFTPStatus.FAILURE, 'Session ended');
    }
    return this.addHandle(entry(handle));
  }

  private async closeHandle(h: Handle): Promise<void> {
    try {
      await h.handle.close();
    } finally {
      this.transport.handleBudget?.give();
    }
    if (h.kind !== 'file') return;
    if (h.written > 0) this.audit('uploaded', { path: h.path, bytes: h.written });
    if (h.read > 0) this.audit('downloaded', { path: h.path, bytes: h.read });
  }

  /** A path the client sent: its bytes as a {@link decodeFileName} string (lossless), resolved. */
  private path(r: WireReader, tilde?: TildeUser): string {
    return resolveClientPath(decodeFileName(r.bytes()), tilde);
  }

  // ---- requests -------------------------------------------------------------

  /** @internal SFTP request handler. */
  async open(r: WireReader, id: number): Promise<Buffer> {
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
  async write(r: WireReader, id: number): Promise<Buffer> {
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
    const key = await this.adopt(
      () => this.fs.opendir(path),
      (handle) => ({ kind: 'dir', path, handle }),
    );
    return frame(FXP.HANDLE, [u32(id), str(key)]);
  }

  /** @internal SFTP request handler. */
  async readdir(r: WireReader, id: number): Promise<Buffer> {
    const h = this.take(r);
    if (h.kind !== 'dir') throw new SFTPError(SFTPStatus.FAILURE, 'Not a directory handle');
    const entries = await h.handle.next();
    if (!entries || entries.length === 0) return this.status(id, SFTPStatus.EOF, 'End of directory');
    return this.name(
      id,
      entries.map((e) => ({ filename: e.filename, longname: e.longname ?? formatLongname(e.filename, e.attrs), attrs: e.attrs })),
    );
  }

  /** @internal SFTP request handler. */
  async remove(r: WireReader, id: number): Promise<Buffer> {
    const path = this.path(r);
    await this.fs.remove(path);
    this.audit('removed', { path });
    return this.ok(id);
  }

  /** @internal SFTP request handler. */
  async mkdir(r: WireReader, id: number): Promise<Buffer> {
    const path = this.path(r);
    await this.fs.mkdir(path, readAttrs(r, 'drop'));
    this.audit('directoryCreated', { path });
    return this.ok(id);
  }

  /** @internal SFTP request handler. */
  async rmdir(r: WireReader, id: number): Promise<Buffer> {
    const path = this.path(r);
    await this.fs.rmdir(path);
    this.audit('directoryRemoved', { path });
    return this.ok(id);
  }

  /** @internal SFTP request handler. */
  async realpath(r: WireReader, id: number): Promise<Buffer> {
    const real = await this.canonical(this.path(r));
    return this.name(id, [{ filename: real, longname: real, attrs: {} }]);
  }

  /**
   * REALPATH as OpenSSH's sftp-server (`sftp_realpath`): the canonical path of an existing path;
   * a missing last name is allowed (its parent is resolved and the name appended, so `scp -r dir
   * host:new` and `put -r` can name what they are about to create), a missing parent is
   * NO_SUCH_FILE; a dangling symlink resolves to where it points.
   */
  private async canonical(path: string, links = 0): Promise<string> {
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
    return this.canonical(resolveClientPath(target.startsWith('/') ? target : `${realParent}/${target}`), links + 1);
  }

  /** @internal SFTP request handler. */
  async rename(r: WireReader, id: number, overwrite = false): Promise<Buffer> {
    const from = this.path(r);
    const to = this.path(r);
    await this.fs.rename(from, to, overwrite);
    this.audit('renamed', { from, to });
    return this.ok(id);
  }

  /** @internal SFTP request handler. */
  async readlink(r: WireReader, id: number): Promise<Buffer> {
    const target = await this.fs.readlink(this.path(r));
    return this.name(id, [{ filename: target, longname: target, attrs: {} }]);
  }

  /** @internal SFTP request handler. OpenSSH sends (and expects) the target first, the link path second: the reverse of the draft. */
  async symlink(r: WireReader, id: number): Promise<Buffer> {
    const targetText = decodeFileName(r.bytes());
    const linkPath = this.path(r);
    const target = targetText.startsWith('/') ? resolveClientPath(targetText) : targetText;
    await this.fs.symlink(linkPath, target);
    this.audit('linkCreated', { path: linkPath, target, hard: false });
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
    this.audit('linkCreated', { path: link, target: existing, hard: true });
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
    const real = await this.canonical(this.path(r, { user: this.user }));
    return this.name(id, [{ filename: real, longname: real, attrs: {} }]);
  }

  /** @internal SFTP request handler: home-directory (the logged-in user's, or '' for it, is `/`). */
  async homeDirectory(r: WireReader, id: number): Promise<Buffer> {
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
  async copyData(r: WireReader, id: number): Promise<Buffer> {
    // Reading through it is a download: upload-only may not (read-only is refused as a write before).
    if (this.access === 'upload-only') throw denied('upload-only access');
    const src = this.file(r);
    const readOffset = r.uint64();
    const readLength = r.uint64();
    const dst = this.file(r);
    const writeOffset = r.uint64();
    if (src === dst || src.path === dst.path)
      throw new SFTPError(SFTPStatus.FAILURE, 'copy-data: source and destination are the same file');
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
        got = await this.readChunk(src.handle, from + n, buffer, n, want - n);
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
  private async readChunk(handle: SFTPFileHandle, position: number, target: Buffer, offset: number, length: number): Promise<number> {
    if (handle.readInto) return handle.readInto(position, target, offset, length);
    const data = await handle.read(position, length);
    return data.copy(target, offset, 0, Math.min(data.length, length));
  }

  /**
   * @internal SFTP request handler: users-groups-by-id@openssh.com (OpenSSH 9.1+ `sftp ls -l`
   * names), through {@link SFTPFileSystem.usersGroupsById}; announced only when the filesystem has it.
   */
  async usersGroupsById(r: WireReader, id: number): Promise<Buffer> {
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
  'copy-data': SFTPSession.prototype.copyData,
  'home-directory': SFTPSession.prototype.homeDirectory,
  'users-groups-by-id@openssh.com': SFTPSession.prototype.usersGroupsById,
};
