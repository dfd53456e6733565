import { createServer, type Server as NetServer, type Socket } from 'node:net';
import type { ConfigStore } from '../config/ConfigStore';
import { ErrorCodes, SSHDaemonError } from '../errors/SSHDaemonError';
import { publish } from '../observability/diagnostics';
import { AddressList, normaliseAddress } from '../policy/addressMatch';
import type { ConnectionGate, Refusal } from '../policy/ConnectionGate';
import { parsePorts } from '../policy/policySettings';
import { parseProxyHeader } from '../policy/proxyProtocol';
import { afterDecision, type EventHub } from '../events/EventHub';

/** Where a socket goes once every check before SSH (lists, limits, PROXY, ConnectionRequest) let it in. */
export interface AdmissionSink {
  admit(socket: Socket, address: string, port: number): void;
}

/** Where and how to listen. */
export interface ListenOptions {
  host: string;
  port: number;
  backlog: number;
}

/**
 * The listening socket (`net.Server`, `pauseOnConnect`), the SensorPorts, the PROXY header and the
 * decisions before any SSH byte: the gate's lists and limits, then `ConnectionRequest`.
 */
export class Listener {
  private netServer?: NetServer;
  private sensors: NetServer[] = [];
  /** Settles when the listener has closed and every socket it accepted has ended. */
  private serverClosed: Promise<void> = Promise.resolve();
  /** Accepted sockets whose ConnectionRequest decision (or PROXY header) is pending. */
  private readonly undecided = new Set<Socket>();

  constructor(
    private readonly settings: ConfigStore,
    private readonly gate: ConnectionGate,
    private readonly hub: EventHub,
    private readonly sink: AdmissionSink,
  ) {}

  get listening(): boolean {
    return this.netServer?.listening === true;
  }

  /** Sockets accepted but not yet admitted (for MaxConnections). */
  get pending(): number {
    return this.undecided.size;
  }

  /** Binds the listener and the sensor ports; resolves with the bound port. */
  async listen(o: ListenOptions): Promise<number> {
    const server = createServer({ pauseOnConnect: true, noDelay: false }, (socket) => this.onSocket(socket));
    server.on('error', (err) => this.hub.error('', ErrorCodes.ListenFailed, `listener error: ${err.message}`));
    await new Promise<void>((resolve, reject) => {
      const fail = (err: Error) =>
        reject(new SSHDaemonError(ErrorCodes.ListenFailed, `Cannot listen on ${o.host}:${o.port}: ${err.message}`));
      server.once('error', fail);
      server.listen({ host: o.host, port: o.port, backlog: o.backlog }, () => {
        server.off('error', fail);
        resolve();
      });
    });
    this.netServer = server;
    try {
      await this.openSensors(o.host);
    } catch (err) {
      this.close();
      throw err;
    }
    const address = server.address();
    return address && typeof address === 'object' ? address.port : o.port;
  }

  /** Stops accepting; the port is released at once. */
  close(): void {
    for (const sensor of this.sensors.splice(0)) sensor.close();
    const server = this.netServer;
    if (!server) return;
    this.netServer = undefined;
    // close() releases the port at once; its callback waits for every accepted socket to end,
    // so it is awaited only by shutdown(), after the connections are closed.
    this.serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Drops the sockets still being decided. */
  dropUndecided(): void {
    for (const socket of this.undecided) socket.destroy();
    this.undecided.clear();
  }

  /** Resolves once the closed listener's accepted sockets have all ended. */
  closed(): Promise<void> {
    return this.serverClosed;
  }

  address(): { address: string; family: string; port: number } | undefined {
    const a = this.netServer?.address();
    return a && typeof a === 'object' ? a : undefined;
  }

  /** xinetd SENSOR: extra ports where any connection bans its source from the daemon. */
  private async openSensors(host: string): Promise<void> {
    for (const port of parsePorts(this.settings.text('SensorPorts'))) {
      const sensor = createServer({ pauseOnConnect: true }, (socket) => this.onSensorConnection(socket, port));
      sensor.on('error', (err) => this.hub.error('', ErrorCodes.ListenFailed, `sensor port ${port}: ${err.message}`));
      await new Promise<void>((resolve, reject) => {
        sensor.once('error', (err) =>
          reject(new SSHDaemonError(ErrorCodes.ListenFailed, `Cannot listen on sensor port ${host}:${port}: ${err.message}`)),
        );
        sensor.listen({ host, port }, () => resolve());
      });
      this.sensors.push(sensor);
    }
  }

  private onSensorConnection(socket: Socket, port: number): void {
    socket.on('error', () => undefined);
    const address = normaliseAddress(socket.remoteAddress ?? '');
    socket.destroy();
    const banned = this.gate.sensorHit(address);
    this.hub.log(
      '',
      1,
      `sensor port ${port} touched by ${address}${banned ? `: banned for ${this.settings.int('SensorDenyTime')} s` : ' (exempt)'}`,
    );
  }

  private onSocket(socket: Socket): void {
    socket.on('error', () => undefined); // reported through the engine or the close path
    if (this.settings.bool('UseProxyProtocol')) return this.readProxyHeader(socket);
    this.gateAndAdmit(socket, normaliseAddress(socket.remoteAddress ?? ''), socket.remotePort ?? 0);
  }

  /**
   * UseProxyProtocol: the balancer's PROXY header comes first; the address it names is the
   * client's for every policy and for remoteHost. No header in time, or a malformed one, refuses.
   */
  private readProxyHeader(socket: Socket): void {
    const peer = normaliseAddress(socket.remoteAddress ?? '');
    const fail = (detail: string) => {
      this.undecided.delete(socket);
      this.gate.refused(peer, { reason: 'UseProxyProtocol', detail });
      publish('refusal', () => ({ address: peer, port: socket.remotePort ?? 0, reason: 'UseProxyProtocol', detail }));
      this.hub.log('', 1, `connection from ${peer}:${socket.remotePort} refused by UseProxyProtocol: ${detail}`);
      socket.destroy();
    };
    const trusted = new AddressList(this.settings.text('ProxyProtocolTrustedProxies'));
    if (!trusted.empty && !trusted.matches(peer)) return fail('peer is not in ProxyProtocolTrustedProxies');
    this.undecided.add(socket);
    let received = Buffer.alloc(0);
    const timer = setTimeout(() => fail('no PROXY header within 5 s'), 5000).unref();
    const onData = (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const parsed = parseProxyHeader(received);
      if (!parsed.done && !parsed.error) return;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.pause();
      if (!parsed.done) return fail(parsed.error ?? 'no PROXY header');
      this.undecided.delete(socket);
      const { address, port, rest } = parsed.header;
      if (rest.length > 0) socket.unshift(rest);
      this.gateAndAdmit(socket, address ? normaliseAddress(address) : peer, port ?? socket.remotePort ?? 0);
    };
    socket.on('data', onData);
    socket.once('close', () => {
      clearTimeout(timer);
      this.undecided.delete(socket);
    });
    socket.resume();
  }

  private refuse(socket: Socket, address: string, port: number, refusal: Refusal): void {
    this.gate.refused(address, refusal);
    publish('refusal', () => ({ address, port, reason: refusal.reason, detail: refusal.detail }));
    this.hub.log('', 1, `connection from ${address}:${port} refused by ${refusal.reason}: ${refusal.detail}`);
    socket.destroy();
  }

  private gateAndAdmit(socket: Socket, address: string, port: number): void {
    const refusal = this.gate.check(address);
    if (refusal) {
      // Reported to ConnectionRequest handlers too (for logs and metrics); the refusal is final.
      this.hub.fire('ConnectionRequest', { address, port, accept: false, refusedBy: refusal.reason });
      return this.refuse(socket, address, port, refusal);
    }
    const shared = this.gate.checkShared(address, port);
    if (!shared) return this.askHandlers(socket, address, port);
    // The fleet's store answers (or times out) while the socket waits, paused, among the undecided.
    this.undecided.add(socket);
    shared
      .then((fleet) => {
        this.undecided.delete(socket);
        if (socket.destroyed) return this.gate.withdrawn(address, port);
        if (!fleet) return this.askHandlers(socket, address, port);
        this.hub.fire('ConnectionRequest', { address, port, accept: false, refusedBy: fleet.reason });
        this.refuse(socket, address, port, fleet);
      })
      .catch((err: Error) => {
        // What the synchronous path would have thrown: reported, never an unhandled rejection.
        this.undecided.delete(socket);
        socket.destroy();
        this.gate.withdrawn(address, port);
        this.hub.error('', ErrorCodes.HandlerFailed, `admitting ${address}:${port}: ${err.message}`);
      });
  }

  /** ConnectionRequest handlers decide last; a refusal frees the fleet slot the connection holds. */
  private askHandlers(socket: Socket, address: string, port: number): void {
    const args = { address, port, accept: true, refusedBy: '' };
    this.undecided.add(socket);
    afterDecision(this.hub.decide('ConnectionRequest', args), (ok) => {
      this.undecided.delete(socket);
      if (socket.destroyed || !ok || !args.accept) this.gate.withdrawn(address, port);
      if (socket.destroyed) return;
      if (!ok || !args.accept)
        return this.refuse(socket, address, port, { reason: 'ConnectionRequest', detail: 'refused by the ConnectionRequest handler' });
      this.sink.admit(socket, address, port);
    });
  }
}
