/**
 * The access-control settings' text formats (OpenSSH and xinetd syntax), parsed into values.
 * Each parser throws an Error saying what is wrong; the settings table turns it into SSHDaemonError.
 */
import type { OverflowMode, PenaltyPolicy } from './PenaltyBox';

/** OpenSSH time format: `90`, `90s`, `10m`, `1h`, `1h30m`. */
export function parseDuration(text: string): number {
  const t = text.trim();
  if (/^\d+$/.test(t)) return Number(t);
  const units: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
  let total = 0;
  let rest = t.toLowerCase();
  while (rest) {
    const m = /^(\d+)([smhdw])/.exec(rest);
    if (!m) throw new Error(`'${text}' is not a duration (e.g. 30, 30s, 10m, 1h)`);
    total += Number(m[1]) * units[m[2]];
    rest = rest.slice(m[0].length);
  }
  return total;
}

/** OpenSSH 9.8+ defaults for PerSourcePenalties=yes. */
export const OPENSSH_PENALTIES: PenaltyPolicy = {
  authfail: 5,
  noauth: 1,
  graceExceeded: 10,
  refuseConnection: 10,
  max: 600,
  min: 15,
  maxSources4: 65536,
  maxSources6: 65536,
  overflow4: 'permissive',
  overflow6: 'permissive',
  ipv4Bits: 32,
  ipv6Bits: 128,
};

type Policy = { -readonly [K in keyof PenaltyPolicy]: PenaltyPolicy[K] };
const OVERFLOW_MODES: readonly OverflowMode[] = ['permissive', 'deny-all'];

/** How each key sets the policy; null = accepted and ignored. */
const PENALTY_KEYS: Record<string, ((policy: Policy, value: string, key: string) => void) | null> = {
  authfail: (p, v, k) => void (p.authfail = duration(v, k)),
  noauth: (p, v, k) => void (p.noauth = duration(v, k)),
  'grace-exceeded': (p, v, k) => void (p.graceExceeded = duration(v, k)),
  refuseconnection: (p, v, k) => void (p.refuseConnection = duration(v, k)),
  max: (p, v, k) => void (p.max = duration(v, k)),
  min: (p, v, k) => void (p.min = duration(v, k)),
  'max-sources4': (p, v, k) => void (p.maxSources4 = positiveInt(v, k)),
  'max-sources6': (p, v, k) => void (p.maxSources6 = positiveInt(v, k)),
  // Ours, not OpenSSH's: both bounds at once.
  'max-sources': (p, v, k) => void (p.maxSources4 = p.maxSources6 = positiveInt(v, k)),
  overflow: (p, v, k) => void (p.overflow4 = overflowMode(v, k)),
  overflow6: (p, v, k) => void (p.overflow6 = overflowMode(v, k)),
  // Accepted for OpenSSH compatibility; nothing here crashes a session process, and a login for a
  // user that does not exist is an authfail (the daemon cannot tell, OpenSSH 10.3's invaliduser).
  crash: null,
  invaliduser: null,
  'max-noauth': null,
};

/**
 * `no`, `yes` (OpenSSH's defaults) or `key:value` pairs separated by spaces, e.g.
 * `authfail:30s min:15s max:10m max-sources4:10000 overflow:deny-all`; unlisted keys keep OpenSSH's
 * defaults, and `overflow6` defaults to `overflow`'s mode (as sshd). Undefined = off.
 * @throws Error naming the key and its valid values.
 */
export function parsePenalties(text: string): Omit<PenaltyPolicy, 'ipv4Bits' | 'ipv6Bits'> | undefined {
  const t = text.trim().toLowerCase();
  if (t === '' || t === 'no') return undefined;
  const policy: Policy = { ...OPENSSH_PENALTIES };
  if (t === 'yes') return policy;
  let overflow6Given = false;
  for (const item of t.split(/\s+/)) {
    const at = item.indexOf(':');
    const [key, value] = at < 0 ? [item, undefined] : [item.slice(0, at), item.slice(at + 1)];
    if (!Object.hasOwn(PENALTY_KEYS, key) || value === undefined) {
      throw new Error(`'${item}' is not key:value with key one of ${Object.keys(PENALTY_KEYS).join(', ')}`);
    }
    PENALTY_KEYS[key]?.(policy, value, key);
    if (key === 'overflow6') overflow6Given = true;
  }
  if (!overflow6Given) policy.overflow6 = policy.overflow4;
  return policy;
}

function duration(text: string, what: string): number {
  try {
    return parseDuration(text);
  } catch (err) {
    throw new Error(`${what}: ${(err as Error).message}`);
  }
}

function positiveInt(text: string, what: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1 || !Number.isSafeInteger(Number(text)))
    throw new Error(`${what} must be a positive integer, got '${text}'`);
  return Number(text);
}

function overflowMode(text: string, what: string): OverflowMode {
  if (!(OVERFLOW_MODES as readonly string[]).includes(text))
    throw new Error(`${what} must be ${OVERFLOW_MODES.join(' or ')}, got '${text}'`);
  return text as OverflowMode;
}

/** `PerSourceNetBlockSize`: `32` or `32:128` (IPv4 bits, IPv6 bits). */
export function parseNetBlockSize(text: string): { ipv4Bits: number; ipv6Bits: number } {
  const m = /^\s*(\d+)(?::(\d+))?\s*$/.exec(text);
  const v4 = m ? Number(m[1]) : NaN;
  const v6 = m?.[2] !== undefined ? Number(m[2]) : 128;
  if (!m || v4 > 32 || v6 > 128) throw new Error(`'${text}' is not IPV4BITS[:IPV6BITS] (0-32, 0-128)`);
  return { ipv4Bits: v4, ipv6Bits: v6 };
}

/** OpenSSH MaxStartups: `start:rate:full` or `N` (refuse all past N). */
export function parseMaxStartups(text: string): { start: number; rate: number; full: number } {
  const t = text.trim();
  const single = /^\d+$/.exec(t);
  if (single) return { start: Number(t), rate: 100, full: Number(t) };
  const m = /^(\d+):(\d+):(\d+)$/.exec(t);
  if (!m) throw new Error(`'${text}' is not start:rate:full or a single number`);
  const [start, rate, full] = m.slice(1).map(Number);
  if (rate > 100 || full < start || start < 1) throw new Error(`'${text}': needs 1 <= start <= full and rate <= 100`);
  return { start, rate, full };
}

/** xinetd cps: `N:M` (or `N M`): more than N new connections in a second pause accepting for M seconds. Undefined = off. */
export function parseRateLimit(text: string): { perSecond: number; pauseSeconds: number } | undefined {
  const t = text.trim();
  if (t === '' || t === '0') return undefined;
  const m = /^(\d+)(?:[:\s]+(\d+))?$/.exec(t);
  if (!m || Number(m[1]) < 1) throw new Error(`'${text}' is not N:M (N connections per second, then M seconds of refusal)`);
  return { perSecond: Number(m[1]), pauseSeconds: m[2] !== undefined ? Number(m[2]) : 10 };
}

/** SensorPorts: comma list of TCP ports. */
export function parsePorts(text: string): number[] {
  const items = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return items.map((p) => {
    if (!/^\d+$/.test(p) || Number(p) < 1 || Number(p) > 65535) throw new Error(`'${p}' is not a TCP port (1-65535)`);
    return Number(p);
  });
}
