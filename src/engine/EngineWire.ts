/**
 * The one outbound port: everything the daemon sends on a connection goes through an
 * {@link EngineWire}, the only code that writes into ssh2's packet writer. Each packet is built
 * in ssh2's own buffer (`_packetRW.write.alloc`, no intermediate copy), encrypted and MACed by
 * the connection's cipher, held back during a key exchange, compressed when negotiated, and
 * handed to the socket through the write batch of writeBatching.ts. Consumers see the narrow
 * interface they need: the channel layer {@link ChannelWire}, authentication
 * {@link UserAuthReplies}, the connection {@link WirePort}. Global request replies are the one
 * exception: ssh2's glue answers them in order through the callbacks of its `request` event.
 */
import type { KeyboardInteractivePrompt } from '../packet/keyboardPrompts';
import { SSH_MSG_CHANNEL_DATA, SSH_MSG_CHANNEL_EXTENDED_DATA, SSH_MSG_DISCONNECT, unimplementedPayload } from '../packet/messages';
import { stopInbound } from './inboundGuard';
import type { Ssh2Connection } from './ssh2Types';

/* eslint-disable @typescript-eslint/no-require-imports */
const protocolUtils: { sendPacket(proto: object, packet: Buffer, bypass?: boolean): boolean } = require('ssh2/lib/protocol/utils.js');
/* eslint-enable @typescript-eslint/no-require-imports */

/** What the channel layer sends (RFC 4254 connection protocol), and what it asks about the transport's queue. */
export interface ChannelWire {
  /** SSH_MSG_CHANNEL_OPEN_CONFIRMATION: our channel number, initial window and maximum packet size. */
  channelOpenConfirmation(recipient: number, sender: number, window: number, packetSize: number): void;
  /** SSH_MSG_CHANNEL_OPEN_FAILURE with an RFC 4250 4.3 reason code (`SSH_OPEN` in packet/messages.ts). */
  channelOpenFailure(recipient: number, reason: number, description: string): void;
  /** SSH_MSG_CHANNEL_DATA, or SSH_MSG_CHANNEL_EXTENDED_DATA when `extended` is non-zero (1: stderr). */
  channelData(recipient: number, data: Buffer, extended: number): void;
  /** As channelData, the data being several buffers copied straight into one packet (no concatenation first). */
  channelDataParts(recipient: number, parts: readonly Buffer[], extended: number): void;
  /** SSH_MSG_CHANNEL_WINDOW_ADJUST: `bytes` more the client may send. */
  channelWindowAdjust(recipient: number, bytes: number): void;
  channelEof(recipient: number): void;
  channelClose(recipient: number): void;
  /** SSH_MSG_CHANNEL_SUCCESS / FAILURE: the reply to a channel request that wanted one. */
  channelSuccess(recipient: number): void;
  channelFailure(recipient: number): void;
  /** Any other message; `payload` starts with the message number (encoders in packet/messages.ts). */
  send(payload: Buffer): void;
  /** Bytes (plus a per-packet cost) held back while a key exchange runs; they count as unsent. */
  queuedDuringKex(): number;
}

/** The replies of the user authentication protocol (RFC 4252, RFC 4256) on one connection. */
export interface UserAuthReplies {
  /** The session identifier (H of the first key exchange), signed by publickey requests. */
  sessionId(): Buffer;
  /** SSH_MSG_USERAUTH_FAILURE with the methods that can continue. */
  failure(methods: readonly string[], partialSuccess: boolean): void;
  /** SSH_MSG_USERAUTH_SUCCESS; starts delayed compression, global requests and keep-alives. */
  success(): void;
  /** SSH_MSG_USERAUTH_PK_OK repeating the algorithm name and key blob of the client's query. */
  pkOk(algorithm: string, blob: Buffer): void;
  /** SSH_MSG_USERAUTH_INFO_REQUEST (RFC 4256 3.2). */
  infoRequest(name: string, instructions: string, prompts: readonly KeyboardInteractivePrompt[]): void;
  /** SSH_MSG_UNIMPLEMENTED for the message with this sequence number (RFC 4253 11.4). */
  unimplemented(seqno: number): void;
}

/** Everything a connection sends: channel and authentication messages, any message, and DISCONNECT. */
export interface WirePort extends ChannelWire, UserAuthReplies {
  /**
   * SSH_MSG_DISCONNECT with a reason code (`SSH_DISCONNECT`) and a description, then nothing the
   * client sends is parsed and the socket ends. `hostile`: destroyed as soon as the message is
   * flushed, as sshd exits (too many failures, protocol violations); otherwise the client closes
   * its side (the caller keeps a backstop timer). Never throws.
   */
  disconnect(reason: number, description?: string, hostile?: boolean): void;
  /**
   * Whether ssh2 has torn the transport down (the client's FIN, a fatal error): any send would then
   * throw ("Instance unusable", "Invalid Zlib instance"), so a reply decided asynchronously is dropped.
   */
  transportDestroyed(): boolean;
}

/** ssh2's packet writer of the current cipher (kex.js swaps `_packetRW.write` at each NEWKEYS). */
interface PacketWriter {
  allocStart: number;
  allocStartKEX: number;
  alloc(len: number, forceKEX?: boolean): Buffer;
  finalize(packet: Buffer, forceKEX?: boolean): Buffer;
}

/** The ssh2 Protocol methods and fields the port uses (ssh2 1.17.0, lib/protocol/Protocol.js). */
interface WireProtocol {
  _packetRW: { write: PacketWriter };
  _queue?: Uint8Array[];
  _destruct?: unknown;
  _authsQueue: string[];
  _kex?: { sessionID?: Buffer };
  channelOpenConfirm(remote: number, local: number, window: number, packetSize: number): void;
  channelOpenFail(remote: number, reason: number, description: string): void;
  channelData(remote: number, data: Buffer): void;
  channelExtData(remote: number, data: Buffer, type: number): void;
  channelEOF(remote: number): void;
  channelClose(remote: number): void;
  channelWindowAdjust(remote: number, amount: number): void;
  channelSuccess(remote: number): void;
  channelFailure(remote: number): void;
  authSuccess(): void;
  authFailure(methods: string[], isPartial: boolean): void;
  authPKOK(keyAlgo: string, key: Buffer): void;
  authInfoReq(name: string, instructions: string, prompts: { prompt: string; echo: boolean }[]): void;
}

/**
 * What each packet ssh2 queues costs beyond its bytes (the packet's Buffer and array slot): a
 * client that ignores a re-key and floods requests wanting replies queued 1.5 million 5-byte
 * replies, 1.1 GB of heap, while the bytes alone stayed under OutBufferHardLimit.
 */
const QUEUED_PACKET_COST = 256;
/** Per queue (ssh2 makes a new array for each key exchange and only pushes onto it): what is counted so far. */
const queueTotals = new WeakMap<object, { counted: number; cost: number }>();

/** The outbound port of one engine connection; see the module comment. */
export class EngineWire implements WirePort {
  private readonly proto: WireProtocol;

  constructor(private readonly conn: Ssh2Connection) {
    this.proto = (conn as unknown as { _protocol: WireProtocol })._protocol;
  }

  // ---- ChannelWire ---------------------------------------------------------------------------------

  channelOpenConfirmation(recipient: number, sender: number, window: number, packetSize: number): void {
    this.proto.channelOpenConfirm(recipient, sender, window, packetSize);
  }
  channelOpenFailure(recipient: number, reason: number, description: string): void {
    this.proto.channelOpenFail(recipient, reason, description);
  }
  channelData(recipient: number, data: Buffer, extended: number): void {
    if (extended) this.proto.channelExtData(recipient, data, extended);
    else this.proto.channelData(recipient, data);
  }
  channelDataParts(recipient: number, parts: readonly Buffer[], extended: number): void {
    const writer = this.proto._packetRW.write;
    let dataLen = 0;
    for (const part of parts) dataLen += part.length;
    const head = extended ? 13 : 9;
    let p = writer.allocStart;
    const packet = writer.alloc(head + dataLen);
    packet[p] = extended ? SSH_MSG_CHANNEL_EXTENDED_DATA : SSH_MSG_CHANNEL_DATA;
    packet.writeUInt32BE(recipient, p + 1);
    if (extended) packet.writeUInt32BE(extended, p + 5);
    packet.writeUInt32BE(dataLen, p + head - 4);
    p += head;
    for (const part of parts) {
      packet.set(part, p);
      p += part.length;
    }
    protocolUtils.sendPacket(this.proto, writer.finalize(packet));
  }
  channelWindowAdjust(recipient: number, bytes: number): void {
    this.proto.channelWindowAdjust(recipient, bytes);
  }
  channelEof(recipient: number): void {
    this.proto.channelEOF(recipient);
  }
  channelClose(recipient: number): void {
    this.proto.channelClose(recipient);
  }
  channelSuccess(recipient: number): void {
    this.proto.channelSuccess(recipient);
  }
  channelFailure(recipient: number): void {
    this.proto.channelFailure(recipient);
  }

  /** Any message, queued during re-keys and compressed when negotiated as ssh2's own. */
  send(payload: Buffer): void {
    const writer = this.proto._packetRW.write;
    const start = writer.allocStart;
    const packet = writer.alloc(payload.length);
    packet.set(payload, start);
    protocolUtils.sendPacket(this.proto, writer.finalize(packet));
  }

  /**
   * What ssh2 holds back while a key exchange runs (Protocol._queue, unbounded in the engine), in
   * bytes plus QUEUED_PACKET_COST per packet: it reaches the socket only after NEWKEYS. Counted
   * incrementally: the check runs on every inbound chunk, and re-summing a long queue each time
   * cost quadratic CPU.
   */
  queuedDuringKex(): number {
    const queue = this.proto._queue;
    if (!queue) return 0;
    let total = queueTotals.get(queue);
    if (!total) queueTotals.set(queue, (total = { counted: 0, cost: 0 }));
    for (; total.counted < queue.length; total.counted++) total.cost += queue[total.counted].length + QUEUED_PACKET_COST;
    return total.cost;
  }

  // ---- UserAuthReplies -----------------------------------------------------------------------------

  sessionId(): Buffer {
    const id = this.proto._kex?.sessionID;
    if (!id) throw new Error('sshdaemon engine: no session identifier before the first key exchange');
    return id;
  }
  failure(methods: readonly string[], partialSuccess: boolean): void {
    this.answering('none');
    this.proto.authFailure([...methods], partialSuccess);
  }
  success(): void {
    this.answering('none');
    this.proto.authSuccess();
    // As ssh2's own glue: global requests are served once this is set, keep-alives start on 'ready'.
    this.conn.authenticated = true;
    this.conn.emit('ready');
  }
  pkOk(algorithm: string, blob: Buffer): void {
    this.answering('publickey');
    this.proto.authPKOK(algorithm, blob);
  }
  infoRequest(name: string, instructions: string, prompts: readonly KeyboardInteractivePrompt[]): void {
    this.proto.authInfoReq(
      name,
      instructions,
      prompts.map((p) => ({ prompt: p.prompt, echo: p.echo })),
    );
  }
  unimplemented(seqno: number): void {
    this.send(unimplementedPayload(seqno));
  }

  /**
   * ssh2's reply methods shift the request queue its own parser would have filled (userAuthControl.ts
   * keeps the parser out); each reply is for the one request the daemon is answering.
   */
  private answering(method: string): void {
    this.proto._authsQueue.length = 0;
    this.proto._authsQueue.push(method);
  }

  // ---- transport -----------------------------------------------------------------------------------

  disconnect(reason: number, description = '', hostile = false): void {
    const proto = this.proto;
    try {
      // As ssh2's own disconnect(), which sends no description: allocated so it can go out even mid key exchange.
      const text = Buffer.from(description);
      const writer = proto._packetRW.write;
      const start = writer.allocStartKEX;
      const packet = writer.alloc(1 + 4 + 4 + text.length + 4, true);
      packet[start] = SSH_MSG_DISCONNECT;
      packet.writeUInt32BE(reason, start + 1);
      packet.writeUInt32BE(text.length, start + 5);
      packet.set(text, start + 9);
      packet.writeUInt32BE(0, start + 9 + text.length); // language tag
      protocolUtils.sendPacket(proto, writer.finalize(packet, true), true);
    } catch {
      // the transport may already be torn down
    }
    stopInbound(this.conn, hostile);
  }

  transportDestroyed(): boolean {
    // ssh2 sets `_destruct` to undefined once it has run.
    return this.proto._destruct === undefined;
  }
}
