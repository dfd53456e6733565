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

/** Who answers the global requests the daemon handles (the server's Connection); called only for requests that want a reply. */
export interface GlobalRequestAnswerer {
  /** The answer to request `name`, or undefined when the daemon does not handle that name (ssh2's own reply goes). */
  answerGlobalRequest(name: string, data: Buffer): GlobalRequestAnswer | undefined;
}

interface ProtocolReplies {
  _handlers: Record<string, unknown>;
  requestSuccess(data?: Buffer): void;
  requestFailure(): void;
}

type GlobalRequestHandler = (p: unknown, name: string, wantReply: boolean, data: unknown) => unknown;

/** Per connection: who answers, ssh2's own handler and reply methods, and the answers waiting in request order. */
interface AnswerState {
  readonly answerer: GlobalRequestAnswerer;
  readonly original: GlobalRequestHandler;
  readonly success: (this: ProtocolReplies, data?: Buffer) => void;
  readonly failure: (this: ProtocolReplies) => void;
  /** One entry per request that wants a reply, in request order: the daemon's answer, or undefined (ssh2's own). */
  pending?: (GlobalRequestAnswer | undefined)[];
}

const states = new WeakMap<object, AnswerState>();

/** The session identifier (the first exchange hash, RFC 4253 7.2), once the first key exchange ended. */
export function connectionSessionId(conn: Ssh2Connection): Buffer | undefined {
  const id = (conn as unknown as { _protocol: { _kex?: { sessionID?: Buffer } } })._protocol._kex?.sessionID;
  return Buffer.isBuffer(id) ? id : undefined;
}

/**
 * Answers the global requests named in `answerers` on one server connection. Throws if ssh2's
 * protocol no longer has the handler and reply methods this relies on.
 */
export function answerGlobalRequests(conn: Ssh2Connection, answerer: GlobalRequestAnswerer): void {
  const proto = (conn as unknown as { _protocol: ProtocolReplies })._protocol;
  const original = proto._handlers.GLOBAL_REQUEST as GlobalRequestHandler | undefined;
  const success = proto.requestSuccess;
  const failure = proto.requestFailure;
  if (typeof original !== 'function' || typeof success !== 'function' || typeof failure !== 'function') {
    throw new Error('sshdaemon engine: ssh2 has no GLOBAL_REQUEST handler or requestSuccess/requestFailure; ssh2 version changed?');
  }
  states.set(proto, { answerer, original, success, failure });
  // Shared functions (the protocol is the first argument or `this`): no closures per connection.
  proto._handlers.GLOBAL_REQUEST = onGlobalRequest;
  proto.requestSuccess = requestSuccess;
  proto.requestFailure = requestFailure;
}

function onGlobalRequest(p: unknown, name: string, wantReply: boolean, data: unknown): unknown {
  const state = states.get(p as object)!;
  if (wantReply) (state.pending ??= []).push(Buffer.isBuffer(data) ? state.answerer.answerGlobalRequest(name, data) : undefined);
  return state.original(p, name, wantReply, data);
}

function requestSuccess(this: ProtocolReplies, data?: Buffer): void {
  const state = states.get(this)!;
  const answer = state.pending?.shift();
  return answer === undefined || answer === false ? state.success.call(this, data) : state.success.call(this, answer);
}

function requestFailure(this: ProtocolReplies): void {
  const state = states.get(this)!;
  const answer = state.pending?.shift();
  return answer === undefined || answer === false ? state.failure.call(this) : state.success.call(this, answer);
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
