import type { Socket } from 'node:net';
import { AuthFlow, type AuthHost } from '../auth/AuthFlow';
import type { KeyboardInteractivePrompt } from '../packet/keyboardPrompts';
import { ChannelLayer } from '../channels/ChannelLayer';
import type { BuiltInHooks, ChannelHost } from '../channels/ChannelHost';
import type { ChannelState } from '../channels/ChannelState';
import { EngineWire } from '../engine/EngineWire';
import {
  gateClientRekey,
  guardInbound,
  INFLATE_LIMIT_CODE,
  inboundStopped,
  injectEngineSocket,
  prepareHandshake,
  speedUpOutbound,
  answerGlobalRequests,
  type GlobalRequestAnswer,
  type GlobalRequestAnswerer,
  connectionSessionId,
  takeOverChannels,
  takeOverUserAuth,
  forgetEphemeralKeys,
  type UserAuthMessages,
  wrapConnectionHandler,
  type HandshakeControl,
} from '../engine/ssh2Internals';
import type { ClientInfo, NegotiatedAlgorithms, Ssh2Connection, Ssh2Server } from '../engine/ssh2Types';
import { type ErrorCode, ErrorCodes, SSHDaemonError } from '../errors/SSHDaemonError';
import { markHandled } from '../errors/unawaited';
import { publish } from '../observability/diagnostics';
import { extInfoPayload, SSH_DISCONNECT, userAuthBannerPayload } from '../packet/messages';
import { normaliseAddress, versionMatches } from '../policy/addressMatch';
import { ConnectionRecord } from '../registry/ConnectionRecord';
import { nextId } from '../registry/ids';
import type { Registry } from './Registry';
import { afterDecision, type EventHub } from '../events/EventHub';
import { type GlobalReply, type GlobalRequestInfo, globalRequest } from './globalRequests';
import { describeNegotiationFailure, engineErrorCode } from './negotiation';
import type { ConnectionGate } from '../policy/ConnectionGate';
import type { FleetSessions } from './FleetSessions';
import type { ConfigStore } from '../config/ConfigStore';
import type { LoadedHostKeys } from './HostEngine';
import { clientTakesHostKeys, HOSTKEYS_PROVE_NAME, hostKeysAnnouncement, MAX_PROVE_REQUESTS, proveHostKeys } from './hostKeyRotation';

/** Socket errors of a peer that went away; once every channel's output has ended that is the end of a normal session. */
const CLIENT_GONE = new Set(['ECONNRESET', 'EPIPE']);

const RSA_PROOF_ALGORITHMS = ['rsa-sha2-512', 'rsa-sha2-256'];

/** The connection of each socket and engine, for the shared listeners (Connection.onSocketClose etc.). */
const owners = new WeakMap<object, Connection>();

/** `defaultAuthMethods` as a list, one array shared by the connections while the property is unchanged (never modified: AuthFlow replaces it). */
const splitMethods = (() => {
  let text: string | undefined;
  let list: readonly string[] = [];
  return (t: string): readonly string[] => (t === text ? list : ((text = t), (list = Object.freeze(t.split(',')))));
})();

/** What a connection needs from the server that accepted it (ServerCore). */
export interface ConnectionServer {
  readonly hub: EventHub;
  readonly settings: ConfigStore;
  readonly props: {
    readonly defaultAuthMethods: string;
    readonly defaultTimeout: number;
    readonly keyboardInteractiveMessage: string;
    readonly keyboardInteractivePrompts: KeyboardInteractivePrompt[];
  };
  readonly registry: Registry;
  readonly gate: ConnectionGate;
  /** The fleet session directory: told of each authentication and close. */
  readonly fleet: Pick<FleetSessions, 'authenticated' | 'closed'>;
  readonly builtIns: BuiltInHooks;
  /** TrustedUserCAKeys, read at each use. */
  trustedUserCAs(): Buffer[];
  /** The host keys and host certificates of the engine that serves new connections. */
  hostKeys(): LoadedHostKeys;
  /** The socket closed: the connection leaves the server's tables. */
  forget(connection: Connection): void;
}

/**
 * One client, from the accepted socket to its close: login grace, the engine's events, version
 * check, authentication ({@link AuthFlow}), channels ({@link ChannelLayer}), re-keys, idle timeout,
 * disconnect, and leaving the registry on exactly one path (the socket's `close`). It is the host
 * both the auth flow and the channel layer call back into (methods, no per-connection closures).
 */
export class Connection implements AuthHost, ChannelHost, UserAuthMessages, GlobalRequestAnswerer {
  readonly record: ConnectionRecord;
  private layer?: ChannelLayer;
  private auth?: AuthFlow;
  private bannerSent = false;
  private idleTimer?: NodeJS.Timeout;
  private bytesSinceRekey = 0;
  private rekeying = false;
  private handshake?: HandshakeControl;
  /** The RSA signature algorithms the client's first KEXINIT listed (for hostkeys-prove answers). */
  private clientRsaAlgorithms: readonly string[] = [];
  private handshakes = 0;
  private rekeyTimer?: NodeJS.Timeout;
  /** The host keys of the engine this connection was handed to. */
  private hostKeys: LoadedHostKeys = { keys: [], certificates: [] };
  /** hostkeys-prove-00@openssh.com requests answered so far. */
  private proveRequests = 0;

  constructor(
    private readonly server: ConnectionServer,
    socket: Socket,
    address: string,
    port: number,
  ) {
    const conn = (this.record = new ConnectionRecord(
      nextId(),
      socket,
      address,
      port,
      normaliseAddress(socket.localAddress ?? ''),
      server.props.defaultTimeout,
    ));
    owners.set(socket, this);
    socket.on('close', Connection.onSocketClose);
    const grace = [server.settings.int('AuthTimeout'), server.settings.int('DefaultConnectionTimeout')].filter((s) => s > 0);
    if (grace.length) {
      const seconds = Math.min(...grace);
      conn.loginTimer = conn.addTimer(seconds * 1000, () => {
        this.hub.log(conn.id, 1, `not authenticated within ${seconds} s; disconnecting`);
        conn.closeReason = { statusCode: ErrorCodes.Timeout, description: `login grace time (${seconds} s) exceeded` };
        conn.graceExceeded = true;
        this.disconnectNow();
      });
    }
  }

  get hub(): EventHub {
    return this.server.hub;
  }
  get builtIns(): BuiltInHooks {
    return this.server.builtIns;
  }

  // ---- lifecycle -------------------------------------------------------------------------------

  /** Admitted (in the registry): fires Connected and hands the socket to the engine. */
  start(engine: Ssh2Server): void {
    const { record: conn, server } = this;
    this.hostKeys = server.hostKeys();
    this.hub.fire('Connected', { connectionId: conn.id, statusCode: 0, description: 'OK' });
    publish('connection', () => ({ event: 'open', connectionId: conn.id, remoteHost: conn.remoteHost, remotePort: conn.remotePort }));
    this.hub.log(conn.id, 1, `connection from ${conn.remoteHost}:${conn.remotePort}`);
    if (conn.socket.destroyed) return;
    injectEngineSocket(engine, conn.socket, server.settings.int('SSHKeepAliveInterval') * 1000);
  }

  /** ssh2 parsed the client's identification line; key exchange starts when this returns. */
  attach(engine: Ssh2Connection, info: ClientInfo): void {
    const { record: conn, server } = this;
    const { hub, settings } = server;
    conn.engine = engine;
    // Everything this connection sends goes through its wire (src/engine/EngineWire.ts).
    const wire = (conn.wire = new EngineWire(engine));
    conn.clientVersion = info.header.identRaw;
    // Nothing the client sends after our DISCONNECT is parsed; a peer that never reads our FIN is cut after the grace time.
    guardInbound(engine, () => conn.destroyAfter());
    // One writev per tick, pooled padding, reused packet buffers (src/engine/writeBatching.ts, packetBuffers.ts).
    speedUpOutbound(engine);
    // A client re-key before authentication is CPU no connection limit sees (src/engine/rekeyGate.ts).
    gateClientRekey(
      engine,
      () => conn.authenticated,
      () => this.violation(conn, ErrorCodes.ProtocolError, 'key re-exchange before authentication refused'),
    );
    owners.set(engine, this);
    engine.on('error', Connection.onEngineError);
    hub.fire('SSHStatus', { connectionId: conn.id, message: `Client identification: ${info.header.identRaw}` });
    if (!versionMatches(settings.text('SSHVersionPattern'), info.header.identRaw)) {
      hub.log(conn.id, 1, `client version '${info.header.identRaw}' does not match SSHVersionPattern; disconnecting`);
      conn.closeReason = { statusCode: ErrorCodes.NegotiationFailed, description: 'client version refused by SSHVersionPattern' };
      wire.disconnect(SSH_DISCONNECT.PROTOCOL_VERSION_NOT_SUPPORTED, 'Client version not allowed');
      return;
    }
    this.handshake = prepareHandshake(engine, settings.list('SSHPublicKeyAlgorithms'), this.hostKeys.certificates);
    // OpenSSH's host-key rotation (hostKeyRotation.ts): proofs in REQUEST_SUCCESS, in ssh2's reply order.
    if (settings.bool('UpdateHostKeys')) answerGlobalRequests(engine, this);
    this.layer = new ChannelLayer(conn, wire, this);
    takeOverChannels(engine, this.layer);
    // Authentication is ours from the SERVICE_REQUEST on (see src/engine/userAuthControl.ts).
    takeOverUserAuth(engine, this);
    this.auth = new AuthFlow(conn, this, wire);
    wrapConnectionHandler<(p: unknown, service: string) => void>(
      engine,
      'SERVICE_REQUEST',
      (original) => (p, service) => this.auth!.serviceRequest(service, () => original(p, service)),
    );
    engine.on('handshake', Connection.onEngineHandshake);
    engine.on('rekey', Connection.onEngineRekey);
    engine.on('request', Connection.onEngineRequest);
    conn.socket.on('data', Connection.onSocketData);
    engine.on('end', Connection.onEngineEnd);
  }

  // Listeners shared by every connection (the emitter is `this`; `owners` finds its connection): an
  // idle connection holds no closure per event. 'close' and 'end' come once, so on() spares once()'s wrapper.
  private static onSocketClose(this: Socket): void {
    owners.get(this)?.socketClosed();
  }
  private static onSocketData(this: Socket): void {
    owners.get(this)?.checkOutboundBound();
  }
  private static onEngineError(this: Ssh2Connection, err: Error & { level?: string; code?: unknown }): void {
    owners.get(this)?.engineError(err);
  }
  private static onEngineHandshake(this: Ssh2Connection, negotiated: NegotiatedAlgorithms): void {
    owners.get(this)?.keysExchanged(negotiated);
  }
  private static onEngineRekey(this: Ssh2Connection): void {
    const c = owners.get(this);
    c?.hub.fire('SSHStatus', { connectionId: c.record.id, message: 'Re-key complete' });
  }
  private static onEngineRequest(
    this: Ssh2Connection,
    accept: GlobalReply | undefined,
    reject: (() => void) | undefined,
    name: string,
    info: GlobalRequestInfo,
  ): void {
    const c = owners.get(this);
    if (c) globalRequest(c.record, c.hub, c.builtIns, name, info, accept, reject);
  }
  /**
   * ssh2 destroys the transport when the client's FIN arrives (its compressor too): from then on
   * nothing may be sent, so the channels end now rather than at the socket's close (a forwarded
   * socket ending in between threw "Invalid Zlib instance" from its EOF).
   */
  private static onEngineEnd(this: Ssh2Connection): void {
    owners.get(this)?.layer?.abortAll();
  }

  private engineError(err: Error & { level?: string; code?: unknown }): void {
    const { record: conn, hub } = this;
    if (err.code === INFLATE_LIMIT_CODE) return this.compressionBomb(err.message);
    if (
      err.level === 'socket' &&
      CLIENT_GONE.has(String(err.code)) &&
      [...(this.layer?.channels.values() ?? [])].every((c) => c.eofSent || c.closeSent)
    ) {
      // A reset once every channel's output has ended (the client has all it asked for) is how some
      // clients close (paramiko when our last message crosses its close): a normal end, not an Error.
      conn.closeReason ??= { statusCode: 0, description: `closed by the client (${String(err.code)})` };
      hub.log(conn.id, 2, `socket ${String(err.code)} after the session's output ended: the client closed the connection`);
      conn.destroyAfter();
      return;
    }
    const code = engineErrorCode(err);
    const description =
      code === ErrorCodes.NegotiationFailed ? describeNegotiationFailure(err.message, this.handshake, this.server.settings) : err.message;
    if (!conn.closeReason) conn.closeReason = { statusCode: code, description };
    hub.error(conn.id, code, description);
    conn.destroyAfter(); // ssh2 ends the connection after every error; a peer that never closes must not keep it
  }

  private keysExchanged(negotiated: NegotiatedAlgorithms): void {
    const { record: conn } = this;
    // First thing after NEWKEYS (RFC 8308 2.4): our EXT_INFO replaces ssh2's malformed one.
    if (this.handshakes++ === 0) {
      if (this.handshake?.extInfoWanted()) this.sendExtInfo();
      // What hostkeys-prove answers need of the client's KEXINIT: which RSA signature algorithms it lists.
      const offered = this.handshake?.clientKexInit()?.hostKey ?? [];
      this.clientRsaAlgorithms = RSA_PROOF_ALGORITHMS.filter((a) => offered.includes(a) || offered.includes(`${a}-cert-v01@openssh.com`));
      // What the first exchange needed (the client's KEXINIT lists, for describing a failed
      // negotiation) and its ephemeral key pair are not kept for the connection's life.
      this.handshake = undefined;
      forgetEphemeralKeys(this.record.engine!);
    }
    conn.negotiated = negotiated;
    publish('rekey', () => ({ connectionId: conn.id, initial: this.handshakes === 1, kex: negotiated.kex, cipher: negotiated.sc.cipher }));
    this.rekeying = false;
    this.layer?.resumeAfterKex();
    this.bytesSinceRekey = 0;
    this.armRekeyTimer();
    this.hub.fire('SSHStatus', {
      connectionId: conn.id,
      message: `Key exchange complete: kex=${negotiated.kex}, hostkey=${negotiated.serverHostKey}, cipher=${negotiated.sc.cipher}, mac=${negotiated.sc.mac}, compression=${negotiated.sc.compress}`,
    });
  }

  /** hostkeys-00@openssh.com with every loaded host key (plain keys), want-reply false. */
  private announceHostKeys(): void {
    const { record: conn } = this;
    const { engine, wire } = conn;
    if (conn.closed || !engine || !wire || wire.transportDestroyed() || inboundStopped(engine) || this.hostKeys.keys.length === 0) return;
    wire.send(hostKeysAnnouncement(this.hostKeys.keys));
    this.hub.log(conn.id, 3, `sent hostkeys-00@openssh.com with ${this.hostKeys.keys.length} host key(s)`);
  }

  /** GlobalRequestAnswerer: the requests the daemon answers itself (hostkeys-prove-00@openssh.com); others go to ssh2. */
  answerGlobalRequest(name: string, data: Buffer): GlobalRequestAnswer | undefined {
    return name === HOSTKEYS_PROVE_NAME ? this.proveHostKeys(data) : undefined;
  }

  /** The answer to hostkeys-prove-00@openssh.com: only once authenticated, a bounded number of times. */
  private proveHostKeys(data: Buffer): Buffer | false {
    const { record: conn, hub } = this;
    const refuse = (why: string): false => {
      hub.log(conn.id, 1, `hostkeys-prove-00@openssh.com refused: ${why}`);
      return false;
    };
    // Counted before the authentication check: one log line per request let an unauthenticated client write the log at will.
    if (++this.proveRequests > MAX_PROVE_REQUESTS) {
      return this.proveRequests === MAX_PROVE_REQUESTS + 1 ? refuse(`more than ${MAX_PROVE_REQUESTS} requests on this connection`) : false;
    }
    if (!conn.authenticated) return refuse('not authenticated');
    const sessionId = conn.engine && connectionSessionId(conn.engine);
    if (!sessionId) return refuse('no session identifier');
    const result = proveHostKeys(data, {
      keys: this.hostKeys.keys,
      sessionId,
      negotiatedHostKey: conn.negotiated?.serverHostKey,
      clientHostKeyAlgorithms: this.clientRsaAlgorithms,
    });
    if (!result.ok) return refuse(result.reason);
    hub.log(conn.id, 2, `hostkeys-prove-00@openssh.com answered`);
    return result.reply;
  }

  /** The socket closed: the one path out of the registry. */
  private socketClosed(): void {
    const { record: conn, hub } = this;
    conn.closed = true;
    conn.clearTimers();
    this.layer?.abortAll();
    this.builtIns.connectionClosed(conn);
    this.server.forget(this);
    this.server.fleet.closed(conn);
    const banned = this.server.gate.closed(conn.remoteHost, conn);
    if (banned !== undefined)
      hub.log(conn.id, 1, `${conn.remoteHost} penalised (PerSourcePenalties): new connections refused for ${banned} s`);
    const reason = conn.closeReason ?? { statusCode: 0, description: 'OK' };
    hub.log(conn.id, 1, `disconnected: ${reason.description}`);
    hub.fire('Disconnected', { connectionId: conn.id, statusCode: reason.statusCode, description: reason.description });
    publish('connection', () => ({
      event: 'close',
      connectionId: conn.id,
      remoteHost: conn.remoteHost,
      remotePort: conn.remotePort,
      ...reason,
      bytesIn: conn.bytesIn,
      bytesOut: conn.bytesOut,
    }));
  }

  /** DISCONNECT "by application" (or a plain FIN before the engine has it) without waiting; the socket goes after the grace time. */
  disconnectNow(): void {
    const { record: conn } = this;
    if (conn.wire) conn.wire.disconnect(SSH_DISCONNECT.BY_APPLICATION, conn.closeReason?.description ?? '');
    else conn.socket.end();
    conn.destroyAfter();
  }

  /** Disconnects and resolves once the socket has closed. */
  closeAndWait(): Promise<void> {
    const { socket } = this.record;
    if (socket.destroyed && this.record.closed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      socket.once('close', () => resolve());
      this.disconnectNow();
    });
  }

  /** SSHDaemon.disconnect: queued output first (for at most DisconnectFlushTimeout) unless `immediate`. */
  disconnect(immediate: boolean): Promise<void> {
    const { record: conn } = this;
    conn.closeReason ??= { statusCode: 0, description: 'disconnected by server' };
    const seconds = this.server.settings.int('DisconnectFlushTimeout');
    if (immediate || seconds === 0 || conn.closed) return this.closeAndWait();
    return this.outputSent(seconds * 1000).then(() => this.closeAndWait());
  }

  /**
   * Resolves once every channel has handed its queue to the transport (and a channel being closed
   * got the client's CLOSE back) and the socket has written it all, once the connection closed, or after `ms`.
   */
  private outputSent(ms: number): Promise<void> {
    const { socket } = this.record;
    const channels = this.layer?.channels ?? new Map<number, ChannelState>();
    return new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        clearTimeout(timer);
        socket.off('close', done);
        socket.off('drain', written);
        resolve();
      };
      const written = () => {
        if (socket.writableLength === 0) done();
      };
      timer = setTimeout(done, ms);
      socket.once('close', done);
      markHandled(
        Promise.all([...channels.values()].map((c) => c.whenSettled())).then(() => {
          if (socket.writableLength === 0) return done();
          socket.on('drain', written);
        }),
      );
    });
  }

  /** SSHDaemon.exchangeKeys: re-keys now; resolves when the new keys are in use. */
  exchangeKeys(): Promise<void> {
    const engine = this.record.engine;
    if (!engine)
      return Promise.reject(
        new SSHDaemonError(ErrorCodes.UnknownConnection, `Connection ${this.record.id} has not finished its first key exchange`),
      );
    return new Promise<void>((resolve, reject) => {
      engine.rekey((err?: Error) =>
        err ? reject(new SSHDaemonError(ErrorCodes.ProtocolError, `re-key failed: ${err.message}`)) : resolve(),
      );
    });
  }

  /** SSHDaemon.openChannel: a server-initiated channel; resolves with its channelId once the client confirmed it. */
  openChannel(channelType: string, params: Buffer): Promise<string> {
    if (!this.record.authenticated || !this.layer) {
      throw new SSHDaemonError(ErrorCodes.UnknownConnection, `Connection ${this.record.id} is not authenticated; cannot open a channel`);
    }
    return this.layer.openChannel(channelType, params);
  }

  // ---- global requests, timers -----------------------------------------------------------------

  /** EXT_INFO with `server-sig-algs`: the publickey signature algorithms this daemon accepts. */
  private sendExtInfo(): void {
    const sigAlgs = this.server.settings.list('SSHPubKeyAuthSigAlgorithms').join(',');
    this.record.wire?.send(extInfoPayload([['server-sig-algs', sigAlgs]]));
  }

  /**
   * Channel output stops at OutBufferSize, but replies to the client's own requests do not: a
   * client that keeps sending while it reads nothing is dropped once OutBufferHardLimit is queued.
   */
  private checkOutboundBound(): void {
    const { record: conn } = this;
    const queued = conn.socket.writableLength + (conn.wire ? conn.wire.queuedDuringKex() : 0);
    const limit = this.outBufferHardLimit();
    if (queued <= limit || conn.closed || conn.closeReason) return;
    this.overflow(conn, `client does not read: ${queued} bytes queued for it (OutBufferHardLimit ${limit})`);
  }

  /**
   * A compressed packet inflated past the largest packet (src/engine/inflateLimit.ts): the engine
   * stopped at the bound; report and drop with COMPRESSION_ERROR.
   */
  private compressionBomb(description: string): void {
    const { record: conn } = this;
    if (conn.closed) return;
    conn.closeReason ??= { statusCode: ErrorCodes.ProtocolError, description };
    this.hub.error(conn.id, ErrorCodes.ProtocolError, description);
    if (conn.wire) conn.wire.disconnect(SSH_DISCONNECT.COMPRESSION_ERROR, 'Compressed packet too large', true);
    else conn.socket.destroy();
  }

  /**
   * KeyRenegotiationInterval from now, once authenticated: sshd never re-keys before login (OpenSSH
   * clients take a KEXINIT during authentication as "bad message during authentication: type 20",
   * and our own pre-auth gate refuses the client's answering KEXINIT), so a login slower than the
   * interval was dropped. Armed at each key exchange and at authentication.
   */
  private armRekeyTimer(): void {
    const { record: conn } = this;
    conn.clearTimer(this.rekeyTimer);
    this.rekeyTimer = undefined;
    const interval = this.server.settings.int('KeyRenegotiationInterval');
    if (interval > 0 && conn.authenticated)
      this.rekeyTimer = conn.addTimer(interval * 1000, () => this.rekey(`${interval} s since the last key exchange`));
  }

  private rekey(why: string): void {
    const { record: conn } = this;
    if (this.rekeying || conn.closed || !conn.engine) return;
    this.rekeying = true;
    this.hub.log(conn.id, 2, `re-keying: ${why}`);
    conn.engine.rekey(() => undefined);
  }

  // ---- ChannelHost -----------------------------------------------------------------------------

  outBufferSize(): number {
    return this.server.settings.int('OutBufferSize');
  }

  /** OutBufferHardLimit, at least twice OutBufferSize. */
  outBufferHardLimit(): number {
    return Math.max(this.server.settings.int('OutBufferHardLimit'), 2 * this.outBufferSize());
  }

  maxChannels(): number {
    return this.server.settings.int('MaxSessionsPerConnection');
  }

  addChannel(state: ChannelState): void {
    this.server.registry.addChannel(state);
  }

  removeChannel(channelId: string): boolean {
    return this.server.registry.removeChannel(channelId);
  }

  /** The client costs more memory than the limits allow: BufferLimit, and the socket goes at once. */
  overflow(conn: ConnectionRecord, description: string): void {
    if (conn.closed || conn.closeReason) return;
    conn.closeReason = { statusCode: ErrorCodes.BufferLimit, description };
    this.hub.error(conn.id, ErrorCodes.BufferLimit, description);
    conn.socket.destroy();
  }

  /** The client broke the protocol: report, then drop with PROTOCOL_ERROR. */
  violation(conn: ConnectionRecord, code: ErrorCode, description: string): void {
    if (conn.closed) return;
    conn.closeReason ??= { statusCode: code, description };
    this.hub.error(conn.id, code, description);
    if (conn.wire) conn.wire.disconnect(SSH_DISCONNECT.PROTOCOL_ERROR, description, true);
    else conn.socket.destroy();
  }

  /**
   * Channel traffic: resets the idle timer and re-keys past KeyRenegotiationThreshold. Counts the
   * channel data bytes both ways; reading socket.bytesWritten per packet would copy Node's write
   * queue each time (garbage the bulk benchmark showed as extra full GCs).
   */
  activity(_conn: ConnectionRecord, bytes = 0): void {
    this.idleTimer?.refresh();
    this.bytesSinceRekey += bytes;
    const threshold = this.server.settings.int('KeyRenegotiationThreshold');
    if (threshold > 0 && !this.rekeying && this.bytesSinceRekey > threshold) {
      this.rekey(`${threshold} bytes since the last key exchange`);
    }
  }

  // ---- AuthHost --------------------------------------------------------------------------------

  /** UserAuthMessages: the engine routes the connection's USERAUTH_REQUEST here. */
  userAuthRequest(payload: Buffer, seqno: number): void {
    this.auth!.request(payload, seqno);
  }
  /** UserAuthMessages: and its USERAUTH_INFO_RESPONSE (keyboard-interactive answers). */
  userAuthInfoResponse(payload: Buffer, seqno: number): void {
    this.auth!.infoResponse(payload, seqno);
  }

  defaultAuthMethods(): readonly string[] {
    return splitMethods(this.server.props.defaultAuthMethods);
  }
  maxAuthAttempts(): number {
    return this.server.settings.int('MaxAuthAttempts');
  }
  allowedSignatureAlgorithms(): string[] {
    return this.server.settings.list('SSHPubKeyAuthSigAlgorithms');
  }
  requiredRsaBits(): number {
    return this.server.settings.int('RequiredRSASize');
  }
  trustedUserCAs(): Buffer[] {
    return this.server.trustedUserCAs();
  }
  keyboardPrompts(conn: ConnectionRecord): KeyboardInteractivePrompt[] {
    return AuthFlow.promptsFromSetting(conn.setting('KeyboardInteractivePrompts'), this.server.props.keyboardInteractivePrompts);
  }
  keyboardMessage(): string {
    return this.server.props.keyboardInteractiveMessage;
  }

  /** Sends UserAuthBanner[connId] once, before the next authentication reply. */
  flushBanner(conn: ConnectionRecord): void {
    const banner = conn.setting('UserAuthBanner');
    if (!banner || this.bannerSent || !conn.wire) return;
    this.bannerSent = true;
    const text = banner.endsWith('\n') ? banner : banner + '\r\n';
    conn.wire.send(userAuthBannerPayload(text));
  }

  serviceRequested(conn: ConnectionRecord, service: string): boolean | Promise<boolean> {
    const args = { connectionId: conn.id, service, accept: false };
    return afterDecision(this.hub.decide('SSHServiceRequest', args), (ok) => ok && args.accept);
  }

  ended(conn: ConnectionRecord): boolean {
    return conn.closed || (conn.engine !== undefined && (inboundStopped(conn.engine) || conn.wire?.transportDestroyed() === true));
  }

  tooManyFailures(conn: ConnectionRecord): void {
    conn.closeReason = { statusCode: ErrorCodes.AuthAttemptsExceeded, description: 'too many authentication failures' };
    if (conn.wire) conn.wire.disconnect(SSH_DISCONNECT.NO_MORE_AUTH_METHODS_AVAILABLE, 'Too many authentication failures', true);
  }

  /** The client asked for a service that is refused or not there: drop with SERVICE_NOT_AVAILABLE. */
  serviceNotAvailable(conn: ConnectionRecord, description: string): void {
    if (conn.closed) return;
    this.hub.log(conn.id, 1, `${description}; disconnecting`);
    if (conn.wire) conn.wire.disconnect(SSH_DISCONNECT.SERVICE_NOT_AVAILABLE, description);
    else conn.socket.destroy();
  }

  protocolError(conn: ConnectionRecord, description: string): void {
    this.violation(conn, ErrorCodes.ProtocolError, description);
  }

  authenticated(conn: ConnectionRecord, user: string): void {
    const { hub } = this;
    this.server.gate.authenticated();
    conn.user = user;
    conn.authenticated = true;
    this.server.fleet.authenticated(conn);
    conn.clearTimer(conn.loginTimer);
    this.armRekeyTimer();
    hub.fire('SSHStatus', { connectionId: conn.id, message: `User '${user}' authenticated` });
    hub.log(conn.id, 1, `user '${user}' authenticated`);
    // After USERAUTH_SUCCESS, which the auth flow sends right after this returns (sshd: notify_hostkeys).
    if (this.server.settings.bool('UpdateHostKeys') && clientTakesHostKeys(conn.clientVersion))
      queueMicrotask(() => this.announceHostKeys());
    const idle = this.server.settings.int('DefaultIdleTimeout');
    if (idle > 0) {
      this.idleTimer = conn.addTimer(idle * 1000, () => {
        hub.log(conn.id, 1, `idle for ${idle} s; disconnecting`);
        conn.closeReason = { statusCode: ErrorCodes.Timeout, description: `idle timeout (${idle} s)` };
        this.disconnectNow();
      });
    }
  }
}
