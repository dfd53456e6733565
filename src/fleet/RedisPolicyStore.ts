import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import type { createClient as CreateClient } from 'redis';
import { sourceBlock } from '../policy/netBlock';
import type { PenaltyPolicy, SensorBounds } from '../policy/PenaltyBox';
import type {
  DisconnectFilter,
  FleetSession,
  HeldSlot,
  PolicyStore,
  SharedAdmission,
  SharedRefusal,
  SharedRefusalReason,
  StoreStatus,
} from '../policy/PolicyStore';
import { ADMIT, BAN, PENALISE, REFRESH, RELEASE, SESSIONS, UNREGISTER } from './redisScripts';

/** Options of {@link RedisPolicyStore}. */
export interface RedisPolicyStoreOptions {
  /** `redis://[[user]:password@]host[:port][/db]` (or `rediss://` for TLS); default `redis://127.0.0.1:6379`. */
  url?: string;
  /** This process's name in the fleet; default `hostname:pid`. Unique per daemon process. */
  nodeId?: string;
  /** Prefix of every key and of the pub/sub channel; default `sshd:`. Fleets sharing one Redis use different prefixes. */
  prefix?: string;
  /** Bound on the session directory (entries); past it the soonest-expiring go. Default 100000. */
  maxSessions?: number;
  /** Milliseconds a connection attempt to Redis may take; default 2000. */
  connectTimeout?: number;
  /** Longest wait between reconnection attempts, milliseconds; default 2000 (attempts back off from 100 ms). */
  maxReconnectDelay?: number;
}

type Client = ReturnType<typeof CreateClient>;

interface Script {
  readonly text: string;
  readonly sha: string;
}
const script = (text: string): Script => ({ text, sha: createHash('sha1').update(text).digest('hex') });
const S = {
  admit: script(ADMIT),
  release: script(RELEASE),
  penalise: script(PENALISE),
  ban: script(BAN),
  refresh: script(REFRESH),
  unregister: script(UNREGISTER),
  sessions: script(SESSIONS),
};

const FILTER_FIELDS = ['node', 'connectionId', 'user', 'remoteHost'] as const;

/**
 * A {@link PolicyStore} on Redis (node-redis 5, Redis 6.2 or later): what daemon processes on one
 * host (cluster workers) or on many hosts share. Every update is one Lua script, atomic and timed
 * by the Redis server's clock; every table is a sorted set scored by expiry, capped (penalties and
 * sensor bans by max-sources4 / max-sources6 per family, per-client slots by MaxConnectionsPerClient,
 * sessions by `maxSessions`) and every key has a TTL, so hostile sources cannot grow Redis without
 * bound. Disconnect requests travel on the pub/sub channel `<prefix>disconnect`.
 *
 * Commands are not queued while Redis is unreachable: they fail at once and the daemon applies
 * `PolicyStoreFailMode`. The client reconnects by itself; `onStatus` reports each outage once
 * and each recovery once. Errors never escape as exceptions or unhandled rejections.
 *
 * ```ts
 * daemon.policyStore = new RedisPolicyStore({ url: 'redis://10.0.0.5:6379', prefix: 'sftp:' });
 * ```
 */
export class RedisPolicyStore implements PolicyStore {
  readonly nodeId: string;
  private readonly prefix: string;
  private readonly maxSessions: number;
  private readonly client: Client;
  /** The pub/sub connection, opened by the first {@link RedisPolicyStore.onDisconnect} (admin tools that only publish need none). */
  private subscriber?: Client;
  private readonly statusListeners = new Set<(status: StoreStatus) => void>();
  private readonly disconnectListeners = new Set<(filter: DisconnectFilter) => void>();
  private up = true;
  private closed = false;
  /** Settles at the first connection attempt's outcome (ready or error). */
  private readonly firstAttempt: Promise<void>;
  private firstAttemptSettled: () => void = () => undefined;

  constructor(options: RedisPolicyStoreOptions = {}) {
    this.nodeId = options.nodeId ?? `${hostname()}:${process.pid}`;
    this.prefix = options.prefix ?? 'sshd:';
    this.maxSessions = options.maxSessions ?? 100_000;
    const maxDelay = options.maxReconnectDelay ?? 2000;
    // Loaded here, not at import: daemons without a Redis store do not load the client (~100 ms).
    const { createClient } = require('redis') as { createClient: typeof CreateClient };
    this.client = createClient({
      url: options.url ?? 'redis://127.0.0.1:6379',
      disableOfflineQueue: true,
      socket: {
        connectTimeout: options.connectTimeout ?? 2000,
        reconnectStrategy: (retries: number) => Math.min(100 * 2 ** Math.min(retries, 8), maxDelay),
      },
    });
    this.client.on('error', (err: Error) => this.setUp(false, err.message || String(err)));
    this.client.on('ready', () => this.setUp(true));
    this.firstAttempt = new Promise<void>((resolve) => {
      this.firstAttemptSettled = resolve;
      this.client.once('ready', () => resolve());
      this.client.once('error', () => resolve());
    });
    this.client.connect().catch((err: Error) => this.setUp(false, err.message));
  }

  async admit(r: SharedAdmission): Promise<SharedRefusal | undefined> {
    const { key, family } = sourceBlock(r.address, r.blocks.ipv4Bits, r.blocks.ipv6Bits);
    const rate = r.rate ?? { perSecond: 0, pauseSeconds: 0 };
    const reply = await this.run(S.admit, [
      family,
      key,
      r.address,
      r.token,
      r.maxPerClient,
      r.holdMs,
      rate.perSecond,
      rate.pauseSeconds * 1000,
    ]);
    if (!Array.isArray(reply)) return undefined;
    return { reason: String(reply[0]) as SharedRefusalReason, seconds: Math.ceil(Number(reply[1]) / 1000) };
  }

  async release(slot: HeldSlot): Promise<void> {
    await this.run(S.release, [slot.address, slot.token]);
  }

  async penalise(address: string, seconds: number, policy: PenaltyPolicy): Promise<number | undefined> {
    const { key, family } = sourceBlock(address, policy.ipv4Bits, policy.ipv6Bits);
    const [bound, mode] = family === 4 ? [policy.maxSources4, policy.overflow4] : [policy.maxSources6, policy.overflow6];
    const reply = Number(await this.run(S.penalise, [family, key, seconds, policy.max, policy.min, bound, mode]));
    return reply >= 0 ? reply : undefined;
  }

  async ban(address: string, seconds: number, bounds: SensorBounds): Promise<void> {
    const { key, family } = sourceBlock(address, bounds.ipv4Bits, bounds.ipv6Bits);
    await this.run(S.ban, [family, key, seconds, family === 4 ? bounds.maxSources4 : bounds.maxSources6]);
  }

  async refresh(slots: readonly HeldSlot[], sessions: readonly FleetSession[], holdMs: number): Promise<void> {
    if (slots.length === 0 && sessions.length === 0) return;
    const args: (string | number)[] = [holdMs, this.maxSessions, slots.length];
    for (const s of slots) args.push(s.address, s.token);
    for (const s of sessions) args.push(`${s.node}/${s.connectionId}`, JSON.stringify(s));
    await this.run(S.refresh, args);
  }

  async register(session: FleetSession, holdMs: number): Promise<void> {
    await this.refresh([], [session], holdMs);
  }

  async unregister(node: string, connectionId: string): Promise<void> {
    await this.run(S.unregister, [`${node}/${connectionId}`]);
  }

  async sessions(): Promise<FleetSession[]> {
    const reply = await this.run(S.sessions, []);
    const out: FleetSession[] = [];
    for (const json of Array.isArray(reply) ? reply : []) {
      try {
        out.push(JSON.parse(String(json)) as FleetSession);
      } catch {
        // not ours (another writer under the prefix): skipped
      }
    }
    return out;
  }

  async publishDisconnect(filter: DisconnectFilter): Promise<number> {
    if (!this.client.isReady) await this.firstAttempt;
    return Number(await this.client.publish(`${this.prefix}disconnect`, JSON.stringify(cleanFilter(filter))));
  }

  onDisconnect(listener: (filter: DisconnectFilter) => void): () => void {
    if (!this.subscriber && !this.closed) {
      const subscriber = (this.subscriber = this.client.duplicate());
      subscriber.on('error', () => undefined); // the main client reports outages
      subscriber
        .connect()
        .then(() => subscriber.subscribe(`${this.prefix}disconnect`, (message: string) => this.delivered(message)))
        .catch(() => undefined);
    }
    this.disconnectListeners.add(listener);
    return () => this.disconnectListeners.delete(listener);
  }

  onStatus(listener: (status: StoreStatus) => void): () => void {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  }

  /** Whether the link to Redis is up (as last reported by `onStatus`). */
  get reachable(): boolean {
    return this.up;
  }

  /** Closes both connections (commands in flight fail); reconnection stops. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.firstAttemptSettled(); // calls waiting for the first connection fail now (client closed)
    this.disconnectListeners.clear();
    this.statusListeners.clear();
    await Promise.allSettled([this.client, this.subscriber].map((c) => Promise.resolve().then(() => c?.destroy())));
  }

  /** EVALSHA, loading the script with EVAL when Redis does not have it (first use, after a restart). */
  private async run(s: Script, args: (string | number)[]): Promise<unknown> {
    const options = { arguments: [this.prefix, ...args.map(String)] };
    // A call made while the first connection is being set up waits for its outcome (the caller's
    // PolicyStoreTimeout bounds it); "client is offline" then read as an outage at every start.
    // After that, commands fail at once while Redis is unreachable (no offline queue).
    if (!this.client.isReady) await this.firstAttempt;
    try {
      return await this.client.evalSha(s.sha, options);
    } catch (err) {
      if (!/NOSCRIPT/.test((err as Error).message)) throw err;
      return this.client.eval(s.text, options);
    }
  }

  private delivered(message: string): void {
    let filter: DisconnectFilter;
    try {
      filter = cleanFilter(JSON.parse(message) as Record<string, unknown>);
    } catch {
      return;
    }
    for (const l of this.disconnectListeners) l(filter);
  }

  private setUp(up: boolean, reason?: string): void {
    if (this.closed || up === this.up) return;
    this.up = up;
    for (const l of this.statusListeners) l(up ? { up } : { up, reason: reason ?? 'link lost' });
  }
}

/** Only the filter's string fields travel (and are taken from a message). */
function cleanFilter(f: Record<string, unknown> | DisconnectFilter): DisconnectFilter {
  const out: Record<string, string> = {};
  for (const k of FILTER_FIELDS) {
    const v = (f as Record<string, unknown>)[k];
    if (typeof v === 'string') out[k] = v;
  }
  return out;
}
