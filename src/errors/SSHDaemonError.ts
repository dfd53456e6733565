/**
 * Error codes, grouped in reserved ranges (see docs/errors.md):
 * 100-199 invalid argument or state (thrown synchronously),
 * 300-399 socket and listener errors, 400-499 host keys and certificates,
 * 1000-1199 per-connection SSH trouble (reported on the `Error` event).
 */
export const ErrorCodes = {
  /** `config()` named a setting that does not exist. */
  UnknownSetting: 101,
  /** `config()` gave a value the setting does not accept (the message names the valid range). */
  InvalidSettingValue: 102,
  /** `config()` tried to set a read-only setting. */
  ReadOnlySetting: 103,
  /** A property was given a value of the wrong type or range, or is read-only. */
  InvalidPropertyValue: 110,
  /** A bind property (localHost, localPort, connectionBacklog) changed while listening. */
  NotWhileListening: 111,
  /** No such connection id (or the connection is not in a state for the call). */
  UnknownConnection: 120,
  /** No such channel id. */
  UnknownChannel: 121,
  /** The channel cannot take the call yet or any more (not open, or closing). */
  ChannelNotReady: 122,
  /** `getSSHParam` was asked for a field the payload does not have. */
  UnknownField: 130,
  /** A payload is truncated or badly encoded. */
  MalformedPayload: 131,
  /** `setSSHParam` got a value its field type cannot encode. */
  InvalidFieldValue: 132,
  /** Any other bad argument. */
  InvalidArgument: 140,
  /** The listener (or a sensor port) cannot bind, or failed. */
  ListenFailed: 301,
  /** No usable host key: `sshCert` unset, or no key matches SSHPublicKeyAlgorithms. */
  NoHostKey: 401,
  /** A certificate store type that cannot exist on Node.js (Windows stores, JKS, XML, ...). */
  UnsupportedStoreType: 402,
  /** The store password is wrong, or missing for an encrypted key. */
  BadKeyPassword: 403,
  /** The key or store cannot be parsed. */
  CorruptKey: 404,
  /** The key file cannot be read. */
  KeyFileNotFound: 405,
  /** No entry of the store matches the subject. */
  SubjectNotFound: 406,
  /**
   * A host certificate (SSHCertCertificate, AltSSHCertCertificate[i]) cannot be served: not an
   * OpenSSH certificate, not for its host key, not a host certificate, outside its validity
   * interval, or with a critical option sshd does not know.
   */
  InvalidHostCertificate: 407,
  /** The client broke the SSH protocol, or the engine reported an error. */
  ProtocolError: 1001,
  /** No common algorithm, or the client version was refused (SSHVersionPattern). */
  NegotiationFailed: 1002,
  /** Too many failed authentication attempts (MaxAuthAttempts). */
  AuthAttemptsExceeded: 1010,
  /** A publickey signature did not verify. */
  SignatureInvalid: 1011,
  /** The client sent more channel data than its window allowed. */
  WindowOverrun: 1020,
  /** A connection exceeded a memory bound (see docs/limits.md). */
  BufferLimit: 1022,
  /** A server-initiated channel was refused by the client. */
  ChannelOpenFailed: 1021,
  /** An event handler threw or rejected (the decision counts as a refusal). */
  HandlerFailed: 1030,
  /** The TCP connection failed. */
  SocketError: 1040,
  /** A timeout expired (login grace time, idle or connection timeout). */
  Timeout: 1050,
} as const;

/** Any value of {@link ErrorCodes}. */
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** The one error type the daemon throws or reports: a numeric `code` plus a message that names what was wrong. */
export class SSHDaemonError extends Error {
  /** One of {@link ErrorCodes}: compare with `ErrorCodes.Name`, or switch over it exhaustively. */
  readonly code: ErrorCode;
  /**
   * @param code - One of {@link ErrorCodes}.
   * @param message - What was wrong, naming the setting, property, id or field and its valid range.
   * @param options - `cause`: the underlying error, if any.
   */
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SSHDaemonError';
    this.code = code;
  }
}
