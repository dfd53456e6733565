import type { ConfigStore } from '../config/ConfigStore';
import type { HandshakeControl, KexLists } from '../engine/ssh2Internals';
import { type ErrorCode, ErrorCodes } from '../errors/SSHDaemonError';

/** The `Error` code of an engine error. */
export function engineErrorCode(err: Error & { level?: string }): ErrorCode {
  if (err.level === 'socket') return ErrorCodes.SocketError;
  if (err.level === 'client-timeout') return ErrorCodes.Timeout;
  if (/no matching|handshake failed/i.test(err.message)) return ErrorCodes.NegotiationFailed;
  return ErrorCodes.ProtocolError;
}

/** ssh2's negotiation failure messages, and which lists each one compares. */
const NEGOTIATION_STEPS: { match: RegExp; client: (l: KexLists) => string[]; setting?: string }[] = [
  {
    match: /no matching key exchange/,
    client: (l) => l.kex.filter((k) => !/^(ext-info-|kex-strict-)/.test(k)),
    setting: 'SSHKeyExchangeAlgorithms',
  },
  { match: /no matching host key/, client: (l) => l.hostKey },
  { match: /no matching C->S cipher/, client: (l) => l.cipherCS, setting: 'SSHEncryptionAlgorithms' },
  { match: /no matching S->C cipher/, client: (l) => l.cipherSC, setting: 'SSHEncryptionAlgorithms' },
  { match: /no matching C->S MAC/, client: (l) => l.macCS, setting: 'SSHMacAlgorithms' },
  { match: /no matching S->C MAC/, client: (l) => l.macSC, setting: 'SSHMacAlgorithms' },
  { match: /no matching C->S compression/, client: (l) => l.compressCS, setting: 'SSHCompressionAlgorithms' },
  { match: /no matching S->C compression/, client: (l) => l.compressSC, setting: 'SSHCompressionAlgorithms' },
];

/** Adds both sides' lists to ssh2's "Handshake failed: no matching ..." message. */
export function describeNegotiationFailure(message: string, handshake: HandshakeControl | undefined, settings: ConfigStore): string {
  const client = handshake?.clientKexInit();
  const row = NEGOTIATION_STEPS.find((r) => r.match.test(message));
  if (!client || !row) return message;
  const ours = row.setting ? settings.list(row.setting) : handshake!.hostKeyAlgorithms;
  return `${message}; client offered [${row.client(client).join(', ')}], server offers [${ours.join(', ')}]`;
}
