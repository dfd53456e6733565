/**
 * The destination of a direct-tcpip channel (`ssh -L`, `-W`, `-D`): the host string as the client
 * spelled it, and the addresses a TCP connect to it reaches. A host string has many spellings of
 * one address (`2130706433`, `0x7f000001`, `127.1`, `0177.0.0.1`, `::ffff:127.0.0.1`, `0.0.0.0`,
 * an empty string, a DNS name), so an allow or deny list must compare the resolved addresses. The
 * daemon resolves each target once and connects to exactly those addresses: there is no second
 * lookup for a DNS answer to change in between (DNS rebinding).
 */
import { lookup } from 'node:dns/promises';
import { connect as tcpConnect, isIPv4, SocketAddress, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WireReader } from '../packet/wire';

/** A `host:port` a client asks to reach (direct-tcpip: `ssh -L`, `-W`, `-D`). */
export interface ForwardTarget {
  /** The host name or address the client asks to reach, exactly as it sent it. */
  readonly host: string;
  /** The port the client asks to reach. */
  readonly port: number;
  /** Where the client says the connection comes from. */
  readonly originatorAddress: string;
  /** Where the client says the connection comes from: the port. */
  readonly originatorPort: number;
}

/** A {@link ForwardTarget} with the addresses the daemon connects to. */
export interface ResolvedForwardTarget extends ForwardTarget {
  /**
   * Every address a connect may try, in the resolver's order, at least one: IPv4 dotted quads and
   * IPv6 in canonical form (RFC 5952), an IPv4-mapped IPv6 address as its IPv4 address, and the
   * unspecified addresses (`0.0.0.0`, `::`, which a Linux connect sends to loopback) as
   * `127.0.0.1` / `::1`. Compare these, never `host`.
   */
  readonly addresses: readonly string[];
}

/** Parses the direct-tcpip CHANNEL_OPEN parameters (RFC 4254 7.2). Throws on a short payload. */
export function directTcpipTarget(parameters: Buffer): ForwardTarget {
  const r = new WireReader(parameters);
  return { host: r.string(), port: r.uint32(), originatorAddress: r.string(), originatorPort: r.uint32() };
}

/** The address a connect to `address` reaches, spelled one way. */
export function canonicalAddress(address: string, family: 4 | 6): string {
  if (family === 4) return address === '0.0.0.0' ? '127.0.0.1' : address;
  const zone = address.indexOf('%');
  let canonical: string;
  try {
    canonical = new SocketAddress({ address: zone < 0 ? address : address.slice(0, zone), family: 'ipv6' }).address;
  } catch {
    return address;
  }
  if (canonical.startsWith('::ffff:') && isIPv4(canonical.slice(7))) return canonicalAddress(canonical.slice(7), 4);
  if (canonical === '::') return '::1';
  return zone < 0 ? canonical : canonical + address.slice(zone);
}

/**
 * Resolves a target the way a TCP connect to it would (getaddrinfo: numeric forms, /etc/hosts,
 * DNS). Rejects when the host has no address (the error a connect would give). Each call looks
 * the name up again; to decide on the addresses the daemon will actually use, call
 * {@link resolveDirectTcpipTarget} with the event's `parameters`.
 */
export async function resolveForwardTarget(target: ForwardTarget): Promise<ResolvedForwardTarget> {
  // An empty host would make net.connect pick localhost on its own; it names nothing.
  if (target.host === '') throw Object.assign(new Error('empty host name'), { code: 'ENOTFOUND' });
  const found = await lookup(target.host, { all: true });
  const addresses = [...new Set(found.map((a) => canonicalAddress(a.address, a.family === 6 ? 6 : 4)))];
  if (addresses.length === 0) throw Object.assign(new Error(`no address for ${target.host}`), { code: 'ENOTFOUND' });
  return { ...target, addresses };
}

/** One resolution per CHANNEL_OPEN, shared by the application's handler and the daemon's connect. */
const resolutions = new WeakMap<Buffer, Promise<ResolvedForwardTarget>>();

/**
 * The target of a direct-tcpip open with the addresses the daemon will connect to, resolved once
 * per open: pass `e.parameters` of `SSHChannelOpenRequest` itself (not a copy) and the daemon's
 * connect uses this same answer. Rejects for malformed parameters or a host without address.
 *
 * ```ts
 * daemon.on('SSHChannelOpenRequest', async (e) => {
 *   if (e.service !== 'direct-tcpip') return;
 *   const target = await resolveDirectTcpipTarget(e.parameters).catch(() => undefined);
 *   e.accept = target !== undefined && !target.addresses.some((a) => denied.has(a));
 * });
 * ```
 */
export function resolveDirectTcpipTarget(parameters: Buffer): Promise<ResolvedForwardTarget> {
  let pending = resolutions.get(parameters);
  if (!pending) {
    pending = Promise.resolve().then(() => resolveForwardTarget(directTcpipTarget(parameters)));
    pending.catch(() => undefined); // a handler that never awaits it must not leave an unhandled rejection
    resolutions.set(parameters, pending);
  }
  return pending;
}

/** The resolution a handler already started for these parameters, if any. */
export function resolutionOf(parameters: Buffer): Promise<ResolvedForwardTarget> | undefined {
  return resolutions.get(parameters);
}

function aborted(): Error {
  return Object.assign(new Error('connection closed'), { code: 'ABORT_ERR' });
}

function connectOne(address: string, port: number, signal?: AbortSignal): Promise<Socket> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(aborted());
    const socket = tcpConnect({ host: address, port });
    // A connect to an address that drops SYNs waits minutes: it must not outlive the SSH connection.
    const onAbort = () => {
      socket.destroy();
      reject(aborted());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.pause();
    socket.once('connect', () => {
      signal?.removeEventListener('abort', onAbort);
      socket.off('error', fail);
      socket.setNoDelay(true);
      resolve(socket);
    });
    const fail = (err: Error) => {
      signal?.removeEventListener('abort', onAbort);
      reject(err);
    };
    socket.once('error', fail);
  });
}

/**
 * Connects to a target: to its `addresses` in order when it is resolved (no further lookup),
 * else after resolving it. Rejects with the last address's error; `signal` abandons the attempt
 * (the socket under way is destroyed).
 */
export async function connectForwardTarget(target: ForwardTarget | ResolvedForwardTarget, signal?: AbortSignal): Promise<Duplex> {
  const { addresses } = 'addresses' in target ? target : await resolveForwardTarget(target);
  let last: unknown;
  for (const address of addresses) {
    if (signal?.aborted) throw aborted();
    try {
      return await connectOne(address, target.port, signal);
    } catch (err) {
      last = err;
    }
  }
  throw last;
}
