import { normaliseAddress } from '../policy/addressMatch';
import type { ConfigStore } from '../config/ConfigStore';
import { ErrorCodes, SSHDaemonError } from '../errors/SSHDaemonError';
import { handledCall } from '../errors/unawaited';
import type { PenaltyBox } from '../policy/PenaltyBox';
import { type DisconnectFilter, type FleetSession, type PolicyStore, sessionMatches } from '../policy/PolicyStore';
import { SharedPolicy } from '../policy/SharedPolicy';
import type { ConnectionRecord } from '../registry/ConnectionRecord';

/** Characters of a user name kept in a fleet directory entry (the listing shows longer names cut; disconnectEverywhere filters still match the full name on its node). */
export const MAX_DIRECTORY_USER = 256;

/** What the fleet part needs of the server: its store, its connections, its log. */
export interface FleetHost {
  readonly settings: ConfigStore;
  policyStore(): PolicyStore | undefined;
  /** Every live connection's record, and a way to disconnect it. */
  liveConnections(): Iterable<{ record: ConnectionRecord; disconnect(immediate: boolean): Promise<void> }>;
  log(message: string): void;
}

/**
 * This daemon's membership of a fleet through its `policyStore`: the {@link SharedPolicy} the
 * gate consults, the session directory entries of its authenticated connections (registered at
 * authentication, removed at close, refreshed with its slots every PolicyStoreHeartbeat seconds
 * while listening), and the fleet-wide disconnect requests it obeys.
 */
export class FleetSessions {
  private bound?: { store: PolicyStore; shared: SharedPolicy; unsubscribe: () => void };
  private readonly sessions = new Map<string, FleetSession>();
  private heartbeat?: NodeJS.Timeout;

  constructor(
    private readonly host: FleetHost,
    private readonly penalties: PenaltyBox,
  ) {}

  /** The bridge to the current policyStore (rebound when the property changes), or undefined. */
  policy(): SharedPolicy | undefined {
    const store = this.host.policyStore();
    if (this.bound && this.bound.store === store) return this.bound.shared;
    this.unbind();
    if (!store) return undefined;
    const shared = new SharedPolicy(store, this.host.settings, this.penalties, (m) => this.host.log(m));
    const unsubscribe = store.onDisconnect((filter) => this.obey(filter));
    this.bound = { store, shared, unsubscribe };
    return shared;
  }

  /** Listening started: heartbeats begin (each one re-reads PolicyStoreHeartbeat). */
  start(): void {
    this.policy();
    if (this.heartbeat) return;
    const beat = () => {
      this.heartbeat = setTimeout(
        () => {
          const shared = this.policy();
          const slots = shared?.slots() ?? [];
          // Nothing to keep alive, nothing to ask: a call that never reaches the store proves nothing about it.
          if (shared && (slots.length > 0 || this.sessions.size > 0))
            void shared.call(() => shared.store.refresh(slots, [...this.sessions.values()], shared.holdMs));
          beat();
        },
        this.host.settings.int('PolicyStoreHeartbeat') * 1000,
      ).unref();
    };
    beat();
  }

  /** Shut down: no more heartbeats, no more subscription (the store itself stays the user's). */
  stop(): void {
    clearTimeout(this.heartbeat);
    this.heartbeat = undefined;
    this.unbind();
    this.sessions.clear();
  }

  authenticated(conn: ConnectionRecord): void {
    const shared = this.policy();
    if (!shared) return;
    const session: FleetSession = {
      node: shared.store.nodeId,
      connectionId: conn.id,
      // A hostile client may log in with a name of tens of kilobytes where the application accepts any
      // name: the directory keeps the first MAX_DIRECTORY_USER characters (an entry is rewritten every heartbeat).
      user: conn.user.length > MAX_DIRECTORY_USER ? conn.user.slice(0, MAX_DIRECTORY_USER) : conn.user,
      remoteHost: conn.remoteHost,
      remotePort: conn.remotePort,
      since: conn.acceptedAt,
    };
    this.sessions.set(conn.id, session);
    shared.background(() => shared.store.register(session, shared.holdMs)); // else the next heartbeat writes it
  }

  closed(conn: ConnectionRecord): void {
    if (!this.sessions.delete(conn.id)) return;
    const shared = this.policy();
    shared?.background(() => shared.store.unregister(shared.store.nodeId, conn.id)); // else it expires after holdMs
  }

  /**
   * Asks every node to disconnect its matching sessions; resolves the number of nodes reached.
   * A `connectionId` needs its `node` (InvalidArgument otherwise): ids are unique per node only.
   * Without a policyStore, this daemon's own. When the store is unreachable, this daemon's matching
   * sessions are still disconnected and the promise rejects (`SocketError`) saying so.
   */
  async disconnectEverywhere(filter: DisconnectFilter): Promise<number> {
    // Addresses are compared as the records hold them (canonical: '::ffff:192.0.2.7' is 192.0.2.7).
    if (filter.remoteHost !== undefined) filter = { ...filter, remoteHost: normaliseAddress(filter.remoteHost) };
    const shared = this.policy();
    if (!shared) {
      this.obey(filter);
      return 1;
    }
    // Ids come from one counter per process: '5' is a different session on every node.
    if (filter.connectionId !== undefined && filter.node === undefined) {
      throw new SSHDaemonError(
        ErrorCodes.InvalidArgument,
        `disconnectEverywhere: connectionId '${filter.connectionId}' names a connection on one node; give its node too ({ node, connectionId } from sessions())`,
      );
    }
    const r = await shared.call(() => shared.store.publishDisconnect(filter));
    if (r.ok) return r.value;
    this.obey(filter);
    throw new SSHDaemonError(
      ErrorCodes.SocketError,
      `policy store unreachable (${r.reason}); only this node's matching sessions were disconnected`,
    );
  }

  /** A disconnect request of the fleet: this node's matching authenticated connections go. */
  private obey(filter: DisconnectFilter): void {
    const node = this.bound?.store.nodeId ?? '';
    for (const c of this.host.liveConnections()) {
      const r = c.record;
      if (!r.authenticated || r.closed) continue;
      const session = { node, connectionId: r.id, user: r.user, remoteHost: r.remoteHost, remotePort: r.remotePort, since: r.acceptedAt };
      if (!sessionMatches(session, filter)) continue;
      r.closeReason ??= { statusCode: 0, description: 'disconnected by disconnectEverywhere' };
      this.host.log(`disconnecting ${r.id} (user '${r.user}' from ${r.remoteHost}): disconnectEverywhere`);
      void handledCall(() => c.disconnect(false));
    }
  }

  private unbind(): void {
    if (!this.bound) return;
    this.bound.unsubscribe();
    this.bound.shared.detach();
    this.bound = undefined;
  }
}
