/**
 * Global requests ssh2 1.17.0's server does not know, answered by the daemon with data in
 * REQUEST_SUCCESS (RFC 4254 4), e.g. OpenSSH's `hostkeys-prove-00@openssh.com`.
 *
 * ssh2's server glue refuses every request name outside its short list with REQUEST_FAILURE, and
 * keeps the replies in request order in a private queue (RFC 4254 4 asks for that order: a
 * forwarding request answered later holds back the replies behind it). So the order stays ssh2's:
 * the connection's GLOBAL_REQUEST handler is wrapped to note, for every request that wants a reply,
 * what the daemon answers (or nothing), and the protocol's `requestSuccess`/`requestFailure`, which
 * ssh2 calls exactly once per such request, in order, send the daemon's answer in place of ssh2's
 * FAILURE for the requests the daemon answers.
 */
import type { Ssh2Connection } from './ssh2Types';

/** The answer to one request: REQUEST_SUCCESS with this data, or false for REQUEST_FAILURE. */
export type GlobalRequestAnswer = Buffer | false;

/** Answers for the request names the daemon handles; called only for requests that want a reply. */
export type GlobalRequestAnswerers = Readonly<Record<string, (data: Buffer) => GlobalRequestAnswer>>;

interface ProtocolReplies {
  _handlers: Record<string, unknown>;
  requestSuccess(data?: Buffer): void;
  requestFailure(): void;
}

type GlobalRequestHandler = (p: unknown, name: string, wantReply: boolean, data: unknown) => unknown;

/** The session identifier (the first exchange hash, RFC 4253 7.2), once the first key exchange ended. */
export function connectionSessionId(conn: Ssh2Connection): Buffer | undefined {
  const id = (conn as unknown as { _protocol: { _kex?: { sessionID?: Buffer } } })._protocol._kex?.sessionID;
  return Buffer.isBuffer(id) ? id : undefined;
}

/**
 * Answers the global requests named in `answerers` on one server connection. Throws if ssh2's
 * protocol no longer has the handler and reply methods this relies on.
 */
export function answerGlobalRequests(conn: Ssh2Connection, answerers: GlobalRequestAnswerers): void {
  const proto = (conn as unknown as { _protocol: ProtocolReplies })._protocol;
  const original = proto._handlers.GLOBAL_REQUEST as GlobalRequestHandler | undefined;
  const success = proto.requestSuccess;
  const failure = proto.requestFailure;
  if (typeof original !== 'function' || typeof success !== 'function' || typeof failure !== 'function') {
    throw new Error('sshdaemon engine: ssh2 has no GLOBAL_REQUEST handler or requestSuccess/requestFailure; ssh2 version changed?');
  }
  /** One entry per request that wants a reply, in request order: the daemon's answer, or undefined (ssh2's own). */
  const pending: (GlobalRequestAnswer | undefined)[] = [];
  proto._handlers.GLOBAL_REQUEST = (p: unknown, name: string, wantReply: boolean, data: unknown) => {
    if (wantReply) {
      const answer = Object.hasOwn(answerers, name) && Buffer.isBuffer(data) ? answerers[name](data) : undefined;
      pending.push(answer);
    }
    return original(p, name, wantReply, data);
  };
  const take = (): GlobalRequestAnswer | undefined => pending.shift();
  proto.requestSuccess = function (this: ProtocolReplies, data?: Buffer) {
    const answer = take();
    return answer === undefined || answer === false ? success.call(this, data) : success.call(this, answer);
  };
  proto.requestFailure = function (this: ProtocolReplies) {
    const answer = take();
    return answer === undefined || answer === false ? failure.call(this) : success.call(this, answer);
  };
}

/** The request name whose data ssh2's parser decodes as host keys (handlers.misc.js, for its client side). */
const HOSTKEYS_NAME = 'hostkeys-00@openssh.com';

type MessageHandler = (proto: object, payload: Buffer) => void;

/**
 * ssh2 parses the data of every `hostkeys-00@openssh.com` GLOBAL_REQUEST as a list of public keys
 * (parseKey on each blob) before any handler runs, also on a server, where the request means
 * nothing (sshd answers it as an unknown request): a client could send it before authentication,
 * 35 KB of Ed25519 blobs a packet, each packet ~7 ms of CPU (30x what any other request costs),
 * and a malformed blob was a fatal error. On server protocols the request is handed on unparsed,
 * as ssh2 does for every name it does not know (data: the raw bytes after want-reply). Client
 * protocols (in-process ssh2 Clients share the table) keep ssh2's parsing.
 */
export function installServerHostKeysBypass(table: Array<MessageHandler | undefined>, type: number): void {
  const original = table[type];
  if (typeof original !== 'function')
    throw new Error(`sshdaemon engine: ssh2 handler table has no entry for message ${type}; ssh2 version changed?`);
  if ((original as { hostKeysBypass?: true }).hostKeysBypass) return;
  const bypass: MessageHandler & { hostKeysBypass?: true } = (proto, payload) => {
    const p = proto as { _server?: boolean; _handlers: Record<string, unknown>; requestFailure(): void };
    // byte 80, string name, boolean want-reply: the name is compared before anything is decoded.
    const nameLength = payload.length >= 5 ? payload.readUInt32BE(1) : -1;
    if (p._server !== true || nameLength !== HOSTKEYS_NAME.length || payload.length < 6 + nameLength) return original(proto, payload);
    if (payload.toString('latin1', 5, 5 + nameLength) !== HOSTKEYS_NAME) return original(proto, payload);
    const wantReply = payload[5 + nameLength] !== 0;
    const handler = p._handlers.GLOBAL_REQUEST as GlobalRequestHandler | undefined;
    if (handler) handler(p, HOSTKEYS_NAME, wantReply, payload.subarray(6 + nameLength));
    else if (wantReply) p.requestFailure();
  };
  bypass.hostKeysBypass = true;
  table[type] = bypass;
}
