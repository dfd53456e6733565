import { connect as tcpConnect, createServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { encodeString, encodeUint32, WireReader } from '../packet/wire';
import type { ConnectionRecord } from '../registry/ConnectionRecord';
import type { ChannelState } from './ChannelState';
import { pipeChannel } from './socketPipe';

/** A `host:port` a client asks to reach (direct-tcpip: `ssh -L`, `-W`, `-D`). */
export interface ForwardTarget {
  /** The host name or address the client asks to reach. */
  readonly host: string;
  /** The port the client asks to reach. */
  readonly port: number;
  /** Where the client says the connection comes from. */
  readonly originatorAddress: string;
  /** Where the client says the connection comes from: the port. */
  readonly originatorPort: number;
}

/** How the daemon forwards TCP when {@link SSHDaemon.enableForwarding} is on. */
export interface ForwardingOptions {
  /**
   * Opens the stream for a direct-tcpip channel. Default: a TCP connection to the target.
   * Return your own Duplex for virtual destinations (a name answered in-process).
   */
  connect?: (target: ForwardTarget, connectionId: string, connectTcp: (target: ForwardTarget) => Promise<Duplex>) => Duplex | Promise<Duplex>;
  /** Remote forwards (`ssh -R`) listen on the address the client names; default false: loopback only, as OpenSSH's GatewayPorts=no. */
  gatewayPorts?: boolean;
}

/** What forwarding needs from the daemon. */
export interface ForwardingHost {
  openChannel(conn: ConnectionRecord, channelType: string, params: Buffer): Promise<ChannelState>;
  log(conn: ConnectionRecord, message: string): void;
}

/** Parses the direct-tcpip CHANNEL_OPEN parameters (RFC 4254 7.2). */
export function directTcpipTarget(parameters: Buffer): ForwardTarget {
  const r = new WireReader(parameters);
  return { host: r.string(), port: r.uint32(), originatorAddress: r.string(), originatorPort: r.uint32() };
}

function connectTcp(target: ForwardTarget): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect({ host: target.host, port: target.port });
    socket.pause();
    socket.once('connect', () => {
      socket.off('error', reject);
      socket.setNoDelay(true);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

const LOOPBACK = new Set(['', 'localhost', '127.0.0.1', '::1']);

/** Local (direct-tcpip) and remote (tcpip-forward / forwarded-tcpip) TCP forwarding. */
export class TcpForwarding {
  /** Remote-forward listeners per connection, by `address:port` as the client named them. */
  private readonly listeners = new Map<ConnectionRecord, Map<string, Server>>();

  constructor(
    private readonly options: ForwardingOptions,
    private readonly host: ForwardingHost,
  ) {}

  /** Connects the target of a direct-tcpip open; resolves to a starter run once the channel is open, or to the failure reason. */
  async openDirect(conn: ConnectionRecord, parameters: Buffer): Promise<{ start(state: ChannelState): void; abort(): void } | string> {
    let target: ForwardTarget;
    try {
      target = directTcpipTarget(parameters);
    } catch {
      return 'malformed direct-tcpip parameters';
    }
    try {
      const stream = await (this.options.connect ? this.options.connect(target, conn.id, connectTcp) : connectTcp(target));
      if (conn.closed) {
        stream.destroy();
        return 'connection closed';
      }
      stream.pause();
      this.host.log(conn, `forwarding to ${target.host}:${target.port} for ${target.originatorAddress}:${target.originatorPort}`);
      return { start: (state) => pipeChannel(state, stream), abort: () => stream.destroy() };
    } catch (err) {
      return `cannot connect to ${target.host}:${target.port}: ${(err as Error).message}`;
    }
  }

  /** tcpip-forward: listens and opens a forwarded-tcpip channel per accepted connection. Resolves to the bound port. */
  async listen(conn: ConnectionRecord, bindAddress: string, bindPort: number): Promise<number> {
    const key = `${bindAddress}:${bindPort}`;
    const own = this.listeners.get(conn) ?? new Map<string, Server>();
    if (own.has(key)) throw new Error(`already forwarding ${key}`);
    const address = this.options.gatewayPorts && !LOOPBACK.has(bindAddress) ? bindAddress : bindAddress === '::1' ? '::1' : '127.0.0.1';
    const server = createServer({ pauseOnConnect: true }, (socket) => void this.forwardIncoming(conn, bindAddress, server, socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: address, port: bindPort }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', () => undefined);
    own.set(key, server);
    this.listeners.set(conn, own);
    const port = (server.address() as { port: number }).port;
    // A request for port 0 is cancelled by the client with the port it was given.
    if (bindPort === 0) {
      own.delete(key);
      own.set(`${bindAddress}:${port}`, server);
    }
    this.host.log(conn, `remote forward listening on ${address}:${port}`);
    return port;
  }

  private async forwardIncoming(conn: ConnectionRecord, bindAddress: string, server: Server, socket: Socket): Promise<void> {
    socket.on('error', () => undefined);
    const port = (server.address() as { port: number }).port;
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
    const own = this.listeners.get(conn);
    const server = own?.get(`${bindAddress}:${bindPort}`);
    if (!own || !server) return false;
    own.delete(`${bindAddress}:${bindPort}`);
    server.close();
    return true;
  }

  /** The connection is gone: its listeners close (forwarded channels end with it). */
  connectionClosed(conn: ConnectionRecord): void {
    const own = this.listeners.get(conn);
    if (!own) return;
    this.listeners.delete(conn);
    for (const server of own.values()) server.close();
  }
}
