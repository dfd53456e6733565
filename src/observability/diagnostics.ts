import type { ErrorCode } from '../errors/SSHDaemonError';
/**
 * `node:diagnostics_channel` channels for APMs, metrics and tracing. Messages are built only when a
 * channel has subscribers, so an unobserved daemon pays one boolean check per event.
 *
 * ```ts
 * import { subscribe } from 'node:diagnostics_channel';
 * subscribe('sshdaemon:auth', (m) => authCounter.inc({ outcome: (m as AuthMessage).outcome }));
 * ```
 */
import { channel } from 'node:diagnostics_channel';

/** `sshdaemon:connection`: a connection was admitted (`open`) or is gone (`close`). */
export interface ConnectionMessage {
  /** `open` when admitted, `close` when gone. */
  readonly event: 'open' | 'close';
  /** The connection's id. */
  readonly connectionId: string;
  /** The client's address (from the PROXY header with UseProxyProtocol). */
  readonly remoteHost: string;
  /** The client's port. */
  readonly remotePort: number;
  /** For `close`: 0 for a normal close, else the error code. */
  readonly statusCode?: number;
  /** For `close`: why it closed. */
  readonly description?: string;
  /** For `close`: bytes read from the socket. */
  readonly bytesIn?: number;
  /** For `close`: bytes written to the socket. */
  readonly bytesOut?: number;
}
/** `sshdaemon:auth`: the outcome of one authentication request. */
export interface AuthMessage {
  /** The connection's id. */
  readonly connectionId: string;
  /** The user name the client asked for. */
  readonly user: string;
  /** `none`, `password`, `publickey`, `keyboard-interactive`, or `other` for any other name a client sends (so labels stay bounded). */
  readonly method: string;
  /** `accepted` (logged in), `partial` (another method required) or `refused`. */
  readonly outcome: 'accepted' | 'partial' | 'refused';
}
/** `sshdaemon:channel`: a channel opened or closed. */
export interface ChannelMessage {
  /** `open` or `close`. */
  readonly event: 'open' | 'close';
  /** The connection's id. */
  readonly connectionId: string;
  /** The channel's id. */
  readonly channelId: string;
  /** The channel type: `session`, `direct-tcpip`, `forwarded-tcpip`, ... */
  readonly type: string;
}
/** `sshdaemon:rekey`: a key exchange completed. */
export interface RekeyMessage {
  /** The connection's id. */
  readonly connectionId: string;
  /** True for the first key exchange of the connection. */
  readonly initial: boolean;
  /** The key exchange algorithm. */
  readonly kex: string;
  /** The server-to-client cipher. */
  readonly cipher: string;
}
/** `sshdaemon:refusal`: a connection refused before any SSH byte. */
export interface RefusalMessage {
  /** The client's address. */
  readonly address: string;
  /** The client's port. */
  readonly port: number;
  /** The setting that refused it (`DeniedClients`, `MaxStartups`, ...). */
  readonly reason: string;
  /** The particulars. */
  readonly detail: string;
}
/** `sshdaemon:error`: what the Error event carries. */
export interface ErrorMessage {
  /** The connection's id, '' for listener-level errors. */
  readonly connectionId: string;
  /** The error code (see docs/errors.md). */
  readonly errorCode: ErrorCode;
  /** What went wrong. */
  readonly description: string;
}

/** The channels, by name. */
export const DIAGNOSTICS_CHANNELS = {
  /** {@link ConnectionMessage} */
  connection: 'sshdaemon:connection',
  /** {@link AuthMessage} */
  auth: 'sshdaemon:auth',
  /** {@link ChannelMessage} */
  channel: 'sshdaemon:channel',
  /** {@link RekeyMessage} */
  rekey: 'sshdaemon:rekey',
  /** {@link RefusalMessage} */
  refusal: 'sshdaemon:refusal',
  /** {@link ErrorMessage} */
  error: 'sshdaemon:error',
} as const;

interface Messages {
  connection: ConnectionMessage;
  auth: AuthMessage;
  channel: ChannelMessage;
  rekey: RekeyMessage;
  refusal: RefusalMessage;
  error: ErrorMessage;
}

const CHANNELS = Object.fromEntries(Object.entries(DIAGNOSTICS_CHANNELS).map(([k, name]) => [k, channel(name)])) as Record<
  keyof Messages,
  ReturnType<typeof channel>
>;

/** Publishes when somebody listens; `build` runs only then. @internal */
export function publish<K extends keyof Messages>(name: K, build: () => Messages[K]): void {
  const ch = CHANNELS[name];
  if (ch.hasSubscribers) ch.publish(build());
}
