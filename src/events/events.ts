import type { ErrorCode } from '../errors/SSHDaemonError';
import type { ChannelRequestParams } from '../packet/requestParams';
import type { KeyboardInteractivePrompt } from '../packet/keyboardPrompts';
import type { PublicKeyInfo } from '../certs/publicKey';
import type { SessionRestrictions } from '../policy/SessionRestrictions';

/** `Connected`: a TCP connection was accepted and registered (statusCode 0), before the SSH handshake. */
export interface ConnectedEventArgs {
  /** The connection's id (decimal digits, never reused while the process runs). */
  readonly connectionId: string;
  /** Always 0: refused connections never reach `Connected`. */
  readonly statusCode: number;
  /** Always 'OK'. */
  readonly description: string;
}
/** `ConnectionRequest`: a client is connecting; set `accept = false` to refuse it before any SSH byte. */
export interface ConnectionRequestEventArgs {
  /** The client's IP address. */
  readonly address: string;
  /** The client's TCP port. */
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
  /** The connection's id (decimal digits, never reused while the process runs). */
  readonly connectionId: string;
  /** 0 for a normal close (by either side), else the {@link ErrorCodes} value of what ended it. */
  readonly statusCode: number;
  /** Why the connection ended: 'OK', 'disconnected by server', 'server shutdown', a timeout, ... */
  readonly description: string;
}
/** `Error`: per-connection trouble; never thrown. `connectionId` is '' for listener-level errors. */
export interface ErrorEventArgs {
  /** The connection's id; '' for listener-level errors. */
  readonly connectionId: string;
  /** One of {@link ErrorCodes} (1000-1199 for per-connection SSH trouble). */
  readonly errorCode: ErrorCode;
  /** What went wrong, in words. */
  readonly description: string;
}
/** `Log`: a log line at or below the `LogLevel` setting (1 info, 2 verbose, 3 debug). */
export interface LogEventArgs {
  /** The connection's id; '' for daemon-level lines. */
  readonly connectionId: string;
  /** The line's level: 1 info, 2 verbose, 3 debug (shown when `LogLevel` is at least this). */
  readonly logLevel: number;
  /** The log line. */
  readonly message: string;
  /** 'Info', 'Verbose', 'Debug' or 'Error'. */
  readonly logType: string;
}
/** `SSHChannelClosed`: a channel is closed (by either side) and its id is gone from `sshChannels`. */
export interface SSHChannelClosedEventArgs {
  /** The connection's id (decimal digits, never reused while the process runs). */
  readonly connectionId: string;
  /** The channel's id (decimal digits, never reused while the process runs). */
  readonly channelId: string;
}
/** `SSHChannelDataIn`: data from the client; `extended` is 0 for data, 1 for stderr (extended data type). */
export interface SSHChannelDataInEventArgs {
  /** The connection's id (decimal digits, never reused while the process runs). */
  readonly connectionId: string;
  /** The channel's id (decimal digits, never reused while the process runs). */
  readonly channelId: string;
  /** The bytes received: a chunk as it arrived, or one record of `recordLength` bytes when that is set. */
  readonly data: Buffer;
  /** 0 for channel data, 1 for extended data (stderr). */
  readonly extended: number;
}
/** `SSHChannelEOF`: the client sent EOF on the channel; it sends no more data there, but may still read. */
export interface SSHChannelEOFEventArgs {
  /** The connection's id (decimal digits, never reused while the process runs). */
  readonly connectionId: string;
  /** The channel's id (decimal digits, never reused while the process runs). */
  readonly channelId: string;
}
/** `SSHChannelOpened`: a channel is open, after an accepted `SSHChannelOpenRequest` or a server `openChannel()`. */
export interface SSHChannelOpenedEventArgs {
  /** The connection's id (decimal digits, never reused while the process runs). */
  readonly connectionId: string;
  /** The channel's id (decimal digits, never reused while the process runs). */
  readonly channelId: string;
}
/** `SSHChannelOpenRequest`: the client opens a channel; set `accept = true` to allow it. */
export interface SSHChannelOpenRequestEventArgs {
  /** The connection's id (decimal digits, never reused while the process runs). */
  readonly connectionId: string;
  /** The id the channel will have if accepted. */
  readonly channelId: string;
  /** The SSH channel type: `session`, `direct-tcpip`, ... */
  readonly service: string;
  /** The type-specific rest of SSH_MSG_CHANNEL_OPEN; read it with getSSHParam. */
  readonly parameters: Buffer;
  /**
   * (beyond) `'forwarding'` when enableForwarding serves this open (`direct-tcpip`), else ''. Such an
   * open starts with `accept` true, and a handler's `false` refuses it (`direct-tcpip` always means
   * forwarding, so even a decision by `service` alone counts).
   */
  readonly builtIn: string;
  /** Decision, default false (true for built-in opens, see `builtIn`). */
  accept: boolean;
}
/**
 * `SSHChannelReadyToSend`: the channel takes data again (once when it opens, then each time `readyToSend` turns true).
 */
export interface SSHChannelReadyToSendEventArgs {
  /** The connection's id (decimal digits, never reused while the process runs). */
  readonly connectionId: string;
  /** The channel's id (decimal digits, never reused while the process runs). */
  readonly channelId: string;
}
/** `SSHChannelRequest`: a channel request (`pty-req`, `exec`, `shell`, ...); set `success = true` to grant it. */
export interface SSHChannelRequestEventArgs {
  /** The connection's id (decimal digits, never reused while the process runs). */
  readonly connectionId: string;
  /** The channel's id; '' for a global request (`tcpip-forward`, `cancel-tcpip-forward`). */
  readonly channelId: string;
  /**
   * `pty-req`, `env`, `exec`, `shell`, `subsystem`, `window-change`, `signal`, ...; global requests: `tcpip-forward`, `cancel-tcpip-forward`.
   */
  readonly requestType: string;
  /** SSH_MSG_CHANNEL_REQUEST after the message number; read it with getSSHParam. */
  readonly packet: Buffer;
  /** The request decoded: `{command}` for exec, `{term, cols, rows, width, height, modes}` for pty-req, ... */
  readonly params: ChannelRequestParams;
  /**
   * (beyond) The built-in service that serves this request: `'sftp'` (the `sftp` subsystem with
   * enableSFTP), `'scp'` (`exec scp -t|-f` with enableSCP), `'forwarding'` (`tcpip-forward`,
   * `cancel-tcpip-forward` with enableForwarding), else ''.
   * Such a request starts with `success` true, and a handler's `false` refuses it, except a `false`
   * decided from `requestType` alone when the type does not name the service (`subsystem`, `exec`):
   * `e.success = e.requestType === 'exec'` cannot switch SFTP or SCP off, while a refusal that reads
   * the user, `params` or `builtIn` always counts. Both outcomes are logged.
   */
  readonly builtIn: string;
  /** Decision, default false (true for built-in requests, see `builtIn`). */
  success: boolean;
}
/** `SSHChannelRequested`: a granted request, after the client was told; act on it here. */
export interface SSHChannelRequestedEventArgs {
  /** The connection's id (decimal digits, never reused while the process runs). */
  readonly connectionId: string;
  /** The channel's id; '' for a global request (`tcpip-forward`, `cancel-tcpip-forward`). */
  readonly channelId: string;
  /**
   * `pty-req`, `env`, `exec`, `shell`, `subsystem`, `window-change`, `signal`, ...; global requests: `tcpip-forward`, `cancel-tcpip-forward`.
   */
  readonly requestType: string;
  /** SSH_MSG_CHANNEL_REQUEST after the message number; read it with getSSHParam. */
  readonly packet: Buffer;
  /** The request decoded, as in {@link SSHChannelRequestEventArgs.params}. */
  readonly params: ChannelRequestParams;
}
/** `SSHServiceRequest`: the client asks for a service (`ssh-userauth`, then `ssh-connection`); set `accept = true`. */
export interface SSHServiceRequestEventArgs {
  /** The connection's id (decimal digits, never reused while the process runs). */
  readonly connectionId: string;
  /** `ssh-userauth` (before authentication), then `ssh-connection`. */
  readonly service: string;
  /** Decision, default false. */
  accept: boolean;
}
/** `SSHStatus`: progress of the SSH handshake, key exchanges and authentication, in words. */
export interface SSHStatusEventArgs {
  /** The connection's id (decimal digits, never reused while the process runs). */
  readonly connectionId: string;
  /** What happened, e.g. 'Key exchange complete: kex=..., cipher=...'. */
  readonly message: string;
}
/**
 * `SSHUserAuthPrompt`: a keyboard-interactive round is about to be sent (RFC 4256 3.2); set this
 * round's `prompts` (and `instructions`). Round 1 fires at the client's keyboard-interactive request,
 * before any answer; round N+1 after every answer of round N and its `keyboard-interactive` event
 * were accepted. The answers then arrive as `SSHUserAuthRequest` `keyboard-interactive-N` events.
 */
export interface SSHUserAuthPromptEventArgs {
  /** The connection's id (decimal digits, never reused while the process runs). */
  readonly connectionId: string;
  /** The account name the client logs in as. */
  readonly user: string;
  /** The service wanted after authentication (normally `ssh-connection`). */
  readonly service: string;
  /** 1 for the client's request, 2 after the first round's answers were all accepted, and so on. */
  readonly round: number;
  /** The client's submethods hint (RFC 4256 3.1), a comma list; usually ''. */
  readonly submethods: string;
  /**
   * The prompts of this round. Round 1 starts as `KeyboardInteractivePrompts[connectionId]`, else
   * the `keyboardInteractivePrompts` property; later rounds start empty, which ends the exchange.
   * An empty round 1 is refused (USERAUTH_FAILURE, counted) unless a handler assigned `prompts`
   * itself, e.g. `e.prompts = []` to show only `instructions` and decide on the final event.
   */
  prompts: KeyboardInteractivePrompt[];
  /** Instruction text shown with the prompts; starts as `keyboardInteractiveMessage`. */
  instructions: string;
  /** The request's name (a title some clients show); starts as ''. */
  name: string;
}
/** `SSHUserAuthRequest`: one authentication attempt; set `accept = true` to allow it. */
export interface SSHUserAuthRequestEventArgs {
  /** The connection's id (decimal digits, never reused while the process runs). */
  readonly connectionId: string;
  /** The account name the client logs in as. */
  readonly user: string;
  /** The service wanted after authentication (normally `ssh-connection`). */
  readonly service: string;
  /** `none`, `password`, `publickey`, `keyboard-interactive-N` (one per answer), `keyboard-interactive`. */
  readonly authMethod: string;
  /**
   * The password, the public key (base64 of the SSH blob), or the keyboard-interactive answer.
   * A password-change request (RFC 4252 8) never fires the event: it is refused, as by sshd without PAM.
   */
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
   * True for a publickey query (RFC 4252 7: "would you accept this key?", no signature): it proves
   * nothing about the client. `accept` answers the question (USERAUTH_PK_OK); `partialSuccess`,
   * `availableMethods` and `restrictions` written now are discarded. Record a key as proven only
   * when `isQuery` is false (the signed request, whose signature the daemon verified first).
   */
  readonly isQuery: boolean;
  /**
   * With `accept`: what the session may do (authorized_keys options, certificate restrictions);
   * the daemon enforces them. {@link AuthorizedKeys.authorize} fills it. Undefined = no restriction.
   */
  restrictions?: SessionRestrictions;
}

/** The daemon's events, by IPWorks name. Listeners may return a Promise for decision events. */
export interface SSHDaemonEvents {
  /** A TCP connection was accepted and registered, before the SSH handshake. See {@link ConnectedEventArgs}. */
  Connected: (e: ConnectedEventArgs) => void;
  /**
   * A client connects; decide with `accept` (default true). May be asynchronous. See {@link ConnectionRequestEventArgs}.
   */
  ConnectionRequest: (e: ConnectionRequestEventArgs) => void | Promise<void>;
  /** A connection is gone, for any reason. See {@link DisconnectedEventArgs}. */
  Disconnected: (e: DisconnectedEventArgs) => void;
  /** Trouble on a connection or the listener, or a failed event handler; never thrown. See {@link ErrorEventArgs}. */
  Error: (e: ErrorEventArgs) => void;
  /** A log line at or below the `LogLevel` setting. See {@link LogEventArgs}. */
  Log: (e: LogEventArgs) => void;
  /** A channel was closed. See {@link SSHChannelClosedEventArgs}. */
  SSHChannelClosed: (e: SSHChannelClosedEventArgs) => void;
  /** Data from the client on a channel. See {@link SSHChannelDataInEventArgs}. */
  SSHChannelDataIn: (e: SSHChannelDataInEventArgs) => void;
  /** The client sent EOF on a channel. See {@link SSHChannelEOFEventArgs}. */
  SSHChannelEOF: (e: SSHChannelEOFEventArgs) => void;
  /** A channel is open. See {@link SSHChannelOpenedEventArgs}. */
  SSHChannelOpened: (e: SSHChannelOpenedEventArgs) => void;
  /**
   * The client opens a channel; decide with `accept` (default false). May be asynchronous. See {@link SSHChannelOpenRequestEventArgs}.
   */
  SSHChannelOpenRequest: (e: SSHChannelOpenRequestEventArgs) => void | Promise<void>;
  /** A channel takes outgoing data again. See {@link SSHChannelReadyToSendEventArgs}. */
  SSHChannelReadyToSend: (e: SSHChannelReadyToSendEventArgs) => void;
  /**
   * A channel or global request; decide with `success` (default false). May be asynchronous. See {@link SSHChannelRequestEventArgs}.
   */
  SSHChannelRequest: (e: SSHChannelRequestEventArgs) => void | Promise<void>;
  /**
   * A granted request, after the client was answered: start the command, shell or subsystem here. See {@link SSHChannelRequestedEventArgs}.
   */
  SSHChannelRequested: (e: SSHChannelRequestedEventArgs) => void;
  /**
   * The client asks for a service; decide with `accept` (default false). May be asynchronous. See {@link SSHServiceRequestEventArgs}.
   */
  SSHServiceRequest: (e: SSHServiceRequestEventArgs) => void | Promise<void>;
  /** Handshake, key exchange and authentication progress. See {@link SSHStatusEventArgs}. */
  SSHStatus: (e: SSHStatusEventArgs) => void;
  /**
   * A keyboard-interactive round is about to be sent: set its prompts. May be asynchronous. See {@link SSHUserAuthPromptEventArgs}.
   */
  SSHUserAuthPrompt: (e: SSHUserAuthPromptEventArgs) => void | Promise<void>;
  /**
   * One authentication attempt; decide with `accept` (default false). May be asynchronous. See {@link SSHUserAuthRequestEventArgs}.
   */
  SSHUserAuthRequest: (e: SSHUserAuthRequestEventArgs) => void | Promise<void>;
}

/** Events whose listeners decide something and may be asynchronous. */
export type DecisionEventName =
  'ConnectionRequest' | 'SSHChannelOpenRequest' | 'SSHChannelRequest' | 'SSHServiceRequest' | 'SSHUserAuthPrompt' | 'SSHUserAuthRequest';

/** The argument object of event `E`: `EventArgs<'SSHChannelRequest'>` is {@link SSHChannelRequestEventArgs}. */
export type EventArgs<E extends keyof SSHDaemonEvents> = Parameters<SSHDaemonEvents[E]>[0];
