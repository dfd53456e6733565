import { AddressList } from './addressMatch';
import { PenaltyBox, type PenaltyPolicy, type SensorBounds } from './PenaltyBox';
import type { FleetRefusal, SharedPolicy } from './SharedPolicy';
import { OPENSSH_PENALTIES, parseMaxStartups, parseNetBlockSize, parsePenalties, parseRateLimit } from './policySettings';

/** The setting names a refusal is reported under (Log, ConnectionRequest.refusedBy, refusalCounts()). */
export type RefusalReason =
  | 'DeniedClients'
  | 'AllowedClients'
  | 'PerSourcePenalties'
  | 'SensorPorts'
  | 'ConnectionRateLimit'
  | 'MaxConnections'
  | 'MaxConnectionsPerClient'
  | 'MaxStartups'
  | 'ConnectionRequest'
  | 'UseProxyProtocol'
  | 'PolicyStoreFailMode';

export interface Refusal {
  readonly reason: RefusalReason;
  readonly detail: string;
}

/** How a connection ended, for penalties. */
export interface ConnectionOutcome {
  readonly authenticated: boolean;
  readonly authFailures: number;
  readonly graceExceeded: boolean;
  /** The client's port (after the PROXY header): names its fleet-wide slot. */
  readonly remotePort?: number;
}

/** What the gate reads: the daemon's settings. */
export interface GateSettings {
  text(name: string): string;
  int(name: string): number;
}

/** Parses each distinct setting text once: the gate runs on every accepted socket. */
function memo<T>(parse: (text: string) => T): (text: string) => T {
  const cache = new Map<string, T>();
  return (text) => {
    let v = cache.get(text);
    if (v === undefined && !cache.has(text)) {
      if (cache.size > 64) cache.clear();
      v = parse(text);
      cache.set(text, v);
    }
    return v as T;
  };
}
const addressList = memo((text) => new AddressList(text));
const maxStartups = memo(parseMaxStartups);
const rateLimit = memo(parseRateLimit);
const netBlockSize = memo(parseNetBlockSize);
const penalties = memo(parsePenalties);

/** Limits that also earn the refused source a refuseconnection penalty. */
const PENALISED: ReadonlySet<RefusalReason> = new Set(['ConnectionRateLimit', 'MaxConnectionsPerClient', 'MaxStartups']);

/** Fleet refusals that PerSourcePenaltyExemptList overrides. */
const EXEMPTABLE: ReadonlySet<string> = new Set(['PerSourcePenalties', 'SensorPorts', 'PolicyStoreFailMode']);

/**
 * Decides, before any SSH byte, whether a new TCP connection may proceed, and keeps the state that
 * needs: live connections per source, unauthenticated connections, the rate window, penalties and
 * refusal counters. All bounded; no timers.
 */
export class ConnectionGate {
  private readonly refusalCounts = new Map<RefusalReason, number>();
  private readonly perSource = new Map<string, number>();
  private unauthenticated = 0;
  private windowStart = 0;
  private windowCount = 0;
  private pausedUntil = 0;
  readonly penalties: PenaltyBox;
  /** Told when a penalty or sensor ban table fills up (at most once a minute per table): the daemon logs it. */
  onNotice: (message: string) => void = () => undefined;
  /** The fleet's shared state (the daemon's policyStore), if any: consulted after the local checks. */
  shared: () => SharedPolicy | undefined = () => undefined;

  constructor(
    private readonly settings: GateSettings,
    private readonly liveConnections: () => number,
    private readonly clock: () => number = Date.now,
    private readonly random: () => number = Math.random,
  ) {
    this.penalties = new PenaltyBox(clock, (message) => this.onNotice(message));
  }

  /** Why a connection from `address` is refused now, or undefined to let it through. */
  check(address: string): Refusal | undefined {
    const s = this.settings;
    if (addressList(s.text('DeniedClients')).matches(address)) return { reason: 'DeniedClients', detail: 'address in DeniedClients' };
    const allowed = addressList(s.text('AllowedClients'));
    if (!allowed.empty && !allowed.matches(address)) return { reason: 'AllowedClients', detail: 'address not in AllowedClients' };
    const banned = this.penalties.refusedFor(address, this.blocks());
    if (banned)
      return {
        reason: banned.cause,
        detail: `source ${banned.cause === 'SensorPorts' ? 'touched a sensor port; banned' : 'penalised'} for another ${banned.seconds} s`,
      };
    // overflow:deny-all (OpenSSH): while the family's penalty table is full, only exempt sources get in.
    const policy = this.policy();
    const full = policy && this.penalties.deniesAll(address, policy);
    if (full && !this.exempt(address)) return { reason: 'PerSourcePenalties', detail: full.detail };
    const rate = this.rateRefusal();
    if (rate) return rate;
    const max = s.int('MaxConnections');
    if (this.liveConnections() >= max) return { reason: 'MaxConnections', detail: `MaxConnections (${max}) reached` };
    const perClient = s.int('MaxConnectionsPerClient');
    if (perClient > 0 && (this.perSource.get(address) ?? 0) >= perClient) {
      return { reason: 'MaxConnectionsPerClient', detail: `${perClient} connections from this address already` };
    }
    return this.startupsRefusal();
  }

  /**
   * After {@link ConnectionGate.check} let a connection through: the fleet-wide bans, rate and
   * per-client count (undefined at once without a policyStore, so the local path stays synchronous).
   */
  checkShared(address: string, port: number): Promise<FleetRefusal | undefined> | undefined {
    const shared = this.shared();
    if (!shared) return undefined;
    const rate = rateLimit(this.settings.text('ConnectionRateLimit'));
    const query = { maxPerClient: this.settings.int('MaxConnectionsPerClient'), blocks: this.blocks(), ...(rate ? { rate } : {}) };
    // PerSourcePenaltyExemptList: never banned, and let in while a fail-closed store is unreachable.
    return shared
      .admit(address, port, query, this.bounds())
      .then((r) => (r && EXEMPTABLE.has(r.reason) && this.exempt(address) ? undefined : r));
  }

  /** A connection the fleet admitted did not get in after all (ConnectionRequest, closed while pending): its slot is freed. */
  withdrawn(address: string, port: number): void {
    this.shared()?.release(address, port);
  }

  private rateRefusal(): Refusal | undefined {
    const limit = rateLimit(this.settings.text('ConnectionRateLimit'));
    if (!limit) return undefined;
    const now = this.clock();
    if (now < this.pausedUntil)
      return { reason: 'ConnectionRateLimit', detail: `accepting paused for another ${Math.ceil((this.pausedUntil - now) / 1000)} s` };
    if (now - this.windowStart >= 1000) {
      this.windowStart = now;
      this.windowCount = 0;
    }
    if (++this.windowCount > limit.perSecond) {
      this.pausedUntil = now + limit.pauseSeconds * 1000;
      return {
        reason: 'ConnectionRateLimit',
        detail: `more than ${limit.perSecond} connections in a second; pausing ${limit.pauseSeconds} s`,
      };
    }
    return undefined;
  }

  /** OpenSSH's random early drop: from `start` unauthenticated, refuse with rate% rising to 100% at `full`. */
  private startupsRefusal(): Refusal | undefined {
    const { start, rate, full } = maxStartups(this.settings.text('MaxStartups'));
    const n = this.unauthenticated;
    if (n < start) return undefined;
    const detail = `${n} unauthenticated connections (MaxStartups ${start}:${rate}:${full})`;
    if (n >= full) return { reason: 'MaxStartups', detail };
    const p = (rate + ((100 - rate) * (n - start)) / (full - start)) / 100;
    return this.random() < p ? { reason: 'MaxStartups', detail } : undefined;
  }

  /** Counts a refusal; limits that refuse also penalise the source. */
  refused(address: string, refusal: Refusal): void {
    this.refusalCounts.set(refusal.reason, (this.refusalCounts.get(refusal.reason) ?? 0) + 1);
    const policy = this.policy();
    if (policy && PENALISED.has(refusal.reason) && !this.exempt(address)) {
      this.penalties.penalise(address, policy.refuseConnection, policy);
      this.shared()?.penalise(address, policy.refuseConnection, policy);
    }
  }

  admitted(address: string): void {
    this.perSource.set(address, (this.perSource.get(address) ?? 0) + 1);
    this.unauthenticated++;
  }

  authenticated(): void {
    this.unauthenticated--;
  }

  /** The connection ended: frees its slots and applies the penalty its outcome earns; returns the ban in seconds, if one is now enforced. */
  closed(address: string, outcome: ConnectionOutcome): number | undefined {
    const n = (this.perSource.get(address) ?? 1) - 1;
    if (n > 0) this.perSource.set(address, n);
    else this.perSource.delete(address);
    if (!outcome.authenticated) this.unauthenticated--;
    if (outcome.remotePort !== undefined) this.shared()?.release(address, outcome.remotePort);
    const policy = this.policy();
    if (!policy || outcome.authenticated || this.exempt(address)) return undefined;
    const seconds = outcome.graceExceeded ? policy.graceExceeded : outcome.authFailures > 0 ? policy.authfail : policy.noauth;
    if (seconds > 0) this.shared()?.penalise(address, seconds, policy);
    return this.penalties.penalise(address, seconds, policy);
  }

  /** A connection to a sensor port: ban the source for SensorDenyTime. False when it is exempt. */
  sensorHit(address: string): boolean {
    this.refusalCounts.set('SensorPorts', (this.refusalCounts.get('SensorPorts') ?? 0) + 1);
    if (this.exempt(address)) return false;
    this.penalties.ban(address, this.settings.int('SensorDenyTime'), this.bounds());
    this.shared()?.ban(address, this.settings.int('SensorDenyTime'), this.bounds());
    return true;
  }

  counts(): Record<string, number> {
    return Object.fromEntries(this.refusalCounts);
  }

  /** Forgets counters and penalties (reset()). */
  clear(): void {
    this.refusalCounts.clear();
    this.penalties.clear();
    this.pausedUntil = 0;
    this.windowCount = 0;
  }

  private exempt(address: string): boolean {
    return addressList(this.settings.text('PerSourcePenaltyExemptList')).matches(address);
  }

  /** The block sizes and table bounds sensor bans (and bans copied from the fleet) use. */
  private bounds(): SensorBounds {
    return this.policy() ?? { ...OPENSSH_PENALTIES, ...this.blocks() };
  }

  private blocks(): { ipv4Bits: number; ipv6Bits: number } {
    return netBlockSize(this.settings.text('PerSourceNetBlockSize'));
  }

  /** PerSourcePenalties with FailedAuthPenalty folded in; undefined = penalties off. */
  private policy(): PenaltyPolicy | undefined {
    const failed = this.settings.int('FailedAuthPenalty');
    const base = penalties(this.settings.text('PerSourcePenalties'));
    if (!base && failed <= 0) return undefined;
    const policy = base ?? { ...OPENSSH_PENALTIES, authfail: 0, noauth: 0, graceExceeded: 0, refuseConnection: 0, min: 0 };
    return { ...policy, ...(failed > 0 ? { authfail: failed } : {}), ...this.blocks() };
  }
}
