/**
 * Nothing is read after the server's DISCONNECT (RFC 4253 11.1: the sender "MUST NOT send or receive
 * any data" after it).
 *
 * ssh2 1.17.0 sends DISCONNECT and ends the socket, but its socket listener keeps feeding the parser:
 * a client that keeps sending after "Too many authentication failures" still has requests parsed
 * and, with the old glue, evaluated (a keyboard-interactive answer could still authenticate), and
 * whether the socket then stays open tells it which guess was right. sshd exits instead. Here every
 * DISCONNECT the server sends on a guarded connection (the adapter's own, and ssh2's
 * `Protocol.disconnect`, which its glue and `doFatalError` use) stops the inbound side at once: the
 * rest of the chunk being parsed and every later chunk are dropped unparsed. A hostile client's
 * socket is then destroyed once the DISCONNECT has been flushed to the kernel (as sshd exits); an
 * orderly close (shutdown, idle, `disconnect()`) ends it and lets the client close its side.
 */
import type { Socket } from 'node:net';
import type { Ssh2Connection } from './ssh2Types';

interface GuardedProtocol {
  _onPayload(payload: Buffer): unknown;
  parse(chunk: Buffer, i: number, len: number): void;
  disconnect(reason: number): void;
}

interface GuardedConnection {
  _protocol: GuardedProtocol;
  _sock: Socket;
}

/**
 * What ssh2's decipher loops and `Protocol.parse` read as "stop here": a position past any chunk
 * (ssh2's own `doFatalError` returns the same).
 */
const STOP = Infinity;

const guards = new WeakMap<object, { stopped: boolean; onStop: () => void }>();

function internals(conn: Ssh2Connection): GuardedConnection {
  return conn as unknown as GuardedConnection;
}

/**
 * Guards one connection; call before its first NEWKEYS (the packet decipher of each key exchange
 * takes `_onPayload` when it is built). `onStop` runs once when the inbound side stops (a backstop
 * timer for a peer whose socket never flushes belongs there).
 */
export function guardInbound(conn: Ssh2Connection, onStop: () => void): void {
  const proto = internals(conn)._protocol;
  for (const name of ['_onPayload', 'parse', 'disconnect'] as const) {
    if (typeof proto[name] !== 'function') throw new Error(`sshdaemon engine: ssh2 Protocol has no ${name}; ssh2 version changed?`);
  }
  const state = { stopped: false, onStop };
  guards.set(proto, state);
  const onPayload = proto._onPayload;
  proto._onPayload = (payload: Buffer) => (state.stopped ? STOP : onPayload(payload));
  const disconnect = proto.disconnect;
  proto.disconnect = function (this: GuardedProtocol, reason: number) {
    disconnect.call(this, reason);
    stopInbound(conn, true); // ssh2 disconnects on its own only for protocol errors
  };
}

/** Whether the connection's inbound side was stopped (a DISCONNECT was sent). */
export function inboundStopped(conn: Ssh2Connection): boolean {
  return guards.get(internals(conn)._protocol)?.stopped === true;
}

/**
 * Stops parsing what the client sends and ends the socket (after anything already written, e.g.
 * the DISCONNECT); with `destroy`, destroys it as soon as that is flushed. Idempotent.
 */
export function stopInbound(conn: Ssh2Connection, destroy: boolean): void {
  const { _protocol: proto, _sock: sock } = internals(conn);
  const state = guards.get(proto);
  if (state?.stopped) {
    if (destroy) sock.once('finish', () => sock.destroy());
    return;
  }
  if (state) state.stopped = true;
  proto.parse = () => undefined;
  // Keep reading into the void: bytes left unread at close would turn the FIN into a RST, and the
  // client could lose the DISCONNECT that explains why.
  sock.resume();
  if (destroy && sock.writableFinished) sock.destroy();
  else {
    if (destroy) sock.once('finish', () => sock.destroy());
    sock.end();
  }
  state?.onStop();
}
