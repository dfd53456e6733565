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
