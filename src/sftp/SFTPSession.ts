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
  SFTPStatus,
  type SFTPStatusCode,
} from './FileSystem';
import { HANDLERS, OPERATION, WRITE_OPERATIONS } from './dispatch';
import { decodeFileName } from './fileNames';
import type { SFTPHandleBudget } from './handleBudget';
import { type FileEntry, type Handle, HandleTable } from './handleTable';
import { resolveClientPath, type TildeUser } from './paths';
import { EXTENSIONS, frame, FXP, MAX_PACKET, MAX_READ, OPTIONAL_EXTENSIONS, SFTP_VERSION, str, u32 } from './protocol';
import { denied, nameReply, okReply, statusOf, statusReply } from './replies';
import { ReplyBatch } from './replyBatch';
import { SFTPFraming } from './framing';
import { LocalFileSystem } from './LocalFileSystem';
import { type FileAccess, RunningAccesses } from './requestOrder';
import type { SFTPAccess, SFTPSessionEvents } from './sessionTypes';

export type { SFTPAccess, SFTPSessionEvents } from './sessionTypes';

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

interface Request {
  seq: number;
  type: number;
  id: number;
  body: WireReader;
  /** READ/WRITE: the bytes it touches (null: none known), once looked at. */
  access?: FileAccess | null;
  /** The framing pool's buffer the packet lives in, given back when the request finishes. */
  pooled: Buffer | undefined;
}

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

/** A handle limit option as given, or SSHDaemonError InvalidArgument naming it. */
function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1)
    throw new SSHDaemonError(ErrorCodes.InvalidArgument, `SFTP option ${name} must be an integer of at least 1, got ${String(value)}`);
  return value;
}

/**
 * One SFTP v3 server session on one channel: frames packets, runs requests against the
 * filesystem in order (reads and writes overlapping), answers in request order, and keeps memory
 * bounded by holding the client's window when it is ahead. The request handlers (dispatch.ts) run
 * with the session as `this`: the members marked internal are their SFTPRequestContext
 * (requestContext.ts; no `implements` clause, so the public typings do not name it).
 */
export class SFTPSession extends TypedEmitter<SFTPSessionEvents> {
  /** @internal */
  readonly fs: SFTPFileSystem;
  /** @internal */
  readonly access: SFTPAccess;
  /** @internal */
  readonly maxHandles: number;
  /** @internal ChannelConsumer: every packet is copied (framing.ts); no view of the input is kept. */
  readonly copiesInput = true;
  /** @internal */
  readonly user?: string;
  private readonly running = new RunningAccesses();
  private readonly framing: SFTPFraming;
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
  private readonly batch = new ReplyBatch((packet) => this.transmit(packet));
  /** Free DATA reply buffers, and the buffer each pooled reply was cut from. */
  private readonly replyPool: Buffer[] = [];
  /** @internal */
  readonly pooled = new WeakMap<Buffer, Buffer>();
  /** @internal */
  readonly handles = new HandleTable();
  private ending = false;
  /** takePackets() is running (it is reached again through packet() and pump()). */
  private taking = false;
  /** @internal */
  over = false;

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
    // Only the built-in file system is known to let go of WRITE data once the write settles; a
    // file system of your own may keep it, so its packets are never reused.
    this.framing = new SFTPFraming(MAX_PACKET + 1024, Object.getPrototypeOf(this.fs) === LocalFileSystem.prototype);
  }

  /**
   * Fires an audit event. A listener that throws must not break the session (a request would go
   * unanswered, or its rejection end the process): it is reported, and the other listeners run.
   */
  /** @internal */
  audit<E extends keyof SFTPSessionEvents>(event: E, ...args: Parameters<SFTPSessionEvents[E]>): void {
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
    this.framing.push(chunk);
    this.takePackets();
  }

  /**
   * Moves framed packets to the queue while it is below MAX_QUEUED_REQUESTS; the rest of the input
   * waits in the framing as bytes (a window of 9-byte requests parsed at once held 25 times its size).
   */
  private takePackets(): void {
    if (this.taking) return; // packet() -> pump() -> here: the loop below goes on
    this.taking = true;
    try {
      while (!this.over && this.queue.length < MAX_QUEUED_REQUESTS) {
        const next = this.framing.next();
        if (!next) break;
        if ('tooLong' in next) return this.fatal(`packet of ${next.tooLong} bytes`);
        this.packet(next.packet, next.pooled);
      }
    } finally {
      this.taking = false;
    }
    this.updateHold();
  }

  private packet(p: Buffer, pooled: Buffer | undefined): void {
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
    this.queue.push({ seq: this.nextSeq++, type, id, body: new WireReader(p, 5), access: undefined, pooled });
    this.pendingBytes += p.length;
    this.pump();
  }

  private fatal(why: string): void {
    this.audit('failed', { operation: 'protocol', status: SFTPStatus.BAD_MESSAGE, message: why });
    this.batch.flush();
    this.shutdown();
    this.transport.close();
  }

  // ---- scheduling -----------------------------------------------------------

  private pump(): void {
    // Replies the client has not taken yet stop new work: a client queuing thousands of reads
    // and reading nothing makes us hold at most MAX_UNSENT_REPLY_BYTES of replies.
    while (this.queue.length > 0 && !this.over && this.unsentBytes + this.batch.pending <= MAX_UNSENT_REPLY_BYTES) {
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
    if (this.framing.backlogged && this.queue.length < MAX_QUEUED_REQUESTS) this.takePackets();
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
    const h = this.handles.get(this.handles.key(buf, offset + 4, at));
    if (!h || h.kind !== 'file') return null;
    const start = buf.readUInt32BE(at) * 2 ** 32 + buf.readUInt32BE(at + 4);
    const write = req.type === FXP.WRITE;
    const length = write ? buf.readUInt32BE(at + 8) : Math.min(buf.readUInt32BE(at + 8), MAX_READ);
    return { file: h.path, start, end: start + length, write, append: write && h.flags.append };
  }

  private finished(req: Request, reply: Buffer): void {
    if (req.access) this.running.delete(req.access);
    this.inFlight--;
    this.pendingBytes -= req.body.buf.length;
    if (req.pooled) this.framing.release(req.pooled);
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
  /** @internal */
  replyBuffer(size: number): Buffer {
    const i = this.replyPool.findIndex((b) => b.length >= size);
    if (i >= 0) return this.replyPool.splice(i, 1)[0];
    return Buffer.allocUnsafeSlow(Math.max(size, 13 + 32 * 1024));
  }

  /** @internal */
  recycle(buffer: Buffer): void {
    if (this.replyPool.length < REPLY_POOL_SIZE) this.replyPool.push(buffer);
  }

  /** Replies go through the batch (replyBatch.ts); what it hands on goes to the channel as it is. */
  private sendNow(packet: Buffer): void {
    this.batch.send(packet);
  }

  private transmit(packet: Buffer): void {
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
      this.framing.backlogged ||
      this.pendingBytes > MAX_PENDING_REQUEST_BYTES ||
      this.unsentBytes + this.batch.pending > MAX_UNSENT_REPLY_BYTES;
    this.transport.holdInput(behind && !this.over);
  }

  /**
   * The client sent EOF: as OpenSSH's sftp-server, requests not started yet are dropped (a client
   * that stopped writing may also have stopped reading); those running finish, then every handle
   * closes and so does the channel.
   */
  end(): void {
    this.ending = true;
    this.framing.clear(); // requests still waiting as bytes are not started either
    this.dropQueued();
    this.pump();
  }

  private finish(): void {
    if (this.over) return;
    this.batch.flush();
    this.shutdown();
    this.transport.close();
  }

  /** The channel is gone (or we are done): close every handle, once. */
  shutdown(): void {
    if (this.over) return;
    this.over = true;
    this.batch.drop();
    this.framing.clear();
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
    return statusReply(id, code, message);
  }
  /** @internal */
  ok(id: number): Buffer {
    return okReply(id);
  }
  /** @internal */
  name(id: number, entries: Array<{ filename: string; longname: string; attrs: SFTPAttributes }>): Buffer {
    return nameReply(id, entries);
  }

  // ---- handles --------------------------------------------------------------

  /** @internal */
  take(r: WireReader): Handle {
    return this.handles.take(r);
  }

  /** @internal */
  file(r: WireReader): FileEntry {
    return this.handles.file(r);
  }

  /** Opens through `open` within the session's and the user's handle limits; the entry's key. */
  /** @internal */
  async adopt<T extends SFTPFileHandle | SFTPDirHandle>(open: () => Promise<T>, entry: (handle: T) => Handle): Promise<Buffer> {
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
    return this.handles.add(entry(handle));
  }

  /** @internal */
  async closeHandle(h: Handle): Promise<void> {
    try {
      await h.handle.close();
    } finally {
      this.transport.handleBudget?.give();
    }
    if (h.kind !== 'file') return;
    if (h.written > 0) this.audit('uploaded', { path: h.path, bytes: h.written });
    if (h.read > 0) this.audit('downloaded', { path: h.path, bytes: h.read });
  }

  /** @internal A path the client sent: its bytes as a {@link decodeFileName} string (lossless), resolved. */
  path(r: WireReader, tilde?: TildeUser): string {
    return resolveClientPath(decodeFileName(r.bytes()), tilde);
  }
}
