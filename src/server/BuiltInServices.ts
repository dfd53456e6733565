import type { ChannelState } from '../channels/ChannelState';
import type { ChannelRequestParams } from '../packet/requestParams';
import { type ForwardingOptions, TcpForwarding } from '../channels/TcpForwarding';
import { ErrorCodes } from '../errors/SSHDaemonError';
import type { ConnectionRecord } from '../registry/ConnectionRecord';
import { SSHConnection } from '../views/views';
import { WireReader } from '../packet/wire';
import { isSCPCommand } from '../scp/command';
import { SCPSession, type SCPSessionOptions } from '../scp/SCPSession';
import { decodeFileName } from '../sftp/fileNames';
import { SFTPHandleCounts } from '../sftp/handleBudget';
import { SFTPSession, type SFTPSessionOptions } from '../sftp/SFTPSession';
import { ProcessService } from '../processes/ProcessService';
import { readIntoReusedBuffer } from '../engine/transientReads';
import type { ProcessProvider, ProcessServiceOptions } from '../processes/ProcessServiceOptions';
import type { EventHub } from '../events/EventHub';
import type { BuiltInHooks, ChannelStarter } from '../channels/ChannelHost';

/** Chooses SFTP options per connection (undefined refuses the subsystem). */
export type SFTPProvider = (connection: SSHConnection) => SFTPSessionOptions | undefined | Promise<SFTPSessionOptions | undefined>;

/** Chooses SCP options per connection (undefined refuses the `exec scp ...`). */
export type SCPProvider = (connection: SSHConnection) => SCPSessionOptions | undefined | Promise<SCPSessionOptions | undefined>;

/** What the services need from the daemon. */
export interface BuiltInHost {
  readonly hub: EventHub;
  connectionView(conn: ConnectionRecord): SSHConnection;
  openChannel(conn: ConnectionRecord, channelType: string, params: Buffer): Promise<ChannelState>;
  sendExitStatus(state: ChannelState, code: number): void;
  /** An integer setting (the forwarding limits). */
  intSetting(name: string): number;
  /** A boolean setting (SFTPReuseReadBuffer). */
  boolSetting(name: string): boolean;
}

function isSftpRequest(requestType: string, params: ChannelRequestParams): boolean {
  return requestType === 'subsystem' && (params as { subsystem?: string }).subsystem === 'sftp';
}

function isScpRequest(requestType: string, params: ChannelRequestParams): boolean {
  return requestType === 'exec' && isSCPCommand((params as { command?: string }).command ?? '');
}

/** The exec command's exact bytes as a lossless string (params.command is decoded as UTF-8). */
function execCommand(params: ChannelRequestParams, body: Buffer | undefined): string {
  if (body) {
    try {
      const r = new WireReader(body, 4);
      r.string(); // "exec"
      r.boolean();
      return decodeFileName(r.bytes());
    } catch {
      // fall back to the decoded text
    }
  }
  return (params as { command?: string }).command ?? '';
}

/**
 * The channel's data (extended data is dropped), EOF and close go to `session` from now on.
 * `copiesInput`: the session copies what it keeps (ChannelConsumer.copiesInput).
 */
function consumeChannel(
  state: ChannelState,
  session: { data(data: Buffer): void; end(): void; shutdown(): void; readonly copiesInput?: boolean },
): void {
  state.consumer = {
    copiesInput: session.copiesInput === true,
    data: (data, extended) => {
      if (extended === 0) session.data(data);
    },
    end: () => session.end(),
    closed: () => session.shutdown(),
  };
}

/** Default of `SFTPSessionOptions.maxHandlesPerUser`. */
const DEFAULT_MAX_HANDLES_PER_USER = 1024;

const bind = (params: ChannelRequestParams) => params as { bindAddress: string; bindPort: number };

/** SFTP, SCP, TCP forwarding and processes, switched on by enableSFTP / enableSCP / enableForwarding / enableProcesses. */
export class BuiltInServices implements BuiltInHooks {
  private sftpProvider?: SFTPProvider;
  private scpProvider?: SCPProvider;
  /** enableForwarding's options; undefined = off for new requests. */
  private forwardingOptions?: ForwardingOptions;
  /** Remote-forward listeners of every connection: kept across enableForwarding calls, so none outlives its connection. */
  private readonly forwarding: TcpForwarding;
  /** Open SFTP handles per user, over every session of the daemon. */
  readonly sftpHandles = new SFTPHandleCounts();
  /** exec and shell as real programs (enableProcesses). */
  private readonly processes: ProcessService;

  constructor(private readonly host: BuiltInHost) {
    this.forwarding = new TcpForwarding({
      openChannel: (conn, type, params) => this.host.openChannel(conn, type, params),
      log: (conn, level, message) => this.host.hub.log(conn.id, level, message),
      maxListeners: () => this.host.intSetting('MaxRemoteForwardsPerConnection'),
      maxChannels: () => this.host.intSetting('MaxSessionsPerConnection'),
    });
    this.processes = new ProcessService({ hub: host.hub, connectionView: (conn) => host.connectionView(conn) });
  }

  enableSFTP(provider: SFTPProvider | undefined): void {
    this.sftpProvider = provider;
  }

  enableSCP(provider: SCPProvider | undefined): void {
    this.scpProvider = provider;
  }

  enableForwarding(options: ForwardingOptions | undefined): void {
    this.forwardingOptions = options;
  }

  enableProcesses(options: ProcessServiceOptions | ProcessProvider | undefined): void {
    this.processes.enable(options);
  }

  reset(): void {
    this.sftpProvider = undefined;
    this.scpProvider = undefined;
    this.forwardingOptions = undefined;
    this.processes.enable(undefined);
  }

  /** Serves SFTP on a channel; its data goes to the session from now on. */
  serveSFTP(state: ChannelState, options: SFTPSessionOptions): SFTPSession {
    const user = options.user ?? state.connection.user;
    const session = new SFTPSession(
      { ...options, user },
      {
        handleBudget: this.sftpHandles.budget(user, options.maxHandlesPerUser ?? DEFAULT_MAX_HANDLES_PER_USER),
        send: (packet) => state.send(packet, 0),
        holdInput: (hold) => state.holdWindow(hold),
        close: () => this.exitChannel(state, 0),
        listenerFailed: (event, err) =>
          this.host.hub.error(
            state.connection.id,
            ErrorCodes.HandlerFailed,
            `SFTPSession '${event}' listener failed: ${err instanceof Error ? err.message : String(err)}`,
          ),
      },
    );
    options.onSession?.(session);
    consumeChannel(state, session);
    const conn = state.connection;
    // An upload then allocates nothing per socket read (engine/transientReads.ts); only after
    // authentication, with the SFTP session copying what it keeps (copiesInput).
    if (!conn.transientReads && conn.authenticated && conn.engine && this.host.boolSetting('SFTPReuseReadBuffer'))
      conn.transientReads = readIntoReusedBuffer(conn.engine);
    return session;
  }

  /**
   * Serves legacy SCP on a channel whose `exec scp -t|-f ...` was granted; its data goes to the
   * session from now on. The session starts on the next turn of the event loop, after the exec
   * reply has gone out (the sink speaks first).
   */
  serveSCP(state: ChannelState, command: string, options: SCPSessionOptions): SCPSession {
    const session = new SCPSession(
      command,
      options,
      {
        send: (data) => state.send(data, 0),
        holdInput: (hold) => state.holdWindow(hold),
        exit: (status) => this.exitChannel(state, status),
      },
      state.connection.user,
    );
    options.onSession?.(session);
    consumeChannel(state, session);
    setImmediate(() => session.start());
    return session;
  }

  /** Ends a served channel as a finished command: exit-status `status`, then CLOSE (once; not after the channel closed). */
  private exitChannel(state: ChannelState, status: number): void {
    if (state.finished || state.closeSent) return;
    this.host.sendExitStatus(state, status);
    state.close();
  }

  presetSuccess(_conn: ConnectionRecord, requestType: string, params: ChannelRequestParams, state?: ChannelState): string {
    // A channel whose program the process service started keeps going to it (window-change, signal).
    if (state && this.processes.started(state)) return this.processes.presets(state, requestType) ? 'processes' : '';
    if (isSftpRequest(requestType, params)) return this.sftpProvider !== undefined ? 'sftp' : '';
    if (this.scpProvider && isScpRequest(requestType, params)) return 'scp';
    if (this.processes.presets(state, requestType)) return 'processes';
    return this.forwardingOptions !== undefined && (requestType === 'tcpip-forward' || requestType === 'cancel-tcpip-forward')
      ? 'forwarding'
      : '';
  }

  attachBuiltIn(
    conn: ConnectionRecord,
    state: ChannelState,
    requestType: string,
    params: ChannelRequestParams,
    body?: Buffer,
  ): boolean | Promise<boolean> {
    if (this.processes.started(state)) return this.processes.attach(conn, state, requestType, params);
    if (state.consumer) return true;
    if (this.sftpProvider && isSftpRequest(requestType, params)) {
      return this.attachWith(conn, state, 'enableSFTP', this.sftpProvider, (options) => void this.serveSFTP(state, options));
    }
    if (this.scpProvider && isScpRequest(requestType, params)) {
      const command = execCommand(params, body);
      return this.attachWith(conn, state, 'enableSCP', this.scpProvider, (options) => void this.serveSCP(state, command, options));
    }
    if (this.processes.presets(state, requestType)) return this.processes.attach(conn, state, requestType, params);
    return true;
  }

  /** Asks the provider for options (sync or async) and serves the channel with them; undefined refuses. */
  private attachWith<T>(
    conn: ConnectionRecord,
    state: ChannelState,
    what: string,
    provider: (c: SSHConnection) => T | undefined | Promise<T | undefined>,
    serve: (options: T) => void,
  ): boolean | Promise<boolean> {
    const attach = (options: T | undefined): boolean => {
      if (!options || state.finished) return false;
      try {
        serve(options);
      } catch (err) {
        return this.callbackFailed(conn, what, err as Error); // options the service refused (e.g. a negative timeout)
      }
      return true;
    };
    try {
      const options = provider(this.host.connectionView(conn));
      return options instanceof Promise ? options.then(attach, (err: Error) => this.callbackFailed(conn, what, err)) : attach(options);
    } catch (err) {
      return this.callbackFailed(conn, what, err as Error);
    }
  }

  presetAccept(_conn: ConnectionRecord, channelType: string): string {
    return this.forwardingOptions !== undefined && channelType === 'direct-tcpip' ? 'forwarding' : '';
  }

  attachOpen(conn: ConnectionRecord, channelType: string, parameters: Buffer): Promise<ChannelStarter | string> | undefined {
    const options = this.forwardingOptions;
    if (!options || channelType !== 'direct-tcpip') return undefined;
    return this.forwarding.openDirect(conn, parameters, options);
  }

  refusedGlobal(conn: ConnectionRecord, requestType: string): string | undefined {
    return this.forwardingOptions && requestType === 'tcpip-forward' ? this.forwarding.refusedListen(conn) : undefined;
  }

  attachGlobal(conn: ConnectionRecord, requestType: string, params: ChannelRequestParams): boolean | number | Promise<boolean | number> {
    const options = this.forwardingOptions;
    const { bindAddress, bindPort } = bind(params);
    // A cancel reaches listeners made while forwarding was on, even if it was switched off since.
    if (requestType === 'cancel-tcpip-forward' && this.forwarding.cancel(conn, bindAddress, bindPort)) return true;
    if (!options || (requestType !== 'tcpip-forward' && requestType !== 'cancel-tcpip-forward')) return true;
    if (requestType === 'cancel-tcpip-forward') return false;
    return this.forwarding.listen(conn, bindAddress, bindPort, options.gatewayPorts === true).catch((err: Error) => {
      this.host.hub.log(conn.id, 1, `remote forward ${bindAddress}:${bindPort} failed: ${err.message}`);
      return false;
    });
  }

  connectionClosed(conn: ConnectionRecord): void {
    this.forwarding.connectionClosed(conn);
  }

  private callbackFailed(conn: ConnectionRecord, what: string, err: Error): false {
    this.host.hub.error(conn.id, ErrorCodes.HandlerFailed, `${what} callback failed: ${err.message}`);
    return false;
  }
}
