import type { ChannelState } from '../channels/ChannelState';
import type { ChannelRequestParams } from '../channels/requestParams';
import { type ForwardingOptions, TcpForwarding } from '../channels/TcpForwarding';
import { ErrorCodes } from '../errors/SSHDaemonError';
import type { ConnectionRecord } from '../registry/ConnectionRecord';
import { SSHConnection } from '../registry/views';
import { SFTPSession, type SFTPSessionOptions } from '../sftp/SFTPSession';
import type { EventHub } from './EventHub';

/** Chooses SFTP options per connection (undefined refuses the subsystem). */
export type SFTPProvider = (connection: SSHConnection) => SFTPSessionOptions | undefined | Promise<SFTPSessionOptions | undefined>;

/** What a built-in service does with a channel once it is open, or how it lets go if the channel never opens. */
export interface ChannelStarter {
  start(state: ChannelState): void;
  abort(): void;
}

/** The daemon hooks the channel layer and the connection call for built-in services. */
export interface BuiltInHooks {
  /** The built-in that serves this request (channel or global; it then starts with `success` true): 'sftp', 'forwarding' or ''. */
  presetSuccess(conn: ConnectionRecord, requestType: string, params: ChannelRequestParams): string;
  /** A granted channel request a service takes over before more data is delivered; false refuses it after all. */
  attachBuiltIn(conn: ConnectionRecord, state: ChannelState, requestType: string, params: ChannelRequestParams): boolean | Promise<boolean>;
  /** The built-in that serves this channel type (the open then starts with `accept` true): 'forwarding' or ''. */
  presetAccept(conn: ConnectionRecord, channelType: string): string;
  /** An accepted open a service serves: the starter to run once open, or why it failed (CONNECT_FAILED). */
  attachOpen(conn: ConnectionRecord, channelType: string, parameters: Buffer): Promise<ChannelStarter | string> | undefined;
  /** A granted global request a service carries out: false fails it; a number is the bound port to report. */
  attachGlobal(conn: ConnectionRecord, requestType: string, params: ChannelRequestParams): boolean | number | Promise<boolean | number>;
  connectionClosed(conn: ConnectionRecord): void;
}

/** What the services need from the daemon. */
export interface BuiltInHost {
  readonly hub: EventHub;
  connectionView(conn: ConnectionRecord): SSHConnection;
  openChannel(conn: ConnectionRecord, channelType: string, params: Buffer): Promise<ChannelState>;
  sendExitStatus(state: ChannelState, code: number): void;
}

function isSftpRequest(requestType: string, params: ChannelRequestParams): boolean {
  return requestType === 'subsystem' && (params as { subsystem?: string }).subsystem === 'sftp';
}

const bind = (params: ChannelRequestParams) => params as { bindAddress: string; bindPort: number };

/** SFTP and TCP forwarding, switched on by enableSFTP / enableForwarding. */
export class BuiltInServices implements BuiltInHooks {
  private sftpProvider?: SFTPProvider;
  private forwarding?: TcpForwarding;

  constructor(private readonly host: BuiltInHost) {}

  enableSFTP(provider: SFTPProvider | undefined): void {
    this.sftpProvider = provider;
  }

  enableForwarding(options: ForwardingOptions | undefined): void {
    this.forwarding = options
      ? new TcpForwarding(options, {
          openChannel: (conn, type, params) => this.host.openChannel(conn, type, params),
          log: (conn, message) => this.host.hub.log(conn.id, 2, message),
        })
      : undefined;
  }

  reset(): void {
    this.sftpProvider = undefined;
    this.forwarding = undefined;
  }

  /** Serves SFTP on a channel; its data goes to the session from now on. */
  serveSFTP(state: ChannelState, options: SFTPSessionOptions): SFTPSession {
    const session = new SFTPSession(options, {
      send: (packet) => state.send(packet, 0),
      holdInput: (hold) => state.holdWindow(hold),
      close: () => {
        if (state.finished || state.closeSent) return;
        this.host.sendExitStatus(state, 0);
        state.close();
      },
    });
    options.onSession?.(session);
    state.consumer = {
      data: (data, extended) => {
        if (extended === 0) session.data(data);
      },
      end: () => session.end(),
      closed: () => session.shutdown(),
    };
    return session;
  }

  presetSuccess(_conn: ConnectionRecord, requestType: string, params: ChannelRequestParams): string {
    if (isSftpRequest(requestType, params)) return this.sftpProvider !== undefined ? 'sftp' : '';
    return this.forwarding !== undefined && (requestType === 'tcpip-forward' || requestType === 'cancel-tcpip-forward') ? 'forwarding' : '';
  }

  attachBuiltIn(conn: ConnectionRecord, state: ChannelState, requestType: string, params: ChannelRequestParams): boolean | Promise<boolean> {
    const provider = this.sftpProvider;
    if (!provider || !isSftpRequest(requestType, params) || state.consumer) return true;
    const attach = (options: SFTPSessionOptions | undefined): boolean => {
      if (!options || state.finished) return false;
      this.serveSFTP(state, options);
      return true;
    };
    try {
      const options = provider(this.host.connectionView(conn));
      return options instanceof Promise ? options.then(attach, (err: Error) => this.callbackFailed(conn, 'enableSFTP', err)) : attach(options);
    } catch (err) {
      return this.callbackFailed(conn, 'enableSFTP', err as Error);
    }
  }

  presetAccept(_conn: ConnectionRecord, channelType: string): string {
    return this.forwarding !== undefined && channelType === 'direct-tcpip' ? 'forwarding' : '';
  }

  attachOpen(conn: ConnectionRecord, channelType: string, parameters: Buffer): Promise<ChannelStarter | string> | undefined {
    if (!this.forwarding || channelType !== 'direct-tcpip') return undefined;
    return this.forwarding.openDirect(conn, parameters);
  }

  attachGlobal(conn: ConnectionRecord, requestType: string, params: ChannelRequestParams): boolean | number | Promise<boolean | number> {
    const forwarding = this.forwarding;
    if (!forwarding || (requestType !== 'tcpip-forward' && requestType !== 'cancel-tcpip-forward')) return true;
    const { bindAddress, bindPort } = bind(params);
    if (requestType === 'cancel-tcpip-forward') return forwarding.cancel(conn, bindAddress, bindPort);
    return forwarding.listen(conn, bindAddress, bindPort).catch((err: Error) => {
      this.host.hub.log(conn.id, 1, `remote forward ${bindAddress}:${bindPort} failed: ${err.message}`);
      return false;
    });
  }

  connectionClosed(conn: ConnectionRecord): void {
    this.forwarding?.connectionClosed(conn);
  }

  private callbackFailed(conn: ConnectionRecord, what: string, err: Error): false {
    this.host.hub.error(conn.id, ErrorCodes.HandlerFailed, `${what} callback failed: ${err.message}`);
    return false;
  }
}
