import type { EventHub } from '../events/EventHub';
import type { ConnectionRecord } from '../registry/ConnectionRecord';
import type { ChannelState } from './ChannelState';
import type { ChannelRequestParams } from '../packet/requestParams';

/**
 * The ports the channel layer calls out through, implemented by the server's `Connection` (host)
 * and `BuiltInServices` (hooks): channels depend on these interfaces, never on the server.
 */

/** What the channel layer needs from the daemon. */
export interface ChannelHost {
  readonly hub: EventHub;
  /** The channel is open: it enters `sshChannels`. */
  addChannel(state: ChannelState): void;
  /** The channel finished: it leaves `sshChannels`; false when it was not there (never opened, or already gone). */
  removeChannel(channelId: string): boolean;
  outBufferSize(): number;
  /** Bytes an application may queue on a channel for a client that does not read (OutBufferHardLimit, at least twice OutBufferSize). */
  outBufferHardLimit(): number;
  maxChannels(): number;
  /** The client broke the protocol: report and drop the connection. */
  violation(conn: ConnectionRecord, code: number, description: string): void;
  /** The client costs more memory than the limits allow (BufferLimit): report and drop the connection at once. */
  overflow(conn: ConnectionRecord, description: string): void;
  /** Channel activity (with the data bytes it moved), for the idle timeout and the re-key threshold. */
  activity(conn: ConnectionRecord, bytes?: number): void;
  /** Built-in services (SFTP, forwarding). */
  readonly builtIns: BuiltInHooks;
}

/** What a built-in service does with a channel once it is open, or how it lets go if the channel never opens. */
export interface ChannelStarter {
  start(state: ChannelState): void;
  abort(): void;
}

/** The daemon hooks the channel layer and the connection call for built-in services. */
export interface BuiltInHooks {
  /**
   * The built-in that serves this request (channel or global; it then starts with `success` true):
   * 'sftp', 'scp', 'forwarding', 'processes' or ''. `state` is the channel (undefined for a global request).
   */
  presetSuccess(conn: ConnectionRecord, requestType: string, params: ChannelRequestParams, state?: ChannelState): string;
  /**
   * A granted channel request a service takes over before more data is delivered; false refuses it after all.
   * `body` is the request as the application sees it (after the message number), for byte-exact fields.
   */
  attachBuiltIn(
    conn: ConnectionRecord,
    state: ChannelState,
    requestType: string,
    params: ChannelRequestParams,
    body?: Buffer,
  ): boolean | Promise<boolean>;
  /** The built-in that serves this channel type (the open then starts with `accept` true): 'forwarding' or ''. */
  presetAccept(conn: ConnectionRecord, channelType: string): string;
  /** An accepted open a service serves: the starter to run once open, or why it failed (CONNECT_FAILED). */
  attachOpen(conn: ConnectionRecord, channelType: string, parameters: Buffer): Promise<ChannelStarter | string> | undefined;
  /** Why a global request is refused before SSHChannelRequest fires (a limit), or undefined. */
  refusedGlobal(conn: ConnectionRecord, requestType: string): string | undefined;
  /** A granted global request a service carries out: false fails it; a number is the bound port to report. */
  attachGlobal(conn: ConnectionRecord, requestType: string, params: ChannelRequestParams): boolean | number | Promise<boolean | number>;
  connectionClosed(conn: ConnectionRecord): void;
}
