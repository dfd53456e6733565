import type { PenaltyPolicy, SensorBounds } from './PenaltyBox';

/** Why the shared store refuses a connection: the setting whose fleet-wide state refused it. */
export type SharedRefusalReason = 'PerSourcePenalties' | 'SensorPorts' | 'ConnectionRateLimit' | 'MaxConnectionsPerClient';

/** A fleet-wide refusal: the reason and how long (seconds) it still holds, where it has an end. */
export interface SharedRefusal {
  /** The setting whose fleet-wide state refuses. */
  readonly reason: SharedRefusalReason;
  /** Seconds the ban or pause still lasts (0 for MaxConnectionsPerClient, which ends when a connection closes). */
  readonly seconds: number;
}

/** What the gate asks the store about a new connection that passed every local check. */
export interface SharedAdmission {
  /** The client address (after the PROXY header), one spelling (normaliseAddress). */
  readonly address: string;
  /** Identifies this connection fleet-wide (`node/sequence`); released with {@link PolicyStore.release}. */
  readonly token: string;
  /** MaxConnectionsPerClient: live connections of `address` across the fleet; 0 = no cap (nothing recorded). */
  readonly maxPerClient: number;
  /** ConnectionRateLimit, fleet-wide: at most `perSecond` new connections a second, then `pauseSeconds` of refusals. */
  readonly rate?: {
    /** New connections a second the fleet takes. */
    readonly perSecond: number;
    /** Seconds every node refuses once the rate was exceeded. */
    readonly pauseSeconds: number;
  };
  /** PerSourceNetBlockSize: bans apply to this block around the address. */
  readonly blocks: {
    /** IPv4 prefix length of a block. */
    readonly ipv4Bits: number;
    /** IPv6 prefix length of a block. */
    readonly ipv6Bits: number;
  };
  /** Milliseconds the connection's slot lives without a heartbeat (a node that dies frees its slots after this). */
  readonly holdMs: number;
}

/** A reserved per-client slot, refreshed by heartbeats. */
export interface HeldSlot {
  /** The client address the slot counts for. */
  readonly address: string;
  /** The connection's token ({@link SharedAdmission.token}). */
  readonly token: string;
}

/** One authenticated connection in the fleet session directory. */
export interface FleetSession {
  /** The node (daemon process) that holds it: {@link PolicyStore.nodeId} there. */
  readonly node: string;
  /** The connection id on that node (unique within the node only). */
  readonly connectionId: string;
  /** The authenticated user name. */
  readonly user: string;
  /** The client address (after the PROXY header). */
  readonly remoteHost: string;
  /** The client's port (after the PROXY header). */
  readonly remotePort: number;
  /** When the connection was accepted, milliseconds since the epoch. */
  readonly since: number;
}

/** Which sessions {@link PolicyStore.publishDisconnect} ends: every given field must match; an empty filter matches none. */
export interface DisconnectFilter {
  /** Only sessions of this node ({@link FleetSession.node}). */
  readonly node?: string;
  /** Only this connection id; needs `node` (ids are unique per node only; disconnectEverywhere refuses it alone). */
  readonly connectionId?: string;
  /** Only sessions of this user. */
  readonly user?: string;
  /** Only sessions from this client address. */
  readonly remoteHost?: string;
}

/** The store's link: `up` false once per outage (with the reason), true once on recovery. */
export interface StoreStatus {
  /** False: the store became unreachable; true: it is reachable again. */
  readonly up: boolean;
  /** Why it became unreachable (the client's error message). */
  readonly reason?: string;
}

/**
 * Shared policy state for daemons that serve one fleet: per-source penalties and their bans,
 * sensor bans, per-client connection counts, the connection rate, and the directory of sessions
 * with fleet-wide disconnects. Every method may reject (store unreachable): the daemon bounds each
 * call by `PolicyStoreTimeout` and applies `PolicyStoreFailMode`; its own in-memory tables keep
 * deciding meanwhile. Implementations: {@link MemoryPolicyStore} (one process), `RedisPolicyStore`
 * (processes and hosts). Every record expires (milliseconds or seconds as named) and every table
 * has a bound, as the local tables do.
 */
export interface PolicyStore {
  /** This process's name in the fleet (session directory `node`, disconnect filters). */
  readonly nodeId: string;
  /**
   * Checks the fleet-wide bans, the rate and the per-client count, and reserves a per-client slot
   * when the connection may proceed, atomically. Resolves undefined to admit.
   */
  admit(request: SharedAdmission): Promise<SharedRefusal | undefined>;
  /** Frees a slot {@link PolicyStore.admit} reserved (the connection closed or was refused later). */
  release(slot: HeldSlot): Promise<void>;
  /** Adds `seconds` to the source block's penalty (PerSourcePenalties semantics); resolves the enforced ban in seconds, if any. */
  penalise(address: string, seconds: number, policy: PenaltyPolicy): Promise<number | undefined>;
  /** Bans the source block for `seconds` (sensor ports). */
  ban(address: string, seconds: number, bounds: SensorBounds): Promise<void>;
  /** Heartbeat: keeps this node's slots and sessions alive for `holdMs` more (and writes them again after a store restart). */
  refresh(slots: readonly HeldSlot[], sessions: readonly FleetSession[], holdMs: number): Promise<void>;
  /** Adds (or replaces) a session in the directory, alive for `holdMs`. */
  register(session: FleetSession, holdMs: number): Promise<void>;
  /** Removes a session from the directory (its connection closed). */
  unregister(node: string, connectionId: string): Promise<void>;
  /** The live sessions of the fleet (those whose node sent a heartbeat within their hold time). */
  sessions(): Promise<FleetSession[]>;
  /** Asks every node to disconnect its sessions matching `filter`; resolves the number of nodes that received it. */
  publishDisconnect(filter: DisconnectFilter): Promise<number>;
  /** Calls `listener` with each disconnect request of the fleet (this node's own too); returns the unsubscribe function. */
  onDisconnect(listener: (filter: DisconnectFilter) => void): () => void;
  /** Calls `listener` on each outage and recovery of the store's link; returns the unsubscribe function. */
  onStatus(listener: (status: StoreStatus) => void): () => void;
  /** Releases the store's connections and timers. */
  close(): Promise<void>;
}

/** Whether `session` matches `filter` (every given field equal; an empty filter matches nothing). */
export function sessionMatches(session: FleetSession, filter: DisconnectFilter): boolean {
  const fields = (['node', 'connectionId', 'user', 'remoteHost'] as const).filter((f) => filter[f] !== undefined);
  return fields.length > 0 && fields.every((f) => session[f] === filter[f]);
}
