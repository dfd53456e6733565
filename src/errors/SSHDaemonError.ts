/**
 * Error codes, grouped in reserved ranges (see docs/errors.md):
 * 100-199 invalid argument or state (thrown synchronously),
 * 300-399 socket and listener errors, 400-499 host keys and certificates,
 * 1000-1199 per-connection SSH trouble (reported on the `Error` event).
 */
export const ErrorCodes = {
  UnknownSetting: 101,
  InvalidSettingValue: 102,
  ReadOnlySetting: 103,
  InvalidPropertyValue: 110,
  NotWhileListening: 111,
  UnknownConnection: 120,
  UnknownChannel: 121,
  ChannelNotReady: 122,
  UnknownField: 130,
  MalformedPayload: 131,
  InvalidFieldValue: 132,
  InvalidArgument: 140,
  ListenFailed: 301,
  NoHostKey: 401,
  UnsupportedStoreType: 402,
  BadKeyPassword: 403,
  CorruptKey: 404,
  KeyFileNotFound: 405,
  SubjectNotFound: 406,
  ProtocolError: 1001,
  NegotiationFailed: 1002,
  AuthAttemptsExceeded: 1010,
  SignatureInvalid: 1011,
  WindowOverrun: 1020,
  BufferLimit: 1022,
  ChannelOpenFailed: 1021,
  HandlerFailed: 1030,
  SocketError: 1040,
  Timeout: 1050,
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** The one error type the daemon throws or reports: a numeric `code` plus a message that names what was wrong. */
export class SSHDaemonError extends Error {
  readonly code: number;
  constructor(code: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SSHDaemonError';
    this.code = code;
  }
}
