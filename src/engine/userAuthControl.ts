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
 * replies go out through the connection's EngineWire (EngineWire.ts), which calls ssh2's Protocol
 * methods: `authSuccess` also switches on delayed compression (zlib@openssh.com) in ssh2's packet
 * reader and writer.
 *
 * `installUserAuthTakeover()` (run by installEngine) throws when ssh2's dispatch table or Protocol methods changed.
 */
import { SSH_MSG_USERAUTH_INFO_RESPONSE, SSH_MSG_USERAUTH_REQUEST } from '../packet/messages';
import type { Ssh2Connection } from './ssh2Types';

/* eslint-disable @typescript-eslint/no-require-imports */
const MESSAGE_HANDLERS: Array<((proto: object, payload: Buffer) => unknown) | undefined> = require('ssh2/lib/protocol/handlers.js');
const ProtocolClass: { prototype: Record<string, unknown> } = require('ssh2/lib/protocol/Protocol.js');
/* eslint-enable @typescript-eslint/no-require-imports */

/** Who handles the connection's authentication messages (the server's Connection): the raw payload (message number first, a private copy) and its sequence number. */
export interface UserAuthMessages {
  userAuthRequest(payload: Buffer, seqno: number): void;
  userAuthInfoResponse(payload: Buffer, seqno: number): void;
}

interface AuthProtocol {
  _decipher?: { inSeqno: number };
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
    [SSH_MSG_USERAUTH_REQUEST, (h, payload, seqno) => h.userAuthRequest(payload, seqno)],
    [SSH_MSG_USERAUTH_INFO_RESPONSE, (h, payload, seqno) => h.userAuthInfoResponse(payload, seqno)],
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
 * Routes USERAUTH_REQUEST and USERAUTH_INFO_RESPONSE of one connection to `messages`; the replies
 * go through the connection's EngineWire. ssh2's `authentication` event never fires for it afterwards.
 */
export function takeOverUserAuth(conn: Ssh2Connection, messages: UserAuthMessages): void {
  installUserAuthTakeover();
  takenOver.set((conn as unknown as { _protocol: object })._protocol, messages);
}
