import { createServer, type Server as NetServer, type Socket } from 'node:net';
import { AuthFlow, type AuthHost } from '../auth/AuthFlow';
import { trustedCAsFromSetting } from '../auth/userCertificates';
import { Certificate } from '../certs/Certificate';
import type { CertStoreTypes } from '../certs/CertStoreTypes';
import { ConfigStore } from '../config/ConfigStore';
import { createEngineServer, injectEngineSocket } from '../engine/EngineServer';
import {
  cryptoBindingAvailable,
  postQuantumKexStatus,
  DISCONNECT_REASON,
  disconnectWithReason,
  inboundStopped,
  transportDestroyed,
  ssh2Version,
} from '../engine/ssh2Internals';
import type { ClientInfo, Ssh2Connection, Ssh2Server } from '../engine/ssh2Types';
import { ErrorCodes, SSHDaemonError } from '../errors/SSHDaemonError';
import { handledCall, markHandled } from '../errors/unawaited';
import { getSSHParam, getSSHParamBytes, setSSHParam, type SSHParamFieldType } from '../packet/sshParam';
import { encodeString, encodeUint32, WireReader } from '../packet/wire';
import { AddressList, normaliseAddress } from '../policy/addressMatch';
import { parseProxyHeader } from '../policy/proxyProtocol';
import { ConnectionGate, type Refusal } from '../policy/ConnectionGate';
import { parsePorts } from '../policy/policySettings';
import { CLOSE_GRACE_MS, ConnectionRecord } from '../registry/ConnectionRecord';
import { nextId } from '../registry/ids';
import { Registry } from '../registry/Registry';
import { SSHChannel, SSHConnection } from '../registry/views';
import { LiveView } from '../registry/LiveView';
import { type ChannelStream, type ChannelStreamOptions, channelStreamOf, exitSignalPayload } from '../channels/ChannelStream';
import type { ChannelState } from '../channels/ChannelState';
import { ConnectionSession } from './ConnectionSession';
import type { DaemonCore } from './DaemonCore';
import { afterDecision, EventHub } from './EventHub';
import { PACKAGE_VERSION } from '../version';
import { publish } from '../observability/diagnostics';
import type { ForwardingOptions } from '../channels/TcpForwarding';
import type { SFTPSession, SFTPSessionOptions } from '../sftp/SFTPSession';
import type { SCPSessionOptions } from '../scp/SCPSession';
import type { ProcessProvider, ProcessServiceOptions } from '../processes/ProcessServiceOptions';
import { BuiltInServices, type SCPProvider, type SFTPProvider } from './BuiltInServices';

export type { SCPProvider, SFTPProvider } from './BuiltInServices';
import { PROPERTIES, type PropertyMethods, type SSHDaemonProperties } from './properties';


/** Grace before a connection that was asked to close is torn down hard. */

type StoredProps = Omit<SSHDaemonProperties, 'listening' | 'sshConnections' | 'sshChannels'>;

/** Options of {@link SSHDaemon.disconnect}. */
export interface DisconnectOptions {
  /**
   * True: DISCONNECT at once, dropping output still queued on the connection's channels. Default
   * false: that output is sent first (for at most `DisconnectFlushTimeout` seconds).
   */
  immediate?: boolean;
}

/**
 * An SSH server with the IPWorks SSHDaemon API: set properties, handle typed events, call methods,
 * tune with `config()`.
 */
export class SSHDaemon extends EventHub {
  private readonly props = {} as StoredProps;
  private readonly registry = new Registry();
  private readonly settings: ConfigStore;
  private readonly sessions = new Map<string, ConnectionSession>();
  private readonly core: DaemonCore;
  private netServer?: NetServer;
  /** Settles when the listener has closed and every socket it accepted has ended. */
  private serverClosed: Promise<void> = Promise.resolve();
  /** Accepted sockets whose ConnectionRequest decision is pending (not yet in the registry). */
  private readonly undecided = new Set<Socket>();
  /** Access control before any SSH byte: lists, limits, penalties, refusal counters. */
  private readonly gate: ConnectionGate;
  private sensors: NetServer[] = [];
  private readonly connectionViews = new LiveView(this.registry.connections, (c: ConnectionRecord) => new SSHConnection(c, this));
  private readonly channelViews = new LiveView(this.registry.channels, (c: ChannelState) => new SSHChannel(c, this));
  private readonly builtIns: BuiltInServices = new BuiltInServices({
    hub: this,
    connectionView: (conn) => (conn.view ??= new SSHConnection(conn, this)) as SSHConnection,
    openChannel: async (conn, channelType, params) => this.channel(await this.openChannel(conn.id, channelType, params)),
    sendExitStatus: (state, code) => void this.sendExitStatus(state.id, code),
    intSetting: (name) => this.settings.int(name),
  });
  private engine?: Ssh2Server;
  private engineKey = '';
  /** The settings version and host key the engine was last checked against. */
  private engineStamp: { version: number; sshCert: Certificate | undefined } = { version: -1, sshCert: undefined };
  private hostKeysCache?: { sshCert: Certificate | undefined; key: string; certs: Certificate[] };
  private hostKeyTexts: string[] = [];
  private readonly engineConnections = new WeakMap<Socket, ConnectionRecord>();

  constructor() {
    super();
    this.settings = new ConfigStore(
      {
        getConnectionSetting: (id, name) => this.connectionSetting(id, name),
        setConnectionSetting: (id, name, value) => this.record(id).settings.set(name, value),
      },
      {
        RefusalCounts: () => Object.entries(this.gate.counts()).map(([k, v]) => `${k}=${v}`).join(','),
        BuildInfo: () => `sshdaemon ${PACKAGE_VERSION}; ssh2 ${ssh2Version}; Node.js ${process.version}; native crypto binding ${cryptoBindingAvailable() ? 'loaded' : 'NOT loaded'}` },
    );
    this.logLevel = () => this.settings.int('LogLevel');
    this.decisionTimeout = () => this.settings.int('HandlerTimeout') * 1000;
    this.gate = new ConnectionGate(this.settings, () => this.registry.connections.size + this.undecided.size);
    this.resetProperties();
    const self = this;
    this.core = {
      hub: this,
      registry: this.registry,
      settings: this.settings,
      authHost: (session) => self.authHost(session),
      disconnectNow: (conn) => self.disconnectNow(conn),
      builtIns: this.builtIns,
    };
  }

  private resetProperties(): void {
    for (const [name, row] of Object.entries(PROPERTIES)) {
      if ('initial' in row) (this.props as Record<string, unknown>)[name] = row.initial();
    }
  }

  private connectionSetting(id: string, name: string): string | undefined {
    const conn = this.record(id);
    if (name === 'ClientSSHVersionString') return conn.clientVersion;
    if (name === 'ConnectionUID') return conn.id;
    return conn.settings.get(name);
  }

  // ---- listening ----------------------------------------------------------

  /** True while the listener is bound. */
  get listening(): boolean {
    return this.netServer?.listening === true;
  }
  /** True starts listening, false stops accepting (existing connections stay); failures arrive on `Error`. Prefer `await startListening()`. */
  set listening(v: boolean) {
    const op = v ? this.startListening() : this.stopListening();
    op.catch((err: SSHDaemonError) => this.error('', err.code ?? ErrorCodes.ListenFailed, err.message));
  }

  /**
   * Starts listening on localHost:localPort; resolves once bound (localPort then holds the real port).
   * Await it: unlike the other methods, a failure to bind (`ListenFailed`, `NoHostKey`) is not
   * swallowed when the promise is left unawaited, since a daemon that silently does not listen is
   * worse than one that stops (the `listening` property reports it on `Error` instead).
   */
  async startListening(): Promise<void> {
    if (this.netServer) return;
    if (!this.props.sshCert) {
      throw new SSHDaemonError(ErrorCodes.NoHostKey, 'No host key: set sshCert (e.g. Certificate.generate()) before listening');
    }
    this.engineFor();
    const server = createServer({ pauseOnConnect: true, noDelay: false }, (socket) => this.onSocket(socket));
    server.on('error', (err) => this.error('', ErrorCodes.ListenFailed, `listener error: ${err.message}`));
    const host = this.props.localHost || (this.settings.bool('UseIPv6') ? '::' : '0.0.0.0');
    await new Promise<void>((resolve, reject) => {
      const fail = (err: Error) => reject(new SSHDaemonError(ErrorCodes.ListenFailed, `Cannot listen on ${host}:${this.props.localPort}: ${err.message}`));
      server.once('error', fail);
      server.listen({ host, port: this.props.localPort, backlog: this.props.connectionBacklog }, () => {
        server.off('error', fail);
        resolve();
      });
    });
    this.netServer = server;
    try {
      await this.openSensors(host);
    } catch (err) {
      await this.stopListening();
      throw err;
    }
    const address = server.address();
    if (address && typeof address === 'object') this.props.localPort = address.port;
    this.log('', 1, `listening on ${host}:${this.props.localPort}${cryptoBindingAvailable() ? '' : ' (warning: ssh2 native crypto binding not loaded; throughput will be lower)'}`);
    const pq = postQuantumKexStatus();
    if (!pq.available) this.log('', 1, `post-quantum key exchange unavailable: ${pq.problem ?? 'not installed'}; classical key exchange only`);
  }

  /** xinetd SENSOR: extra ports where any connection bans its source from the daemon. */
  private async openSensors(host: string): Promise<void> {
    for (const port of parsePorts(this.settings.text('SensorPorts'))) {
      const sensor = createServer({ pauseOnConnect: true }, (socket) => this.onSensorConnection(socket, port));
      sensor.on('error', (err) => this.error('', ErrorCodes.ListenFailed, `sensor port ${port}: ${err.message}`));
      await new Promise<void>((resolve, reject) => {
        sensor.once('error', (err) => reject(new SSHDaemonError(ErrorCodes.ListenFailed, `Cannot listen on sensor port ${host}:${port}: ${err.message}`)));
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
    this.log('', 1, `sensor port ${port} touched by ${address}${banned ? `: banned for ${this.settings.int('SensorDenyTime')} s` : ' (exempt)'}`);
  }

  // ---- built-in services ---------------------------------------------------

  /**
   * Serves SFTP on every `sftp` subsystem request: `SSHChannelRequest` starts with `success`
   * true (a handler may still refuse), and the server is attached before the client's first packet.
   * `options` may depend on the connection (per-user roots and access): return undefined to refuse.
   * `undefined` switches it off.
   *
   * ```ts
   * daemon.enableSFTP((c) => ({ fileSystem: new LocalFileSystem(`/srv/sftp/${c.user}`) }));
   * ```
   */
  enableSFTP(options: SFTPSessionOptions | SFTPProvider | undefined): void {
    this.builtIns.enableSFTP(typeof options === 'function' || options === undefined ? options : () => options);
  }

  /**
   * Serves SFTP on a channel whose `subsystem sftp` request was granted (call it from
   * `SSHChannelRequest` after setting `success`, or from `SSHChannelRequested`). The channel's data
   * then goes to the SFTP server instead of `SSHChannelDataIn`.
   */
  serveSFTP(channelId: string, options: SFTPSessionOptions): SFTPSession {
    const state = this.channel(channelId);
    if (state.consumer) throw new SSHDaemonError(ErrorCodes.InvalidArgument, `Channel ${channelId} is already served by a built-in service`);
    return this.builtIns.serveSFTP(state, options);
  }

  /**
   * Serves legacy SCP (`scp -O`, `pscp -scp`, OpenSSH before 9.0): every `exec` of `scp ... -t|-f ...`
   * starts with `SSHChannelRequest` `success` true (a handler may still refuse) and is served by
   * an {@link SCPSession} over the same filesystem interface (and jail) as SFTP; no process is run.
   * `options` may depend on the connection (return undefined to refuse); `undefined` switches it off.
   * See docs/scp.md.
   *
   * ```ts
   * const files = (c: SSHConnection) => ({ fileSystem: new LocalFileSystem(`/srv/sftp/${c.user}`) });
   * daemon.enableSFTP(files);
   * daemon.enableSCP(files);
   * ```
   */
  enableSCP(options: SCPSessionOptions | SCPProvider | undefined): void {
    this.builtIns.enableSCP(typeof options === 'function' || options === undefined ? options : () => options);
  }

  /**
   * TCP forwarding as OpenSSH's AllowTcpForwarding: `direct-tcpip` opens (`ssh -L`, `-W`, `-D`)
   * start with `accept` true and are connected before they are confirmed; `tcpip-forward` global
   * requests (`ssh -R`, reported as `SSHChannelRequest` with channelId '') start with `success` true
   * and listen on loopback (or the named address with `gatewayPorts`). Handlers may refuse either;
   * key restrictions (`no-port-forwarding`, `permitopen`, `permitlisten`) apply first.
   * `undefined` switches it off for new requests (listeners already granted stay until cancelled or
   * their connection ends).
   */
  enableForwarding(options?: ForwardingOptions): void {
    // enableForwarding() switches it on with the defaults; an explicit undefined switches it off.
    this.builtIns.enableForwarding(arguments.length === 0 ? {} : options);
  }

  /**
   * Real programs for `exec` and `shell` on session channels, as sshd runs them: the command through
   * the user's shell (`-c`), a login shell for `shell`, on pipes (child_process, stdin/stdout/stderr
   * with flow control both ways) or in a pseudo-terminal after `pty-req` (node-pty), with `env`
   * (filtered by `acceptEnv`), `window-change`, `signal` and `break`. The exit code becomes
   * `exit-status`, a signal `exit-signal`, after every byte of output; a channel that closes or a
   * connection that drops hangs up the program's process group (SIGHUP, SIGKILL after `killGrace`).
   * Key restrictions apply first (`no-pty`; a forced command replaces the command and sets
   * `SSH_ORIGINAL_COMMAND`). `options.plan` chooses what runs, where and as whom; a provider
   * `(connection) => options` chooses per connection (undefined refuses). `enableProcesses()` switches
   * it on with the defaults, `enableProcesses(undefined)` off. Throws `InvalidArgument` when node-pty
   * (an optional dependency) cannot load, naming the toolchain it needs, unless `pty: false`.
   * Programs run as the daemon's user unless the plan gives `uid`/`gid`. See docs/processes.md.
   *
   * ```ts
   * daemon.enableProcesses({ plan: (r) => ({ cwd: `/srv/home/${r.user}` }) });
   * ```
   */
  enableProcesses(options?: ProcessServiceOptions | ProcessProvider): void {
    this.builtIns.enableProcesses(arguments.length === 0 ? {} : options);
  }

  /** Connections refused since the daemon was created (or reset), by the setting that refused them. */
  refusalCounts(): Record<string, number> {
    return this.gate.counts();
  }

  /** Stops accepting connections; existing ones stay. Resolves once the port is released. Safe to leave unawaited. */
  stopListening(): Promise<void> {
    return handledCall(() => {
      for (const sensor of this.sensors.splice(0)) sensor.close();
      const server = this.netServer;
      if (!server) return;
      this.netServer = undefined;
      // close() releases the port at once; its callback waits for every accepted socket to end,
      // so it is awaited only by shutdown(), after the connections are closed.
      this.serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
    });
  }

  /**
   * The bound address, once listening.
   * @property address The local IP address.
   * @property family `IPv4` or `IPv6`.
   * @property port The local port.
   */
  address(): { address: string; family: string; port: number } | undefined {
    const a = this.netServer?.address();
    return a && typeof a === 'object' ? a : undefined;
  }

  /** The engine server for new connections, rebuilt when host keys or algorithm settings changed. */
  private engineFor(): Ssh2Server {
    // Settings and the host key are unchanged since the last connection: nothing to rebuild.
    if (this.engine && this.engineStamp.version === this.settings.version && this.engineStamp.sshCert === this.props.sshCert) return this.engine;
    const certs = this.loadedHostCertificates();
    const hostKeyTypes = new Set(certs.map((c) => (c.keyType === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256'] : [c.keyType])).flat());
    const serverHostKey = this.settings.list('SSHPublicKeyAlgorithms').filter((a) => hostKeyTypes.has(a));
    if (serverHostKey.length === 0) {
      throw new SSHDaemonError(ErrorCodes.NoHostKey, `No host key matches SSHPublicKeyAlgorithms (${this.settings.text('SSHPublicKeyAlgorithms')}); keys loaded: ${certs.map((c) => c.keyType).join(', ')}`);
    }
    // Copies: ssh2 may extend the lists it is given (kex-strict), and settings.list() is cached.
    const options = {
      hostKeys: this.hostKeyTexts,
      kex: [...this.settings.list('SSHKeyExchangeAlgorithms')],
      cipher: [...this.settings.list('SSHEncryptionAlgorithms')],
      hmac: [...this.settings.list('SSHMacAlgorithms')],
      serverHostKey,
      compress: [...this.settings.list('SSHCompressionAlgorithms')],
      ident: this.settings.text('ServerSSHVersionString').replace(/^SSH-2\.0-/, ''),
      keepaliveInterval: this.settings.int('SSHKeepAliveInterval') * 1000,
      keepaliveCountMax: this.settings.int('SSHKeepAliveCountMax'),
    };
    const tracing = this.settings.int('LogLevel') >= 3;
    const key = JSON.stringify({ ...options, tracing });
    this.engineStamp = { version: this.settings.version, sshCert: this.props.sshCert };
    if (this.engine && key === this.engineKey) return this.engine;
    for (const c of certs) {
      const algs = c.keyType === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [c.keyType];
      if (!algs.some((a) => serverHostKey.includes(a))) {
        this.log('', 1, `host key ${c.fingerprint} (${c.keyType}) is not offered: SSHPublicKeyAlgorithms does not list ${algs.join(' or ')}`);
      }
    }
    const debug = tracing ? (line: string) => this.log('', 3, line) : undefined;
    const engine = createEngineServer({ ...options, debug });
    engine.on('connection', (conn: Ssh2Connection, info: ClientInfo) => this.onEngineConnection(conn, info));
    engine.on('error', (err: Error) => this.error('', ErrorCodes.ProtocolError, err.message));
    this.engine = engine;
    this.engineKey = key;
    return engine;
  }

  /**
   * The host keys, parsed again only when sshCert or an AltSSHCert* setting changed: parsing a PFX
   * or an encrypted key per connection would cost more than the handshake.
   */
  private loadedHostCertificates(): Certificate[] {
    const count = this.settings.int('AltSSHCertCount');
    const source: unknown[] = [];
    for (let i = 0; i < count; i++) {
      source.push(['AltSSHCertStore', 'AltSSHCertStorePassword', 'AltSSHCertStoreType', 'AltSSHCertSubject'].map((n) => this.settings.text(n, i)));
    }
    const key = JSON.stringify(source);
    const cached = this.hostKeysCache;
    if (cached && cached.sshCert === this.props.sshCert && cached.key === key) return cached.certs;
    const certs = this.hostCertificates();
    this.hostKeysCache = { sshCert: this.props.sshCert, key, certs };
    this.hostKeyTexts = certs.map((c) => c.toOpenSSH());
    return certs;
  }

  private hostCertificates(): Certificate[] {
    const certs = [this.props.sshCert!];
    const count = this.settings.int('AltSSHCertCount');
    for (let i = 0; i < count; i++) {
      const store = this.settings.text('AltSSHCertStore', i);
      if (!store) continue;
      const cert = new Certificate(this.settings.int('AltSSHCertStoreType', i) as CertStoreTypes, store, this.settings.text('AltSSHCertStorePassword', i), this.settings.text('AltSSHCertSubject', i));
      cert.requirePrivateKey(`AltSSHCertStore[${i}]`);
      certs.push(cert);
    }
    return certs;
  }

  // ---- accepting ----------------------------------------------------------

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
      this.log('', 1, `connection from ${peer}:${socket.remotePort} refused by UseProxyProtocol: ${detail}`);
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

  private gateAndAdmit(socket: Socket, address: string, port: number): void {
    const refuse = (refusal: Refusal) => {
      this.gate.refused(address, refusal);
      publish('refusal', () => ({ address, port, reason: refusal.reason, detail: refusal.detail }));
      this.log('', 1, `connection from ${address}:${port} refused by ${refusal.reason}: ${refusal.detail}`);
      socket.destroy();
    };
    const refusal = this.gate.check(address);
    if (refusal) {
      // Reported to ConnectionRequest handlers too (for logs and metrics); the refusal is final.
      this.fire('ConnectionRequest', { address, port, accept: false, refusedBy: refusal.reason });
      return refuse(refusal);
    }
    const args = { address, port, accept: true, refusedBy: '' };
    this.undecided.add(socket);
    afterDecision(this.decide('ConnectionRequest', args), (ok) => {
      this.undecided.delete(socket);
      if (socket.destroyed) return;
      if (!ok || !args.accept) return refuse({ reason: 'ConnectionRequest', detail: 'refused by the ConnectionRequest handler' });
      this.admit(socket, address, port);
    });
  }

  private admit(socket: Socket, address: string, port: number): void {
    let engine: Ssh2Server;
    try {
      engine = this.engineFor();
    } catch (err) {
      this.error('', (err as SSHDaemonError).code ?? ErrorCodes.NoHostKey, (err as Error).message);
      socket.destroy();
      return;
    }
    socket.setNoDelay(this.settings.bool('TcpNoDelay'));
    const keepAlive = this.settings.int('KeepAliveTime');
    if (keepAlive > 0) socket.setKeepAlive(true, keepAlive);
    const conn = new ConnectionRecord(nextId(), socket, address, port, normaliseAddress(socket.localAddress ?? ''), this.props.defaultTimeout);
    const session = new ConnectionSession(conn, this.core);
    this.registry.addConnection(conn);
    this.gate.admitted(address);
    this.sessions.set(conn.id, session);
    this.engineConnections.set(socket, conn);
    socket.once('close', () => this.onSocketClosed(conn, session));
    const grace = [this.settings.int('AuthTimeout'), this.settings.int('DefaultConnectionTimeout')].filter((s) => s > 0);
    if (grace.length) {
      const seconds = Math.min(...grace);
      conn.loginTimer = conn.addTimer(seconds * 1000, () => {
        this.log(conn.id, 1, `not authenticated within ${seconds} s; disconnecting`);
        conn.closeReason = { statusCode: ErrorCodes.Timeout, description: `login grace time (${seconds} s) exceeded` };
        conn.graceExceeded = true;
        this.disconnectNow(conn);
      });
    }
    this.fire('Connected', { connectionId: conn.id, statusCode: 0, description: 'OK' });
    publish('connection', () => ({ event: 'open', connectionId: conn.id, remoteHost: address, remotePort: port }));
    this.log(conn.id, 1, `connection from ${address}:${port}`);
    if (socket.destroyed) return;
    injectEngineSocket(engine, socket, this.settings.int('SSHKeepAliveInterval') * 1000);
  }

  private onEngineConnection(engine: Ssh2Connection, info: ClientInfo): void {
    const socket = (engine as unknown as { _sock: Socket })._sock;
    const conn = this.engineConnections.get(socket);
    const session = conn && this.sessions.get(conn.id);
    if (!conn || !session || conn.closed) {
      engine.on('error', () => undefined);
      engine.end();
      return;
    }
    session.attach(engine, info);
  }

  private onSocketClosed(conn: ConnectionRecord, session: ConnectionSession): void {
    conn.closed = true;
    conn.clearTimers();
    session.closed();
    this.sessions.delete(conn.id);
    this.registry.removeConnection(conn.id);
    const banned = this.gate.closed(conn.remoteHost, conn);
    if (banned !== undefined) this.log(conn.id, 1, `${conn.remoteHost} penalised (PerSourcePenalties): new connections refused for ${banned} s`);
    const reason = conn.closeReason ?? { statusCode: 0, description: 'OK' };
    this.log(conn.id, 1, `disconnected: ${reason.description}`);
    this.fire('Disconnected', { connectionId: conn.id, statusCode: reason.statusCode, description: reason.description });
    publish('connection', () => ({ event: 'close', connectionId: conn.id, remoteHost: conn.remoteHost, remotePort: conn.remotePort, ...reason, bytesIn: conn.bytesIn, bytesOut: conn.bytesOut }));
  }

  private authHost(session: ConnectionSession): AuthHost {
    return {
      hub: this,
      defaultAuthMethods: () => this.props.defaultAuthMethods.split(','),
      maxAuthAttempts: () => this.settings.int('MaxAuthAttempts'),
      allowedSignatureAlgorithms: () => this.settings.list('SSHPubKeyAuthSigAlgorithms'),
      requiredRsaBits: () => this.settings.int('RequiredRSASize'),
      trustedUserCAs: () => this.trustedUserCAs(),
      keyboardPrompts: (conn) => AuthFlow.promptsFromSetting(conn.settings.get('KeyboardInteractivePrompts'), this.props.keyboardInteractivePrompts),
      keyboardMessage: () => this.props.keyboardInteractiveMessage,
      flushBanner: () => session.flushBanner(),
      serviceRequested: (conn, service) => {
        const args = { connectionId: conn.id, service, accept: false };
        return afterDecision(this.decide('SSHServiceRequest', args), (ok) => ok && args.accept);
      },
      ended: (conn) => conn.closed || (conn.engine !== undefined && (inboundStopped(conn.engine) || transportDestroyed(conn.engine))),
      tooManyFailures: () => session.tooManyFailures(),
      serviceNotAvailable: (_conn, description) => session.serviceNotAvailable(description),
      protocolError: (_conn, description) => session.violation(ErrorCodes.ProtocolError, description),
      authenticated: (_conn, user) => {
        this.gate.authenticated();
        session.authenticated(user);
      },
    };
  }

  /** TrustedUserCAKeys, read at each use so a rotated CA file applies to the next login. */
  private trustedUserCAs(): Buffer[] {
    try {
      return trustedCAsFromSetting(this.settings.text('TrustedUserCAKeys'));
    } catch (err) {
      this.error('', ErrorCodes.KeyFileNotFound, `TrustedUserCAKeys cannot be read: ${(err as Error).message}; no certificate is trusted`);
      return [];
    }
  }

  // ---- lookups ------------------------------------------------------------

  private record(connectionId: string): ConnectionRecord {
    const conn = this.registry.connections.get(String(connectionId));
    if (!conn) throw new SSHDaemonError(ErrorCodes.UnknownConnection, `Unknown connection id '${connectionId}'`);
    return conn;
  }

  private channel(channelId: string) {
    const ch = this.registry.channels.get(String(channelId));
    if (!ch) throw new SSHDaemonError(ErrorCodes.UnknownChannel, `Unknown channel id '${channelId}'`);
    return ch;
  }

  /**
   * Live connections by connectionId: a read-only Map over the registry, the same object on every
   * read (cheap enough for every event); each connection's view is made once and reads live state.
   */
  get sshConnections(): ReadonlyMap<string, SSHConnection> {
    return this.connectionViews;
  }

  /** Open channels by channelId: a read-only live Map, as {@link SSHDaemon.sshConnections}. */
  get sshChannels(): ReadonlyMap<string, SSHChannel> {
    return this.channelViews;
  }

  // ---- methods ------------------------------------------------------------

  /** `'Name=Value'` sets (returns ''), `'Name'` reads; unknown names and bad values throw and change nothing. */
  config(statement: string): string {
    return this.settings.config(statement);
  }

  /**
   * Disconnects a client (DISCONNECT "by application"); resolves once its socket closed. Output
   * already queued on its channels (data, exit-status, EOF, CLOSE) is sent first, and channels being
   * closed get the client's CLOSE back (a client that saw DISCONNECT first would report an error),
   * for at most `DisconnectFlushTimeout` seconds (default 10), as OpenSSH never discards a finished
   * command's output; `{ immediate: true }` drops it and disconnects at once. Rejects with
   * `UnknownConnection` (120) when the connection is gone; safe to leave unawaited (see
   * {@link SSHDaemon.sendChannelData}).
   */
  disconnect(connectionId: string, options: DisconnectOptions = {}): Promise<void> {
    return handledCall(() => {
      const conn = this.record(connectionId);
      conn.closeReason ??= { statusCode: 0, description: 'disconnected by server' };
      const seconds = this.settings.int('DisconnectFlushTimeout');
      if (options.immediate || seconds === 0 || conn.closed) return this.closeAndWait(conn);
      return this.outputSent(conn, seconds * 1000).then(() => this.closeAndWait(conn));
    });
  }

  /**
   * Resolves once every channel of the connection has handed its queue to the transport (and a
   * channel being closed got the client's CLOSE back) and the socket has written it all, once the
   * connection closed, or after `ms`.
   */
  private outputSent(conn: ConnectionRecord, ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        clearTimeout(timer);
        conn.socket.off('close', done);
        conn.socket.off('drain', written);
        resolve();
      };
      const written = () => {
        if (conn.socket.writableLength === 0) done();
      };
      timer = setTimeout(done, ms);
      conn.socket.once('close', done);
      markHandled(Promise.all([...conn.channels.values()].map((c) => c.whenSettled())).then(() => {
        if (conn.socket.writableLength === 0) return done();
        conn.socket.on('drain', written);
      }));
    });
  }

  private closeAndWait(conn: ConnectionRecord): Promise<void> {
    if (conn.socket.destroyed && conn.closed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const hard = setTimeout(() => conn.socket.destroy(), CLOSE_GRACE_MS);
      conn.socket.once('close', () => {
        clearTimeout(hard);
        resolve();
      });
      this.disconnectNow(conn);
    });
  }

  private disconnectNow(conn: ConnectionRecord): void {
    if (conn.engine) disconnectWithReason(conn.engine, DISCONNECT_REASON.BY_APPLICATION, conn.closeReason?.description ?? '');
    else conn.socket.end();
    const t = setTimeout(() => conn.socket.destroy(), CLOSE_GRACE_MS);
    t.unref();
    conn.socket.once('close', () => clearTimeout(t));
  }

  /**
   * Sends EOF and CLOSE on a channel after everything already queued on it (data, exit-status).
   * Resolves once CLOSE is handed to the transport, so everything sent before it is too (or once
   * the channel is gone: closed by the client, connection lost). Rejects with `UnknownChannel` (121)
   * once the channel has left `sshChannels`; safe to leave unawaited (see {@link SSHDaemon.sendChannelData}).
   */
  closeChannel(channelId: string): Promise<void> {
    return handledCall(() => this.channel(channelId).close());
  }

  /**
   * (beyond) The channel as a Node.js `Duplex` ({@link ChannelStream}), made on the first call and
   * returned again after: client data on the readable side (with backpressure through the channel
   * window), channel data on the writable side, `.stderr`, `exit(code)`, `signal(name)`. Once taken,
   * the channel's data and EOF go to the stream instead of `SSHChannelDataIn` / `SSHChannelEOF`, and
   * input no longer waits for asynchronous `SSHChannelRequested` handlers. Take it in
   * `SSHChannelRequested` (input waits for that handler, so no byte is lost). Throws
   * `UnknownChannel` for a channel that is not open, `InvalidArgument` when SFTP serves it.
   *
   * ```ts
   * const channel = daemon.channelStream(e.channelId);
   * pipeline(child.stdout, channel, () => undefined);
   * ```
   */
  channelStream(channelId: string, options?: ChannelStreamOptions): ChannelStream {
    return channelStreamOf(this.channel(channelId), options);
  }

  /**
   * Sends data; resolves once handed to the transport. While the client's window is full
   * `readyToSend` is false. Rejects with `UnknownChannel` (121) when the channel is closed (by you
   * or the client) or gone.
   *
   * Like every promise-returning method of the daemon except `startListening`, it is safe to leave
   * unawaited (`void daemon.sendChannelData(id, text)`): the promise still rejects for whoever awaits
   * it, but one nobody awaits never becomes an unhandled rejection (which would end the process when
   * the client closes the channel first). A chain you build on it (`.then(...)`) is a new promise:
   * end it with `.catch()`.
   */
  sendChannelData(channelId: string, data: Buffer | Uint8Array | string): Promise<void> {
    return handledCall(() => this.channel(channelId).send(typeof data === 'string' ? Buffer.from(data) : Buffer.from(data.buffer, data.byteOffset, data.byteLength), 0));
  }

  /** Sends data as stderr (extended data type 1); as {@link SSHDaemon.sendChannelData}, safe to leave unawaited. */
  sendStderr(channelId: string, data: Buffer | string): Promise<void> {
    return handledCall(() => this.channel(channelId).send(typeof data === 'string' ? Buffer.from(data) : data, 1));
  }

  /**
   * Sends an `exit-status` channel request (after any queued data). Rejects with `UnknownChannel`
   * (121) when the channel is closed or gone; safe to leave unawaited (see {@link SSHDaemon.sendChannelData}).
   */
  sendExitStatus(channelId: string, code: number): Promise<void> {
    const payload = Buffer.concat([encodeString('exit-status'), Buffer.from([0]), encodeUint32(code)]);
    return this.sendSSHPacket(channelId, 98, payload);
  }

  /**
   * (beyond) Sends an `exit-signal` channel request (RFC 4254 6.10, after any queued data): the
   * program was killed by `signal` (`'TERM'`; a leading `SIG` is dropped). OpenSSH's `ssh` reports
   * it and exits with 255. Safe to leave unawaited (see {@link SSHDaemon.sendChannelData}).
   */
  sendExitSignal(channelId: string, signal: string, coreDumped = false, message = ''): Promise<void> {
    return handledCall(() => {
      const state = this.channel(channelId);
      if (typeof signal !== 'string' || !/^(SIG)?[A-Z0-9@._-]+$/i.test(signal)) {
        throw new SSHDaemonError(ErrorCodes.InvalidArgument, `sendExitSignal: expected a signal name such as 'TERM', got ${JSON.stringify(signal)}`);
      }
      return state.sendPacket(exitSignalPayload(state.remoteId, signal.toUpperCase(), coreDumped, message));
    });
  }

  /**
   * Sends a channel message; `payload` omits the recipient channel (added here). Data (94/95),
   * EOF (96) and CLOSE (97) go through the channel's flow control. Safe to leave unawaited (see
   * {@link SSHDaemon.sendChannelData}).
   */
  sendSSHPacket(channelId: string, packetType: number, payload: Buffer | Uint8Array): Promise<void> {
    return handledCall(() => {
      const ch = this.channel(channelId);
      if (!Number.isInteger(packetType) || packetType < 90 || packetType > 127) {
        throw new SSHDaemonError(ErrorCodes.InvalidArgument, `sendSSHPacket: packetType ${packetType} is not a channel message (90-127)`);
      }
      const body = Buffer.from(payload);
      if (packetType === 94) return ch.send(new WireReader(body).bytes(), 0);
      if (packetType === 95) {
        const r = new WireReader(body);
        const type = r.uint32();
        return ch.send(r.bytes(), type);
      }
      if (packetType === 96) return ch.eof();
      if (packetType === 97) return ch.close();
      return ch.sendPacket(Buffer.concat([Buffer.from([packetType]), encodeUint32(ch.remoteId), body]));
    });
  }

  /** Re-keys now; resolves when the new keys are in use. Safe to leave unawaited (see {@link SSHDaemon.sendChannelData}). */
  exchangeKeys(connectionId: string): Promise<void> {
    return handledCall(() => {
      const engine = this.record(connectionId).engine;
      if (!engine) throw new SSHDaemonError(ErrorCodes.UnknownConnection, `Connection ${connectionId} has not finished its first key exchange`);
      return new Promise<void>((resolve, reject) => {
        engine.rekey((err?: Error) => (err ? reject(new SSHDaemonError(ErrorCodes.ProtocolError, `re-key failed: ${err.message}`)) : resolve()));
      });
    });
  }

  /**
   * Opens a server-initiated channel; `params` is the type-specific rest of CHANNEL_OPEN (build it
   * with setSSHParam). Safe to leave unawaited (see {@link SSHDaemon.sendChannelData}).
   */
  openChannel(connectionId: string, channelType: string, params: Buffer | Uint8Array = Buffer.alloc(0)): Promise<string> {
    return handledCall(() => {
      const conn = this.record(connectionId);
      const session = this.sessions.get(conn.id);
      if (!conn.authenticated || !session) {
        throw new SSHDaemonError(ErrorCodes.UnknownConnection, `Connection ${connectionId} is not authenticated; cannot open a channel`);
      }
      return session.openChannel(channelType, Buffer.from(params));
    });
  }

  /** Reads a named (`'Command'`, case-insensitive) or positional (`'#0'`) field of a packet from an event as text; see {@link getSSHParam}. */
  getSSHParam(payload: Buffer | Uint8Array, field: string): string {
    return getSSHParam(payload, field);
  }
  /** As {@link SSHDaemon.getSSHParam}, returning the field's raw bytes. */
  getSSHParamBytes(payload: Buffer | Uint8Array, field: string): Buffer {
    return getSSHParamBytes(payload, field);
  }
  /** Appends one encoded field to `payload` (null to start) and returns the new buffer; see {@link setSSHParam}. */
  setSSHParam(payload: Buffer | Uint8Array | null | undefined, fieldType: SSHParamFieldType, value: string | number | boolean | bigint): Buffer {
    return setSSHParam(payload, fieldType, value);
  }

  /** Stops listening and closes every connection; resolves when all are gone. Safe to leave unawaited. */
  shutdown(): Promise<void> {
    return handledCall(async () => {
      await this.stopListening();
      for (const socket of this.undecided) socket.destroy();
      this.undecided.clear();
      await Promise.all([...this.registry.connections.values()].map((c) => {
        c.closeReason ??= { statusCode: 0, description: 'server shutdown' };
        return this.closeAndWait(c);
      }));
      await this.serverClosed;
    });
  }

  /** Shuts down and returns every property and setting to its default. Safe to leave unawaited. */
  reset(): Promise<void> {
    return handledCall(async () => {
      await this.shutdown();
      this.resetProperties();
      this.settings.reset();
      this.gate.clear();
      this.builtIns.reset();
      this.engine = undefined;
      this.engineKey = '';
    });
  }

  /** Node runs events on its own loop; kept for ported code. Resolves at once. */
  doEvents(): Promise<void> {
    return Promise.resolve();
  }
}

export interface SSHDaemon extends Omit<SSHDaemonProperties, 'listening' | 'sshConnections' | 'sshChannels'>, PropertyMethods {}

// Generate the camelCase accessors and the IPWorks getX()/setX() twins from the one table.
for (const [name, row] of Object.entries(PROPERTIES) as [keyof SSHDaemonProperties, (typeof PROPERTIES)[keyof SSHDaemonProperties]][]) {
  const proto = SSHDaemon.prototype as unknown as Record<string, unknown>;
  const own = Object.getOwnPropertyDescriptor(SSHDaemon.prototype, name);
  const setting = 'setting' in row ? row.setting : undefined;
  const get =
    own?.get ??
    (setting
      ? function (this: SSHDaemon) {
          return this.config(setting);
        }
      : function (this: SSHDaemon) {
          return (this as unknown as { props: Record<string, unknown> }).props[name];
        });
  const set =
    own?.set ??
    (setting
      ? function (this: SSHDaemon, v: unknown) {
          this.config(`${setting}=${String(v)}`);
        }
      : undefined) ??
    (!('readOnly' in row)
      ? function (this: SSHDaemon, v: unknown) {
          if ('fixedWhileListening' in row && this.listening) {
            throw new SSHDaemonError(ErrorCodes.NotWhileListening, `Property ${name} cannot change while listening; call stopListening() first`);
          }
          const value = 'validate' in row ? row.validate(v) : v;
          (this as unknown as { props: Record<string, unknown> }).props[name] = value;
        }
      : function () {
          throw new SSHDaemonError(ErrorCodes.InvalidPropertyValue, `Property ${name} is read-only`);
        });
  if (!own) Object.defineProperty(SSHDaemon.prototype, name, { get, set, configurable: true, enumerable: false });
  proto[`get${row.ipworks}`] = function (this: SSHDaemon) {
    return get.call(this);
  };
  if (!('readOnly' in row)) {
    proto[`set${row.ipworks}`] = function (this: SSHDaemon, v: unknown) {
      set.call(this, v);
    };
  }
}

/** IPWorks 2022+ name of the same component. */
export const SSHServer = SSHDaemon;
export type SSHServer = SSHDaemon;
