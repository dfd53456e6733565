/**
 * The built-in process service (`enableProcesses`): real programs for `exec` and `shell` on session
 * channels, with `pty-req`, `env`, `window-change`, `signal` and `break`. See docs/processes.md.
 */
import type { ChannelState } from '../channels/ChannelState';
import type { ChannelRequestParams } from '../packet/requestParams';
import type { EventHub } from '../events/EventHub';
import { ErrorCodes, SSHDaemonError } from '../errors/SSHDaemonError';
import type { ConnectionRecord } from '../registry/ConnectionRecord';
import type { SSHConnection } from '../views/views';
import { AcceptEnv } from './acceptEnv';
import type { ProcessProvider, ProcessServiceOptions } from './ProcessServiceOptions';
import { ProcessSession, type ProcessSessionHost, type SessionOptions } from './ProcessSession';
import { ptyBinding } from './ptyBinding';

/** The channel requests the service answers. */
const SERVED: ReadonlySet<string> = new Set(['exec', 'shell', 'pty-req', 'env', 'window-change', 'signal', 'break']);

/** Default of `killGrace` (seconds). */
const DEFAULT_KILL_GRACE = 2;

/** What the service needs from the daemon. */
export interface ProcessServiceHost {
  readonly hub: EventHub;
  connectionView(conn: ConnectionRecord): SSHConnection;
}

/** Checks options once, so a mistake shows at enableProcesses or in the provider's Error, not in a session. */
function checkOptions(options: ProcessServiceOptions): SessionOptions {
  if (typeof options !== 'object' || options === null) {
    throw new SSHDaemonError(ErrorCodes.InvalidArgument, 'enableProcesses options must be an object');
  }
  const grace = options.killGrace ?? DEFAULT_KILL_GRACE;
  if (typeof grace !== 'number' || !Number.isFinite(grace) || grace < 0 || grace > 3600) {
    throw new SSHDaemonError(
      ErrorCodes.InvalidArgument,
      `enableProcesses killGrace must be a number of seconds from 0 to 3600, got ${String(options.killGrace)}`,
    );
  }
  if (options.plan !== undefined && typeof options.plan !== 'function') {
    throw new SSHDaemonError(ErrorCodes.InvalidArgument, 'enableProcesses plan must be a function');
  }
  return { raw: options, acceptEnv: new AcceptEnv(options.acceptEnv), killGraceMs: Math.round(grace * 1000) };
}

export class ProcessService {
  private provider?: (connection: SSHConnection) => SessionOptions | undefined | Promise<SessionOptions | undefined>;
  private readonly sessions = new WeakMap<ChannelState, ProcessSession | Promise<ProcessSession | undefined> | undefined>();

  constructor(private readonly host: ProcessServiceHost) {}

  /** Switches the service on (options or a provider) or off (undefined). */
  enable(options: ProcessServiceOptions | ProcessProvider | undefined): void {
    if (options === undefined) {
      this.provider = undefined;
      return;
    }
    if (typeof options === 'function') {
      // Pseudo-terminals may be asked for by any connection: node-pty must load (the error names the toolchain).
      ptyBinding();
      this.provider = (connection) => {
        const chosen = options(connection);
        return chosen instanceof Promise
          ? chosen.then((o) => (o ? checkOptions(o) : undefined))
          : chosen
            ? checkOptions(chosen)
            : undefined;
      };
      return;
    }
    const checked = checkOptions(options);
    if (options.pty !== false) ptyBinding();
    this.provider = () => checked;
  }

  get enabled(): boolean {
    return this.provider !== undefined;
  }

  /** True when the service would answer `requestType` on this channel (its decision then starts granted). */
  presets(state: ChannelState | undefined, requestType: string): boolean {
    if (!this.provider || !state || state.service !== 'session' || !SERVED.has(requestType)) return false;
    return !state.consumer || this.started(state);
  }

  /**
   * True once the service granted exec or shell on this channel: its later requests (window-change,
   * signal, a second exec) come here whatever else is on. Before that (env, pty-req only) an
   * `exec scp` still goes to enableSCP: OpenSSH's scp sends its env requests first.
   */
  started(state: ChannelState): boolean {
    const session = this.sessions.get(state);
    return session instanceof ProcessSession && session.started;
  }

  /** A granted request of a session channel; false refuses it after all. */
  attach(conn: ConnectionRecord, state: ChannelState, requestType: string, params: ChannelRequestParams): boolean | Promise<boolean> {
    if (state.service !== 'session' || !SERVED.has(requestType)) return true;
    const session = this.sessionOf(conn, state);
    if (session instanceof Promise) return session.then((s) => (s ? s.request(requestType, params) : false));
    return session ? session.request(requestType, params) : false;
  }

  /** The channel's session, made at its first request with the provider's options (undefined: refused for this connection). */
  private sessionOf(conn: ConnectionRecord, state: ChannelState): ProcessSession | Promise<ProcessSession | undefined> | undefined {
    if (this.sessions.has(state)) return this.sessions.get(state);
    const provider = this.provider;
    if (!provider) return undefined;
    const view = this.host.connectionView(conn);
    const make = (options: SessionOptions | undefined): ProcessSession | undefined => {
      const session = options && !state.finished ? new ProcessSession(state, options, this.hostFor(conn, view)) : undefined;
      this.sessions.set(state, session);
      return session;
    };
    const failed = (err: unknown): ProcessSession | undefined => {
      this.host.hub.error(
        conn.id,
        ErrorCodes.HandlerFailed,
        `enableProcesses callback failed: ${err instanceof Error ? err.message : String(err)}`,
      );
      return make(undefined);
    };
    let chosen: ReturnType<typeof provider>;
    try {
      chosen = provider(view);
    } catch (err) {
      return failed(err);
    }
    if (!(chosen instanceof Promise)) return make(chosen);
    const pending = chosen.then(make, failed);
    this.sessions.set(state, pending);
    return pending;
  }

  private hostFor(conn: ConnectionRecord, connection: SSHConnection): ProcessSessionHost {
    return {
      connection,
      log: (level: 1 | 2 | 3, message: string) => this.host.hub.log(conn.id, level, message),
      planFailed: (err: unknown) =>
        this.host.hub.error(
          conn.id,
          ErrorCodes.HandlerFailed,
          `enableProcesses plan failed: ${err instanceof Error ? err.message : String(err)}`,
        ),
    };
  }
}
