import type { Socket } from 'node:net';
import type { KeyboardInteractivePrompt } from '../packet/keyboardPrompts';
import { trustedCAsFromSetting } from '../certs/trustedKeys';
import type { Certificate } from '../certs/Certificate';
import type { ChannelState } from '../channels/ChannelState';
import { ConfigStore, type ConnectionSettingsProvider } from '../config/ConfigStore';
import { installEngine } from '../engine/installEngine';
import { cryptoBindingAvailable, engineSocket, postQuantumKexStatus, ssh2Version } from '../engine/ssh2Internals';
import type { ClientInfo, Ssh2Connection, Ssh2Server } from '../engine/ssh2Types';
import { ErrorCodes, SSHDaemonError } from '../errors/SSHDaemonError';
import { ConnectionGate } from '../policy/ConnectionGate';
import { Registry } from './Registry';
import { PACKAGE_VERSION } from '../version';
import { sendExitStatusOn } from '../channels/channelMessages';
import { handledCall } from '../errors/unawaited';
import type { ConnectionRecord } from '../registry/ConnectionRecord';
import { type ConnectionControl, SSHConnection } from '../views/views';
import { BuiltInServices, type BuiltInHost } from './BuiltInServices';
import type { EventHub } from '../events/EventHub';
import { Connection } from './Connection';
import { HostEngine, type EngineConnectionSink, type LoadedHostKeys } from './HostEngine';
import { type AdmissionSink, Listener } from './Listener';
import { FleetSessions } from './FleetSessions';
import type { PolicyStore } from '../policy/PolicyStore';

export type { DisconnectFilter } from '../policy/PolicyStore';

/** The daemon properties the server reads (live: a change applies to the next connection). */
export interface ServerProps {
  readonly localHost: string;
  localPort: number;
  readonly connectionBacklog: number;
  readonly defaultAuthMethods: string;
  readonly defaultTimeout: number;
  readonly keyboardInteractiveMessage: string;
  readonly keyboardInteractivePrompts: KeyboardInteractivePrompt[];
  readonly sshCert: Certificate | undefined;
  readonly policyStore: PolicyStore | undefined;
}

/**
 * Everything behind the façade: the listener, the engine, the registry and the live
 * {@link Connection}s. `SSHDaemon` forwards its methods here; connections reach the daemon's
 * events through `hub`.
 */
export class ServerCore implements AdmissionSink, EngineConnectionSink, ConnectionSettingsProvider, BuiltInHost {
  readonly registry = new Registry();
  /** The values behind `config()`. */
  readonly settings: ConfigStore;
  /** Access control before any SSH byte: lists, limits, penalties, refusal counters. */
  readonly gate: ConnectionGate;
  readonly listener: Listener;
  readonly engines: HostEngine;
  /** Fleet membership through props.policyStore: shared limits, the session directory, disconnectEverywhere. */
  readonly fleet: FleetSessions;
  /** SFTP, SCP, forwarding and processes (the daemon's enable* methods). */
  readonly builtIns: BuiltInServices;
  private readonly connections = new Map<string, Connection>();
  /** The connection of each admitted socket, for the engine's `connection` event. */
  private readonly bySocket = new WeakMap<Socket, Connection>();

  constructor(
    readonly hub: EventHub & ConnectionControl,
    readonly props: ServerProps,
  ) {
    const settings = (this.settings = new ConfigStore(this, {
      RefusalCounts: () =>
        Object.entries(this.gate.counts())
          .map(([k, v]) => `${k}=${v}`)
          .join(','),
      BuildInfo: () =>
        `sshdaemon ${PACKAGE_VERSION}; ssh2 ${ssh2Version}; Node.js ${process.version}; native crypto binding ${cryptoBindingAvailable() ? 'loaded' : 'NOT loaded'}`,
    }));
    // After hub is set: the services keep it.
    this.builtIns = new BuiltInServices(this);
    this.gate = new ConnectionGate(settings, () => this.registry.connections.size + this.listener.pending);
    this.gate.onNotice = (message) => hub.log('', 1, message);
    this.fleet = new FleetSessions(
      {
        settings,
        policyStore: () => props.policyStore,
        liveConnections: () => this.connections.values(),
        log: (message) => hub.log('', 1, message),
      },
      this.gate.penalties,
    );
    this.gate.shared = () => this.fleet.policy();
    this.listener = new Listener(settings, this.gate, hub, this);
    this.engines = new HostEngine(settings, hub, this);
  }

  /** Binds localHost:localPort (localPort then holds the real port). */
  async listen(): Promise<void> {
    const { props, settings, hub } = this;
    if (!props.sshCert) {
      throw new SSHDaemonError(ErrorCodes.NoHostKey, 'No host key: set sshCert (e.g. Certificate.generate()) before listening');
    }
    // ssh2 is patched here, not at import (src/engine/installEngine.ts); idempotent.
    installEngine();
    this.engines.engineFor(props.sshCert);
    const host = props.localHost || (settings.bool('UseIPv6') ? '::' : '0.0.0.0');
    props.localPort = await this.listener.listen({ host, port: props.localPort, backlog: props.connectionBacklog });
    this.fleet.start();
    hub.log(
      '',
      1,
      `listening on ${host}:${props.localPort}${cryptoBindingAvailable() ? '' : ' (warning: ssh2 native crypto binding not loaded; throughput will be lower)'}`,
    );
    const pq = postQuantumKexStatus();
    if (!pq.available)
      hub.log('', 1, `post-quantum key exchange unavailable: ${pq.problem ?? 'not installed'}; classical key exchange only`);
  }

  /** A socket the listener let in: a {@link Connection} in the registry, handed to the engine. */
  admit(socket: Socket, address: string, port: number): void {
    let engine: Ssh2Server;
    try {
      engine = this.engines.engineFor(this.props.sshCert);
    } catch (err) {
      this.hub.error('', (err as SSHDaemonError).code ?? ErrorCodes.NoHostKey, (err as Error).message);
      socket.destroy();
      this.gate.withdrawn(address, port); // the fleet slot it was given
      return;
    }
    socket.setNoDelay(this.settings.bool('TcpNoDelay'));
    const keepAlive = this.settings.int('KeepAliveTime');
    if (keepAlive > 0) socket.setKeepAlive(true, keepAlive);
    const connection = new Connection(this, socket, address, port);
    this.registry.addConnection(connection.record);
    this.gate.admitted(address);
    this.connections.set(connection.record.id, connection);
    this.bySocket.set(socket, connection);
    connection.start(engine);
  }

  /** The host keys and host certificates of the engine serving new connections. */
  hostKeys(): LoadedHostKeys {
    return this.engines.hostKeys();
  }

  onEngineConnection(engine: Ssh2Connection, info: ClientInfo): void {
    const connection = this.bySocket.get(engineSocket(engine));
    if (!connection || connection.record.closed) {
      engine.on('error', () => undefined);
      engine.end();
      return;
    }
    connection.attach(engine, info);
  }

  /** The connection's socket closed: it leaves the tables. */
  forget(connection: Connection): void {
    this.connections.delete(connection.record.id);
    this.registry.removeConnection(connection.record.id);
  }

  connection(connectionId: string): Connection {
    const c = this.connections.get(String(connectionId));
    if (!c) throw new SSHDaemonError(ErrorCodes.UnknownConnection, `Unknown connection id '${connectionId}'`);
    return c;
  }

  /** `Name[connectionId]` settings: read-only connection facts, else the connection's own values. */
  getConnectionSetting(connectionId: string, name: string): string | undefined {
    const conn = this.connection(connectionId).record;
    if (name === 'ClientSSHVersionString') return conn.clientVersion;
    if (name === 'ConnectionUID') return conn.id;
    return conn.setting(name);
  }

  setConnectionSetting(connectionId: string, name: string, value: string): void {
    this.connection(connectionId).record.setSetting(name, value);
  }

  channel(channelId: string): ChannelState {
    const ch = this.registry.channels.get(String(channelId));
    if (!ch) throw new SSHDaemonError(ErrorCodes.UnknownChannel, `Unknown channel id '${channelId}'`);
    return ch;
  }

  // ---- BuiltInHost -----------------------------------------------------------------------------

  connectionView(conn: ConnectionRecord): SSHConnection {
    return (conn.view ??= new SSHConnection(conn, this.hub)) as SSHConnection;
  }

  async openChannel(conn: ConnectionRecord, channelType: string, params: Buffer): Promise<ChannelState> {
    return this.channel(await this.connection(conn.id).openChannel(channelType, params));
  }

  sendExitStatus(state: ChannelState, code: number): void {
    void handledCall(() => sendExitStatusOn(this.channel(state.id), code));
  }

  intSetting(name: string): number {
    return this.settings.int(name);
  }

  boolSetting(name: string): boolean {
    return this.settings.bool(name);
  }

  /** TrustedUserCAKeys, read at each use so a rotated CA file applies to the next login. */
  trustedUserCAs(): Buffer[] {
    try {
      return trustedCAsFromSetting(this.settings.text('TrustedUserCAKeys'));
    } catch (err) {
      this.hub.error(
        '',
        ErrorCodes.KeyFileNotFound,
        `TrustedUserCAKeys cannot be read: ${(err as Error).message}; no certificate is trusted`,
      );
      return [];
    }
  }

  /** Stops listening and closes every connection; resolves when all are gone. */
  async shutdown(): Promise<void> {
    this.listener.close();
    this.listener.dropUndecided();
    await Promise.all(
      [...this.connections.values()].map((c) => {
        c.record.closeReason ??= { statusCode: 0, description: 'server shutdown' };
        return c.closeAndWait();
      }),
    );
    await this.listener.closed();
    this.fleet.stop();
  }

  /** After shutdown: penalties and counters cleared, the engine rebuilt on the next listen. */
  reset(): void {
    this.gate.clear();
    this.engines.reset();
  }
}
