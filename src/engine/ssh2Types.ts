/**
 * Our own typings for the subset of ssh2 1.17.0 the engine uses (ssh2 ships none, and
 * @types/ssh2 disagrees with the runtime in places). Internal: never part of the public API.
 */
import type { Socket } from 'node:net';
import type { EventEmitter } from 'node:events';

export interface ParsedKey {
  readonly type: string;
  readonly comment: string;
  getPublicSSH(): Buffer;
  verify(data: Buffer, signature: Buffer, hashAlgo?: string): boolean | Error;
  isPrivateKey(): boolean;
  getPrivatePEM(): string;
}

export interface NegotiatedAlgorithms {
  kex: string;
  serverHostKey: string;
  cs: { cipher: string; mac: string; compress: string; lang: string };
  sc: { cipher: string; mac: string; compress: string; lang: string };
}

export interface ClientInfo {
  ip: string;
  family: string;
  port: number;
  header: { identRaw: string; versions: { protocol: string; software: string }; comments?: string };
}

/** The ssh2 server-side connection object (`Client` in server.js). */
export interface Ssh2Connection extends EventEmitter {
  authenticated: boolean;
  end(): this;
  rekey(cb?: (err?: Error) => void): void;
}

export interface Ssh2Server extends EventEmitter {
  injectSocket(socket: Socket): void;
}

/** What ssh2's Protocol passes to the per-connection channel message handlers. */
export interface ChannelOpenInfo {
  type: string;
  sender: number;
  window: number;
  packetSize: number;
}
export interface ChannelOpenConfirmInfo {
  recipient: number;
  sender: number;
  window: number;
  packetSize: number;
}
