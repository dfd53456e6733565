/**
 * SSH message numbers, reason codes and the encoders of the messages the daemon builds itself.
 * Names as RFC 4250 section 4 registers them (EXT_INFO: RFC 8308 section 2.3). The engine adapter
 * (src/engine/EngineWire.ts) sends what these encoders build; nothing else spells a message number.
 */
import { encodeString, encodeUint32 } from './wire';

// ---- message numbers (RFC 4250 4.1.2) ------------------------------------------------------------

export const SSH_MSG_DISCONNECT = 1;
export const SSH_MSG_IGNORE = 2;
export const SSH_MSG_UNIMPLEMENTED = 3;
export const SSH_MSG_DEBUG = 4;
export const SSH_MSG_SERVICE_REQUEST = 5;
export const SSH_MSG_SERVICE_ACCEPT = 6;
/** RFC 8308 2.3. */
export const SSH_MSG_EXT_INFO = 7;
export const SSH_MSG_KEXINIT = 20;
export const SSH_MSG_NEWKEYS = 21;
/** First and last number of the key-exchange-method-specific range (RFC 4251 7). */
export const SSH_MSG_KEX_FIRST = 30;
export const SSH_MSG_KEX_LAST = 49;
/** RFC 5656 7.1 (also what mlkem768x25519-sha256 and curve25519-sha256 use). */
export const SSH_MSG_KEX_ECDH_INIT = 30;
export const SSH_MSG_KEX_ECDH_REPLY = 31;
export const SSH_MSG_USERAUTH_REQUEST = 50;
export const SSH_MSG_USERAUTH_FAILURE = 51;
export const SSH_MSG_USERAUTH_SUCCESS = 52;
export const SSH_MSG_USERAUTH_BANNER = 53;
/** SSH_MSG_USERAUTH_PK_OK (publickey) and SSH_MSG_USERAUTH_INFO_REQUEST (keyboard-interactive) share 60. */
export const SSH_MSG_USERAUTH_PK_OK = 60;
export const SSH_MSG_USERAUTH_INFO_REQUEST = 60;
export const SSH_MSG_USERAUTH_INFO_RESPONSE = 61;
export const SSH_MSG_GLOBAL_REQUEST = 80;
export const SSH_MSG_REQUEST_SUCCESS = 81;
export const SSH_MSG_REQUEST_FAILURE = 82;
export const SSH_MSG_CHANNEL_OPEN = 90;
export const SSH_MSG_CHANNEL_OPEN_CONFIRMATION = 91;
export const SSH_MSG_CHANNEL_OPEN_FAILURE = 92;
export const SSH_MSG_CHANNEL_WINDOW_ADJUST = 93;
export const SSH_MSG_CHANNEL_DATA = 94;
export const SSH_MSG_CHANNEL_EXTENDED_DATA = 95;
export const SSH_MSG_CHANNEL_EOF = 96;
export const SSH_MSG_CHANNEL_CLOSE = 97;
export const SSH_MSG_CHANNEL_REQUEST = 98;
export const SSH_MSG_CHANNEL_SUCCESS = 99;
export const SSH_MSG_CHANNEL_FAILURE = 100;
/** The connection protocol's range (RFC 4251 7): channel messages are 90-127. */
export const SSH_MSG_CHANNEL_FIRST = 90;
export const SSH_MSG_CHANNEL_LAST = 127;

// ---- reason codes ----------------------------------------------------------------------------------

/** SSH_MSG_DISCONNECT reason codes (RFC 4250 4.2.2). */
export const SSH_DISCONNECT = {
  HOST_NOT_ALLOWED_TO_CONNECT: 1,
  PROTOCOL_ERROR: 2,
  KEY_EXCHANGE_FAILED: 3,
  RESERVED: 4,
  MAC_ERROR: 5,
  COMPRESSION_ERROR: 6,
  SERVICE_NOT_AVAILABLE: 7,
  PROTOCOL_VERSION_NOT_SUPPORTED: 8,
  HOST_KEY_NOT_VERIFIABLE: 9,
  CONNECTION_LOST: 10,
  BY_APPLICATION: 11,
  TOO_MANY_CONNECTIONS: 12,
  AUTH_CANCELLED_BY_USER: 13,
  NO_MORE_AUTH_METHODS_AVAILABLE: 14,
  ILLEGAL_USER_NAME: 15,
} as const;

/** SSH_MSG_CHANNEL_OPEN_FAILURE reason codes (RFC 4250 4.3). */
export const SSH_OPEN = {
  ADMINISTRATIVELY_PROHIBITED: 1,
  CONNECT_FAILED: 2,
  UNKNOWN_CHANNEL_TYPE: 3,
  RESOURCE_SHORTAGE: 4,
} as const;

// ---- encoders (payloads: message number first, as the engine sends them) ---------------------------

/** SSH_MSG_CHANNEL_REQUEST (RFC 4254 5.4): recipient, request type, want-reply, then the type-specific fields. */
export function channelRequestPayload(recipient: number, requestType: string, wantReply: boolean, ...fields: Buffer[]): Buffer {
  return Buffer.concat([
    Buffer.from([SSH_MSG_CHANNEL_REQUEST]),
    encodeUint32(recipient),
    encodeString(requestType),
    Buffer.from([wantReply ? 1 : 0]),
    ...fields,
  ]);
}

/** RFC 4254 6.10: `exit-status`, no reply wanted. */
export function exitStatusPayload(recipient: number, code: number): Buffer {
  return channelRequestPayload(recipient, 'exit-status', false, encodeUint32(code >>> 0));
}

/** RFC 4254 6.10: `exit-signal`, the signal name without "SIG" ('SIG@openssh.com', sshd's name for the rest, stays whole). */
export function exitSignalPayload(recipient: number, signal: string, coreDumped: boolean, message: string): Buffer {
  return channelRequestPayload(
    recipient,
    'exit-signal',
    false,
    encodeString(signal.replace(/^SIG(?=[A-Z0-9])/, '')),
    Buffer.from([coreDumped ? 1 : 0]),
    encodeString(message),
    encodeString(''),
  );
}

/** SSH_MSG_CHANNEL_OPEN (RFC 4254 5.1) of a server-initiated channel; `params` is the type-specific rest. */
export function channelOpenPayload(channelType: string, sender: number, window: number, packetSize: number, params: Buffer): Buffer {
  return Buffer.concat([
    Buffer.from([SSH_MSG_CHANNEL_OPEN]),
    encodeString(channelType),
    encodeUint32(sender),
    encodeUint32(window),
    encodeUint32(packetSize),
    params,
  ]);
}

/** A channel message an application builds (SSHDaemon.sendSSHPacket): the number, the recipient, then its body. */
export function channelMessagePayload(messageNumber: number, recipient: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([messageNumber]), encodeUint32(recipient), body]);
}

/** SSH_MSG_USERAUTH_BANNER (RFC 4252 5.4), empty language tag. */
export function userAuthBannerPayload(text: string): Buffer {
  return Buffer.concat([Buffer.from([SSH_MSG_USERAUTH_BANNER]), encodeString(text), encodeString('')]);
}

/** SSH_MSG_EXT_INFO (RFC 8308 2.3): name/value pairs. */
export function extInfoPayload(extensions: ReadonlyArray<readonly [string, string]>): Buffer {
  return Buffer.concat([
    Buffer.from([SSH_MSG_EXT_INFO]),
    encodeUint32(extensions.length),
    ...extensions.flatMap(([name, value]) => [encodeString(name), encodeString(value)]),
  ]);
}

/** SSH_MSG_UNIMPLEMENTED (RFC 4253 11.4) for the packet with this sequence number. */
export function unimplementedPayload(seqno: number): Buffer {
  const payload = Buffer.alloc(5);
  payload[0] = SSH_MSG_UNIMPLEMENTED;
  payload.writeUInt32BE(seqno >>> 0, 1);
  return payload;
}
