import type { SessionRestrictions } from '../policy/SessionRestrictions';
import type { ChannelState } from '../channels/ChannelState';
import type { ConnectionRecord } from './ConnectionRecord';

/** What a connection view needs from the daemon. */
export interface ConnectionControl {
  disconnect(connectionId: string): Promise<void>;
}
/** What a channel view needs from the daemon. */
export interface ChannelControl {
  sendChannelData(channelId: string, data: Buffer | string): Promise<void>;
}

/** A live connection, as listed in `daemon.sshConnections`. */
export class SSHConnection {
  /** @internal */
  constructor(
    private readonly record: ConnectionRecord,
    private readonly control: ConnectionControl,
  ) {}
  get connectionId(): string {
    return this.record.id;
  }
  /** True while connected; assigning false disconnects. */
  get connected(): boolean {
    return !this.record.closed;
  }
  set connected(v: boolean) {
    if (!v) this.control.disconnect(this.record.id).catch(() => undefined);
  }
  get localAddress(): string {
    return this.record.localAddress;
  }
  get remoteHost(): string {
    return this.record.remoteHost;
  }
  get remotePort(): number {
    return this.record.remotePort;
  }
  /** Seconds; kept for ported code (operations here are always asynchronous). */
  get timeout(): number {
    return this.record.timeout;
  }
  set timeout(v: number) {
    this.record.timeout = v;
  }
  get user(): string {
    return this.record.user;
  }
  /** What the session may do, from the accepted key's options or certificate. */
  get restrictions(): SessionRestrictions {
    return this.record.restrictions;
  }
  get authenticated(): boolean {
    return this.record.authenticated;
  }
  /** The identification line the client sent. */
  get clientVersion(): string {
    return this.record.clientVersion;
  }
  /** Negotiated algorithms of the last key exchange. */
  get kexAlgorithm(): string {
    return this.record.negotiated?.kex ?? '';
  }
  get hostKeyAlgorithm(): string {
    return this.record.negotiated?.serverHostKey ?? '';
  }
  get encryptionAlgorithm(): string {
    return this.record.negotiated?.sc.cipher ?? '';
  }
  get macAlgorithm(): string {
    return this.record.negotiated?.sc.mac ?? '';
  }
  get compressionAlgorithm(): string {
    return this.record.negotiated?.sc.compress ?? '';
  }
  get bytesIn(): number {
    return this.record.bytesIn;
  }
  get bytesOut(): number {
    return this.record.bytesOut;
  }
  /** Ids of this connection's open channels. */
  get channelIds(): string[] {
    return [...this.record.channels.values()].filter((c) => c.opened).map((c) => c.id);
  }
}

/** An open channel, as listed in `daemon.sshChannels`. */
export class SSHChannel {
  /** @internal */
  constructor(
    private readonly state: ChannelState,
    private readonly control: ChannelControl,
  ) {}
  get channelId(): string {
    return this.state.id;
  }
  get connectionId(): string {
    return this.state.connection.id;
  }
  /** The channel type: `session`, `direct-tcpip`, ... */
  get service(): string {
    return this.state.service;
  }
  /** False while the client's window or the socket is full; `SSHChannelReadyToSend` fires when it turns true. */
  get readyToSend(): boolean {
    return this.state.readyToSend;
  }
  /** Bytes of channel data sent so far. */
  get bytesSent(): number {
    return this.state.bytesSent;
  }
  /** >0: `SSHChannelDataIn` delivers records of exactly this many bytes (the rest at EOF). */
  get recordLength(): number {
    return this.state.recordLength;
  }
  set recordLength(v: number) {
    this.state.setRecordLength(v);
  }
  /** Write-only: assigning sends the data. */
  set dataToSend(data: Buffer | string) {
    this.control.sendChannelData(this.state.id, data).catch(() => undefined);
  }
}
