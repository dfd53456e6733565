/**
 * The one module that reaches into ssh2's internals. Every private field, deep require and
 * handler-table patch lives here, checked against the pinned version, so that a version bump
 * fails loudly in test/engine.test.ts instead of misbehaving quietly. See docs/engine.md.
 */
import type { Socket } from 'node:net';
import type { ChannelOpenConfirmInfo, ChannelOpenInfo, Ssh2Connection, Ssh2Protocol } from './ssh2Types';
import { installGuessedKexPacketFix } from './guessedKexPacketFix';
import { installKexAccessor } from './handshakeControl';
import { installPostQuantumKex } from './pqKex';
import { stopInbound } from './inboundGuard';
import { inflateLimitInstalled } from './inflateLimit';
import { userAuthTakeoverInstalled } from './userAuthControl';
import { installRekeyGate, rekeyGateInstalled } from './rekeyGate';
import { batchWrites } from './writeBatching';
import { installServerHostKeysBypass } from './globalRequestAnswers';
import { reusePacketBuffers } from './packetBuffers';

/** The exact ssh2 version this adapter was written and tested against. */
export const PINNED_SSH2_VERSION = '1.17.0';

// Deep requires: ssh2 has no `exports` map, so these resolve, but they are unsupported surface.
/* eslint-disable @typescript-eslint/no-require-imports */
const ssh2Package: { version: string } = require('ssh2/package.json');
const MESSAGE_HANDLERS: Array<((proto: object, payload: Buffer) => void) | undefined> = require('ssh2/lib/protocol/handlers.js');
const protocolUtils: {
  sendPacket(proto: object, packet: Buffer, bypass?: boolean): boolean;
  bufferParser: { init(buf: Buffer, start: number): void; readList(): string[] | undefined };
  doFatalError(proto: object, msg: string, level: string, reason: number): unknown;
} = require('ssh2/lib/protocol/utils.js');
const cryptoModule: { bindingAvailable: boolean } = require('ssh2/lib/protocol/crypto.js');
const ProtocolClass: { prototype: object } = require('ssh2/lib/protocol/Protocol.js');
const constants: {
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

// Engine fixes that must be in place before the first connection (see each module's header).
installGuessedKexPacketFix(ProtocolClass);
installKexAccessor(ProtocolClass);
installPostQuantumKex({ protocolClass: ProtocolClass, constants, utils: protocolUtils }); // after installKexAccessor
installRekeyGate();

export { postQuantumKexStatus, MLKEM768X25519_SHA256 } from './pqKex';

export { prepareHandshake, type HandshakeControl, type KexLists } from './handshakeControl';
export { guardInbound, inboundStopped, stopInbound } from './inboundGuard';
export { INFLATE_LIMIT_CODE, MAX_INFLATED_PACKET } from './inflateLimit';
export { takeOverUserAuth, type UserAuthMessages, type UserAuthReplies } from './userAuthControl';
export { gateClientRekey } from './rekeyGate';
export { answerGlobalRequests, connectionSessionId, type GlobalRequestAnswer } from './globalRequestAnswers';
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

export const MESSAGE = constants.MESSAGE;
export const DISCONNECT_REASON = constants.DISCONNECT_REASON;
export const SUPPORTED_ALGORITHMS = {
  kex: constants.SUPPORTED_KEX,
  cipher: constants.SUPPORTED_CIPHER,
  hmac: constants.SUPPORTED_MAC,
  serverHostKey: constants.SUPPORTED_SERVER_HOST_KEY,
  compress: constants.SUPPORTED_COMPRESSION,
} as const;

/** Whether ssh2's native crypto binding (sshcrypto.node) is loaded; throughput roughly halves without it. */
export function cryptoBindingAvailable(): boolean {
  return cryptoModule.bindingAvailable === true;
}

interface InternalProtocol extends Ssh2Protocol {
  _handlers: Record<string, unknown>;
  _packetRW: {
    write: {
      allocStart: number;
      allocStartKEX: number;
      alloc(len: number, forceKEX?: boolean): Buffer;
      finalize(packet: Buffer, forceKEX?: boolean): Buffer;
    };
  };
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

function installPayloadTap(): void {
  if (tapInstalled) return;
  tapInstalled = true;
  // A client's hostkeys-00@openssh.com is not parsed as keys on our side (globalRequestAnswers.ts).
  installServerHostKeysBypass(MESSAGE_HANDLERS, MESSAGE.GLOBAL_REQUEST);
  for (const type of [MESSAGE.CHANNEL_OPEN, MESSAGE.CHANNEL_REQUEST]) {
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
export function takeOverChannels<H extends ChannelMessageHandlers>(conn: Ssh2Connection, create: (proto: Ssh2Protocol) => H): H {
  installPayloadTap();
  const proto = internals(conn)._protocol;
  const handlers = create(proto);
  tappedProtocols.add(proto);
  channelHandlers.set(proto, handlers);
  Object.assign(proto._handlers, CHANNEL_TABLE);
  return handlers;
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
 * What each packet ssh2 queues costs beyond its bytes (the packet's Buffer and array slot): a
 * client that ignores a re-key and floods requests wanting replies queued 1.5 million 5-byte
 * replies, 1.1 GB of heap, while the bytes alone stayed under OutBufferHardLimit.
 */
const QUEUED_PACKET_COST = 256;
/** Per queue (ssh2 makes a new array for each key exchange and only pushes onto it): what is counted so far. */
const queueTotals = new WeakMap<object, { counted: number; cost: number }>();

/**
 * What ssh2 holds back while a key exchange runs (Protocol._queue, unbounded in the engine), in
 * bytes plus QUEUED_PACKET_COST per packet: it reaches the socket only after NEWKEYS, so it counts
 * against OutBufferSize and OutBufferHardLimit like unsent socket bytes. Counted incrementally: the
 * check runs on every inbound chunk, and re-summing a long queue each time cost quadratic CPU.
 */
export function queuedDuringKex(proto: Ssh2Protocol): number {
  const queue = (proto as unknown as { _queue?: Uint8Array[] })._queue;
  if (!queue) return 0;
  let total = queueTotals.get(queue);
  if (!total) queueTotals.set(queue, (total = { counted: 0, cost: 0 }));
  for (; total.counted < queue.length; total.counted++) total.cost += queue[total.counted].length + QUEUED_PACKET_COST;
  return total.cost;
}

/**
 * CHANNEL_DATA (or EXTENDED_DATA) whose data is several buffers, copied straight into ssh2's packet:
 * the channel layer fills packets from consecutive sends without concatenating them first.
 */
export function sendChannelDataParts(proto: Ssh2Protocol, recipient: number, parts: readonly Buffer[], extended: number): void {
  const internal = proto as unknown as {
    _packetRW: { write: { allocStart: number; alloc(n: number): Buffer; finalize(p: Buffer): Buffer } };
  };
  const writer = internal._packetRW.write;
  let dataLen = 0;
  for (const part of parts) dataLen += part.length;
  const head = extended ? 13 : 9;
  let p = writer.allocStart;
  const packet = writer.alloc(head + dataLen);
  packet[p] = extended ? MESSAGE.CHANNEL_EXTENDED_DATA : MESSAGE.CHANNEL_DATA;
  packet.writeUInt32BE(recipient, p + 1);
  if (extended) packet.writeUInt32BE(extended, p + 5);
  packet.writeUInt32BE(dataLen, p + head - 4);
  p += head;
  for (const part of parts) {
    packet.set(part, p);
    p += part.length;
  }
  protocolUtils.sendPacket(proto, writer.finalize(packet));
}

/**
 * The connection's outbound fast path: the packets of one tick go to the socket as one writev
 * (writeBatching.ts), and packets are built with pooled padding randomness in reused memory
 * (packetBuffers.ts). Call before the first NEWKEYS (when ssh2 has read the client's identification).
 */
export function speedUpOutbound(conn: Ssh2Connection): void {
  reusePacketBuffers(conn, batchWrites(conn));
}

/** Sends an arbitrary SSH message (payload starts with the message number); queued during re-keys, compressed when negotiated. */
export function sendRawPacket(conn: Ssh2Connection, payload: Buffer): void {
  const proto = internals(conn)._protocol;
  const writer = proto._packetRW.write;
  const start = writer.allocStart;
  const packet = writer.alloc(payload.length);
  packet.set(payload, start);
  protocolUtils.sendPacket(proto, writer.finalize(packet));
}

/** Sets the USERAUTH_BANNER this connection gets when it asks for ssh-userauth (ssh2 only has a server-wide one). */
export function setConnectionBanner(conn: Ssh2Connection, text: string | undefined): void {
  internals(conn)._protocol._banner = text ? (text.endsWith('\r\n') ? text : text + '\r\n') : undefined;
}

/**
 * Whether ssh2 has torn the connection's transport down (the client's FIN, a fatal error): its
 * Protocol then throws on any send ("Instance unusable", "Invalid Zlib instance"), so a reply
 * decided asynchronously must not be sent. ssh2's `_destruct` is set to undefined once it has run.
 */
export function transportDestroyed(conn: Ssh2Connection): boolean {
  return (internals(conn)._protocol as unknown as { _destruct?: unknown })._destruct === undefined;
}

/**
 * Sends SSH_MSG_DISCONNECT with a reason code and a description, then stops reading (nothing the
 * client sends afterwards is parsed) and ends the socket. `hostile`: destroy it as soon as the
 * message is flushed, as sshd exits (too many failures, protocol violations); otherwise the client
 * closes its side (the caller keeps a backstop timer).
 */
export function disconnectWithReason(conn: Ssh2Connection, reason: number, description = '', hostile = false): void {
  const { _protocol: proto } = internals(conn);
  try {
    // As ssh2's own disconnect(), which sends no description: allocated so it can go out even mid key exchange.
    const text = Buffer.from(description);
    const writer = proto._packetRW.write;
    const start = writer.allocStartKEX;
    const packet = writer.alloc(1 + 4 + 4 + text.length + 4, true);
    packet[start] = MESSAGE.DISCONNECT;
    packet.writeUInt32BE(reason, start + 1);
    packet.writeUInt32BE(text.length, start + 5);
    packet.set(text, start + 9);
    packet.writeUInt32BE(0, start + 9 + text.length); // language tag
    protocolUtils.sendPacket(proto, writer.finalize(packet, true), true);
  } catch {
    // the transport may already be torn down
  }
  stopInbound(conn, hostile);
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
  for (const type of [MESSAGE.CHANNEL_OPEN, MESSAGE.CHANNEL_REQUEST, MESSAGE.USERAUTH_REQUEST, MESSAGE.USERAUTH_INFO_RESPONSE]) {
    if (typeof MESSAGE_HANDLERS[type] !== 'function') return `ssh2 handler table lacks message ${type}`;
  }
  if (!userAuthTakeoverInstalled()) return 'the USERAUTH takeover is not installed';
  if (!inflateLimitInstalled()) return 'the inflate bound is not installed';
  if (!rekeyGateInstalled()) return 'the pre-authentication re-key gate is not installed';
  return undefined;
}

export const ssh2Version = ssh2Package.version;
