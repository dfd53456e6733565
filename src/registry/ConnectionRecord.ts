import type { Socket } from 'node:net';
import type { WirePort } from '../engine/EngineWire';
import type { NegotiatedAlgorithms, Ssh2Connection } from '../engine/ssh2Types';
import { type SessionRestrictions, UNRESTRICTED } from '../policy/SessionRestrictions';

/** How long a closing connection may take before its socket is destroyed. */
export const CLOSE_GRACE_MS = 2000;

/** What the record shows of each channel (the channel layer's ChannelState, seen from below it). */
export interface ChannelEntry {
  readonly id: string;
  readonly opened: boolean;
}

const NO_CHANNELS: ReadonlyMap<number, ChannelEntry> = new Map();

/** Everything the daemon knows about one connection; internal, exposed through {@link SSHConnection}. */
export class ConnectionRecord {
  engine?: Ssh2Connection;
  /** The connection's outbound port (src/engine/EngineWire.ts), set with `engine`. */
  wire?: WirePort;
  user = '';
  authenticated = false;
  /** Refused authentication attempts (for PerSourcePenalties). */
  authFailures = 0;
  /** Closed because the login grace time ran out. */
  graceExceeded = false;
  /** What the accepted keys or certificates allow; enforced by the channel layer. */
  restrictions: SessionRestrictions = UNRESTRICTED;
  clientVersion = '';
  negotiated?: NegotiatedAlgorithms;
  timeout: number;
  /** Per-connection Config() settings (UserAuthBanner, KeyboardInteractivePrompts); made on first set (idle connections hold none). */
  private ownSettings?: Map<string, string>;
  /** Open and opening channels by local (wire) channel number: the channel layer's table, read-only here. */
  channels: ReadonlyMap<number, ChannelEntry> = NO_CHANNELS;
  closed = false;
  /** The socket is read into one reused buffer (src/engine/transientReads.ts): channel data is a transient view. */
  transientReads = false;
  /** Set once the daemon decided to drop the connection (reason for Disconnected). */
  closeReason?: { statusCode: number; description: string };
  /** Timers cleared with the connection; made on first use. */
  private timers?: Set<NodeJS.Timeout>;
  /** Login grace timer (AuthTimeout / DefaultConnectionTimeout), cleared on authentication. */
  loginTimer?: NodeJS.Timeout;
  /** The public view of this connection, made once. */
  view?: unknown;
  /** When the socket was accepted, milliseconds since the epoch (the fleet session directory's `since`). */
  readonly acceptedAt = Date.now();

  constructor(
    readonly id: string,
    readonly socket: Socket,
    readonly remoteHost: string,
    readonly remotePort: number,
    readonly localAddress: string,
    timeout: number,
  ) {
    this.timeout = timeout;
  }

  setting(name: string): string | undefined {
    return this.ownSettings?.get(name);
  }

  setSetting(name: string, value: string): void {
    (this.ownSettings ??= new Map()).set(name, value);
  }

  get bytesIn(): number {
    return this.socket.bytesRead;
  }
  get bytesOut(): number {
    return this.socket.bytesWritten;
  }

  /** A timer that is cleared when the connection goes, so none outlives it. */
  addTimer(ms: number, fn: () => void): NodeJS.Timeout {
    const t = setTimeout(() => {
      this.timers?.delete(t);
      fn();
    }, ms);
    t.unref();
    (this.timers ??= new Set()).add(t);
    return t;
  }

  /** Destroys the socket if it has not closed within `ms` (a peer that never answers our FIN). */
  destroyAfter(ms: number = CLOSE_GRACE_MS): void {
    if (this.hardClose || this.socket.destroyed) return;
    this.hardClose = this.addTimer(ms, () => this.socket.destroy());
  }
  private hardClose?: NodeJS.Timeout;

  clearTimer(t: NodeJS.Timeout | undefined): void {
    if (!t) return;
    clearTimeout(t);
    this.timers?.delete(t);
  }

  clearTimers(): void {
    if (!this.timers) return;
    for (const t of this.timers) clearTimeout(t);
    this.timers = undefined;
  }

  /** Timers pending (tests check that none outlives its connection). */
  get pendingTimers(): number {
    return this.timers?.size ?? 0;
  }
}
