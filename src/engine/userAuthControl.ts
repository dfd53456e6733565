/**
 * User authentication (RFC 4252, RFC 4256) taken away from ssh2's server glue for our connections.
 *
 * ssh2 1.17.0's server.js evaluates USERAUTH_REQUEST without any SERVICE_REQUEST, answers
 * USERAUTH_PK_OK with `ssh-rsa` when the client asked with rsa-sha2-256/512 (RFC 4252 section 7
 * says the reply repeats the client's algorithm; AsyncSSH aborts, Dropbear then signs with SHA-1),
 * passes a password-change request on as an object, takes pipelined requests last-first, and drops
 * the signature's own algorithm name before anyone can check it. So for connections under our
 * control the two client-to-server auth messages (50 USERAUTH_REQUEST, 61 USERAUTH_INFO_RESPONSE)
 * reach the daemon raw, with their sequence number, and ssh2's parser and glue never see them. The
 * replies still go out through ssh2's Protocol methods: `authSuccess` also switches on delayed
 * compression (zlib@openssh.com) in ssh2's packet reader and writer.
 *
 * `installUserAuthTakeover()` (run by installEngine) throws when ssh2's dispatch table or Protocol methods changed.
 */
import type { KeyboardInteractivePrompt } from '../packet/keyboardPrompts';
import type { Ssh2Connection } from './ssh2Types';

/* eslint-disable @typescript-eslint/no-require-imports */
const MESSAGE_HANDLERS: Array<((proto: object, payload: Buffer) => unknown) | undefined> = require('ssh2/lib/protocol/handlers.js');
const ProtocolClass: { prototype: Record<string, unknown> } = require('ssh2/lib/protocol/Protocol.js');
const protocolUtils: { sendPacket(proto: object, packet: Buffer): boolean } = require('ssh2/lib/protocol/utils.js');
/* eslint-enable @typescript-eslint/no-require-imports */

/** RFC 4250 message numbers of the messages taken over and sent here. */
const MSG = { UNIMPLEMENTED: 3, USERAUTH_REQUEST: 50, USERAUTH_INFO_RESPONSE: 61 } as const;

/** What the daemon receives: the raw payload (message number first, a private copy) and its sequence number. */
export interface UserAuthMessages {
  onRequest(payload: Buffer, seqno: number): void;
  onInfoResponse(payload: Buffer, seqno: number): void;
}

/** The replies of the user authentication protocol on one connection. */
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

interface AuthProtocol {
  _authsQueue: string[];
  _kex?: { sessionID?: Buffer };
  _decipher?: { inSeqno: number };
  _packetRW: { write: { allocStart: number; alloc(len: number): Buffer; finalize(packet: Buffer): Buffer } };
  authSuccess(): void;
  authFailure(methods: string[], isPartial: boolean): void;
  authPKOK(keyAlgo: string, key: Buffer): void;
  authInfoReq(name: string, instructions: string, prompts: KeyboardInteractivePrompt[]): void;
}

const takenOver = new WeakMap<object, UserAuthMessages>();
let installed = false;

/** The sequence number of the packet being dispatched: the decipher counts it before dispatch. */
function inboundSeqno(proto: AuthProtocol): number {
  return ((proto._decipher?.inSeqno ?? 0) - 1) >>> 0;
}

/** Routes USERAUTH_REQUEST and USERAUTH_INFO_RESPONSE of our connections to the daemon, process-wide; idempotent (installEngine.ts). */
export function installUserAuthTakeover(): void {
  if (installed) return;
  for (const name of ['authSuccess', 'authFailure', 'authPKOK', 'authInfoReq']) {
    if (typeof ProtocolClass.prototype[name] !== 'function') {
      throw new Error(`sshdaemon engine: ssh2 Protocol has no ${name}(); ssh2 version changed?`);
    }
  }
  const routes: [number, (h: UserAuthMessages, payload: Buffer, seqno: number) => void][] = [
    [MSG.USERAUTH_REQUEST, (h, payload, seqno) => h.onRequest(payload, seqno)],
    [MSG.USERAUTH_INFO_RESPONSE, (h, payload, seqno) => h.onInfoResponse(payload, seqno)],
  ];
  for (const [type, route] of routes) {
    const original = MESSAGE_HANDLERS[type];
    if (typeof original !== 'function') {
      throw new Error(`sshdaemon engine: ssh2 handler table has no entry for message ${type}; ssh2 version changed?`);
    }
    MESSAGE_HANDLERS[type] = (proto: object, payload: Buffer) => {
      const handlers = takenOver.get(proto);
      if (!handlers) return original(proto, payload); // in-process ssh2 clients and servers keep ssh2's path
      // Copy: ssh2 may reuse the decipher's buffer for the next packet.
      route(handlers, Buffer.from(payload), inboundSeqno(proto as AuthProtocol));
    };
  }
  installed = true;
}

/** Whether the adapter's USERAUTH dispatch is in ssh2's table (test/engine.test.ts). */
export function userAuthTakeoverInstalled(): boolean {
  return installed;
}

/**
 * Routes USERAUTH_REQUEST and USERAUTH_INFO_RESPONSE of one connection to `messages` and returns
 * the replies. ssh2's `authentication` event never fires for it afterwards.
 */
export function takeOverUserAuth(conn: Ssh2Connection, messages: UserAuthMessages): UserAuthReplies {
  installUserAuthTakeover();
  const proto = (conn as unknown as { _protocol: AuthProtocol })._protocol;
  takenOver.set(proto, messages);
  // ssh2's reply methods shift the request queue its own parser would have filled; each reply is
  // for the one request the daemon is answering.
  const answering = (method: string) => {
    proto._authsQueue.length = 0;
    proto._authsQueue.push(method);
  };
  const send = (payload: Buffer) => {
    const writer = proto._packetRW.write;
    const start = writer.allocStart;
    const packet = writer.alloc(payload.length);
    packet.set(payload, start);
    protocolUtils.sendPacket(proto, writer.finalize(packet));
  };
  return {
    sessionId: () => {
      const id = proto._kex?.sessionID;
      if (!id) throw new Error('sshdaemon engine: no session identifier before the first key exchange');
      return id;
    },
    failure: (methods, partialSuccess) => {
      answering('none');
      proto.authFailure([...methods], partialSuccess);
    },
    success: () => {
      answering('none');
      proto.authSuccess();
      // As ssh2's own glue: global requests are served once this is set, keep-alives start on 'ready'.
      conn.authenticated = true;
      conn.emit('ready');
    },
    pkOk: (algorithm, blob) => {
      answering('publickey');
      proto.authPKOK(algorithm, blob);
    },
    infoRequest: (name, instructions, prompts) =>
      proto.authInfoReq(
        name,
        instructions,
        prompts.map((p) => ({ prompt: p.prompt, echo: p.echo })),
      ),
    unimplemented: (seqno) => {
      const payload = Buffer.alloc(5);
      payload[0] = MSG.UNIMPLEMENTED;
      payload.writeUInt32BE(seqno >>> 0, 1);
      send(payload);
    },
  };
}
