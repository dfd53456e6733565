import { PenaltyBox, type PenaltyPolicy, type SensorBounds } from './PenaltyBox';
import {
  type DisconnectFilter,
  type FleetSession,
  type HeldSlot,
  type PolicyStore,
  type SharedAdmission,
  type SharedRefusal,
  type StoreStatus,
} from './PolicyStore';

/** Options of {@link MemoryPolicyStore}. */
export interface MemoryPolicyStoreOptions {
  /** This process's name in the fleet (default `memory`). */
  nodeId?: string;
  /** Bound on per-client slots and on directory sessions, each (default 100000); past it the soonest-expiring go. */
  maxEntries?: number;
  /** Milliseconds clock (tests). */
  clock?: () => number;
}

interface Timed<T> {
  value: T;
  expiresAt: number;
}

/**
 * The {@link PolicyStore} contract in memory: what several `SSHDaemon`s in one process share (one
 * store object set as each one's `policyStore`), and the reference the Redis store is tested
 * against. The tables are bounded like the daemon's own (penalties and sensor bans by
 * PerSourcePenalties max-sources4 / max-sources6; slots and sessions by `maxEntries`) and expire
 * by time; no timers.
 */
export class MemoryPolicyStore implements PolicyStore {
  readonly nodeId: string;
  private readonly box: PenaltyBox;
  private readonly slots = new Map<string, Map<string, number>>();
  private slotCount = 0;
  private readonly directory = new Map<string, Timed<FleetSession>>();
  private readonly disconnectListeners = new Set<(filter: DisconnectFilter) => void>();
  private windowStart = 0;
  private windowCount = 0;
  private pausedUntil = 0;
  private readonly maxEntries: number;
  private readonly clock: () => number;

  constructor(options: MemoryPolicyStoreOptions = {}) {
    this.nodeId = options.nodeId ?? 'memory';
    this.maxEntries = options.maxEntries ?? 100_000;
    this.clock = options.clock ?? Date.now;
    this.box = new PenaltyBox(this.clock);
  }

  /** Records held (for tests that bound them). */
  sizes(): {
    /** Penalty and sensor-ban records. */
    bans: number;
    /** Per-client slots. */
    slots: number;
    /** Directory entries. */
    sessions: number;
  } {
    return { bans: this.box.size, slots: this.slotCount, sessions: this.directory.size };
  }

  async admit(r: SharedAdmission): Promise<SharedRefusal | undefined> {
    const now = this.clock();
    const banned = this.box.refusedFor(r.address, r.blocks);
    if (banned) return { reason: banned.cause, seconds: banned.seconds };
    if (r.rate) {
      if (now < this.pausedUntil) return { reason: 'ConnectionRateLimit', seconds: Math.ceil((this.pausedUntil - now) / 1000) };
      if (now - this.windowStart >= 1000) [this.windowStart, this.windowCount] = [now, 0];
      if (++this.windowCount > r.rate.perSecond) {
        this.pausedUntil = now + r.rate.pauseSeconds * 1000;
        return { reason: 'ConnectionRateLimit', seconds: r.rate.pauseSeconds };
      }
    }
    if (r.maxPerClient <= 0) return undefined;
    const held = this.liveSlots(r.address, now);
    if (held.size >= r.maxPerClient) return { reason: 'MaxConnectionsPerClient', seconds: 0 };
    this.hold(r.address, r.token, now + r.holdMs);
    return undefined;
  }

  async release(slot: HeldSlot): Promise<void> {
    const held = this.slots.get(slot.address);
    if (!held?.delete(slot.token)) return;
    this.slotCount--;
    if (held.size === 0) this.slots.delete(slot.address);
  }

  async penalise(address: string, seconds: number, policy: PenaltyPolicy): Promise<number | undefined> {
    return this.box.penalise(address, seconds, policy);
  }

  async ban(address: string, seconds: number, bounds: SensorBounds): Promise<void> {
    this.box.ban(address, seconds, bounds);
  }

  async refresh(slots: readonly HeldSlot[], sessions: readonly FleetSession[], holdMs: number): Promise<void> {
    const until = this.clock() + holdMs;
    for (const s of slots) this.hold(s.address, s.token, until);
    for (const s of sessions) this.put(s, until);
  }

  async register(session: FleetSession, holdMs: number): Promise<void> {
    this.put(session, this.clock() + holdMs);
  }

  async unregister(node: string, connectionId: string): Promise<void> {
    this.directory.delete(`${node}/${connectionId}`);
  }

  async sessions(): Promise<FleetSession[]> {
    const now = this.clock();
    for (const [k, s] of this.directory) if (s.expiresAt <= now) this.directory.delete(k);
    return [...this.directory.values()].map((s) => s.value);
  }

  async publishDisconnect(filter: DisconnectFilter): Promise<number> {
    const listeners = [...this.disconnectListeners];
    // Delivered after this call returns, as a pub/sub message would be.
    queueMicrotask(() => {
      for (const l of listeners) l(filter);
    });
    return listeners.length;
  }

  onDisconnect(listener: (filter: DisconnectFilter) => void): () => void {
    this.disconnectListeners.add(listener);
    return () => this.disconnectListeners.delete(listener);
  }

  /** Memory never goes down: no status changes. */
  onStatus(_listener: (status: StoreStatus) => void): () => void {
    return () => undefined;
  }

  async close(): Promise<void> {
    this.disconnectListeners.clear();
  }

  private liveSlots(address: string, now: number): Map<string, number> {
    const held = this.slots.get(address) ?? new Map<string, number>();
    for (const [token, expiresAt] of held)
      if (expiresAt <= now) {
        held.delete(token);
        this.slotCount--;
      }
    if (held.size === 0) this.slots.delete(address);
    return held;
  }

  private hold(address: string, token: string, until: number): void {
    let held = this.slots.get(address);
    if (!held) this.slots.set(address, (held = new Map()));
    if (!held.has(token)) {
      if (this.slotCount >= this.maxEntries) return; // full: not counted (fail-open, like a store outage)
      this.slotCount++;
    }
    held.set(token, until);
  }

  private put(session: FleetSession, until: number): void {
    const key = `${session.node}/${session.connectionId}`;
    if (!this.directory.has(key) && this.directory.size >= this.maxEntries) {
      const oldest = this.directory.keys().next();
      if (!oldest.done) this.directory.delete(oldest.value);
    }
    this.directory.set(key, { value: session, expiresAt: until });
  }
}
