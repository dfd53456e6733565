import type { ChannelState } from '../channels/ChannelState';
import { sendChannelMessage, sendExitSignalOn, sendExitStatusOn } from '../channels/channelMessages';
import { type ChannelStream, type ChannelStreamOptions, channelStreamOf } from '../channels/ChannelStream';
import type { ForwardingOptions } from '../channels/TcpForwarding';
import { ErrorCodes, SSHDaemonError } from '../errors/SSHDaemonError';
import { handledCall } from '../errors/unawaited';
import { getSSHParam, getSSHParamBytes, setSSHParam, type SSHParamFieldType } from '../packet/sshParam';
import type { ProcessProvider, ProcessServiceOptions } from '../processes/ProcessServiceOptions';
import type { ConnectionRecord } from '../registry/ConnectionRecord';
import { LiveView } from '../views/LiveView';
import { SSHChannel, SSHConnection } from '../views/views';
import type { SCPSessionOptions } from '../scp/SCPSession';
import { ServerCore, type DisconnectFilter } from '../server/ServerCore';
import type { SFTPSession, SFTPSessionOptions } from '../sftp/SFTPSession';
import type { SCPProvider, SFTPProvider } from '../server/BuiltInServices';
import { EventHub } from '../events/EventHub';
import { installPropertyAccessors, type PropertyMethods, resetProperties, type SSHDaemonProperties } from './properties';

export type { SCPProvider, SFTPProvider } from '../server/BuiltInServices';

type StoredProps = Omit<SSHDaemonProperties, 'listening' | 'sshConnections' | 'sshChannels'>;

/** Options of {@link SSHDaemon.disconnect}. */
export interface DisconnectOptions {
  /** True: DISCONNECT at once, dropping output still queued on the connection's channels. Default false: that output is sent first (for at most `DisconnectFlushTimeout` seconds). */
  immediate?: boolean;
}

/**
 * An SSH server with the IPWorks SSHDaemon API: set properties, handle typed events, call methods,
 * tune with `config()`. The API only: the listener, the engine and each client's lifecycle are in
 * `src/server/` (see docs/architecture.md).
 */
export class SSHDaemon extends EventHub {
  private readonly props = {} as StoredProps;
  private readonly server: ServerCore;
  private readonly connectionViews: LiveView<ConnectionRecord, SSHConnection>;
  private readonly channelViews: LiveView<ChannelState, SSHChannel>;

  constructor() {
    super();
    resetProperties(this.props);
    this.server = new ServerCore(this, this.props);
    this.logLevel = () => this.server.settings.int('LogLevel');
    this.decisionTimeout = () => this.server.settings.int('HandlerTimeout') * 1000;
    this.connectionViews = new LiveView(this.server.registry.connections, (c: ConnectionRecord) => new SSHConnection(c, this));
    this.channelViews = new LiveView(this.server.registry.channels, (c: ChannelState) => new SSHChannel(c, this));
  }

  /** True while the listener is bound. */
  get listening(): boolean {
    return this.server.listener.listening;
  }
  /** True starts listening, false stops accepting (existing connections stay); failures arrive on `Error`. Prefer `await startListening()`. */
  set listening(v: boolean) {
    const op = v ? this.startListening() : this.stopListening();
    op.catch((err: SSHDaemonError) => this.error('', err.code ?? ErrorCodes.ListenFailed, err.message));
  }

  /**
   * Starts listening on localHost:localPort; resolves once bound (localPort then holds the real port).
   * Await it: unlike the other methods, a failure to bind (`ListenFailed`, `NoHostKey`) is not
   * swallowed when the promise is left unawaited, since a daemon that silently does not listen is
   * worse than one that stops (the `listening` property reports it on `Error` instead).
   */
  async startListening(): Promise<void> {
    if (this.server.listener.listening) return;
    await this.server.listen();
  }

  // ---- built-in services ---------------------------------------------------

  /**
   * Serves SFTP on every `sftp` subsystem request: `SSHChannelRequest` starts with `success`
   * true (a handler may still refuse), and the server is attached before the client's first packet.
   * `options` may depend on the connection (per-user roots and access): return undefined to refuse.
   * `undefined` switches it off.
   *
   * ```ts
   * daemon.enableSFTP((c) => ({ fileSystem: new LocalFileSystem(`/srv/sftp/${c.user}`) }));
   * ```
   */
  enableSFTP(options: SFTPSessionOptions | SFTPProvider | undefined): void {
    this.server.builtIns.enableSFTP(typeof options === 'function' || options === undefined ? options : () => options);
  }

  /**
   * Serves SFTP on a channel whose `subsystem sftp` request was granted (call it from
   * `SSHChannelRequest` after setting `success`, or from `SSHChannelRequested`). The channel's data
   * then goes to the SFTP server instead of `SSHChannelDataIn`.
   */
  serveSFTP(channelId: string, options: SFTPSessionOptions): SFTPSession {
    const state = this.channel(channelId);
    if (state.consumer)
      throw new SSHDaemonError(ErrorCodes.InvalidArgument, `Channel ${channelId} is already served by a built-in service`);
    return this.server.builtIns.serveSFTP(state, options);
  }

  /**
   * Serves legacy SCP (`scp -O`, `pscp -scp`, OpenSSH before 9.0): every `exec` of `scp ... -t|-f ...`
   * starts with `SSHChannelRequest` `success` true (a handler may still refuse) and is served by
   * an {@link SCPSession} over the same filesystem interface (and jail) as SFTP; no process is run.
   * `options` may depend on the connection (return undefined to refuse); `undefined` switches it off.
   * See docs/scp.md.
   *
   * ```ts
   * const files = (c: SSHConnection) => ({ fileSystem: new LocalFileSystem(`/srv/sftp/${c.user}`) });
   * daemon.enableSFTP(files);
   * daemon.enableSCP(files);
   * ```
   */
  enableSCP(options: SCPSessionOptions | SCPProvider | undefined): void {
    this.server.builtIns.enableSCP(typeof options === 'function' || options === undefined ? options : () => options);
  }

  /**
   * TCP forwarding as OpenSSH's AllowTcpForwarding: `direct-tcpip` opens (`ssh -L`, `-W`, `-D`)
   * start with `accept` true and are connected before they are confirmed; `tcpip-forward` global
   * requests (`ssh -R`, reported as `SSHChannelRequest` with channelId '') start with `success` true
   * and listen on loopback (or the named address with `gatewayPorts`). Handlers may refuse either;
   * key restrictions (`no-port-forwarding`, `permitopen`, `permitlisten`) apply first.
   * `undefined` switches it off for new requests (listeners already granted stay until cancelled or
   * their connection ends).
   */
  enableForwarding(options?: ForwardingOptions): void {
    // enableForwarding() switches it on with the defaults; an explicit undefined switches it off.
    this.server.builtIns.enableForwarding(arguments.length === 0 ? {} : options);
  }

  /**
   * Real programs for `exec` and `shell` on session channels, as sshd runs them: the command through
   * the user's shell (`-c`), a login shell for `shell`, on pipes (child_process, stdin/stdout/stderr
   * with flow control both ways) or in a pseudo-terminal after `pty-req` (node-pty), with `env`
   * (filtered by `acceptEnv`), `window-change`, `signal` and `break`. The exit code becomes
   * `exit-status`, a signal `exit-signal`, after every byte of output; a channel that closes or a
   * connection that drops hangs up the program's process group (SIGHUP, SIGKILL after `killGrace`).
   * Key restrictions apply first (`no-pty`; a forced command replaces the command and sets
   * `SSH_ORIGINAL_COMMAND`). `options.plan` chooses what runs, where and as whom; a provider
   * `(connection) => options` chooses per connection (undefined refuses). `enableProcesses()` switches
   * it on with the defaults, `enableProcesses(undefined)` off. Throws `InvalidArgument` when node-pty
   * (an optional dependency) cannot load, naming the toolchain it needs, unless `pty: false`.
   * Programs run as the daemon's user unless the plan gives `uid`/`gid`. See docs/processes.md.
   *
   * ```ts
   * daemon.enableProcesses({ plan: (r) => ({ cwd: `/srv/home/${r.user}` }) });
   * ```
   */
  enableProcesses(options?: ProcessServiceOptions | ProcessProvider): void {
    this.server.builtIns.enableProcesses(arguments.length === 0 ? {} : options);
  }

  /** Connections refused since the daemon was created (or reset), by the setting that refused them. */
  refusalCounts(): Record<string, number> {
    return this.server.gate.counts();
  }

  /** Stops accepting connections; existing ones stay. Resolves once the port is released. Safe to leave unawaited. */
  stopListening(): Promise<void> {
    return handledCall(() => this.server.listener.close());
  }

  /**
   * The bound address, once listening.
   * @property address The local IP address.
   * @property family `IPv4` or `IPv6`.
   * @property port The local port.
   */
  address(): { address: string; family: string; port: number } | undefined {
    return this.server.listener.address();
  }

  private channel(channelId: string): ChannelState {
    return this.server.channel(channelId);
  }

  /**
   * Live connections by connectionId: a read-only Map over the registry, the same object on every
   * read (cheap enough for every event); each connection's view is made once and reads live state.
   */
  get sshConnections(): ReadonlyMap<string, SSHConnection> {
    return this.connectionViews;
  }

  /** Open channels by channelId: a read-only live Map, as {@link SSHDaemon.sshConnections}. */
  get sshChannels(): ReadonlyMap<string, SSHChannel> {
    return this.channelViews;
  }

  /** `'Name=Value'` sets (returns ''), `'Name'` reads; unknown names and bad values throw and change nothing. */
  config(statement: string): string {
    return this.server.settings.config(statement);
  }

  /**
   * Disconnects a client (DISCONNECT "by application"); resolves once its socket closed. Output
   * already queued on its channels (data, exit-status, EOF, CLOSE) is sent first, and channels being
   * closed get the client's CLOSE back (a client that saw DISCONNECT first would report an error),
   * for at most `DisconnectFlushTimeout` seconds (default 10), as OpenSSH never discards a finished
   * command's output; `{ immediate: true }` drops it and disconnects at once. Rejects with
   * `UnknownConnection` (120) when the connection is gone; safe to leave unawaited (see
   * {@link SSHDaemon.sendChannelData}).
   */
  disconnect(connectionId: string, options: DisconnectOptions = {}): Promise<void> {
    return handledCall(() => this.server.connection(connectionId).disconnect(options.immediate === true));
  }

  /**
   * Sends EOF and CLOSE on a channel after everything already queued on it (data, exit-status).
   * Resolves once CLOSE is handed to the transport, so everything sent before it is too (or once
   * the channel is gone: closed by the client, connection lost). Rejects with `UnknownChannel` (121)
   * once the channel has left `sshChannels`; safe to leave unawaited (see {@link SSHDaemon.sendChannelData}).
   */
  closeChannel(channelId: string): Promise<void> {
    return handledCall(() => this.channel(channelId).close());
  }

  /**
   * (beyond) The channel as a Node.js `Duplex` ({@link ChannelStream}), made on the first call and
   * returned again after: client data on the readable side (with backpressure through the channel
   * window), channel data on the writable side, `.stderr`, `exit(code)`, `signal(name)`. Once taken,
   * the channel's data and EOF go to the stream instead of `SSHChannelDataIn` / `SSHChannelEOF`, and
   * input no longer waits for asynchronous `SSHChannelRequested` handlers. Take it in
   * `SSHChannelRequested` (input waits for that handler, so no byte is lost). Throws
   * `UnknownChannel` for a channel that is not open, `InvalidArgument` when SFTP serves it.
   *
   * ```ts
   * const channel = daemon.channelStream(e.channelId);
   * pipeline(child.stdout, channel, () => undefined);
   * ```
   */
  channelStream(channelId: string, options?: ChannelStreamOptions): ChannelStream {
    return channelStreamOf(this.channel(channelId), options);
  }

  /**
   * Sends data; resolves once handed to the transport. While the client's window is full
   * `readyToSend` is false. Rejects with `UnknownChannel` (121) when the channel is closed (by you
   * or the client) or gone.
   *
   * Like every promise-returning method of the daemon except `startListening`, it is safe to leave
   * unawaited (`void daemon.sendChannelData(id, text)`): the promise still rejects for whoever awaits
   * it, but one nobody awaits never becomes an unhandled rejection (which would end the process when
   * the client closes the channel first). A chain you build on it (`.then(...)`) is a new promise:
   * end it with `.catch()`.
   */
  sendChannelData(channelId: string, data: Buffer | Uint8Array | string): Promise<void> {
    return handledCall(() =>
      this.channel(channelId).send(
        typeof data === 'string' ? Buffer.from(data) : Buffer.from(data.buffer, data.byteOffset, data.byteLength),
        0,
      ),
    );
  }

  /** Sends data as stderr (extended data type 1); as {@link SSHDaemon.sendChannelData}, safe to leave unawaited. */
  sendStderr(channelId: string, data: Buffer | string): Promise<void> {
    return handledCall(() => this.channel(channelId).send(typeof data === 'string' ? Buffer.from(data) : data, 1));
  }

  /**
   * Sends an `exit-status` channel request (after any queued data). Rejects with `UnknownChannel`
   * (121) when the channel is closed or gone; safe to leave unawaited (see {@link SSHDaemon.sendChannelData}).
   */
  sendExitStatus(channelId: string, code: number): Promise<void> {
    return handledCall(() => sendExitStatusOn(this.channel(channelId), code));
  }

  /**
   * (beyond) Sends an `exit-signal` channel request (RFC 4254 6.10, after any queued data): the
   * program was killed by `signal` (`'TERM'`; a leading `SIG` is dropped). OpenSSH's `ssh` reports
   * it and exits with 255. Safe to leave unawaited (see {@link SSHDaemon.sendChannelData}).
   */
  sendExitSignal(channelId: string, signal: string, coreDumped = false, message = ''): Promise<void> {
    return handledCall(() => sendExitSignalOn(this.channel(channelId), signal, coreDumped, message));
  }

  /**
   * Sends a channel message; `payload` omits the recipient channel (added here). Data (94/95),
   * EOF (96) and CLOSE (97) go through the channel's flow control. Safe to leave unawaited (see
   * {@link SSHDaemon.sendChannelData}).
   */
  sendSSHPacket(channelId: string, packetType: number, payload: Buffer | Uint8Array): Promise<void> {
    return handledCall(() => sendChannelMessage(this.channel(channelId), packetType, payload));
  }

  /** (beyond) Ends matching sessions on every daemon sharing `policyStore`; resolves the daemons reached (docs/scale-out.md). */
  disconnectEverywhere(filter: DisconnectFilter): Promise<number> {
    return handledCall(() => this.server.fleet.disconnectEverywhere(filter));
  }

  /** Re-keys now; resolves when the new keys are in use. Safe to leave unawaited (see {@link SSHDaemon.sendChannelData}). */
  exchangeKeys(connectionId: string): Promise<void> {
    return handledCall(() => this.server.connection(connectionId).exchangeKeys());
  }

  /**
   * Opens a server-initiated channel; `params` is the type-specific rest of CHANNEL_OPEN (build it
   * with setSSHParam). Safe to leave unawaited (see {@link SSHDaemon.sendChannelData}).
   */
  openChannel(connectionId: string, channelType: string, params: Buffer | Uint8Array = Buffer.alloc(0)): Promise<string> {
    return handledCall(() => this.server.connection(connectionId).openChannel(channelType, Buffer.from(params)));
  }

  /** Reads a named (`'Command'`, case-insensitive) or positional (`'#0'`) field of a packet from an event as text; see {@link getSSHParam}. */
  getSSHParam(payload: Buffer | Uint8Array, field: string): string {
    return getSSHParam(payload, field);
  }
  /** As {@link SSHDaemon.getSSHParam}, returning the field's raw bytes. */
  getSSHParamBytes(payload: Buffer | Uint8Array, field: string): Buffer {
    return getSSHParamBytes(payload, field);
  }
  /** Appends one encoded field to `payload` (null to start) and returns the new buffer; see {@link setSSHParam}. */
  setSSHParam(
    payload: Buffer | Uint8Array | null | undefined,
    fieldType: SSHParamFieldType,
    value: string | number | boolean | bigint,
  ): Buffer {
    return setSSHParam(payload, fieldType, value);
  }

  /** Stops listening and closes every connection; resolves when all are gone. Safe to leave unawaited. */
  shutdown(): Promise<void> {
    return handledCall(() => this.server.shutdown());
  }

  /** Shuts down and returns every property and setting to its default. Safe to leave unawaited. */
  reset(): Promise<void> {
    return handledCall(async () => {
      await this.shutdown();
      resetProperties(this.props);
      this.server.settings.reset();
      this.server.reset();
      this.server.builtIns.reset();
    });
  }

  /** Node runs events on its own loop; kept for ported code. Resolves at once. */
  doEvents(): Promise<void> {
    return Promise.resolve();
  }
}

export interface SSHDaemon extends Omit<SSHDaemonProperties, 'listening' | 'sshConnections' | 'sshChannels'>, PropertyMethods {}

// The camelCase accessors and the IPWorks getX()/setX() twins, from the one table.
installPropertyAccessors(SSHDaemon.prototype);

/** IPWorks 2022+ name of the same component. */
export const SSHServer = SSHDaemon;
export type SSHServer = SSHDaemon;
