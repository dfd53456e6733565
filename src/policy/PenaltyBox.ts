import { ExpiryTable, type Expiring } from './ExpiryTable';
import { sourceBlock } from './netBlock';

/**
 * What a full penalty table does (OpenSSH PerSourcePenalties `overflow` / `overflow6`):
 * `permissive` records the new penalty and drops the ones closest to expiry early; `deny-all`
 * records nothing more and refuses every new connection of that address family (except
 * PerSourcePenaltyExemptList) until a penalty expires.
 */
export type OverflowMode = 'permissive' | 'deny-all';

/** OpenSSH PerSourcePenalties, durations in seconds (sshd_config(5), srclimit.c). */
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
  /** `max-sources4`: IPv4 source blocks the penalty table holds (and, apart, the sensor ban table). */
  readonly maxSources4: number;
  /** `max-sources6`: IPv6 source blocks the penalty table holds (and, apart, the sensor ban table). */
  readonly maxSources6: number;
  /** `overflow`: what a full IPv4 penalty table does. */
  readonly overflow4: OverflowMode;
  /** `overflow6`: what a full IPv6 penalty table does (defaults to `overflow`'s mode). */
  readonly overflow6: OverflowMode;
  /** PerSourceNetBlockSize: IPv4 prefix length of a source block. */
  readonly ipv4Bits: number;
  /** PerSourceNetBlockSize: IPv6 prefix length of a source block. */
  readonly ipv6Bits: number;
}

/** The bounds and block sizes sensor bans need. */
export type SensorBounds = Pick<PenaltyPolicy, 'ipv4Bits' | 'ipv6Bits' | 'maxSources4' | 'maxSources6'>;

/** Why a source is refused: accumulated penalties, or a sensor-port touch. */
export type BanCause = 'PerSourcePenalties' | 'SensorPorts';

interface PenaltyRecord extends Expiring {
  /** The record reached `min`: the source is refused until it expires. */
  enforced: boolean;
}

type Family = 4 | 6;

const NOTICE_INTERVAL_MS = 60_000;

/**
 * Per-source penalties as OpenSSH's: each bad outcome adds time to the source's (or its block's)
 * record; once the record exceeds `min` the source is refused until it runs out. IPv4 and IPv6
 * sources have separate tables with separate bounds, as in OpenSSH, and sensor-port bans have
 * tables of their own (per family, the same bounds), so a flood of sensor visitors can never push
 * out penalties earned by failed logins. No timers: records expire when the table is used.
 */
export class PenaltyBox {
  private readonly penalties: Record<Family, ExpiryTable<PenaltyRecord>> = { 4: new ExpiryTable(), 6: new ExpiryTable() };
  private readonly sensors: Record<Family, ExpiryTable<Expiring>> = { 4: new ExpiryTable(), 6: new ExpiryTable() };
  private readonly noticedAt = new Map<string, number>();
  /** Penalties not recorded because their family's table was full with overflow `deny-all`. */
  unrecorded = 0;
  /** Records dropped before their time to make room (permissive overflow, full sensor tables). */
  droppedEarly = 0;

  /**
   * @param clock milliseconds, monotonic enough for expiries.
   * @param notice told (at most once a minute per table) when a table fills up.
   */
  constructor(
    private readonly clock: () => number = Date.now,
    private readonly notice: (message: string) => void = () => undefined,
  ) {}

  /** Records held in all four tables. */
  get size(): number {
    return this.penalties[4].size + this.penalties[6].size + this.sensors[4].size + this.sensors[6].size;
  }

  /** Records per table. */
  sizes(): { penalties4: number; penalties6: number; sensors4: number; sensors6: number } {
    return {
      penalties4: this.penalties[4].size,
      penalties6: this.penalties[6].size,
      sensors4: this.sensors[4].size,
      sensors6: this.sensors[6].size,
    };
  }

  /** Heap positions visited and records expired in all tables: the work done, for tests that bound it. */
  get steps(): number {
    return this.penalties[4].steps + this.penalties[6].steps + this.sensors[4].steps + this.sensors[6].steps;
  }

  /** Adds `seconds` to the source's record; returns the enforced ban in seconds, if any. */
  penalise(address: string, seconds: number, policy: PenaltyPolicy): number | undefined {
    if (seconds <= 0) return undefined;
    const { key, family } = sourceBlock(address, policy.ipv4Bits, policy.ipv6Bits);
    const table = this.penalties[family];
    const bound = family === 4 ? policy.maxSources4 : policy.maxSources6;
    const mode = family === 4 ? policy.overflow4 : policy.overflow6;
    const now = this.clock();
    table.expire(now);
    const cap = now + policy.max * 1000;
    let record = table.get(key, now);
    if (record) {
      record.expiresAt = Math.min(record.expiresAt + seconds * 1000, cap);
      table.reordered(record);
    } else {
      if (mode === 'deny-all' && table.size >= bound) {
        this.unrecorded++;
        this.tell(
          `penalties${family}`,
          now,
          `IPv${family} penalty table full (${table.size} sources, ${maxKey(family)}:${bound}, ${overflowKey(family)}:deny-all): new IPv${family} connections are refused until a penalty expires`,
        );
        return undefined;
      }
      record = { key, expiresAt: Math.min(now + seconds * 1000, cap), enforced: false, order: 0, slot: 0 };
      table.insert(record);
      // OpenSSH's permissive mode: the new record goes in and the soonest-expiring go out, which is
      // the new one itself when it would run out first.
      if (table.size > bound) {
        this.dropSoonest(table, bound);
        this.tell(
          `penalties${family}`,
          now,
          `IPv${family} penalty table full (${maxKey(family)}:${bound}, ${overflowKey(family)}:permissive): the penalties closest to expiry are dropped early`,
        );
        if (table.get(key, now) !== record) return undefined;
      } else if (mode === 'deny-all' && table.size >= bound) {
        this.tell(
          `penalties${family}`,
          now,
          `IPv${family} penalty table full (${table.size} sources, ${maxKey(family)}:${bound}, ${overflowKey(family)}:deny-all): new IPv${family} connections are refused until a penalty expires`,
        );
      }
    }
    if (record.expiresAt - now >= policy.min * 1000) record.enforced = true;
    return record.enforced ? Math.ceil((record.expiresAt - now) / 1000) : undefined;
  }

  /**
   * Records a ban decided elsewhere (the fleet's shared store): the source's penalty is enforced
   * for at least `seconds` from now, so this process refuses it too, also while the store is
   * unreachable. Bounded as {@link PenaltyBox.penalise} (a full table drops the soonest-expiring).
   */
  enforce(address: string, seconds: number, policy: SensorBounds): void {
    if (seconds <= 0) return;
    const { key, family } = sourceBlock(address, policy.ipv4Bits, policy.ipv6Bits);
    const table = this.penalties[family];
    const now = this.clock();
    table.expire(now);
    const expiresAt = now + seconds * 1000;
    const record = table.get(key, now);
    if (record) {
      record.expiresAt = Math.max(record.expiresAt, expiresAt);
      record.enforced = true;
      table.reordered(record);
      return;
    }
    table.insert({ key, expiresAt, enforced: true, order: 0, slot: 0 });
    this.dropSoonest(table, family === 4 ? policy.maxSources4 : policy.maxSources6);
  }

  /**
   * Refuses the source (or its block) for `seconds` from now, whatever it had accumulated (sensor
   * ports). A full sensor table drops the bans closest to expiry to take the new one.
   */
  ban(address: string, seconds: number, bounds: SensorBounds): void {
    if (seconds <= 0) return;
    const { key, family } = sourceBlock(address, bounds.ipv4Bits, bounds.ipv6Bits);
    const table = this.sensors[family];
    const bound = family === 4 ? bounds.maxSources4 : bounds.maxSources6;
    const now = this.clock();
    table.expire(now);
    const expiresAt = now + seconds * 1000;
    const record = table.get(key, now);
    if (record) {
      record.expiresAt = Math.max(record.expiresAt, expiresAt);
      table.reordered(record);
      return;
    }
    table.insert({ key, expiresAt, order: 0, slot: 0 });
    if (table.size > bound) {
      this.dropSoonest(table, bound);
      this.tell(
        `sensors${family}`,
        now,
        `IPv${family} sensor ban table full (${maxKey(family)}:${bound}): the sensor bans closest to expiry are dropped early`,
      );
    }
  }

  /** How long (seconds) and why the source is still refused, or undefined. */
  refusedFor(address: string, policy: Pick<PenaltyPolicy, 'ipv4Bits' | 'ipv6Bits'>): { seconds: number; cause: BanCause } | undefined {
    const { key, family } = sourceBlock(address, policy.ipv4Bits, policy.ipv6Bits);
    const now = this.clock();
    const penalty = this.penalties[family].get(key, now);
    const penaltyEnds = penalty?.enforced ? penalty.expiresAt : 0;
    const sensorEnds = this.sensors[family].get(key, now)?.expiresAt ?? 0;
    if (penaltyEnds === 0 && sensorEnds === 0) return undefined;
    const [ends, cause]: [number, BanCause] = sensorEnds > penaltyEnds ? [sensorEnds, 'SensorPorts'] : [penaltyEnds, 'PerSourcePenalties'];
    return { seconds: Math.ceil((ends - now) / 1000), cause };
  }

  /**
   * With overflow `deny-all`, whether the penalty table of the address's family is full, so every
   * new connection of that family is to be refused (the caller lets exempt addresses through), as
   * OpenSSH's srclimit_penalty_check_allow. Undefined when it is not.
   */
  deniesAll(address: string, policy: PenaltyPolicy): { family: Family; size: number; detail: string } | undefined {
    if (policy.overflow4 !== 'deny-all' && policy.overflow6 !== 'deny-all') return undefined;
    const { family } = sourceBlock(address, policy.ipv4Bits, policy.ipv6Bits);
    if ((family === 4 ? policy.overflow4 : policy.overflow6) !== 'deny-all') return undefined;
    const table = this.penalties[family];
    const bound = family === 4 ? policy.maxSources4 : policy.maxSources6;
    table.expire(this.clock());
    if (table.size < bound) return undefined;
    const detail = `too many penalised IPv${family} sources (${table.size}, ${maxKey(family)}:${bound}, ${overflowKey(family)}:deny-all); refusing new IPv${family} connections until a penalty expires`;
    return { family, size: table.size, detail };
  }

  clear(): void {
    for (const family of [4, 6] as const) {
      this.penalties[family].clear();
      this.sensors[family].clear();
    }
    this.noticedAt.clear();
  }

  private dropSoonest(table: ExpiryTable<Expiring>, bound: number): void {
    while (table.size > bound) {
      table.dropSoonest();
      this.droppedEarly++;
    }
  }

  /** One notice per table per minute: a flood keeps a table full, and the log must not flood with it. */
  private tell(table: string, now: number, message: string): void {
    const last = this.noticedAt.get(table);
    if (last !== undefined && now - last < NOTICE_INTERVAL_MS) return;
    this.noticedAt.set(table, now);
    this.notice(message);
  }
}

const maxKey = (family: Family) => (family === 4 ? 'max-sources4' : 'max-sources6');
const overflowKey = (family: Family) => (family === 4 ? 'overflow' : 'overflow6');
