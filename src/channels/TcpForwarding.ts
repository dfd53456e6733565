import { createServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { encodeString, encodeUint32 } from '../packet/wire';
import type { ConnectionRecord } from '../registry/ConnectionRecord';
import type { ChannelState } from './ChannelState';
import {
  connectForwardTarget,
  directTcpipTarget,
  type ForwardTarget,
  resolutionOf,
  resolveDirectTcpipTarget,
  type ResolvedForwardTarget,
} from './forwardTarget';
import { pipeChannel } from './socketPipe';

export {
  directTcpipTarget,
  resolveDirectTcpipTarget,
  resolveForwardTarget,
  type ForwardTarget,
  type ResolvedForwardTarget,
} from './forwardTarget';

/** How the daemon forwards TCP when {@link SSHDaemon.enableForwarding} is on. */
export interface ForwardingOptions {
  /**
   * Opens the stream for a direct-tcpip channel. Default: a TCP connection to the target's
   * resolved addresses. Return your own Duplex for virtual destinations (a name answered
   * in-process). `target` carries `addresses` when a handler resolved it with
   * `resolveDirectTcpipTarget`; `connectTcp` connects to those addresses (or resolves first).
   */
  connect?: (
    target: ForwardTarget | ResolvedForwardTarget,
    connectionId: string,
    connectTcp: (target: ForwardTarget) => Promise<Duplex>,
  ) => Duplex | Promise<Duplex>;
  /** Remote forwards (`ssh -R`) listen on the address the client names; default false: loopback only, as OpenSSH's GatewayPorts=no. */
  gatewayPorts?: boolean;
}

/** What forwarding needs from the daemon. */
export interface ForwardingHost {
  openChannel(conn: ConnectionRecord, channelType: string, params: Buffer): Promise<ChannelState>;
  log(conn: ConnectionRecord, level: 1 | 2, message: string): void;
  /** MaxRemoteForwardsPerConnection. */
  maxListeners(): number;
  /** MaxSessionsPerConnection: forwarded-tcpip channels count against it like any other. */
  maxChannels(): number;
}

/** One connection's forwarding state: remote-forward listeners by `address:port` as the client named them, binds and connects under way. */
interface ConnectionForwards {
  readonly listeners: Map<string, Server>;
  /** direct-tcpip connects under way: aborted when the connection ends. */
  readonly connecting: Set<AbortController>;
  /** Binds still under way, by the key they will be held under (a listener the connection may end up holding). */
  readonly binding: Set<{ readonly key: string }>;
  /** The connection is gone: a bind that completes now is closed at once. */
  closed: boolean;
}

const LOOPBACK = new Set(['', 'localhost', '127.0.0.1', '::1']);

/**
 * Local (direct-tcpip) and remote (tcpip-forward / forwarded-tcpip) TCP forwarding. Owns every
 * remote-forward listener, by connection, whether forwarding is still on or not, so that none
 * outlives its connection; limits them per connection (listeners and binds under way together).
 */
export class TcpForwarding {
  private readonly byConnection = new Map<ConnectionRecord, ConnectionForwards>();

  constructor(private readonly host: ForwardingHost) {}

  /** Why a new tcpip-forward on this connection is refused before any handler runs, or undefined. */
  refusedListen(conn: ConnectionRecord): string | undefined {
    const own = this.byConnection.get(conn);
    const max = this.host.maxListeners();
    const held = own ? own.listeners.size + own.binding.size : 0;
    return held >= max ? `tcpip-forward refused: MaxRemoteForwardsPerConnection (${max}) reached` : undefined;
  }

  private own(conn: ConnectionRecord): ConnectionForwards {
    let own = this.byConnection.get(conn);
    if (!own) {
      own = { listeners: new Map(), connecting: new Set(), binding: new Set(), closed: false };
      this.byConnection.set(conn, own);
    }
    return own;
  }

  /** Connects the target of a direct-tcpip open; resolves to a starter run once the channel is open, or to the failure reason. */
  async openDirect(
    conn: ConnectionRecord,
    parameters: Buffer,
    options: ForwardingOptions,
  ): Promise<{ start(state: ChannelState): void; abort(): void } | string> {
    let target: ForwardTarget;
    try {
      target = directTcpipTarget(parameters);
    } catch {
      return 'malformed direct-tcpip parameters';
    }
    if (conn.closed) return 'connection closed';
    const own = this.own(conn);
    const attempt = new AbortController();
    own.connecting.add(attempt);
    const connectTcp = (t: ForwardTarget) => connectForwardTarget(t, attempt.signal);
    try {
      // The handler's resolution if it made one: the connect goes to the addresses it decided on.
      const resolved = resolutionOf(parameters);
      const stream = options.connect
        ? await options.connect(resolved ? await resolved : target, conn.id, connectTcp)
        : await connectTcp(await resolveDirectTcpipTarget(parameters));
      if (conn.closed) {
        stream.destroy();
        return 'connection closed';
      }
      stream.pause();
      const reached = (stream as Partial<Socket>).remoteAddress;
      this.host.log(
        conn,
        2,
        `forwarding to ${target.host}:${target.port}${reached && reached !== target.host ? ` (${reached})` : ''} for ${target.originatorAddress}:${target.originatorPort}`,
      );
      return { start: (state) => pipeChannel(state, stream), abort: () => stream.destroy() };
    } catch (err) {
      return `cannot connect to ${target.host}:${target.port}: ${(err as Error).message}`;
    } finally {
      own.connecting.delete(attempt);
    }
  }

  /**
   * tcpip-forward: listens and opens a forwarded-tcpip channel per accepted connection. Resolves
   * to the bound port. The bind counts against MaxRemoteForwardsPerConnection while under way; if
   * the connection closes meanwhile, the listener is closed as soon as it exists.
   */
  async listen(conn: ConnectionRecord, bindAddress: string, bindPort: number, gatewayPorts: boolean): Promise<number> {
    if (conn.closed) throw new Error('connection closed');
    const refused = this.refusedListen(conn);
    if (refused) throw new Error(refused);
    const own = this.own(conn);
    const key = `${bindAddress}:${bindPort}`;
    if (own.listeners.has(key) || (bindPort !== 0 && [...own.binding].some((b) => b.key === key)))
      throw new Error(`already forwarding ${key}`);
    const address = gatewayPorts && !LOOPBACK.has(bindAddress) ? bindAddress : bindAddress === '::1' ? '::1' : '127.0.0.1';
    const server = createServer({ pauseOnConnect: true }, (socket) => void this.forwardIncoming(conn, own, bindAddress, server, socket));
    const token = { key };
    own.binding.add(token);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host: address, port: bindPort }, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      server.close();
      throw err;
    } finally {
      own.binding.delete(token);
    }
    if (own.closed || conn.closed) {
      server.close();
      this.connectionClosed(conn);
      throw new Error('connection closed');
    }
    server.on('error', () => undefined);
    const port = (server.address() as { port: number }).port;
    // A request for port 0 is cancelled by the client with the port it was given.
    own.listeners.set(bindPort === 0 ? `${bindAddress}:${port}` : key, server);
    this.host.log(conn, 2, `remote forward listening on ${address}:${port}`);
    return port;
  }

  private async forwardIncoming(
    conn: ConnectionRecord,
    own: ConnectionForwards,
    bindAddress: string,
    server: Server,
    socket: Socket,
  ): Promise<void> {
    socket.on('error', () => undefined);
    // Whoever connects to the listener makes the daemon open a channel to the client: bounded like any channel.
    if (own.closed || conn.channels.size >= this.host.maxChannels()) {
      socket.destroy();
      if (!own.closed)
        this.host.log(
          conn,
          2,
          `forwarded connection from ${socket.remoteAddress}:${socket.remotePort} dropped: MaxSessionsPerConnection (${this.host.maxChannels()}) reached`,
        );
      return;
    }
    const port = (server.address() as { port: number } | null)?.port ?? 0;
    const params = Buffer.concat([
      encodeString(bindAddress),
      encodeUint32(port),
      encodeString(socket.remoteAddress ?? ''),
      encodeUint32(socket.remotePort ?? 0),
    ]);
    try {
      const state = await this.host.openChannel(conn, 'forwarded-tcpip', params);
      pipeChannel(state, socket);
    } catch {
      socket.destroy();
    }
  }

  /** cancel-tcpip-forward; false when no such forward exists. */
  cancel(conn: ConnectionRecord, bindAddress: string, bindPort: number): boolean {
    const own = this.byConnection.get(conn);
    const key = `${bindAddress}:${bindPort}`;
    const server = own?.listeners.get(key);
    if (!own || !server) return false;
    own.listeners.delete(key);
    server.close();
    return true;
  }

  /**
   * The connection is gone: its listeners close, and so will those whose bind is still under way;
   * direct-tcpip connects under way are abandoned (forwarded channels end with it).
   */
  connectionClosed(conn: ConnectionRecord): void {
    const own = this.byConnection.get(conn);
    if (!own) return;
    this.byConnection.delete(conn);
    own.closed = true;
    for (const server of own.listeners.values()) server.close();
    own.listeners.clear();
    for (const attempt of own.connecting) attempt.abort();
    own.connecting.clear();
  }
}
