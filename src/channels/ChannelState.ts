import { ErrorCodes, SSHDaemonError } from '../errors/SSHDaemonError';
import type { ConnectionRecord } from '../registry/ConnectionRecord';
import type { ChannelRequestParams, ChannelRequestParamsMap, TerminalModes } from '../packet/requestParams';
import { type QueueOwner, SerialQueue } from './SerialQueue';

/** Our receive window and packet size: as OpenSSH's session defaults. */
export const LOCAL_WINDOW = 2 * 1024 * 1024;
export const LOCAL_PACKET_SIZE = 32 * 1024;
/**
 * The smallest maximum packet size a client may give a channel. Every output packet costs a header,
 * a MAC, a cipher call and a socket write whatever it carries: a client asking for 1-byte packets
 * would make each byte of output cost about a hundred. Real clients ask 16-32 KiB; Go's x/crypto/ssh
 * refuses tiny values too.
 */
export const MIN_PEER_PACKET_SIZE = 512;
/** The window is reopened once the application has taken half of it. */
const WINDOW_REFILL_AT = LOCAL_WINDOW / 2;
/**
 * The largest `recordLength`: a record is collected within the channel's window (its bytes do not
 * reopen it until the record is delivered), so a longer one could never complete.
 */
export const MAX_RECORD_LENGTH = LOCAL_WINDOW;
/** First size of the buffer a record is collected in; it doubles up to the record's length. */
const RECORD_BUFFER_START = 512;
/** Never send larger data packets than this, whatever the client allows. */
const MAX_OUT_PACKET = 256 * 1024;
const MAX_WINDOW = 0xffffffff;
/**
 * What one queued send costs beyond its bytes (the promise, its callbacks, the queue entry), for
 * the bound on output an application queued and the client has not taken (OutBufferHardLimit).
 */
export const QUEUED_ITEM_COST = 256;
/** Inbound events that may wait on a held channel (data chunks after merging, requests, EOF, CLOSE). */
export const MAX_HELD_EVENTS = 1024;

type Outgoing = (
  | { kind: 'data'; data: Buffer; offset: number; extended: number; done: () => void; fail: (e: Error) => void }
  | { kind: 'packet'; payload: Buffer; done: () => void; fail: (e: Error) => void }
  | { kind: 'eof' }
  | { kind: 'close'; done: () => void }
) & {
  /** Bytes this entry adds to the channel's backlog (0 for the entry at the head when it was queued). */
  cost: number;
};

/** The terminal a granted `pty-req` asked for, with the size of the last granted `window-change`. */
export interface ChannelTerminal {
  /** The TERM value (`xterm-256color`, ...). */
  readonly term: string;
  /** Width in characters. */
  readonly cols: number;
  /** Height in rows. */
  readonly rows: number;
  /** Width in pixels (0 if unknown). */
  readonly width: number;
  /** Height in pixels (0 if unknown). */
  readonly height: number;
  /** The terminal modes the client sent (RFC 4254 section 8 opcode to value). */
  readonly modes: Readonly<TerminalModes>;
}

/** How a channel talks to the transport and reports to the daemon. */
export interface ChannelSink {
  /** One CHANNEL_DATA packet; several buffers are sent as one packet's data. */
  sendData(remoteId: number, data: Buffer | readonly Buffer[], extended: number): void;
  sendPacket(payload: Buffer): void;
  sendEof(remoteId: number): void;
  sendClose(remoteId: number): void;
  sendWindowAdjust(remoteId: number, amount: number): void;
  /** True while the socket holds more than OutBufferSize unsent bytes. */
  congested(): boolean;
  /** Called once when `congested()` stopped a flush; `resume` flushes again on drain. */
  waitForDrain(resume: () => void): void;
  /** Hands data to the application; a Promise (an asynchronous SSHChannelDataIn handler) holds the channel until it settles. */
  deliver(channel: ChannelState, data: Buffer, extended: number): unknown;
  readyToSend(channel: ChannelState): void;
  /** The client broke the flow-control rules: drop the connection. */
  violation(channel: ChannelState, description: string): void;
  /**
   * The output queued on the channel behind what it is sending grew to `backlog` bytes (counted with
   * QUEUED_ITEM_COST per entry): past OutBufferHardLimit the connection is dropped (BufferLimit).
   */
  checkBacklog(channel: ChannelState, backlog: number): void;
  /** The client queued more than MAX_HELD_EVENTS events on a held channel: drop the connection. */
  inputOverflow(channel: ChannelState, events: number): void;
  /** Handling an inbound event threw (a consumer of the input, or our own code): report it. */
  inputFailed(channel: ChannelState, err: unknown): void;
  finished(channel: ChannelState): void;
}

/**
 * Takes a channel's inbound stream instead of the SSHChannelDataIn event (the SFTP server):
 * data in order, then `end` at EOF, `closed` once the channel is gone.
 */
export interface ChannelConsumer {
  data(data: Buffer, extended: number): void;
  end(): void;
  closed(): void;
  /**
   * The consumer reads the channel's input with its own backpressure (the channel stream): input no
   * longer waits for asynchronous SSHChannelRequested handlers.
   */
  readonly ownsInput?: boolean;
  /**
   * The consumer copies whatever it keeps during `data()`, so it may be handed views of a read
   * buffer that the next socket read overwrites (src/engine/transientReads.ts).
   */
  readonly copiesInput?: boolean;
}

/** One SSH channel: windows both ways, the ordered output queue, records, and the close handshake. */
export class ChannelState implements QueueOwner {
  remoteId = -1;
  opened = false;
  private inWindow = LOCAL_WINDOW;
  /**
   * Bytes the application has taken (delivered, settled) but not yet given back to the client's
   * window. The window is reopened by what was consumed, not by what arrived: data held for a slow
   * handler keeps its share of the window, so at most LOCAL_WINDOW bytes wait per channel.
   */
  private consumed = 0;
  private outWindow = 0;
  private outPacketSize = LOCAL_PACKET_SIZE;
  private readonly outQueue: Outgoing[] = [];
  /** Bytes (plus QUEUED_ITEM_COST each) of the entries queued behind the one at the head when they came. */
  private backlog = 0;
  private flushing = false;
  private waitingDrain = false;
  private flushWaiters: Array<() => void> = [];
  private finishWaiters: Array<() => void> = [];
  /** Inbound events (requests, data, eof, close) in arrival order, held back while a handler is pending or input is paused. */
  readonly inbound: SerialQueue = new SerialQueue(this, MAX_HELD_EVENTS);
  bytesSent = 0;
  readyToSend = false;
  recordLength = 0;
  /**
   * The bytes of records still being collected: [recordStart, recordEnd) of `record`. Copied, so no
   * view keeps ssh2's packet buffers alive; delivered records are views of it, never written again.
   */
  private record = Buffer.alloc(0);
  private recordStart = 0;
  private recordEnd = 0;
  /** A record is being handed over: a recordLength set now is read by the delivery loop itself. */
  private inRecordDelivery = false;
  /** A task to deliver what was collected under a changed recordLength waits in the inbound queue. */
  private recordTaskQueued = false;
  eofSent = false;
  closeSent = false;
  closeReceived = false;
  /** The client's EOF was delivered (in order with its data). */
  eofReceived = false;
  /** Every inbound event before the client's CLOSE was delivered. */
  private inputDone = false;
  private closing?: Promise<void>;
  private finishedFlag = false;
  /** Set when a built-in service (SFTP) or the channel stream reads the channel. */
  consumer?: ChannelConsumer;
  /** While held, consumed data does not reopen the client's window: the consumer is behind. */
  private windowHeld = false;
  /** pause(): input is not delivered and the window not reopened until resume(). */
  private pausedRelease?: () => void;
  /** Releases input held for a running SSHChannelRequested handler. */
  private requestedRelease?: () => void;
  private requestedReleasedEarly = false;
  /** Ends the hold of a running SSHChannelRequested handler after HandlerTimeout. */
  private requestedTimer?: NodeJS.Timeout;
  /** Finishes the channel HandlerTimeout after the client's CLOSE if held input still keeps it open. */
  private closeTimer?: NodeJS.Timeout;
  /** From granted `pty-req` (and later `window-change`) requests. */
  terminal?: ChannelTerminal;
  /** From granted `env` requests. */
  readonly environment = new Map<string, string>();
  /** The channel's duplex stream, once the application asked for it (see ChannelStream). */
  stream?: unknown;
  /**
   * Output the application wrote that waits before the channel's queue (the channel stream's writable
   * buffers, with QUEUED_ITEM_COST per buffered write): counted with the queue against OutBufferHardLimit.
   */
  outputBuffered?: () => number;
  /** The public view of this channel, made once. */
  view?: unknown;

  constructor(
    readonly id: string,
    readonly localId: number,
    readonly connection: ConnectionRecord,
    readonly service: string,
    private readonly sink: ChannelSink,
  ) {}

  /** The channel is open both ways: the peer's id, window and packet size are known. */
  open(remoteId: number, window: number, packetSize: number): void {
    this.remoteId = remoteId;
    this.outWindow = window;
    this.outPacketSize = Math.max(1, Math.min(packetSize, MAX_OUT_PACKET));
    this.opened = true;
    this.updateReady(false);
  }

  // ---- inbound ------------------------------------------------------------

  /** Accounts for received data against our window; false (and a violation) when the client overran it. */
  accept(length: number): boolean {
    if (length > this.inWindow) {
      this.sink.violation(this, `client sent ${length} bytes with only ${this.inWindow} left in the channel window`);
      return false;
    }
    this.inWindow -= length;
    return true;
  }

  /**
   * QueueOwner: hands received data to the application (in records when recordLength > 0), then
   * reopens the window; when the application returned a Promise, only once it settled.
   */
  deliver(data: Buffer, extended: number): unknown {
    // Record bytes count as taken when their record is delivered, not when collected.
    if (this.recordLength > 0 && extended === 0) return this.collect(data);
    return this.handOver(data, extended);
  }

  /** Hands `data` to the application; its bytes count as taken once it settled (or threw). */
  private handOver(data: Buffer, extended: number): unknown {
    const n = data.length;
    let held: unknown;
    try {
      held = this.sink.deliver(this, data, extended);
    } catch (err) {
      this.taken(n); // the data is gone with the throwing reader: its share of the window comes back
      throw err;
    }
    if (held instanceof Promise) {
      const taken = () => this.taken(n);
      return held.then(taken, taken);
    }
    this.taken(n);
    return undefined;
  }

  private taken(n: number): void {
    this.consumed += n;
    this.refillWindow();
  }

  /** QueueOwner: the client keeps sending while the channel is held. */
  overflow(events: number): void {
    this.sink.inputOverflow(this, events);
  }

  /** QueueOwner: an inbound event's handling threw. */
  failed(err: unknown): void {
    this.sink.inputFailed(this, err);
  }

  private refillWindow(): void {
    if (this.windowHeld || this.pausedRelease || this.consumed === 0 || this.closeSent || this.closeReceived) return;
    // Below half the window, wait for more; unless the record being collected needs more than the
    // client may still send (records of up to a window always complete).
    if (this.consumed < WINDOW_REFILL_AT && this.inWindow >= this.recordNeeds()) return;
    const add = this.consumed;
    this.consumed = 0;
    this.inWindow += add;
    this.sink.sendWindowAdjust(this.remoteId, add);
  }

  /**
   * Inbound flow control for consumers: while held, the client's window is not reopened, so it can
   * send at most what is left of it (bounded memory however fast it sends requests).
   */
  holdWindow(hold: boolean): void {
    if (this.windowHeld === hold) return;
    this.windowHeld = hold;
    if (!hold) this.refillWindow();
  }

  /** Stops delivering input and reopening the window until resume(). */
  pause(): void {
    if (this.pausedRelease || this.finishedFlag) return;
    this.pausedRelease = this.inbound.block();
  }

  /** Undoes pause(), and stops waiting for a running SSHChannelRequested handler. */
  resume(): void {
    this.releaseRequested();
    const release = this.pausedRelease;
    if (!release) return;
    this.pausedRelease = undefined;
    this.refillWindow();
    release();
  }

  get paused(): boolean {
    return this.pausedRelease !== undefined;
  }

  /**
   * Runs the SSHChannelRequested listeners (`fire`): input that arrives while an asynchronous one
   * runs waits for it, unless the channel stream reads the input or the application calls resume(),
   * and for at most `limitMs` (HandlerTimeout; 0 = no limit), when `expired` is called: a handler
   * that runs the whole command (or never settles) must not hold the client's input, and its CLOSE,
   * forever.
   */
  runRequested(fire: () => Promise<unknown> | undefined, limitMs = 0, expired?: () => void): void {
    this.requestedReleasedEarly = false;
    const pending = fire();
    if (!pending || this.requestedReleasedEarly || this.consumer?.ownsInput || this.finishedFlag) return;
    const release = this.inbound.block();
    this.requestedRelease = release;
    const done = () => {
      if (this.requestedRelease !== release) return release(); // released already (resume, stream, timeout)
      this.requestedRelease = undefined;
      clearTimeout(this.requestedTimer);
      this.requestedTimer = undefined;
      release();
    };
    if (limitMs > 0) {
      this.requestedTimer = setTimeout(() => {
        if (this.requestedRelease !== release || this.finishedFlag) return;
        expired?.();
        done();
      }, limitMs);
      this.requestedTimer.unref();
    }
    pending.then(done, done);
  }

  /** Keeps what a granted request tells about the session: the terminal, its size, the environment. */
  noteGranted(requestType: string, params: ChannelRequestParams): void {
    if (requestType === 'pty-req') {
      this.terminal = Object.freeze({ ...(params as ChannelRequestParamsMap['pty-req']) });
    } else if (requestType === 'window-change' && this.terminal) {
      const size = params as ChannelRequestParamsMap['window-change'];
      this.terminal = Object.freeze({ ...this.terminal, cols: size.cols, rows: size.rows, width: size.width, height: size.height });
    } else if (requestType === 'env') {
      const env = params as ChannelRequestParamsMap['env'];
      this.environment.set(env.name, env.value);
    }
  }

  /** Input no longer waits for the running SSHChannelRequested handler. */
  releaseRequested(): void {
    this.requestedReleasedEarly = true;
    const release = this.requestedRelease;
    this.requestedRelease = undefined;
    clearTimeout(this.requestedTimer);
    this.requestedTimer = undefined;
    release?.();
  }

  /** Bytes collected towards the next record (not delivered, not yet counted as taken). */
  private get recordBytes(): number {
    return this.recordEnd - this.recordStart;
  }

  /** Bytes the record being collected still lacks (0 without records). */
  private recordNeeds(): number {
    return this.recordLength > 0 ? Math.max(0, this.recordLength - this.recordBytes) : 0;
  }

  private collect(data: Buffer): unknown {
    if (this.recordEnd + data.length > this.record.length) {
      // A new buffer (delivered records may still be views of the old one): what is pending, then room to grow.
      const pending = this.recordBytes;
      const needed = pending + data.length;
      const size = Math.max(needed, Math.min(Math.max(this.recordLength, needed), Math.max(RECORD_BUFFER_START, 2 * this.record.length)));
      const grown = Buffer.allocUnsafe(size);
      this.record.copy(grown, 0, this.recordStart, this.recordEnd);
      this.record = grown;
      this.recordStart = 0;
      this.recordEnd = pending;
    }
    data.copy(this.record, this.recordEnd);
    this.recordEnd += data.length;
    const held = this.deliverRecords();
    if (!(held instanceof Promise)) this.refillWindow();
    return held;
  }

  /** Delivers every complete record; waits between records when a handler returned a Promise. */
  private deliverRecords(): unknown {
    while (this.recordLength > 0 && this.recordBytes >= this.recordLength) {
      // The record is split off first: the handler may change recordLength for what follows.
      const record = this.record.subarray(this.recordStart, this.recordStart + this.recordLength);
      this.recordStart += record.length;
      if (this.recordStart === this.recordEnd) this.resetRecord();
      this.inRecordDelivery = true;
      let held: unknown;
      try {
        held = this.handOver(record, 0);
      } finally {
        this.inRecordDelivery = false;
      }
      if (held instanceof Promise) {
        const next = () => this.deliverRecords();
        return held.then(next, next);
      }
    }
    // A handler switched records off: what was collected goes on as plain data.
    if (this.recordLength === 0) return this.flushRecord();
    this.refillWindow(); // recordLength may have changed: the record being collected may need more window
    return undefined;
  }

  private resetRecord(): void {
    this.record = Buffer.alloc(0);
    this.recordStart = 0;
    this.recordEnd = 0;
  }

  setRecordLength(n: number): void {
    if (!Number.isInteger(n) || n < 0 || n > MAX_RECORD_LENGTH) {
      throw new SSHDaemonError(
        ErrorCodes.InvalidPropertyValue,
        `recordLength must be an integer from 0 to ${MAX_RECORD_LENGTH} (the channel's window: a longer record could never arrive), got ${n}`,
      );
    }
    this.recordLength = n;
    // Set by a record's own handler (the protocol's next length): the delivery loop goes on with it.
    // Otherwise what was collected is delivered in order with the rest of the input, by one task
    // however often the length changes (a task per change would flood the inbound queue).
    if (this.recordBytes === 0 || this.inRecordDelivery || this.recordTaskQueued) return;
    this.recordTaskQueued = true;
    this.inbound.run(() => {
      this.recordTaskQueued = false;
      return this.deliverRecords();
    });
  }

  /** Delivers a partial record (at EOF or when records are switched off). */
  flushRecord(): unknown {
    if (this.recordBytes === 0) return undefined;
    const rest = this.record.subarray(this.recordStart, this.recordEnd);
    this.resetRecord();
    return this.handOver(rest, 0);
  }

  // ---- outbound -----------------------------------------------------------

  private enqueue(item: Outgoing, bytes: number): void {
    if (this.outQueue.length > 0) {
      // Behind the entry being sent: this is what the application queued and the client has not taken.
      item.cost = bytes + QUEUED_ITEM_COST;
      this.backlog += item.cost;
      this.outQueue.push(item);
      this.checkBacklog();
    } else {
      this.outQueue.push(item);
    }
    this.flush();
  }

  /** Bytes queued behind the entry being sent (with QUEUED_ITEM_COST per entry). */
  get queuedBacklog(): number {
    return this.backlog;
  }

  /** Checks what the application queued (on the channel and before it) against OutBufferHardLimit. */
  checkBacklog(): void {
    this.sink.checkBacklog(this, this.backlog + (this.outputBuffered?.() ?? 0));
  }

  private shiftQueue(): void {
    const item = this.outQueue.shift()!;
    if (item.cost !== 0) this.backlog -= item.cost;
  }

  /** Queues data; resolves once it is handed to the transport. */
  send(data: Buffer, extended: number): Promise<void> {
    if (this.closeSent || this.closeReceived || this.eofSent || this.finishedFlag) {
      return Promise.reject(
        new SSHDaemonError(
          ErrorCodes.UnknownChannel,
          `Channel ${this.id} is ${this.eofSent && !this.closeSent ? 'at EOF' : 'closed'}; cannot send data`,
        ),
      );
    }
    return new Promise<void>((done, fail) => {
      if (data.length === 0) return done();
      this.enqueue({ kind: 'data', data, offset: 0, extended, done, fail, cost: 0 }, data.length);
    });
  }

  /** Queues a raw channel message behind any pending data. */
  sendPacket(payload: Buffer): Promise<void> {
    if (this.closeSent || this.closing || this.closeReceived || this.finishedFlag) {
      return Promise.reject(new SSHDaemonError(ErrorCodes.UnknownChannel, `Channel ${this.id} is closed; cannot send a packet`));
    }
    // A packet the channel can no longer send resolves anyway (exit-status on a channel the client closed).
    return new Promise<void>((done) => this.enqueue({ kind: 'packet', payload, done, fail: () => done(), cost: 0 }, payload.length));
  }

  eof(): void {
    // After finish() (the connection's transport is gone) nothing may reach ssh2 any more.
    if (this.eofSent || this.closeSent || this.finishedFlag) return;
    this.eofSent = true;
    this.enqueue({ kind: 'eof', cost: 0 }, 0);
  }

  /**
   * Sends EOF and CLOSE after everything already queued. Resolves once CLOSE is handed to the
   * transport, or the channel is gone (closed by the client, connection lost).
   */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    if (this.closeSent || this.finishedFlag) return (this.closing = Promise.resolve());
    this.eof();
    this.closing = new Promise<void>((done) => this.enqueue({ kind: 'close', done, cost: 0 }, 0));
    return this.closing;
  }

  /** True once close() was called or CLOSE was sent. */
  get closingOrClosed(): boolean {
    return this.closing !== undefined || this.closeSent;
  }

  /**
   * Resolves once the channel has finished (CLOSE both ways) if it is being closed, else once
   * nothing is queued on it (everything handed to the transport, or dropped). What disconnect()
   * waits for: a client must not get DISCONNECT before it has answered our CLOSE.
   */
  whenSettled(): Promise<void> {
    if (this.finishedFlag) return Promise.resolve();
    if (this.closing || this.closeSent) return new Promise<void>((resolve) => this.finishWaiters.push(resolve));
    return this.whenFlushed();
  }

  /** Resolves once the channel has finished: closed both ways, or its connection gone. */
  whenFinished(): Promise<void> {
    if (this.finishedFlag) return Promise.resolve();
    return new Promise<void>((resolve) => this.finishWaiters.push(resolve));
  }

  /** Resolves once nothing is queued on the channel (everything handed to the transport, or dropped). */
  whenFlushed(): Promise<void> {
    if (this.outQueue.length === 0 || this.finishedFlag) return Promise.resolve();
    return new Promise<void>((resolve) => this.flushWaiters.push(resolve));
  }

  windowAdjust(amount: number): void {
    this.outWindow = Math.min(MAX_WINDOW, this.outWindow + amount);
    this.flush();
  }

  /** Sends what the window and the socket allow, in order. */
  flush(): void {
    if (this.flushing || !this.opened || this.finishedFlag) return;
    this.flushing = true;
    try {
      while (this.outQueue.length > 0) {
        const item = this.outQueue[0];
        if (item.kind === 'data') {
          if (this.outWindow === 0) break;
          if (this.sink.congested()) {
            this.awaitDrain();
            break;
          }
          // Fill one packet from this item and, where it ends short, from the data queued behind it:
          // many small sends (SFTP replies, a shell's output) then cost one packet, not one each.
          const limit = Math.min(this.outWindow, this.outPacketSize);
          const remaining = item.data.length - item.offset;
          if (remaining >= limit || this.outQueue.length === 1) {
            // The common bulk case: one send fills the packet (or nothing queued behind it).
            const n = Math.min(limit, remaining);
            this.sink.sendData(this.remoteId, item.data.subarray(item.offset, item.offset + n), item.extended);
            item.offset += n;
            this.outWindow -= n;
            this.bytesSent += n;
            if (item.offset === item.data.length) {
              this.shiftQueue();
              item.done();
            }
            continue;
          }
          const parts: Buffer[] = [];
          const completed: Array<() => void> = [];
          let size = 0;
          while (size < limit && this.outQueue.length > 0) {
            const next = this.outQueue[0];
            if (next.kind !== 'data' || next.extended !== item.extended) break;
            const n = Math.min(limit - size, next.data.length - next.offset);
            parts.push(next.data.subarray(next.offset, next.offset + n));
            next.offset += n;
            size += n;
            if (next.offset < next.data.length) break;
            this.shiftQueue();
            completed.push(next.done);
          }
          this.sink.sendData(this.remoteId, parts.length === 1 ? parts[0] : parts, item.extended);
          this.outWindow -= size;
          this.bytesSent += size;
          for (const done of completed) done();
        } else {
          this.shiftQueue();
          if (item.kind === 'packet') {
            this.sink.sendPacket(item.payload);
            item.done();
          } else if (item.kind === 'eof') {
            this.sink.sendEof(this.remoteId);
          } else {
            this.closeSent = true;
            this.sink.sendClose(this.remoteId);
            item.done();
            this.maybeFinish();
          }
        }
      }
    } finally {
      this.flushing = false;
    }
    if (this.outQueue.length === 0 && this.flushWaiters.length > 0) this.notifyFlushed();
    this.updateReady(true);
  }

  private notifyFlushed(): void {
    const waiters = this.flushWaiters;
    this.flushWaiters = [];
    for (const w of waiters) w();
  }

  private awaitDrain(): void {
    if (this.waitingDrain) return;
    this.waitingDrain = true;
    this.sink.waitForDrain(() => {
      this.waitingDrain = false;
      this.flush();
    });
  }

  private updateReady(notify: boolean): void {
    const ready = this.opened && !this.closeSent && this.outWindow > 0 && this.outQueue.length === 0 && !this.sink.congested();
    const opened = ready && !this.readyToSend;
    this.readyToSend = ready;
    if (opened && notify) this.sink.readyToSend(this);
  }

  /**
   * The client sent CLOSE. The output side ends now: unsent output is dropped (the client takes no
   * more) and CLOSE is answered. Input that arrived before it is still delivered in order
   * (`inputEnded`, run from the inbound queue), as OpenSSH drains a channel's output to the program
   * after a CLOSE.
   */
  remoteClose(): void {
    this.closeReceived = true;
    if (!this.closeSent) {
      this.failPending(new SSHDaemonError(ErrorCodes.UnknownChannel, `Channel ${this.id} was closed by the client`));
      this.closeSent = true;
      this.sink.sendClose(this.remoteId);
    }
    this.readyToSend = false;
  }

  /**
   * After the client's CLOSE: if input before it is still held `limitMs` later (a handler that has not
   * settled, pause() without resume()), it is dropped and the channel finishes anyway, so a channel the
   * client closed always ends (its MaxSessionsPerConnection slot comes back, SSHChannelClosed fires).
   * `expired` is called first, with what was dropped. 0 = no limit.
   */
  boundInputAfterClose(limitMs: number, expired: (events: number) => void): void {
    if (this.finishedFlag || limitMs <= 0 || this.closeTimer) return;
    this.closeTimer = setTimeout(() => {
      this.closeTimer = undefined;
      if (this.finishedFlag) return;
      expired(this.inbound.waiting);
      this.inbound.clear();
      this.resetRecord();
      this.inputDone = true;
      this.maybeFinish();
    }, limitMs);
    this.closeTimer.unref();
  }

  /** Everything the client sent before its CLOSE was delivered: the channel can finish. */
  inputEnded(): unknown {
    const held = this.flushRecord();
    const end = () => {
      this.inputDone = true;
      this.maybeFinish();
    };
    if (held instanceof Promise) return held.then(end, end);
    end();
    return undefined;
  }

  private maybeFinish(): void {
    if (this.closeSent && this.closeReceived && this.inputDone) this.finish();
  }

  /** The connection is gone: fail whatever waits and finish. */
  abort(): void {
    this.failPending(new SSHDaemonError(ErrorCodes.UnknownChannel, `Channel ${this.id}: the connection closed`));
    this.inbound.clear();
    this.finish();
  }

  private failPending(err: Error): void {
    for (const item of this.outQueue.splice(0)) {
      if (item.kind === 'data' || item.kind === 'packet') item.fail(err);
      else if (item.kind === 'close') item.done();
    }
    this.backlog = 0;
    this.readyToSend = false;
    this.notifyFlushed();
  }

  private finish(): void {
    if (this.finishedFlag) return;
    this.finishedFlag = true;
    this.readyToSend = false;
    clearTimeout(this.closeTimer);
    clearTimeout(this.requestedTimer);
    this.closeTimer = this.requestedTimer = undefined;
    const release = this.pausedRelease;
    this.pausedRelease = undefined;
    release?.();
    this.consumer?.closed();
    this.sink.finished(this);
    for (const w of this.finishWaiters.splice(0)) w();
  }

  get finished(): boolean {
    return this.finishedFlag;
  }
}
