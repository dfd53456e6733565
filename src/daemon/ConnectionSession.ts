import { publish } from '../observability/diagnostics';
import { AuthFlow } from '../auth/AuthFlow';
import { ChannelLayer } from '../channels/ChannelLayer';
import { ErrorCodes } from '../errors/SSHDaemonError';
import { markHandled } from '../errors/unawaited';
import {
  DISCONNECT_REASON,
  disconnectWithReason,
  gateClientRekey,
  guardInbound,
  INFLATE_LIMIT_CODE,
  prepareHandshake,
  queuedDuringKex,
  sendRawPacket,
  type HandshakeControl,
  type KexLists,
  takeOverChannels,
  takeOverUserAuth,
  speedUpOutbound,
  transportDestroyed,
  wrapConnectionHandler,
} from '../engine/ssh2Internals';
import type { ClientInfo, NegotiatedAlgorithms, Ssh2Connection } from '../engine/ssh2Types';
import { encodeString, encodeUint32 } from '../packet/wire';
import { versionMatches } from '../policy/addressMatch';
import { refusedGlobalRequest } from '../policy/SessionRestrictions';
import type { ChannelRequestParams } from '../channels/requestParams';
import { builtInDecisionLog, decisionArgs } from '../channels/builtInDecisions';
import type { ConnectionRecord } from '../registry/ConnectionRecord';
import type { DaemonCore } from './DaemonCore';
import { afterDecision } from './EventHub';

function errorCode(err: Error & { level?: string }): number {
  if (err.level === 'socket') return ErrorCodes.SocketError;
  if (err.level === 'client-timeout') return ErrorCodes.Timeout;
  if (/no matching|handshake failed/i.test(err.message)) return ErrorCodes.NegotiationFailed;
  return ErrorCodes.ProtocolError;
}

/** Socket errors of a peer that went away; once every channel's output has ended that is the end of a normal session. */
const CLIENT_GONE = new Set(['ECONNRESET', 'EPIPE']);

/** ssh2's reply to a global request; the port is reported for tcpip-forward with port 0. */
type GlobalReply = (boundPort?: number) => void;

/** ssh2's negotiation failure messages, and which lists each one compares. */
const NEGOTIATION_STEPS: { match: RegExp; client: (l: KexLists) => string[]; setting?: string }[] = [
  { match: /no matching key exchange/, client: (l) => l.kex.filter((k) => !/^(ext-info-|kex-strict-)/.test(k)), setting: 'SSHKeyExchangeAlgorithms' },
  { match: /no matching host key/, client: (l) => l.hostKey },
  { match: /no matching C->S cipher/, client: (l) => l.cipherCS, setting: 'SSHEncryptionAlgorithms' },
  { match: /no matching S->C cipher/, client: (l) => l.cipherSC, setting: 'SSHEncryptionAlgorithms' },
  { match: /no matching C->S MAC/, client: (l) => l.macCS, setting: 'SSHMacAlgorithms' },
  { match: /no matching S->C MAC/, client: (l) => l.macSC, setting: 'SSHMacAlgorithms' },
  { match: /no matching C->S compression/, client: (l) => l.compressCS, setting: 'SSHCompressionAlgorithms' },
  { match: /no matching S->C compression/, client: (l) => l.compressSC, setting: 'SSHCompressionAlgorithms' },
];

/** Wires one engine connection to the daemon: version check, service and auth decisions, channels, timers. */
export class ConnectionSession {
  private channels?: ChannelLayer;
  private auth?: AuthFlow;
  private bannerSent = false;
  private idleTimer?: NodeJS.Timeout;
  private bytesSinceRekey = 0;
  private rekeying = false;
  private handshake?: HandshakeControl;
  private handshakes = 0;
  private rekeyTimer?: NodeJS.Timeout;

  constructor(
    private readonly conn: ConnectionRecord,
    private readonly core: DaemonCore,
  ) {}

  /** ssh2 parsed the client's identification line; key exchange starts when this returns. */
  attach(engine: Ssh2Connection, info: ClientInfo): void {
    const { conn, core } = this;
    conn.engine = engine;
    conn.clientVersion = info.header.identRaw;
    // Nothing the client sends after our DISCONNECT is parsed; a peer that never reads our FIN is cut after the grace time.
    guardInbound(engine, () => conn.destroyAfter());
    // One writev per tick, pooled padding, reused packet buffers (src/engine/writeBatching.ts, packetBuffers.ts).
    speedUpOutbound(engine);
    // A client re-key before authentication is CPU no connection limit sees (src/engine/rekeyGate.ts).
    gateClientRekey(engine, () => conn.authenticated, () => this.violation(ErrorCodes.ProtocolError, 'key re-exchange before authentication refused'));
    engine.on('error', (err: Error & { level?: string; code?: unknown }) => {
      if (err.code === INFLATE_LIMIT_CODE) return this.compressionBomb(err.message);
      if (err.level === 'socket' && CLIENT_GONE.has(String(err.code)) && [...conn.channels.values()].every((c) => c.eofSent || c.closeSent)) {
        // A reset once every channel's output has ended (the client has all it asked for) is how some
        // clients close (paramiko when our last message crosses its close): a normal end, not an Error.
        conn.closeReason ??= { statusCode: 0, description: `closed by the client (${String(err.code)})` };
        core.hub.log(conn.id, 2, `socket ${String(err.code)} after the session's output ended: the client closed the connection`);
        conn.destroyAfter();
        return;
      }
      const code = errorCode(err);
      const description = code === ErrorCodes.NegotiationFailed ? this.describeNegotiationFailure(err.message) : err.message;
      if (!conn.closeReason) conn.closeReason = { statusCode: code, description };
      core.hub.error(conn.id, code, description);
      conn.destroyAfter(); // ssh2 ends the connection after every error; a peer that never closes must not keep it
    });
    core.hub.fire('SSHStatus', { connectionId: conn.id, message: `Client identification: ${info.header.identRaw}` });
    if (!versionMatches(core.settings.text('SSHVersionPattern'), info.header.identRaw)) {
      core.hub.log(conn.id, 1, `client version '${info.header.identRaw}' does not match SSHVersionPattern; disconnecting`);
      conn.closeReason = { statusCode: ErrorCodes.NegotiationFailed, description: 'client version refused by SSHVersionPattern' };
      disconnectWithReason(engine, DISCONNECT_REASON.PROTOCOL_VERSION_NOT_SUPPORTED, 'Client version not allowed');
      return;
    }
    this.handshake = prepareHandshake(engine, core.settings.list('SSHPublicKeyAlgorithms'));
    this.channels = takeOverChannels(engine, (proto) => {
      conn.proto = proto;
      return new ChannelLayer(conn, proto, this.channelHost());
    });
    // Authentication is ours from the SERVICE_REQUEST on (see src/engine/userAuthControl.ts).
    const replies = takeOverUserAuth(engine, {
      onRequest: (payload, seqno) => this.auth!.request(payload, seqno),
      onInfoResponse: (payload, seqno) => this.auth!.infoResponse(payload, seqno),
    });
    this.auth = new AuthFlow(conn, core.authHost(this), replies);
    wrapConnectionHandler<(p: unknown, service: string) => void>(engine, 'SERVICE_REQUEST', (original) => (p, service) =>
      this.auth!.serviceRequest(service, () => original(p, service)),
    );
    engine.on('handshake', (negotiated: NegotiatedAlgorithms) => {
      // First thing after NEWKEYS (RFC 8308 2.4): our EXT_INFO replaces ssh2's malformed one.
      if (this.handshakes++ === 0 && this.handshake?.extInfoWanted()) this.sendExtInfo();
      conn.negotiated = negotiated;
      publish('rekey', () => ({ connectionId: conn.id, initial: this.handshakes === 1, kex: negotiated.kex, cipher: negotiated.sc.cipher }));
      this.rekeying = false;
      this.channels?.resumeAfterKex();
      this.bytesSinceRekey = 0;
      this.armRekeyTimer();
      core.hub.fire('SSHStatus', {
        connectionId: conn.id,
        message: `Key exchange complete: kex=${negotiated.kex}, hostkey=${negotiated.serverHostKey}, cipher=${negotiated.sc.cipher}, mac=${negotiated.sc.mac}, compression=${negotiated.sc.compress}`,
      });
    });
    engine.on('rekey', () => core.hub.fire('SSHStatus', { connectionId: conn.id, message: 'Re-key complete' }));
    engine.on('request', (accept: GlobalReply | undefined, reject: (() => void) | undefined, name: string, info: { bindAddr?: string; bindPort?: number }) =>
      this.globalRequest(name, info, accept, reject),
    );
    conn.socket.on('data', () => this.checkOutboundBound());
    // ssh2 destroys the transport when the client's FIN arrives (its compressor too): from then on
    // nothing may be sent, so the channels end now rather than at the socket's close (a forwarded
    // socket ending in between threw "Invalid Zlib instance" from its EOF).
    engine.once('end', () => this.channels?.abortAll());
  }

  /**
   * Channel output stops at OutBufferSize, but replies to the client's own requests do not: a
   * client that keeps sending while it reads nothing is dropped once OutBufferHardLimit is queued.
   */
  private checkOutboundBound(): void {
    const { conn } = this;
    const queued = conn.socket.writableLength + (conn.proto ? queuedDuringKex(conn.proto) : 0);
    const limit = this.outBufferHardLimit();
    if (queued <= limit || conn.closed || conn.closeReason) return;
    this.overflow(`client does not read: ${queued} bytes queued for it (OutBufferHardLimit ${limit})`);
  }

  /** OutBufferHardLimit, at least twice OutBufferSize. */
  private outBufferHardLimit(): number {
    return Math.max(this.core.settings.int('OutBufferHardLimit'), 2 * this.core.settings.int('OutBufferSize'));
  }

  /** The client costs more memory than the limits allow: BufferLimit, and the socket goes at once. */
  private overflow(description: string): void {
    const { conn } = this;
    if (conn.closed || conn.closeReason) return;
    conn.closeReason = { statusCode: ErrorCodes.BufferLimit, description };
    this.core.hub.error(conn.id, ErrorCodes.BufferLimit, description);
    conn.socket.destroy();
  }

  /**
   * Global requests ssh2 passes on once authenticated (tcpip-forward, streamlocal-forward@openssh.com and their cancels):
   * reported as SSHChannelRequest with channelId '', after the key's restrictions.
   */
  private globalRequest(name: string, info: { bindAddr?: string; bindPort?: number; socketPath?: string }, accept?: GlobalReply, reject?: () => void): void {
    const { conn, core } = this;
    const forward = name === 'tcpip-forward' || name === 'cancel-tcpip-forward';
    const streamLocal = name === 'streamlocal-forward@openssh.com' || name === 'cancel-streamlocal-forward@openssh.com';
    const params: ChannelRequestParams = forward ? { bindAddress: info.bindAddr ?? '', bindPort: info.bindPort ?? 0 } : streamLocal ? { socketPath: info.socketPath ?? '' } : {};
    const refused = refusedGlobalRequest(conn.restrictions, name, info);
    if (refused) {
      core.hub.log(conn.id, 1, refused);
      return reject?.();
    }
    const limited = core.builtIns.refusedGlobal(conn, name);
    if (limited) {
      core.hub.log(conn.id, 1, limited);
      return reject?.();
    }
    const fields = forward ? [encodeString(info.bindAddr ?? ''), encodeUint32(info.bindPort ?? 0)] : streamLocal ? [encodeString(info.socketPath ?? '')] : [];
    const packet = Buffer.concat([encodeString(name), Buffer.from([accept ? 1 : 0]), ...fields]);
    const ids = { connectionId: conn.id, channelId: '' };
    const args = decisionArgs({ ...ids, requestType: name, packet, params }, 'success', core.builtIns.presetSuccess(conn, name, params));
    afterDecision(core.hub.decide('SSHChannelRequest', args), (ok) => {
      if (conn.closed) return;
      const note = builtInDecisionLog(args, `the ${name} request`);
      if (note) core.hub.log(conn.id, note.level, note.message);
      if (!ok || !args.success) return reject?.();
      const engine = conn.engine!;
      markHandled(Promise.resolve(core.builtIns.attachGlobal(conn, name, params)).then((outcome) => {
        // A bind can finish after the client's FIN: ssh2's transport is gone then, and a reply would throw.
        if (conn.closed || transportDestroyed(engine)) return;
        if (outcome === false) return reject?.();
        accept?.(typeof outcome === 'number' ? outcome : undefined);
        core.hub.fire('SSHChannelRequested', { ...ids, requestType: name, packet, params });
      }));
    });
  }

  /** EXT_INFO with `server-sig-algs`: the publickey signature algorithms this daemon accepts. */
  private sendExtInfo(): void {
    const sigAlgs = this.core.settings.list('SSHPubKeyAuthSigAlgorithms').join(',');
    sendRawPacket(this.conn.engine!, Buffer.concat([Buffer.from([7]), encodeUint32(1), encodeString('server-sig-algs'), encodeString(sigAlgs)]));
  }

  /** Adds both sides' lists to ssh2's "Handshake failed: no matching ..." message. */
  private describeNegotiationFailure(message: string): string {
    const client = this.handshake?.clientKexInit();
    const row = NEGOTIATION_STEPS.find((r) => r.match.test(message));
    if (!client || !row) return message;
    const ours = row.setting ? this.core.settings.list(row.setting) : this.handshake!.hostKeyAlgorithms;
    return `${message}; client offered [${row.client(client).join(', ')}], server offers [${ours.join(', ')}]`;
  }

  private channelHost() {
    const { core } = this;
    return {
      hub: core.hub,
      registry: core.registry,
      outBufferSize: () => core.settings.int('OutBufferSize'),
      outBufferHardLimit: () => this.outBufferHardLimit(),
      overflow: (_c: ConnectionRecord, description: string) => this.overflow(description),
      maxChannels: () => core.settings.int('MaxSessionsPerConnection'),
      sendRaw: (c: ConnectionRecord, payload: Buffer) => sendRawPacket(c.engine!, payload),
      violation: (_c: ConnectionRecord, code: number, description: string) => this.violation(code, description),
      activity: (_c: ConnectionRecord, bytes?: number) => this.activity(bytes),
      builtIns: core.builtIns,
    };
  }

  /**
   * A compressed packet inflated past the largest packet (src/engine/inflateLimit.ts): the engine
   * stopped at the bound; report and drop with COMPRESSION_ERROR.
   */
  private compressionBomb(description: string): void {
    const { conn } = this;
    if (conn.closed) return;
    conn.closeReason ??= { statusCode: ErrorCodes.ProtocolError, description };
    this.core.hub.error(conn.id, ErrorCodes.ProtocolError, description);
    if (conn.engine) disconnectWithReason(conn.engine, DISCONNECT_REASON.COMPRESSION_ERROR, 'Compressed packet too large', true);
    else conn.socket.destroy();
  }

  /** The client asked for a service that is refused or not there: drop with SERVICE_NOT_AVAILABLE. */
  serviceNotAvailable(description: string): void {
    const { conn } = this;
    if (conn.closed) return;
    this.core.hub.log(conn.id, 1, `${description}; disconnecting`);
    if (conn.engine) disconnectWithReason(conn.engine, DISCONNECT_REASON.SERVICE_NOT_AVAILABLE, description);
    else conn.socket.destroy();
  }

  /** The client broke the protocol: report, then drop with PROTOCOL_ERROR. */
  violation(code: number, description: string): void {
    const { conn } = this;
    if (conn.closed) return;
    conn.closeReason ??= { statusCode: code, description };
    this.core.hub.error(conn.id, code, description);
    if (conn.engine) disconnectWithReason(conn.engine, DISCONNECT_REASON.PROTOCOL_ERROR, description, true);
    else conn.socket.destroy();
  }

  /**
   * Channel traffic: resets the idle timer and re-keys past KeyRenegotiationThreshold. Counts the
   * channel data bytes both ways; reading socket.bytesWritten per packet would copy Node's write
   * queue each time (garbage the bulk benchmark showed as extra full GCs).
   */
  activity(bytes = 0): void {
    this.idleTimer?.refresh();
    this.bytesSinceRekey += bytes;
    const threshold = this.core.settings.int('KeyRenegotiationThreshold');
    if (threshold > 0 && !this.rekeying && this.bytesSinceRekey > threshold) {
      this.rekey(`${threshold} bytes since the last key exchange`);
    }
  }

  /**
   * KeyRenegotiationInterval from now, once authenticated: sshd never re-keys before login (OpenSSH
   * clients take a KEXINIT during authentication as "bad message during authentication: type 20",
   * and our own pre-auth gate refuses the client's answering KEXINIT), so a login slower than the
   * interval was dropped. Armed at each key exchange and at authentication.
   */
  private armRekeyTimer(): void {
    const { conn } = this;
    conn.clearTimer(this.rekeyTimer);
    this.rekeyTimer = undefined;
    const interval = this.core.settings.int('KeyRenegotiationInterval');
    if (interval > 0 && conn.authenticated) this.rekeyTimer = conn.addTimer(interval * 1000, () => this.rekey(`${interval} s since the last key exchange`));
  }

  private rekey(why: string): void {
    if (this.rekeying || this.conn.closed || !this.conn.engine) return;
    this.rekeying = true;
    this.core.hub.log(this.conn.id, 2, `re-keying: ${why}`);
    this.conn.engine.rekey(() => undefined);
  }

  /** Sends UserAuthBanner[connId] once, before the next authentication reply. */
  flushBanner(): void {
    const banner = this.conn.settings.get('UserAuthBanner');
    if (!banner || this.bannerSent || !this.conn.engine) return;
    this.bannerSent = true;
    const text = banner.endsWith('\n') ? banner : banner + '\r\n';
    sendRawPacket(this.conn.engine, Buffer.concat([Buffer.from([53]), encodeString(text), encodeString('')]));
  }

  authenticated(user: string): void {
    const { conn, core } = this;
    conn.user = user;
    conn.authenticated = true;
    conn.clearTimer(conn.loginTimer);
    this.armRekeyTimer();
    core.hub.fire('SSHStatus', { connectionId: conn.id, message: `User '${user}' authenticated` });
    core.hub.log(conn.id, 1, `user '${user}' authenticated`);
    const idle = core.settings.int('DefaultIdleTimeout');
    if (idle > 0) {
      this.idleTimer = conn.addTimer(idle * 1000, () => {
        core.hub.log(conn.id, 1, `idle for ${idle} s; disconnecting`);
        conn.closeReason = { statusCode: ErrorCodes.Timeout, description: `idle timeout (${idle} s)` };
        core.disconnectNow(conn);
      });
    }
  }

  tooManyFailures(): void {
    this.conn.closeReason = { statusCode: ErrorCodes.AuthAttemptsExceeded, description: 'too many authentication failures' };
    if (this.conn.engine) disconnectWithReason(this.conn.engine, DISCONNECT_REASON.NO_MORE_AUTH_METHODS_AVAILABLE, 'Too many authentication failures', true);
  }

  openChannel(channelType: string, params: Buffer): Promise<string> {
    return this.channels!.openChannel(channelType, params);
  }

  /** The socket is gone: end every channel. */
  closed(): void {
    this.channels?.abortAll();
    this.core.builtIns.connectionClosed(this.conn);
  }
}
