import { publish } from '../observability/diagnostics';
import { ErrorCodes, SSHDaemonError } from '../errors/SSHDaemonError';
import { markHandled } from '../errors/unawaited';
import { afterDecision } from '../events/EventHub';
import type { ChannelWire } from '../engine/EngineWire';
import type { ChannelMessageHandlers } from '../engine/ssh2Internals';
import type { ChannelOpenConfirmInfo, ChannelOpenInfo } from '../engine/ssh2Types';
import { channelOpenPayload, exitStatusPayload, SSH_OPEN } from '../packet/messages';
import { tagPayload } from '../packet/layouts';
import { WireReader } from '../packet/wire';
import type { ConnectionRecord } from '../registry/ConnectionRecord';
import { nextId } from '../registry/ids';
import type { ChannelHost } from './ChannelHost';
import { ChannelState, type ChannelSink, LOCAL_PACKET_SIZE, LOCAL_WINDOW, MIN_PEER_PACKET_SIZE } from './ChannelState';
import { decodeRequestParams } from '../packet/requestParams';
import { builtInDecisionLog, decisionArgs } from './builtInDecisions';
import { forceCommand, type RewrittenRequest } from './forcedCommand';
import { refusedChannelOpen, refusedRequest } from '../policy/SessionRestrictions';

/** host:port a direct-tcpip open asks for (RFC 4254 7.2); undefined for other types or a short payload. */
function directTarget(channelType: string, parameters: Buffer): { host: string; port: number } | undefined {
  if (channelType !== 'direct-tcpip') return undefined;
  try {
    const r = new WireReader(parameters);
    return { host: r.string(), port: r.uint32() };
  } catch {
    return undefined;
  }
}

interface PendingOpen {
  state: ChannelState;
  resolve: (channelId: string) => void;
  reject: (err: Error) => void;
}

/**
 * The channel multiplexer of one connection: replaces ssh2's session glue (see docs/engine.md).
 * Everything it sends goes out through the connection's {@link ChannelWire} (src/engine/EngineWire.ts).
 */
export class ChannelLayer implements ChannelMessageHandlers, ChannelSink {
  /**
   * Set when the transport went (the client's FIN ends ssh2's Protocol before the socket closes):
   * a decision that settles afterwards must not reply, as any send would throw.
   */
  private aborted = false;

  /** Open and opening channels by our local (wire) channel number. */
  readonly channels = new Map<number, ChannelState>();
  private nextLocalId = 0;
  /** Made on first use (idle connections hold neither). */
  private drainWaiters?: Set<() => void>;
  private pendingOpens?: Map<number, PendingOpen>;

  constructor(
    private readonly conn: ConnectionRecord,
    private readonly wire: ChannelWire,
    private readonly host: ChannelHost,
  ) {
    conn.channels = this.channels;
    conn.socket.on('drain', () => this.wakeDrainWaiters());
  }

  private allocateLocalChannel(): number {
    // Wire channel numbers are per connection; uint32 wrap is unreachable in practice.
    return this.nextLocalId++;
  }

  // ---- client → server ------------------------------------------------------

  onOpen(info: ChannelOpenInfo, payload: Buffer): void {
    const { conn, host } = this;
    if (!conn.authenticated) {
      return this.wire.channelOpenFailure(info.sender, SSH_OPEN.ADMINISTRATIVELY_PROHIBITED, 'not authenticated');
    }
    if (this.channels.size >= host.maxChannels()) {
      host.hub.log(conn.id, 1, `channel open refused: MaxSessionsPerConnection (${host.maxChannels()}) reached`);
      return this.wire.channelOpenFailure(info.sender, SSH_OPEN.RESOURCE_SHORTAGE, 'too many channels');
    }
    if (info.packetSize < MIN_PEER_PACKET_SIZE) {
      host.hub.log(conn.id, 1, `channel open refused: maximum packet size ${info.packetSize} below ${MIN_PEER_PACKET_SIZE}`);
      return this.wire.channelOpenFailure(info.sender, SSH_OPEN.RESOURCE_SHORTAGE, `maximum packet size below ${MIN_PEER_PACKET_SIZE}`);
    }
    const r = new WireReader(payload, 1);
    r.bytes();
    r.uint32();
    r.uint32();
    r.uint32();
    const parameters = tagPayload(Buffer.from(r.rest()), { kind: 'channel-open', channelType: info.type });
    const prohibited = refusedChannelOpen(conn.restrictions, info.type, directTarget(info.type, parameters));
    if (prohibited) {
      host.hub.log(conn.id, 1, `channel open refused: ${prohibited}`);
      return this.wire.channelOpenFailure(info.sender, SSH_OPEN.ADMINISTRATIVELY_PROHIBITED, prohibited);
    }
    const state = new ChannelState(nextId(), this.allocateLocalChannel(), conn, info.type, this);
    this.channels.set(state.localId, state);
    const args = decisionArgs(
      { connectionId: conn.id, channelId: state.id, service: info.type, parameters },
      'accept',
      host.builtIns.presetAccept(conn, info.type),
    );
    afterDecision(host.hub.decide('SSHChannelOpenRequest', args), (ok) => {
      if (this.gone()) return;
      const note = builtInDecisionLog(args, `the ${info.type} open`);
      if (note) host.hub.log(conn.id, note.level, note.message);
      if (!ok || !args.accept) {
        this.channels.delete(state.localId);
        return this.wire.channelOpenFailure(info.sender, SSH_OPEN.ADMINISTRATIVELY_PROHIBITED, 'refused by server');
      }
      const service = host.builtIns.attachOpen(conn, info.type, parameters);
      if (!service) return this.confirm(state, info);
      service
        .then((outcome) => {
          if (this.gone()) {
            if (typeof outcome !== 'string') outcome.abort();
            return;
          }
          if (typeof outcome === 'string') {
            this.channels.delete(state.localId);
            host.hub.log(conn.id, 1, `channel open failed: ${outcome}`);
            return this.wire.channelOpenFailure(info.sender, SSH_OPEN.CONNECT_FAILED, outcome);
          }
          this.confirm(state, info);
          outcome.start(state);
        })
        .catch((err: Error) =>
          host.hub.error(
            conn.id,
            ErrorCodes.ChannelOpenFailed,
            `channel ${state.id}: starting the ${info.type} channel failed: ${err.message}`,
          ),
        );
    });
  }

  private gone(): boolean {
    return this.aborted || this.conn.closed;
  }

  private confirm(state: ChannelState, info: ChannelOpenInfo): void {
    this.wire.channelOpenConfirmation(info.sender, state.localId, LOCAL_WINDOW, LOCAL_PACKET_SIZE);
    this.opened(state, info.sender, info.window, info.packetSize);
  }

  private opened(state: ChannelState, remoteId: number, window: number, packetSize: number): void {
    this.host.addChannel(state);
    state.open(remoteId, window, packetSize);
    const ids = { connectionId: this.conn.id, channelId: state.id };
    this.host.hub.fire('SSHChannelOpened', ids);
    publish('channel', () => ({ event: 'open', ...ids, type: state.service }));
    if (state.readyToSend) this.host.hub.fire('SSHChannelReadyToSend', ids);
  }

  onRequest(recipient: number, payload: Buffer): void {
    const state = this.live(recipient);
    if (!state) return;
    this.host.activity(this.conn);
    let request: RewrittenRequest;
    let wantReply: boolean;
    try {
      const r = new WireReader(payload, 1);
      r.uint32();
      const requestType = r.string();
      wantReply = r.boolean();
      request = { requestType, params: decodeRequestParams(requestType, r), body: payload.subarray(1) };
    } catch (err) {
      return this.host.violation(this.conn, ErrorCodes.ProtocolError, `malformed channel request: ${(err as Error).message}`);
    }
    const ids = { connectionId: this.conn.id, channelId: state.id };
    const prohibited = refusedRequest(this.conn.restrictions, request.requestType);
    if (prohibited) {
      this.host.hub.log(this.conn.id, 1, `channel ${state.id}: ${prohibited}`);
      state.inbound.run(() => {
        if (wantReply && !state.closeSent && !this.gone()) this.wire.channelFailure(state.remoteId);
      });
      return;
    }
    request = forceCommand(this.conn.restrictions.forceCommand, request, wantReply);
    const { requestType, params } = request;
    const packet = tagPayload(Buffer.from(request.body), { kind: 'channel-request' });
    state.inbound.run(() => {
      const args = decisionArgs(
        { ...ids, requestType, packet, params },
        'success',
        this.host.builtIns.presetSuccess(this.conn, requestType, params, state),
      );
      return afterDecision(this.host.hub.decide('SSHChannelRequest', args), (ok) => {
        if (state.finished || this.gone()) return;
        const note = builtInDecisionLog(args, `the ${requestType} request`);
        if (note) this.host.hub.log(this.conn.id, note.level, `channel ${state.id}: ${note.message}`);
        const attached = ok && args.success ? this.host.builtIns.attachBuiltIn(this.conn, state, requestType, params, request.body) : false;
        // Inbound data waits in state.inbound until this settles, so a built-in service sees all of it.
        return afterDecision(attached, (granted) => {
          if (state.finished || this.gone()) return;
          if (wantReply && !state.closeSent) {
            if (granted) this.wire.channelSuccess(state.remoteId);
            else this.wire.channelFailure(state.remoteId);
          }
          if (!granted) return;
          state.noteGranted(requestType, params);
          const requested = { ...ids, requestType, packet, params };
          // Input that arrives while an asynchronous handler runs waits for it (early stdin is not
          // lost), for at most HandlerTimeout: a handler that awaits the whole command would else keep
          // the client's input, and its CLOSE, from ever arriving.
          const limit = this.host.hub.decisionTimeout();
          state.runRequested(
            () => {
              const result = this.host.hub.fireAwaitable('SSHChannelRequested', requested);
              if (result === true) return undefined;
              if (result === false) return void this.requestedFailed(state, requestType);
              return result.then((done) => {
                if (!done) this.requestedFailed(state, requestType);
              });
            },
            limit,
            () =>
              this.host.hub.log(
                this.conn.id,
                1,
                `channel ${state.id}: the SSHChannelRequested handler for ${requestType} is still running after ${limit / 1000} s (HandlerTimeout); the channel's input no longer waits for it (take the channel's stream or call resume() to release it at once)`,
              ),
          );
        });
      });
    });
  }

  /**
   * A SSHChannelRequested handler threw or rejected (`Error` 1030 has fired): the program it was to
   * start does not run, so the channel ends with exit-status 1 rather than leaving the client waiting.
   */
  private requestedFailed(state: ChannelState, requestType: string): void {
    if (state.finished || state.closingOrClosed || this.gone()) return;
    this.host.hub.log(
      this.conn.id,
      1,
      `channel ${state.id}: the SSHChannelRequested handler for ${requestType} failed; closing the channel with exit-status 1`,
    );
    markHandled(state.sendPacket(exitStatusPayload(state.remoteId, 1)));
    markHandled(state.close());
  }

  onData(recipient: number, data: Buffer, extended: number): void {
    const state = this.live(recipient);
    if (!state || !state.accept(data.length)) return;
    this.host.activity(this.conn, data.length);
    // On a connection that reads into a reused buffer, `data` is overwritten by the next read: only a
    // consumer that copies, and takes it now (nothing queued ahead), gets the view.
    if (this.conn.transientReads && !(state.consumer?.copiesInput && state.inbound.idle)) data = Buffer.from(data);
    state.inbound.data(data, extended);
  }

  onWindowAdjust(recipient: number, amount: number): void {
    this.live(recipient)?.windowAdjust(amount);
  }

  onRequestReply(): void {
    // Replies to server-sent channel requests (sendSSHPacket with want-reply) carry nothing we track.
  }

  onEof(recipient: number): void {
    const state = this.live(recipient);
    if (!state) return;
    state.inbound.run(() => {
      const end = () => {
        state.eofReceived = true;
        if (state.consumer) return state.consumer.end();
        this.host.hub.fire('SSHChannelEOF', { connectionId: this.conn.id, channelId: state.id });
      };
      const held = state.flushRecord();
      if (held instanceof Promise) return held.then(end, end);
      end();
      return undefined;
    });
  }

  onClose(recipient: number): void {
    const state = this.live(recipient);
    if (!state) return;
    // Output ends now (and CLOSE is answered); input already received is delivered first, but for at
    // most HandlerTimeout: held input (a handler that never settles, pause()) must not keep the channel.
    state.remoteClose();
    state.inbound.run(() => state.inputEnded());
    const limit = this.host.hub.decisionTimeout();
    state.boundInputAfterClose(limit, (events) =>
      this.host.hub.log(
        this.conn.id,
        1,
        `channel ${state.id}: input still held ${limit / 1000} s after the client's CLOSE (a handler has not settled, or pause() without resume()); ${events} waiting events dropped, the channel ends`,
      ),
    );
  }

  onOpenConfirmation(info: ChannelOpenConfirmInfo): void {
    const pending = this.pendingOpens?.get(info.recipient);
    if (!pending) return;
    this.pendingOpens!.delete(info.recipient);
    if (info.packetSize < MIN_PEER_PACKET_SIZE) {
      this.channels.delete(info.recipient);
      pending.reject(
        new SSHDaemonError(
          ErrorCodes.ChannelOpenFailed,
          `The client confirmed the ${pending.state.service} channel with a maximum packet size of ${info.packetSize}, below ${MIN_PEER_PACKET_SIZE}`,
        ),
      );
      return this.host.violation(
        this.conn,
        ErrorCodes.ProtocolError,
        `channel confirmation with maximum packet size ${info.packetSize} (below ${MIN_PEER_PACKET_SIZE})`,
      );
    }
    this.opened(pending.state, info.sender, info.window, info.packetSize);
    pending.resolve(pending.state.id);
  }

  onOpenFailure(recipient: number, reason: number, description: string): void {
    const pending = this.pendingOpens?.get(recipient);
    if (!pending) return;
    this.pendingOpens!.delete(recipient);
    this.channels.delete(recipient);
    pending.reject(
      new SSHDaemonError(
        ErrorCodes.ChannelOpenFailed,
        `The client refused the ${pending.state.service} channel (reason ${reason}${description ? `: ${description}` : ''})`,
      ),
    );
  }

  private live(recipient: number): ChannelState | undefined {
    const state = this.channels.get(recipient);
    return state && state.opened && !state.closeReceived ? state : undefined;
  }

  // ---- server → client ------------------------------------------------------

  /** Opens a server-initiated channel (forwarded-tcpip, x11, auth-agent@openssh.com, ...). */
  openChannel(channelType: string, params: Buffer): Promise<string> {
    const state = new ChannelState(nextId(), this.allocateLocalChannel(), this.conn, channelType, this);
    this.channels.set(state.localId, state);
    return new Promise<string>((resolve, reject) => {
      (this.pendingOpens ??= new Map()).set(state.localId, { state, resolve, reject });
      this.wire.send(channelOpenPayload(channelType, state.localId, LOCAL_WINDOW, LOCAL_PACKET_SIZE, params));
    });
  }

  /** The connection is gone: every channel and pending open ends. */
  abortAll(): void {
    this.aborted = true;
    for (const p of this.pendingOpens?.values() ?? [])
      p.reject(new SSHDaemonError(ErrorCodes.ChannelOpenFailed, 'The connection closed before the channel opened'));
    this.pendingOpens = undefined;
    for (const state of [...this.channels.values()]) state.abort();
    this.channels.clear();
    this.drainWaiters = undefined;
  }

  // ---- ChannelSink ------------------------------------------------------------

  sendData(remoteId: number, data: Buffer | readonly Buffer[], extended: number): void {
    if (Buffer.isBuffer(data)) {
      this.host.activity(this.conn, data.length);
      this.wire.channelData(remoteId, data, extended);
      return;
    }
    let n = 0;
    for (const part of data) n += part.length;
    this.host.activity(this.conn, n);
    this.wire.channelDataParts(remoteId, data, extended);
  }
  sendPacket(payload: Buffer): void {
    this.wire.send(payload);
  }
  sendEof(remoteId: number): void {
    this.wire.channelEof(remoteId);
  }
  sendClose(remoteId: number): void {
    this.wire.channelClose(remoteId);
  }
  sendWindowAdjust(remoteId: number, amount: number): void {
    this.wire.channelWindowAdjust(remoteId, amount);
  }
  congested(): boolean {
    return this.conn.socket.writableLength + this.wire.queuedDuringKex() > this.host.outBufferSize();
  }
  /** After a key exchange ssh2 flushed its queue; the socket may not emit 'drain', so channels retry now. */
  resumeAfterKex(): void {
    this.wakeDrainWaiters();
  }
  private wakeDrainWaiters(): void {
    const waiters = this.drainWaiters;
    if (!waiters?.size) return;
    this.drainWaiters = undefined;
    for (const w of waiters) w();
  }
  waitForDrain(resume: () => void): void {
    (this.drainWaiters ??= new Set()).add(resume);
  }
  deliver(channel: ChannelState, data: Buffer, extended: number): unknown {
    if (channel.consumer) return channel.consumer.data(data, extended);
    const result = this.host.hub.fireAwaitable('SSHChannelDataIn', { connectionId: this.conn.id, channelId: channel.id, data, extended });
    // An asynchronous handler holds the channel's input (and its window) until it settles.
    return typeof result === 'boolean' ? undefined : result;
  }
  readyToSend(channel: ChannelState): void {
    this.host.hub.fire('SSHChannelReadyToSend', { connectionId: this.conn.id, channelId: channel.id });
  }
  violation(channel: ChannelState, description: string): void {
    this.host.violation(this.conn, ErrorCodes.WindowOverrun, `channel ${channel.id}: ${description}`);
  }
  checkBacklog(channel: ChannelState, backlog: number): void {
    // Built-in services (SFTP, SCP, forwarding) bound their own output; this limit is for application sends.
    if (channel.consumer && !channel.stream) return;
    const limit = this.host.outBufferHardLimit();
    const queued = backlog + this.conn.socket.writableLength;
    if (queued <= limit || this.conn.closeReason) return;
    this.host.overflow(
      this.conn,
      `client does not read: the application queued ${backlog} bytes on channel ${channel.id} beyond what it is sending (OutBufferHardLimit ${limit})`,
    );
  }
  inputOverflow(channel: ChannelState, events: number): void {
    this.host.overflow(this.conn, `channel ${channel.id}: the client sent ${events} messages while the channel's input is held`);
  }
  inputFailed(channel: ChannelState, err: unknown): void {
    const reader = channel.stream
      ? "a listener of the channel's stream"
      : channel.consumer
        ? 'the service reading the channel'
        : 'the channel layer';
    this.host.hub.error(
      this.conn.id,
      ErrorCodes.HandlerFailed,
      `channel ${channel.id}: ${reader} threw on the client's input: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  finished(channel: ChannelState): void {
    this.channels.delete(channel.localId);
    if (this.host.removeChannel(channel.id)) {
      this.host.hub.fire('SSHChannelClosed', { connectionId: this.conn.id, channelId: channel.id });
      publish('channel', () => ({ event: 'close', connectionId: this.conn.id, channelId: channel.id, type: channel.service }));
    }
  }
}
