import type { PenaltyBox, PenaltyPolicy, SensorBounds } from './PenaltyBox';
import type { HeldSlot, PolicyStore, SharedAdmission, SharedRefusal } from './PolicyStore';

/** What the bridge reads: the daemon's settings. */
export interface SharedSettings {
  text(name: string): string;
  int(name: string): number;
}

/** The admission request without the parts the bridge adds (token, hold time). */
export type AdmissionQuery = Omit<SharedAdmission, 'token' | 'holdMs' | 'address'>;

/** A refusal by the fleet: a {@link SharedRefusal}, or `PolicyStoreFailMode` while the store is unreachable. */
export interface FleetRefusal {
  readonly reason: SharedRefusal['reason'] | 'PolicyStoreFailMode';
  readonly detail: string;
}

let sequence = 0;

/** During an outage, how often a new connection still asks the store (to notice the recovery). */
const PROBE_INTERVAL_MS = 1000;

/**
 * The daemon's side of a {@link PolicyStore}: every call bounded by `PolicyStoreTimeout`
 * (milliseconds), failures turned into `PolicyStoreFailMode` (open: the local decision stands;
 * closed: refuse), one log line when the store becomes unreachable and one when it is back, bans
 * the fleet reports copied into the local tables (so they hold here during an outage), and the
 * per-client slots this node holds (for release and heartbeats). Never rejects.
 */
export class SharedPolicy {
  /**
   * The slots this node holds, by client `address|port`: a list, since two live connections can
   * share one (a client binding one source port to reach two daemon addresses, two balancers'
   * PROXY headers); one slot per key lost a token and freed the other connection's early.
   */
  private readonly held = new Map<string, HeldSlot[]>();
  private down = false;
  /** Counts the outage/recovery transitions: a call's outcome only moves the state if none happened while it ran. */
  private epoch = 0;
  private downReason = '';
  /** During an outage: when the next connection may ask the store again. */
  private nextProbe = 0;
  private readonly unwatch: () => void;

  constructor(
    readonly store: PolicyStore,
    private readonly settings: SharedSettings,
    private readonly local: PenaltyBox,
    private readonly log: (message: string) => void,
  ) {
    this.unwatch = store.onStatus((s) => (s.up ? this.recovered() : this.failed(s.reason ?? 'link lost')));
  }

  /** Milliseconds a slot or session lives without a heartbeat: three PolicyStoreHeartbeat periods. */
  get holdMs(): number {
    return this.settings.int('PolicyStoreHeartbeat') * 3000;
  }

  /** The slots this node holds, for heartbeats. */
  slots(): HeldSlot[] {
    return [...this.held.values()].flat();
  }

  /** Asks the fleet about a connection the local checks let through; resolves a refusal or undefined. */
  async admit(address: string, port: number, query: AdmissionQuery, bounds: SensorBounds): Promise<FleetRefusal | undefined> {
    // During a known outage only one connection a second asks (a probe); the others get the fail
    // mode at once instead of each waiting PolicyStoreTimeout on a link that may hang (no RST).
    const now = Date.now();
    if (this.down && now < this.nextProbe) return this.failMode(this.downReason);
    if (this.down) this.nextProbe = now + PROBE_INTERVAL_MS;
    const token = `${this.store.nodeId}/${++sequence}`;
    const request: SharedAdmission = { ...query, address, token, holdMs: this.holdMs };
    let pending: Promise<SharedRefusal | undefined> | undefined;
    const result = await this.call(() => (pending = this.store.admit(request)));
    if (!result.ok) {
      // Too late or failed: no connection holds this token, so a slot the store reserved after all is freed.
      if (query.maxPerClient > 0 && pending)
        pending.then(
          // Not through call(): a late answer must not log a recovery (the next admission decides that).
          (late) =>
            late
              ? undefined
              : Promise.resolve()
                  .then(() => this.store.release({ address, token }))
                  .catch(() => undefined),
          () => undefined,
        );
      return this.failMode(result.reason);
    }
    const refusal = result.value;
    if (!refusal) {
      if (query.maxPerClient > 0) {
        const key = `${address}|${port}`;
        const list = this.held.get(key);
        if (list) list.push({ address, token });
        else this.held.set(key, [{ address, token }]);
      }
      return undefined;
    }
    if (refusal.reason === 'PerSourcePenalties') this.local.enforce(address, refusal.seconds, bounds);
    if (refusal.reason === 'SensorPorts') this.local.ban(address, refusal.seconds, bounds);
    return { reason: refusal.reason, detail: describe(refusal) };
  }

  /** The connection from `address:port` ended (or was refused after admission): its slot is freed. */
  release(address: string, port: number): void {
    const key = `${address}|${port}`;
    const list = this.held.get(key);
    const slot = list?.shift();
    if (!slot) return;
    if (list!.length === 0) this.held.delete(key);
    this.background(() => this.store.release(slot));
  }

  /** Adds the penalty fleet-wide; a ban the fleet now enforces is copied here and logged. */
  penalise(address: string, seconds: number, policy: PenaltyPolicy): void {
    this.background(() => this.store.penalise(address, seconds, policy))?.then((r) => {
      if (!r.ok || r.value === undefined) return;
      this.local.enforce(address, r.value, policy);
      this.log(`${address} penalised fleet-wide (PerSourcePenalties): new connections refused for ${r.value} s`);
    });
  }

  ban(address: string, seconds: number, bounds: SensorBounds): void {
    this.background(() => this.store.ban(address, seconds, bounds));
  }

  /**
   * A store call nobody waits for (a closing connection's release, penalty, directory entry): not
   * sent during a known outage, where it would fail anyway or, on a link that hangs without a
   * reset, wait in the client's queue with every other one until TCP gives up (minutes). What it
   * would have written expires by itself (slots and sessions after holdMs); admission probes and
   * heartbeats notice the recovery.
   */
  background<T>(op: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false; reason: string }> | undefined {
    return this.down ? undefined : this.call(op);
  }

  /** Runs a store call bounded by PolicyStoreTimeout; tracks outages from its outcome. Never rejects. */
  async call<T>(op: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false; reason: string }> {
    const ms = this.settings.int('PolicyStoreTimeout');
    const epoch = this.epoch;
    let timer: NodeJS.Timeout | undefined;
    try {
      const value = await Promise.race([
        Promise.resolve().then(op),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms (PolicyStoreTimeout)`)), ms);
        }),
      ]);
      // An answer to a call sent before the outage was noticed says nothing about the link now.
      if (epoch === this.epoch) this.recovered();
      return { ok: true, value };
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      if (epoch === this.epoch) this.failed(reason);
      return { ok: false, reason };
    } finally {
      clearTimeout(timer);
    }
  }

  private failMode(reason: string): FleetRefusal | undefined {
    if (this.settings.text('PolicyStoreFailMode') !== 'closed') return undefined;
    return { reason: 'PolicyStoreFailMode', detail: `policy store unreachable (${oneLine(reason)}); PolicyStoreFailMode=closed` };
  }

  /** Stops watching the store (the daemon's store changed, or it shut down); the slots are forgotten. */
  detach(): void {
    this.unwatch();
    this.held.clear();
  }

  private failed(reason: string): void {
    if (this.down) return;
    this.down = true;
    this.downReason = reason;
    this.nextProbe = Date.now() + PROBE_INTERVAL_MS;
    this.epoch++;
    const mode = this.settings.text('PolicyStoreFailMode') === 'closed' ? 'closed: new connections are refused' : 'open: local limits only';
    this.log(`policy store unreachable (${oneLine(reason)}); PolicyStoreFailMode=${mode}`);
  }

  private recovered(): void {
    if (!this.down) return;
    this.down = false;
    this.epoch++;
    this.log('policy store reachable again: fleet-wide limits and bans apply');
  }
}

const oneLine = (text: string) => text.replace(/[\r\n]+/g, ' ').slice(0, 200);

function describe(r: SharedRefusal): string {
  if (r.reason === 'MaxConnectionsPerClient') return 'MaxConnectionsPerClient reached across the fleet';
  if (r.reason === 'ConnectionRateLimit') return `fleet-wide connection rate exceeded; paused for another ${r.seconds} s`;
  if (r.reason === 'SensorPorts') return `source touched a sensor port in the fleet; banned for another ${r.seconds} s`;
  return `source penalised fleet-wide for another ${r.seconds} s`;
}
