/**
 * What an authorized_keys line or a certificate allows a session to do, as OpenSSH's sshd applies
 * key options (sshd(8) AUTHORIZED_KEYS FILE FORMAT) and certificate restrictions.
 */
export interface SessionRestrictions {
  /** Run this instead of what the client asked for (exec, shell or subsystem). */
  readonly forceCommand?: string;
  /** pty-req allowed. */
  readonly pty: boolean;
  /** direct-tcpip channels and tcpip-forward requests allowed. */
  readonly portForwarding: boolean;
  /** auth-agent-req@openssh.com allowed. */
  readonly agentForwarding: boolean;
  /** x11-req allowed. */
  readonly x11Forwarding: boolean;
  /** The application may run a user rc file (informational: the daemon runs none). */
  readonly userRc: boolean;
  /** `host:port` patterns direct-tcpip may open (`*` wildcards); undefined = any. */
  readonly permitOpen?: readonly string[];
  /** `[host:]port` patterns tcpip-forward may listen on; undefined = any. */
  readonly permitListen?: readonly string[];
  /** Variables the key's `environment=` options set, for the application to apply. */
  readonly environment: Readonly<Record<string, string>>;
}

export const UNRESTRICTED: SessionRestrictions = Object.freeze({
  pty: true,
  portForwarding: true,
  agentForwarding: true,
  x11Forwarding: true,
  userRc: true,
  environment: Object.freeze({}),
});

/** Everything off, as the `restrict` key option. */
export const RESTRICTED: SessionRestrictions = Object.freeze({
  pty: false,
  portForwarding: false,
  agentForwarding: false,
  x11Forwarding: false,
  userRc: false,
  environment: Object.freeze({}),
});

function intersect(a: readonly string[] | undefined, b: readonly string[] | undefined): readonly string[] | undefined {
  if (!a) return b;
  if (!b) return a;
  return a.filter((x) => b.includes(x));
}

/**
 * The most restrictive combination of two grants (a key option and its certificate, or two
 * authentication steps). Two different forced commands conflict: OpenSSH refuses such a login, so
 * this returns undefined.
 */
export function combineRestrictions(a: SessionRestrictions, b: SessionRestrictions): SessionRestrictions | undefined {
  if (a.forceCommand !== undefined && b.forceCommand !== undefined && a.forceCommand !== b.forceCommand) return undefined;
  // Nothing granted is narrowed: the shared object stays (an idle connection holds no copy of it).
  if (b === UNRESTRICTED) return a;
  if (a === UNRESTRICTED) return b;
  return {
    forceCommand: a.forceCommand ?? b.forceCommand,
    pty: a.pty && b.pty,
    portForwarding: a.portForwarding && b.portForwarding,
    agentForwarding: a.agentForwarding && b.agentForwarding,
    x11Forwarding: a.x11Forwarding && b.x11Forwarding,
    userRc: a.userRc && b.userRc,
    permitOpen: intersect(a.permitOpen, b.permitOpen),
    permitListen: intersect(a.permitListen, b.permitListen),
    environment: { ...a.environment, ...b.environment },
  };
}

/** Channel requests a restriction switches off, with the flag that allows each. */
const REQUEST_FLAGS: Record<string, keyof SessionRestrictions> = {
  'pty-req': 'pty',
  'x11-req': 'x11Forwarding',
  'auth-agent-req@openssh.com': 'agentForwarding',
  'auth-agent-req': 'agentForwarding',
};

/** Why a channel request is refused under these restrictions, or undefined when it may go to the application. */
export function refusedRequest(r: SessionRestrictions, requestType: string): string | undefined {
  const flag = Object.hasOwn(REQUEST_FLAGS, requestType) ? REQUEST_FLAGS[requestType] : undefined;
  return flag && r[flag] === false ? `${requestType} not permitted for this key (${flag} off)` : undefined;
}

function hostPortAllowed(patterns: readonly string[] | undefined, host: string, port: number): boolean {
  if (!patterns) return true;
  return patterns.some((p) => {
    const i = p.lastIndexOf(':');
    const ph = i < 0 ? '*' : p.slice(0, i).replace(/^\[(.*)\]$/, '$1');
    const pp = i < 0 ? p : p.slice(i + 1);
    const hostOk = ph === '*' || ph.toLowerCase() === host.toLowerCase();
    return hostOk && (pp === '*' || Number(pp) === port);
  });
}

/** Why a client channel open is refused under these restrictions (direct-tcpip to host:port). */
export function refusedChannelOpen(
  r: SessionRestrictions,
  channelType: string,
  target?: { host: string; port: number },
): string | undefined {
  if (channelType !== 'direct-tcpip' && channelType !== 'direct-streamlocal@openssh.com') return undefined;
  if (!r.portForwarding) return `${channelType} not permitted for this key (port forwarding off)`;
  if (channelType === 'direct-tcpip' && r.permitOpen && (!target || !hostPortAllowed(r.permitOpen, target.host, target.port))) {
    return `direct-tcpip to ${target ? `${target.host}:${target.port}` : 'an unreadable target'} not in permitopen`;
  }
  return undefined;
}

/**
 * Why a global request is refused under these restrictions: `tcpip-forward` (port forwarding off, or
 * outside permitlisten) and `streamlocal-forward@openssh.com` (port forwarding off: OpenSSH's
 * no-port-forwarding and restrict cover Unix-socket forwarding too).
 */
export function refusedGlobalRequest(
  r: SessionRestrictions,
  name: string,
  info: { bindAddr?: string; bindPort?: number },
): string | undefined {
  if (name === 'tcpip-forward') return refusedListen(r, info.bindAddr ?? '', info.bindPort ?? 0);
  if (name === 'streamlocal-forward@openssh.com' && !r.portForwarding)
    return 'remote Unix-socket forwarding not permitted for this key (port forwarding off)';
  return undefined;
}

/** Why a tcpip-forward global request is refused under these restrictions. */
export function refusedListen(r: SessionRestrictions, host: string, port: number): string | undefined {
  if (!r.portForwarding) return 'remote port forwarding not permitted for this key';
  if (!hostPortAllowed(r.permitListen, host || 'localhost', port)) return `listening on ${host}:${port} not in permitlisten`;
  return undefined;
}
