export { SSHDaemon, SSHServer, type SFTPProvider, type SCPProvider, type DisconnectOptions } from './daemon/SSHDaemon';
export { ChannelStream, type ChannelStreamOptions, type ExitSignalOptions } from './channels/ChannelStream';
export type { ChannelTerminal } from './channels/ChannelState';
export {
  directTcpipTarget,
  resolveDirectTcpipTarget,
  resolveForwardTarget,
  type ForwardingOptions,
  type ForwardTarget,
  type ResolvedForwardTarget,
} from './channels/TcpForwarding';
export type { SSHDaemonProperties, PropertyMethods } from './daemon/properties';
export type * from './events/events';
export { Certificate, type GeneratedKeyKind, type CertStoreFormat } from './certs/Certificate';
export { CertStoreTypes } from './certs/CertStoreTypes';
export { SSHDaemonError, ErrorCodes, type ErrorCode } from './errors/SSHDaemonError';
export { SSHConnection, SSHChannel } from './views/views';
export { getSSHParam, getSSHParamBytes, setSSHParam, type SSHParamFieldType } from './packet/sshParam';
export { requestParamsOf, type ChannelRequestParams, type ChannelRequestParamsMap, type TerminalModes } from './packet/requestParams';
export type { PublicKeyInfo } from './certs/publicKey';
export {
  AuthorizedKeys,
  type AuthorizedKey,
  type AuthorizedKeyMatch,
  type AuthorizedKeysProblem,
  type AuthorizationContext,
} from './auth/authorizedKeys';
export type { SessionRestrictions } from './policy/SessionRestrictions';
export type {
  PolicyStore,
  SharedAdmission,
  SharedRefusal,
  SharedRefusalReason,
  HeldSlot,
  FleetSession,
  DisconnectFilter,
  StoreStatus,
} from './policy/PolicyStore';
export type { PenaltyPolicy, SensorBounds, OverflowMode, BanCause } from './policy/PenaltyBox';
export { MemoryPolicyStore, type MemoryPolicyStoreOptions } from './policy/MemoryPolicyStore';
export { RedisPolicyStore, type RedisPolicyStoreOptions } from './fleet/RedisPolicyStore';
export {
  parseOpenSSHCertificate,
  checkUserCertificate,
  type OpenSSHCertificate,
  type CertificateOption,
  type CertificateRestrictions,
  type UserCertificateResult,
  type UserCertificateCheckOptions,
  type CertificateRefusal,
  type CertificateParseResult,
} from './certs/openSSHCertificate';
export type { KeyboardInteractivePrompt } from './packet/keyboardPrompts';
export { SETTINGS, type SettingRow } from './config/settings';
export { cryptoBindingAvailable } from './engine/ssh2Internals';
export { SFTPSession, type SFTPSessionOptions, type SFTPSessionEvents, type SFTPAccess, type SFTPTransport } from './sftp/SFTPSession';
export {
  SFTPError,
  SFTPStatus,
  type SFTPStatusCode,
  type SFTPFileSystem,
  type SFTPFileHandle,
  type SFTPDirHandle,
  type SFTPDirEntry,
  type SFTPAttributes,
  type SFTPOpenFlags,
  type SFTPStatVFS,
  type SFTPIdNames,
} from './sftp/FileSystem';
export { LocalFileSystem } from './sftp/LocalFileSystem';
export { SCPSession, type SCPSessionOptions, type SCPSessionEvents, type SCPTransport } from './scp/SCPSession';
export { isSCPCommand, parseSCPCommand, SCPUsageError, type SCPCommand } from './scp/command';
export type { ShellWord } from './scp/shellWords';
export { decodeFileName, encodeFileName, isUtf8FileName } from './sftp/fileNames';
export type {
  ProcessServiceOptions,
  ProcessProvider,
  ProcessRequest,
  ProcessPlan,
  ProcessRefusal,
  ProcessTerminal,
} from './processes/ProcessServiceOptions';
export { attachLogger, type StructuredLogger, type LineLogger } from './daemon/logAdapter';
export { escapeLogText } from './observability/logText';
export {
  DIAGNOSTICS_CHANNELS,
  type ConnectionMessage,
  type AuthMessage,
  type ChannelMessage,
  type RekeyMessage,
  type RefusalMessage,
  type ErrorMessage,
} from './observability/diagnostics';
