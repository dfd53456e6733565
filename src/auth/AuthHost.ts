/** What authentication needs from the server for one connection: implemented by the server's Connection. */
import type { EventHub } from '../events/EventHub';
import type { KeyboardInteractivePrompt } from '../packet/keyboardPrompts';
import type { ConnectionRecord } from '../registry/ConnectionRecord';

/** What authentication needs from the daemon for one connection. */
export interface AuthHost {
  readonly hub: EventHub;
  defaultAuthMethods(): readonly string[];
  maxAuthAttempts(): number;
  allowedSignatureAlgorithms(): string[];
  /** RequiredRSASize: the smallest RSA key accepted, in bits. */
  requiredRsaBits(): number;
  /** CA key blobs from TrustedUserCAKeys (read at each use). */
  trustedUserCAs(): Buffer[];
  keyboardPrompts(conn: ConnectionRecord): KeyboardInteractivePrompt[];
  keyboardMessage(): string;
  /** Sends a pending UserAuthBanner[connId] before the next auth reply. */
  flushBanner(conn: ConnectionRecord): void;
  /** Fires SSHServiceRequest for a service (ssh-userauth, then the one a successful request names). */
  serviceRequested(conn: ConnectionRecord, service: string): boolean | Promise<boolean>;
  /** True once the connection is closed or a DISCONNECT was sent: nothing more is evaluated. */
  ended(conn: ConnectionRecord): boolean;
  /** DISCONNECT 14 after the failure that reaches MaxAuthAttempts. */
  tooManyFailures(conn: ConnectionRecord): void;
  /** DISCONNECT SERVICE_NOT_AVAILABLE. */
  serviceNotAvailable(conn: ConnectionRecord, description: string): void;
  /** DISCONNECT PROTOCOL_ERROR, with `Error` (ProtocolError). */
  protocolError(conn: ConnectionRecord, description: string): void;
  authenticated(conn: ConnectionRecord, user: string): void;
}
