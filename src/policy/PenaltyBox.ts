import { netBlockKey } from './netBlock';

/** OpenSSH PerSourcePenalties, in seconds (srclimit.c). */
export interface PenaltyPolicy {
  /** A connection that failed to authenticate. */
  readonly authfail: number;
  /** A connection that never tried to authenticate (scanners). */
  readonly noauth: number;
  /** A connection closed by the login grace time. */
  readonly graceExceeded: number;
  /** A connection refused by MaxStartups, MaxConnectionsPerClient or ConnectionRateLimit. */
  readonly refuseConnection: number;
  /** Penalties accumulate up to this. */
  readonly max: number;
  /** Connections are refused only once this much has accumulated. */
  readonly min: number;
  /** Bound of the table; past it new penalties are not recorded (OpenSSH overflow:permissive). */
  readonly maxSources: number;
  readonly ipv4Bits: number;
  readonly ipv6Bits: number;
}

interface Entry {
  expiresAt: number;
  enforced: boolean;
  /** What put the source here, for the refusal reason. */
  cause: BanCause;
}

/** Why a source is refused: accumulated penalties, or a sensor-port touch. */
export type BanCause = 'PerSourcePenalties' | 'SensorPorts';

/**
 * Per-source penalties as OpenSSH's: each bad outcome adds time to the source's (or its block's)
 * record; once the record exceeds `min` the source is refused until it runs out. No timers:
 * records expire lazily, and the table is bounded.
 */
export class PenaltyBox {
  private readonly table = new Map<string, Entry>();
  /** Penalties not recorded because the table was full. */
  overflowed = 0;

  constructor(private readonly clock: () => number = Date.now) {}

  get size(): number {
    return this.table.size;
  }

  /** Adds `seconds` to the source's record; returns the enforced ban in seconds, if any. */
  penalise(address: string, seconds: number, policy: PenaltyPolicy): number | undefined {
    if (seconds <= 0) return undefined;
    const key = netBlockKey(address, policy.ipv4Bits, policy.ipv6Bits);
    const now = this.clock();
    let entry = this.live(key, now);
    if (!entry) {
      if (this.table.size >= policy.maxSources) this.purge(now);
      if (this.table.size >= policy.maxSources) {
        this.overflowed++;
        return undefined;
      }
      entry = { expiresAt: now, enforced: false, cause: 'PerSourcePenalties' };
      this.table.set(key, entry);
    }
    entry.expiresAt = Math.min(entry.expiresAt + seconds * 1000, now + policy.max * 1000);
    if (entry.expiresAt - now >= policy.min * 1000) entry.enforced = true;
    return entry.enforced ? Math.ceil((entry.expiresAt - now) / 1000) : undefined;
  }

  /** Refuses the source (or its block) for `seconds` from now, whatever it had accumulated (sensor ports). */
  ban(address: string, seconds: number, policy: Pick<PenaltyPolicy, 'ipv4Bits' | 'ipv6Bits' | 'maxSources'>): void {
    const key = netBlockKey(address, policy.ipv4Bits, policy.ipv6Bits);
    const now = this.clock();
    if (!this.table.has(key) && this.table.size >= policy.maxSources) {
      this.purge(now);
      // The same bound as penalise(): a flood of sensor visitors from many addresses cannot grow the table.
      if (this.table.size >= policy.maxSources) {
        this.overflowed++;
        return;
      }
    }
    const expiresAt = Math.max(this.live(key, now)?.expiresAt ?? 0, now + seconds * 1000);
    this.table.set(key, { expiresAt, enforced: true, cause: 'SensorPorts' });
  }

  /** How long (seconds) and why the source is still refused, or undefined. */
  refusedFor(address: string, policy: Pick<PenaltyPolicy, 'ipv4Bits' | 'ipv6Bits'>): { seconds: number; cause: BanCause } | undefined {
    const now = this.clock();
    const entry = this.live(netBlockKey(address, policy.ipv4Bits, policy.ipv6Bits), now);
    return entry?.enforced ? { seconds: Math.ceil((entry.expiresAt - now) / 1000), cause: entry.cause } : undefined;
  }

  clear(): void {
    this.table.clear();
  }

  private live(key: string, now: number): Entry | undefined {
    const entry = this.table.get(key);
    if (entry && entry.expiresAt <= now) {
      this.table.delete(key);
      return undefined;
    }
    return entry;
  }

  private purge(now: number): void {
    for (const [key, entry] of this.table) if (entry.expiresAt <= now) this.table.delete(key);
  }
}
