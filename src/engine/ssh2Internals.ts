/**
 * The module that reaches into ssh2's internals for the daemon: deep requires, the per-connection
 * takeovers, checked against the pinned version, so that a version bump fails loudly in
 * test/engine.test.ts instead of misbehaving quietly. Importing it changes nothing in ssh2: the
 * process-wide patches are applied by installEngine() (installEngine.ts). See docs/engine.md.
 */
import type { Socket } from 'node:net';
import type { ChannelOpenConfirmInfo, ChannelOpenInfo, Ssh2Connection } from './ssh2Types';
import {
  SSH_MSG_CHANNEL_DATA,
  SSH_MSG_CHANNEL_EXTENDED_DATA,
  SSH_MSG_CHANNEL_OPEN,
  SSH_MSG_CHANNEL_REQUEST,
  SSH_MSG_DISCONNECT,
  SSH_MSG_GLOBAL_REQUEST,
  SSH_MSG_KEXINIT,
  SSH_MSG_USERAUTH_INFO_RESPONSE,
  SSH_MSG_USERAUTH_REQUEST,
} from '../packet/messages';
import { inflateLimitInstalled } from './inflateLimit';
import { MLKEM768X25519_SHA256, postQuantumKexLoadable } from './pqKex';
import { userAuthTakeoverInstalled } from './userAuthControl';
import { rekeyGateInstalled } from './rekeyGate';
import { batchWrites } from './writeBatching';
import { installServerHostKeysBypass } from './globalRequestAnswers';
import { reusePacketBuffers } from './packetBuffers';

/** The exact ssh2 version this adapter was written and tested against. */
export const PINNED_SSH2_VERSION = '1.17.0';

// Deep requires: ssh2 has no `exports` map, so these resolve, but they are unsupported surface.
/* eslint-disable @typescript-eslint/no-require-imports */
const ssh2Package: { version: string } = require('ssh2/package.json');
const MESSAGE_HANDLERS: Array<((proto: object, payload: Buffer) => void) | undefined> = require('ssh2/lib/protocol/handlers.js');
/** What installEngine hands the post-quantum patch (pqKex.ts). */
export const protocolUtils: {
  sendPacket(proto: object, packet: Buffer, bypass?: boolean): boolean;
  bufferParser: { init(buf: Buffer, start: number): void; readList(): string[] | undefined };
  doFatalError(proto: object, msg: string, level: string, reason: number): unknown;
} = require('ssh2/lib/protocol/utils.js');
const cryptoModule: { bindingAvailable: boolean } = require('ssh2/lib/protocol/crypto.js');
/** ssh2's Protocol class and constants, for installEngine (installEngine.ts). */
export const ProtocolClass: { prototype: object } = require('ssh2/lib/protocol/Protocol.js');
export const constants: {
  MESSAGE: Record<string, number>;
  DISCONNECT_REASON: Record<string, number>;
  SUPPORTED_KEX: string[];
  SUPPORTED_CIPHER: string[];
  SUPPORTED_MAC: string[];
  SUPPORTED_SERVER_HOST_KEY: string[];
  SUPPORTED_COMPRESSION: string[];
} = require('ssh2/lib/protocol/constants.js');
const ssh2Root: { Server: unknown; utils: { parseKey: (data: Buffer | string, passphrase?: string) => unknown } } = require('ssh2');
/* eslint-enable @typescript-eslint/no-require-imports */

export { postQuantumKexStatus, MLKEM768X25519_SHA256 } from './pqKex';

export { prepareHandshake, type HandshakeControl, type KexLists } from './handshakeControl';
export { guardInbound, inboundStopped } from './inboundGuard';
export { INFLATE_LIMIT_CODE, MAX_INFLATED_PACKET } from './inflateLimit';
export { takeOverUserAuth, type UserAuthMessages } from './userAuthControl';
export { EngineWire, type ChannelWire, type UserAuthReplies, type WirePort } from './EngineWire';
export { gateClientRekey } from './rekeyGate';
export { answerGlobalRequests, connectionSessionId, type GlobalRequestAnswer, type GlobalRequestAnswerer } from './globalRequestAnswers';
export type { HostCertificateBlob } from './hostCertificates';

/** ssh2's Server class, used only as a protocol engine (sockets are injected). */
export const Ssh2ServerClass = ssh2Root.Server as new (cfg: object) => import('./ssh2Types').Ssh2Server;
const ServerStatics = ssh2Root.Server as { KEEPALIVE_CLIENT_INTERVAL: number };

/**
 * Hands an accepted socket to the engine. ssh2 reads a keep-alive interval of 0 as "use the global
 * default (15 s)"; only a non-positive global turns keep-alives off. The connection object is built
 * synchronously inside injectSocket, so the global is switched for exactly that call.
 */
export function injectEngineSocket(engine: import('./ssh2Types').Ssh2Server, socket: Socket, keepaliveInterval: number): void {
  if (keepaliveInterval > 0) return engine.injectSocket(socket);
  const saved = ServerStatics.KEEPALIVE_CLIENT_INTERVAL;
  ServerStatics.KEEPALIVE_CLIENT_INTERVAL = 0;
  try {
    engine.injectSocket(socket);
  } finally {
    ServerStatics.KEEPALIVE_CLIENT_INTERVAL = saved;
  }
}

/** ssh2's key parser: OpenSSH, PEM (PKCS#1/SEC1), PPK and public-key formats. */
export function engineParseKey(data: Buffer | string, passphrase?: string): import('./ssh2Types').ParsedKey | Error {
  const parsed = ssh2Root.utils.parseKey(data, passphrase) as import('./ssh2Types').ParsedKey | import('./ssh2Types').ParsedKey[] | Error;
  return Array.isArray(parsed) ? parsed[0] : parsed;
}

/** The message numbers the adapter relies on, ours (packet/messages.ts) against ssh2's table. */
const OUR_NUMBERS: Record<string, number> = {
  DISCONNECT: SSH_MSG_DISCONNECT,
  KEXINIT: SSH_MSG_KEXINIT,
  USERAUTH_REQUEST: SSH_MSG_USERAUTH_REQUEST,
  USERAUTH_INFO_RESPONSE: SSH_MSG_USERAUTH_INFO_RESPONSE,
  CHANNEL_OPEN: SSH_MSG_CHANNEL_OPEN,
  CHANNEL_DATA: SSH_MSG_CHANNEL_DATA,
  CHANNEL_EXTENDED_DATA: SSH_MSG_CHANNEL_EXTENDED_DATA,
  CHANNEL_REQUEST: SSH_MSG_CHANNEL_REQUEST,
};

/**
 * The algorithms the engine serves once installEngine() ran: ssh2's lists, plus
 * mlkem768x25519-sha256 when ML-KEM loads (pqKex.ts adds it to ssh2's list at install). Computed
 * without patching anything, so the settings table can list them at import. Fresh arrays.
 */
export function engineAlgorithms(): { kex: string[]; cipher: string[]; hmac: string[]; serverHostKey: string[]; compress: string[] } {
  const kex = [...constants.SUPPORTED_KEX];
  if (postQuantumKexLoadable() && !kex.includes(MLKEM768X25519_SHA256)) kex.push(MLKEM768X25519_SHA256);
  return {
    kex,
    cipher: [...constants.SUPPORTED_CIPHER],
    hmac: [...constants.SUPPORTED_MAC],
    serverHostKey: [...constants.SUPPORTED_SERVER_HOST_KEY],
    compress: [...constants.SUPPORTED_COMPRESSION],
  };
}

/** Whether ssh2's native crypto binding (sshcrypto.node) is loaded; throughput roughly halves without it. */
export function cryptoBindingAvailable(): boolean {
  return cryptoModule.bindingAvailable === true;
}

interface InternalProtocol {
  _handlers: Record<string, unknown>;
  _banner: string | undefined;
}

interface InternalConnection {
  _protocol: InternalProtocol;
  _sock: Socket;
}

function internals(conn: Ssh2Connection): InternalConnection {
  return conn as unknown as InternalConnection;
}

/** The socket an engine connection reads (the one injected with injectEngineSocket). */
export function engineSocket(conn: Ssh2Connection): Socket {
  return internals(conn)._sock;
}

/** Per-connection channel message handlers that replace ssh2's server.js glue (see docs/engine.md). */
export interface ChannelMessageHandlers {
  onOpen(info: ChannelOpenInfo, payload: Buffer): void;
  onOpenConfirmation(info: ChannelOpenConfirmInfo): void;
  onOpenFailure(recipient: number, reason: number, description: string): void;
  onData(recipient: number, data: Buffer, extendedType: number): void;
  onWindowAdjust(recipient: number, amount: number): void;
  onRequestReply(recipient: number, success: boolean): void;
  onRequest(recipient: number, payload: Buffer): void;
  onEof(recipient: number): void;
  onClose(recipient: number): void;
}

// ssh2's message parsers drop the raw payload; we tap the global dispatch table to keep it,
// but only for protocols that belong to our connections (in-process ssh2 clients share the table).
const tappedProtocols = new WeakSet<object>();
let currentPayload: Buffer | undefined;
let tapInstalled = false;

/** Taps ssh2's CHANNEL_OPEN and CHANNEL_REQUEST dispatch entries (once; installEngine calls it). */
export function installPayloadTap(): void {
  if (tapInstalled) return;
  tapInstalled = true;
  // A client's hostkeys-00@openssh.com is not parsed as keys on our side (globalRequestAnswers.ts).
  installServerHostKeysBypass(MESSAGE_HANDLERS, SSH_MSG_GLOBAL_REQUEST);
  for (const type of [SSH_MSG_CHANNEL_OPEN, SSH_MSG_CHANNEL_REQUEST]) {
    const original = MESSAGE_HANDLERS[type];
    if (typeof original !== 'function') {
      throw new Error(`sshdaemon engine: ssh2 handler table has no entry for message ${type}; ssh2 version changed?`);
    }
    MESSAGE_HANDLERS[type] = (proto: object, payload: Buffer) => {
      if (!tappedProtocols.has(proto)) return original(proto, payload);
      currentPayload = payload;
      try {
        return original(proto, payload);
      } finally {
        currentPayload = undefined;
      }
    };
  }
}

function takePayload(): Buffer {
  // Copy: ssh2 may reuse the decipher's buffer for the next packet.
  return Buffer.from(currentPayload ?? Buffer.alloc(0));
}

/**
 * Drops the ephemeral key pair of the key exchange just completed. ssh2 clears the DH and ECDH
 * values itself after NEWKEYS but keeps curve25519's `_keys` (an X25519 KeyObject pair, native
 * memory) on the exchange object for the connection's life; nothing reads it after the exchange
 * (kex.js generates a new pair when a later exchange asks), and an ephemeral private key kept in
 * memory is what forward secrecy does without.
 */
export function forgetEphemeralKeys(conn: Ssh2Connection): void {
  const kex = (internals(conn)._protocol as unknown as { _kex?: { _keys?: unknown } })._kex;
  if (kex && kex._keys) kex._keys = null;
}

/**
 * Takes over channel handling on one connection: ssh2's session/channel glue is replaced by
 * `handlers`; transport, key exchange and authentication stay with ssh2.
 */
export function takeOverChannels(conn: Ssh2Connection, handlers: ChannelMessageHandlers): void {
  installPayloadTap();
  const proto = internals(conn)._protocol;
  tappedProtocols.add(proto);
  channelHandlers.set(proto, handlers);
  Object.assign(proto._handlers, CHANNEL_TABLE);
}

/** Each taken-over protocol's channel handlers: the table below is shared, ssh2 passes the protocol first. */
const channelHandlers = new WeakMap<object, ChannelMessageHandlers>();
const on = (p: object): ChannelMessageHandlers => channelHandlers.get(p)!;

/** ssh2's channel message callbacks, one set for every connection (no closures per connection). */
const CHANNEL_TABLE = {
  CHANNEL_OPEN: (p: object, info: ChannelOpenInfo) => on(p).onOpen(info, takePayload()),
  CHANNEL_OPEN_CONFIRMATION: (p: object, info: ChannelOpenConfirmInfo) => on(p).onOpenConfirmation(info),
  CHANNEL_OPEN_FAILURE: (p: object, recipient: number, reason: number, desc: string) => on(p).onOpenFailure(recipient, reason, desc),
  CHANNEL_DATA: (p: object, recipient: number, data: Buffer) => on(p).onData(recipient, data, 0),
  CHANNEL_EXTENDED_DATA: (p: object, recipient: number, data: Buffer, type: number) => on(p).onData(recipient, data, type),
  CHANNEL_WINDOW_ADJUST: (p: object, recipient: number, amount: number) => on(p).onWindowAdjust(recipient, amount),
  CHANNEL_SUCCESS: (p: object, recipient: number) => on(p).onRequestReply(recipient, true),
  CHANNEL_FAILURE: (p: object, recipient: number) => on(p).onRequestReply(recipient, false),
  CHANNEL_REQUEST: (p: object, recipient: number) => on(p).onRequest(recipient, takePayload()),
  CHANNEL_EOF: (p: object, recipient: number) => on(p).onEof(recipient),
  CHANNEL_CLOSE: (p: object, recipient: number) => on(p).onClose(recipient),
};

/**
 * The connection's outbound fast path: the packets of one tick go to the socket as one writev
 * (writeBatching.ts), and packets are built with pooled padding randomness in reused memory
 * (packetBuffers.ts). Call before the first NEWKEYS (when ssh2 has read the client's identification).
 */
export function speedUpOutbound(conn: Ssh2Connection): void {
  reusePacketBuffers(conn, batchWrites(conn));
}

/** Sets the USERAUTH_BANNER this connection gets when it asks for ssh-userauth (ssh2 only has a server-wide one). */
export function setConnectionBanner(conn: Ssh2Connection, text: string | undefined): void {
  internals(conn)._protocol._banner = text ? (text.endsWith('\r\n') ? text : text + '\r\n') : undefined;
}

/** Replaces the handler of an ssh2 message on one connection, keeping the original to delegate to. */
export function wrapConnectionHandler<F extends (...args: never[]) => unknown>(
  conn: Ssh2Connection,
  name: string,
  wrap: (original: F) => F,
): void {
  const table = internals(conn)._protocol._handlers;
  const original = table[name] as F | undefined;
  if (typeof original !== 'function') {
    throw new Error(`sshdaemon engine: ssh2 connection has no '${name}' handler; ssh2 version changed?`);
  }
  table[name] = wrap(original);
}

/** Checks that the installed ssh2 is the one this adapter knows. */
export function engineVersionProblem(): string | undefined {
  if (ssh2Package.version !== PINNED_SSH2_VERSION) {
    return `ssh2 ${ssh2Package.version} is installed, the engine adapter is written for ${PINNED_SSH2_VERSION}`;
  }
  for (const [name, number] of Object.entries(OUR_NUMBERS)) {
    if (constants.MESSAGE[name] !== number) return `ssh2 numbers ${name} ${constants.MESSAGE[name]}, RFC 4250 ${number}`;
  }
  for (const type of [SSH_MSG_CHANNEL_OPEN, SSH_MSG_CHANNEL_REQUEST, SSH_MSG_USERAUTH_REQUEST, SSH_MSG_USERAUTH_INFO_RESPONSE]) {
    if (typeof MESSAGE_HANDLERS[type] !== 'function') return `ssh2 handler table lacks message ${type}`;
  }
  if (!userAuthTakeoverInstalled()) return 'the USERAUTH takeover is not installed';
  if (!inflateLimitInstalled()) return 'the inflate bound is not installed';
  if (!rekeyGateInstalled()) return 'the pre-authentication re-key gate is not installed';
  return undefined;
}

export const ssh2Version = ssh2Package.version;
