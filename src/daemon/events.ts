import type { ChannelRequestParams } from '../channels/requestParams';
import type { PublicKeyInfo } from '../auth/publicKey';
import type { SessionRestrictions } from '../policy/SessionRestrictions';

/** `Connected`: a TCP connection was accepted and registered (statusCode 0), before the SSH handshake. */
export interface ConnectedEventArgs {
  readonly connectionId: string;
  readonly statusCode: number;
  readonly description: string;
}
/** `ConnectionRequest`: a client is connecting; set `accept = false` to refuse it before any SSH byte. */
export interface ConnectionRequestEventArgs {
  readonly address: string;
  readonly port: number;
  /** Decision, default true. */
  accept: boolean;
  /**
   * (beyond) The setting that already refused this connection (`MaxStartups`,
   * `PerSourcePenalties`, ...), or '' when the handler decides. A refusal is final: the event
   * reports it for logs and metrics, and `accept` is ignored.
   */
  readonly refusedBy: string;
}
/** `Disconnected`: the connection is gone (statusCode 0 = normal close). */
export interface DisconnectedEventArgs {
  readonly connectionId: string;
  readonly statusCode: number;
  readonly description: string;
}
/** `Error`: per-connection trouble; never thrown. `connectionId` is '' for listener-level errors. */
export interface ErrorEventArgs {
  readonly connectionId: string;
  readonly errorCode: number;
  readonly description: string;
}
/** `Log`: a log line at or below the `LogLevel` setting (1 info, 2 verbose, 3 debug). */
export interface LogEventArgs {
  readonly connectionId: string;
  readonly logLevel: number;
  readonly message: string;
  /** 'Info', 'Verbose', 'Debug' or 'Error'. */
  readonly logType: string;
}
export interface SSHChannelClosedEventArgs {
  readonly connectionId: string;
  readonly channelId: string;
}
/** `SSHChannelDataIn`: data from the client; `extended` is 0 for data, 1 for stderr (extended data type). */
export interface SSHChannelDataInEventArgs {
  readonly connectionId: string;
  readonly channelId: string;
  readonly data: Buffer;
  readonly extended: number;
}
export interface SSHChannelEOFEventArgs {
  readonly connectionId: string;
  readonly channelId: string;
}
export interface SSHChannelOpenedEventArgs {
  readonly connectionId: string;
  readonly channelId: string;
}
/** `SSHChannelOpenRequest`: the client opens a channel; set `accept = true` to allow it. */
export interface SSHChannelOpenRequestEventArgs {
  readonly connectionId: string;
  /** The id the channel will have if accepted. */
  readonly channelId: string;
  /** The SSH channel type: `session`, `direct-tcpip`, ... */
  readonly service: string;
  /** The type-specific rest of SSH_MSG_CHANNEL_OPEN; read it with getSSHParam. */
  readonly parameters: Buffer;
  /** Decision, default false. */
  accept: boolean;
}
export interface SSHChannelReadyToSendEventArgs {
  readonly connectionId: string;
  readonly channelId: string;
}
/** `SSHChannelRequest`: a channel request (`pty-req`, `exec`, `shell`, ...); set `success = true` to grant it. */
export interface SSHChannelRequestEventArgs {
  readonly connectionId: string;
  readonly channelId: string;
  readonly requestType: string;
  /** SSH_MSG_CHANNEL_REQUEST after the message number; read it with getSSHParam. */
  readonly packet: Buffer;
  /** The request decoded: `{command}` for exec, `{term, cols, rows, width, height, modes}` for pty-req, ... */
  readonly params: ChannelRequestParams;
  /** Decision, default false. */
  success: boolean;
}
/** `SSHChannelRequested`: a granted request, after the client was told; act on it here. */
export interface SSHChannelRequestedEventArgs {
  readonly connectionId: string;
  readonly channelId: string;
  readonly requestType: string;
  readonly packet: Buffer;
  readonly params: ChannelRequestParams;
}
/** `SSHServiceRequest`: the client asks for a service (`ssh-userauth`, then `ssh-connection`); set `accept = true`. */
export interface SSHServiceRequestEventArgs {
  readonly connectionId: string;
  readonly service: string;
  /** Decision, default false. */
  accept: boolean;
}
export interface SSHStatusEventArgs {
  readonly connectionId: string;
  readonly message: string;
}
/** `SSHUserAuthRequest`: one authentication attempt; set `accept = true` to allow it. */
export interface SSHUserAuthRequestEventArgs {
  readonly connectionId: string;
  readonly user: string;
  readonly service: string;
  /** `none`, `password`, `publickey`, `keyboard-interactive-N` (one per answer), `keyboard-interactive`. */
  readonly authMethod: string;
  /** The password, the public key (base64 of the SSH blob), or the keyboard-interactive answer. */
  readonly authParam: string;
  /** Decision, default false. */
  accept: boolean;
  /** With `accept`: this step passed but another method is required (two-factor). */
  partialSuccess: boolean;
  /** Comma list of methods the client may use next; starts as `defaultAuthMethods` (or the connection's current list). */
  availableMethods: string;
  /** For publickey: the signature algorithm the client named (`ssh-ed25519`, `rsa-sha2-256`, ...). */
  readonly keyAlgorithm: string;
  /** For publickey: the parsed key. */
  readonly publicKey?: PublicKeyInfo;
  /**
   * With `accept`: what the session may do (authorized_keys options, certificate restrictions);
   * the daemon enforces them. {@link AuthorizedKeys.authorize} fills it. Undefined = no restriction.
   */
  restrictions?: SessionRestrictions;
}

/** The daemon's events, by IPWorks name. Listeners may return a Promise for decision events. */
export interface SSHDaemonEvents {
  Connected: (e: ConnectedEventArgs) => void;
  ConnectionRequest: (e: ConnectionRequestEventArgs) => void | Promise<void>;
  Disconnected: (e: DisconnectedEventArgs) => void;
  Error: (e: ErrorEventArgs) => void;
  Log: (e: LogEventArgs) => void;
  SSHChannelClosed: (e: SSHChannelClosedEventArgs) => void;
  SSHChannelDataIn: (e: SSHChannelDataInEventArgs) => void;
  SSHChannelEOF: (e: SSHChannelEOFEventArgs) => void;
  SSHChannelOpened: (e: SSHChannelOpenedEventArgs) => void;
  SSHChannelOpenRequest: (e: SSHChannelOpenRequestEventArgs) => void | Promise<void>;
  SSHChannelReadyToSend: (e: SSHChannelReadyToSendEventArgs) => void;
  SSHChannelRequest: (e: SSHChannelRequestEventArgs) => void | Promise<void>;
  SSHChannelRequested: (e: SSHChannelRequestedEventArgs) => void;
  SSHServiceRequest: (e: SSHServiceRequestEventArgs) => void | Promise<void>;
  SSHStatus: (e: SSHStatusEventArgs) => void;
  SSHUserAuthRequest: (e: SSHUserAuthRequestEventArgs) => void | Promise<void>;
}

/** Events whose listeners decide something and may be asynchronous. */
export type DecisionEventName =
  | 'ConnectionRequest'
  | 'SSHChannelOpenRequest'
  | 'SSHChannelRequest'
  | 'SSHServiceRequest'
  | 'SSHUserAuthRequest';

export type EventArgs<E extends keyof SSHDaemonEvents> = Parameters<SSHDaemonEvents[E]>[0];
