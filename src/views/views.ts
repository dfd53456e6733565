import type { SessionRestrictions } from '../policy/SessionRestrictions';
import { type ChannelState, type ChannelTerminal, MAX_RECORD_LENGTH } from '../channels/ChannelState';
import type { ConnectionRecord } from '../registry/ConnectionRecord';

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
  /** The connection's id. */
  get connectionId(): string {
    return this.record.id;
  }
  /** True while connected; assigning false disconnects. */
  get connected(): boolean {
    return !this.record.closed;
  }
  /** Assigning false disconnects (as `daemon.disconnect(connectionId)`); true does nothing. */
  set connected(v: boolean) {
    if (!v) this.control.disconnect(this.record.id).catch(() => undefined);
  }
  /** The local IP address the client connected to. */
  get localAddress(): string {
    return this.record.localAddress;
  }
  /** The client's IP address. */
  get remoteHost(): string {
    return this.record.remoteHost;
  }
  /** The client's TCP port. */
  get remotePort(): number {
    return this.record.remotePort;
  }
  /** Seconds; kept for ported code (operations here are always asynchronous). */
  get timeout(): number {
    return this.record.timeout;
  }
  /** Seconds; stored only (operations here are always asynchronous). */
  set timeout(v: number) {
    this.record.timeout = v;
  }
  /** The user name once authenticated; '' before. */
  get user(): string {
    return this.record.user;
  }
  /** What the session may do, from the accepted key's options or certificate. */
  get restrictions(): SessionRestrictions {
    return this.record.restrictions;
  }
  /** True once user authentication succeeded. */
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
  /** The host key algorithm of the last key exchange. */
  get hostKeyAlgorithm(): string {
    return this.record.negotiated?.serverHostKey ?? '';
  }
  /** The server-to-client cipher of the last key exchange. */
  get encryptionAlgorithm(): string {
    return this.record.negotiated?.sc.cipher ?? '';
  }
  /** The server-to-client MAC of the last key exchange ('' with an AEAD cipher). */
  get macAlgorithm(): string {
    return this.record.negotiated?.sc.mac ?? '';
  }
  /** The server-to-client compression of the last key exchange. */
  get compressionAlgorithm(): string {
    return this.record.negotiated?.sc.compress ?? '';
  }
  /** Bytes received on the socket so far. */
  get bytesIn(): number {
    return this.record.bytesIn;
  }
  /** Bytes sent on the socket so far. */
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
  /** The channel's id. */
  get channelId(): string {
    return this.state.id;
  }
  /** The id of the connection the channel belongs to. */
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
  /**
   * Takes effect at once, also inside `SSHChannelDataIn`; 0 delivers data as it arrives. At most
   * {@link SSHChannel.maxRecordLength} (a record is collected within the channel's window); a value
   * outside 0 to that throws `SSHDaemonError` `InvalidPropertyValue` (110) and changes nothing, so
   * check a length the client sent before assigning it.
   */
  set recordLength(v: number) {
    this.state.setRecordLength(v);
  }
  /** (beyond) The largest `recordLength` the channel accepts: its receive window, 2097152 bytes (2 MiB). */
  get maxRecordLength(): number {
    return MAX_RECORD_LENGTH;
  }
  /** Write-only: assigning sends the data. */
  set dataToSend(data: Buffer | string) {
    this.control.sendChannelData(this.state.id, data).catch(() => undefined);
  }
  /** (beyond) The user the connection logged in as. */
  get user(): string {
    return this.state.connection.user;
  }
  /**
   * (beyond) The terminal of a granted `pty-req` (`term`, `cols`, `rows`, `width`, `height`,
   * `modes`), its size following granted `window-change` requests; undefined without a pty.
   */
  get terminal(): ChannelTerminal | undefined {
    return this.state.terminal;
  }
  /** (beyond) Variables of granted `env` requests, by name, in the order they came. */
  get environment(): ReadonlyMap<string, string> {
    return this.state.environment;
  }
  /**
   * (beyond) Input flow control for code that is not promise-shaped: stops delivering this
   * channel's data (`SSHChannelDataIn`, or its stream) and reopening the client's window, so the
   * client can send at most what is left of its window (2 MiB) until {@link SSHChannel.resume}.
   * Requests, EOF and CLOSE from the client wait behind the held data, in order; once the client
   * has closed the channel, for at most `HandlerTimeout` (then the held input is dropped and the
   * channel ends).
   */
  pause(): void {
    this.state.pause();
  }
  /**
   * (beyond) Undoes {@link SSHChannel.pause}: held data is delivered, the window reopens. Also ends
   * the wait of input for a running asynchronous `SSHChannelRequested` handler (which otherwise ends
   * when the handler settles, or after `HandlerTimeout`): call it from a handler that awaits the whole
   * command and needs the client's input meanwhile.
   */
  resume(): void {
    this.state.resume();
  }
  /** (beyond) True between {@link SSHChannel.pause} and {@link SSHChannel.resume}. */
  get paused(): boolean {
    return this.state.paused;
  }
}
