import { ErrorCodes, SSHDaemonError } from '../errors/SSHDaemonError';
import type { ConnectionRecord } from '../registry/ConnectionRecord';
import { SerialQueue } from './SerialQueue';

/** Our receive window and packet size: as OpenSSH's session defaults. */
export const LOCAL_WINDOW = 2 * 1024 * 1024;
export const LOCAL_PACKET_SIZE = 32 * 1024;
/** The window is topped up once the client has used half of it. */
const WINDOW_REFILL_AT = LOCAL_WINDOW / 2;
/** Never send larger data packets than this, whatever the client allows. */
const MAX_OUT_PACKET = 256 * 1024;
const MAX_WINDOW = 0xffffffff;

type Outgoing =
  | { kind: 'data'; data: Buffer; offset: number; extended: number; done: () => void; fail: (e: Error) => void }
  | { kind: 'packet'; payload: Buffer; done: () => void }
  | { kind: 'eof' }
  | { kind: 'close' };

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
  deliver(channel: ChannelState, data: Buffer, extended: number): void;
  readyToSend(channel: ChannelState): void;
  /** The client broke the flow-control rules: drop the connection. */
  violation(channel: ChannelState, description: string): void;
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
}

/** One SSH channel: windows both ways, the ordered output queue, records, and the close handshake. */
export class ChannelState {
  remoteId = -1;
  opened = false;
  private inWindow = LOCAL_WINDOW;
  private outWindow = 0;
  private outPacketSize = LOCAL_PACKET_SIZE;
  private readonly outQueue: Outgoing[] = [];
  private flushing = false;
  private waitingDrain = false;
  /** Inbound events (requests, data, eof, close) in arrival order, held back while a decision is pending. */
  readonly inbound = new SerialQueue();
  bytesSent = 0;
  readyToSend = false;
  recordLength = 0;
  private record: Buffer[] = [];
  private recordBytes = 0;
  eofSent = false;
  closeSent = false;
  closeReceived = false;
  private finishedFlag = false;
  /** Set when a built-in service (SFTP) reads the channel. */
  consumer?: ChannelConsumer;
  /** While held, consumed data does not reopen the client's window: the consumer is behind. */
  private windowHeld = false;

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

  /** Hands received data to the application (in records when recordLength > 0), then reopens the window. */
  consume(data: Buffer, extended: number): void {
    if (this.recordLength > 0 && extended === 0) this.collect(data);
    else this.sink.deliver(this, data, extended);
    this.refillWindow();
  }

  private refillWindow(): void {
    if (this.windowHeld || this.inWindow > WINDOW_REFILL_AT || this.closeSent || this.closeReceived) return;
    const add = LOCAL_WINDOW - this.inWindow;
    this.inWindow = LOCAL_WINDOW;
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

  private collect(data: Buffer): void {
    this.record.push(data);
    this.recordBytes += data.length;
    while (this.recordLength > 0 && this.recordBytes >= this.recordLength) {
      const all = Buffer.concat(this.record);
      this.sink.deliver(this, all.subarray(0, this.recordLength), 0);
      const rest = all.subarray(this.recordLength);
      this.record = rest.length ? [rest] : [];
      this.recordBytes = rest.length;
    }
  }

  setRecordLength(n: number): void {
    if (!Number.isInteger(n) || n < 0) {
      throw new SSHDaemonError(ErrorCodes.InvalidPropertyValue, `recordLength must be an integer >= 0, got ${n}`);
    }
    this.recordLength = n;
    if (n === 0) this.flushRecord();
    else if (this.recordBytes > 0) this.collect(Buffer.alloc(0));
  }

  /** Delivers a partial record (at EOF or when records are switched off). */
  flushRecord(): void {
    if (this.recordBytes === 0) return;
    const all = Buffer.concat(this.record);
    this.record = [];
    this.recordBytes = 0;
    this.sink.deliver(this, all, 0);
  }

  // ---- outbound -----------------------------------------------------------

  /** Queues data; resolves once it is handed to the transport. */
  send(data: Buffer, extended: number): Promise<void> {
    if (this.closeSent || this.closeReceived || this.eofSent) {
      return Promise.reject(new SSHDaemonError(ErrorCodes.UnknownChannel, `Channel ${this.id} is ${this.eofSent && !this.closeSent ? 'at EOF' : 'closed'}; cannot send data`));
    }
    return new Promise<void>((done, fail) => {
      if (data.length === 0) return done();
      this.outQueue.push({ kind: 'data', data, offset: 0, extended, done, fail });
      this.flush();
    });
  }

  /** Queues a raw channel message behind any pending data. */
  sendPacket(payload: Buffer): Promise<void> {
    if (this.closeSent) {
      return Promise.reject(new SSHDaemonError(ErrorCodes.UnknownChannel, `Channel ${this.id} is closed; cannot send a packet`));
    }
    return new Promise<void>((done) => {
      this.outQueue.push({ kind: 'packet', payload, done });
      this.flush();
    });
  }

  eof(): void {
    if (this.eofSent || this.closeSent) return;
    this.eofSent = true;
    this.outQueue.push({ kind: 'eof' });
    this.flush();
  }

  /** Sends EOF and CLOSE after everything already queued. */
  close(): void {
    if (this.closeSent || this.outQueue.some((o) => o.kind === 'close')) return;
    this.eof();
    this.outQueue.push({ kind: 'close' });
    this.flush();
  }

  windowAdjust(amount: number): void {
    this.outWindow = Math.min(MAX_WINDOW, this.outWindow + amount);
    this.flush();
  }

  /** Sends what the window and the socket allow, in order. */
  flush(): void {
    if (this.flushing || !this.opened) return;
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
              this.outQueue.shift();
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
            this.outQueue.shift();
            completed.push(next.done);
          }
          this.sink.sendData(this.remoteId, parts.length === 1 ? parts[0] : parts, item.extended);
          this.outWindow -= size;
          this.bytesSent += size;
          for (const done of completed) done();
        } else {
          this.outQueue.shift();
          if (item.kind === 'packet') {
            this.sink.sendPacket(item.payload);
            item.done();
          } else if (item.kind === 'eof') {
            this.sink.sendEof(this.remoteId);
          } else {
            this.closeSent = true;
            this.sink.sendClose(this.remoteId);
            if (this.closeReceived) this.finish();
          }
        }
      }
    } finally {
      this.flushing = false;
    }
    this.updateReady(true);
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

  /** The client sent CLOSE: answer it (dropping unsent data, which the client no longer takes) and finish. */
  remoteClose(): void {
    this.closeReceived = true;
    this.flushRecord();
    if (!this.closeSent) {
      this.failPending(new SSHDaemonError(ErrorCodes.UnknownChannel, `Channel ${this.id} was closed by the client`));
      this.closeSent = true;
      this.sink.sendClose(this.remoteId);
    }
    this.finish();
  }

  /** The connection is gone: fail whatever waits and finish. */
  abort(): void {
    this.failPending(new SSHDaemonError(ErrorCodes.UnknownChannel, `Channel ${this.id}: the connection closed`));
    this.inbound.clear();
    this.finish();
  }

  private failPending(err: Error): void {
    for (const item of this.outQueue.splice(0)) {
      if (item.kind === 'data') item.fail(err);
      else if (item.kind === 'packet') item.done();
    }
    this.readyToSend = false;
  }

  private finish(): void {
    if (this.finishedFlag) return;
    this.finishedFlag = true;
    this.readyToSend = false;
    this.consumer?.closed();
    this.sink.finished(this);
  }

  get finished(): boolean {
    return this.finishedFlag;
  }
}
