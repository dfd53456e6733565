import { TypedEmitter } from 'tiny-typed-emitter';
import { markHandled } from '../errors/unawaited';
import type { SFTPFileSystem } from '../sftp/FileSystem';
import type { SFTPAccess } from '../sftp/SFTPSession';
import { parseSCPCommand, type SCPCommand, SCPUsageError } from './command';
import { errorRecord, SCPProtocolError } from './codec';
import type { SCPContext } from './context';
import { PeerFatalError, SessionOverError } from './errors';
import { InputBuffer, InputEndedError } from './InputBuffer';
import { SCPSink } from './sink';
import { SCPSource } from './source';

/** How an SCP session serves its filesystem. */
export interface SCPSessionOptions {
  /** What the session serves: {@link LocalFileSystem} or your own {@link SFTPFileSystem}, as for SFTP. */
  fileSystem: SFTPFileSystem;
  /** Default `read-write`. `read-only` refuses `scp -t` (uploads), `upload-only` refuses `scp -f` (downloads). */
  access?: SFTPAccess;
  /**
   * Seconds the session waits for the client without any progress (an acknowledgement, a record,
   * file data, or window space for what it sends) before it gives up with a fatal error and
   * closes the channel, releasing the open file. Default 300; 0 waits forever (as OpenSSH's scp).
   */
  timeout?: number;
  /** Called with the new session before it starts: subscribe to its audit events here. */
  onSession?: (session: SCPSession) => void;
}

/** Audit events of one SCP session; paths are virtual. */
export interface SCPSessionEvents {
  /** A file was received and stored completely (a file that could not be written is reported in `failed` instead). */
  uploaded: (e: { path: string; bytes: number }) => void;
  /** A file was sent completely. */
  downloaded: (e: { path: string; bytes: number }) => void;
  /** A directory was created for a `D` record. */
  directoryCreated: (e: { path: string }) => void;
  /**
   * An error the client was told about (`fatal` false: `\x01`, the transfer goes on; true: `\x02`,
   * the session ends), or one the client reported itself (`operation` `client`).
   */
  failed: (e: { operation: string; path?: string; message: string; fatal: boolean }) => void;
  /** The session is over; `exitStatus` is what the client got (0 when no error occurred), undefined when the channel closed first. */
  ended: (e: { exitStatus: number | undefined }) => void;
}

/** How the session talks to its channel. */
export interface SCPTransport {
  /** Channel data; resolves once the channel has taken it. */
  send(data: Buffer): Promise<void>;
  /** True: stop reopening the client's window (we are behind). */
  holdInput(hold: boolean): void;
  /** Sends `exit-status` and closes the channel, after the data already queued. */
  exit(status: number): void;
}

const DEFAULT_TIMEOUT_S = 300;

/**
 * One legacy SCP server session (`exec scp -t|-f ...`) on one channel, over an
 * {@link SFTPFileSystem}: parses the command line, runs the sink or the source, reports errors in
 * the protocol (`\x01`/`\x02` lines, printed by the client) and ends with exit status 0 or 1.
 * Memory stays bounded (the channel window is held while the filesystem is behind); a client that
 * stops answering is cut off after `timeout`; every handle and timer is released when the
 * session ends, whichever way.
 */
export class SCPSession extends TypedEmitter<SCPSessionEvents> {
  /** The parsed command, undefined when the command line was refused. */
  readonly command?: SCPCommand;
  private readonly usageError?: string;
  private readonly fs: SFTPFileSystem;
  private readonly access: SFTPAccess;
  private readonly timeoutMs: number;
  private readonly input: InputBuffer;
  private errors = 0;
  private started = false;
  private over = false;
  private channelGone = false;
  private abortError?: Error;
  private rejectAbort?: (err: Error) => void;
  private readonly aborted: Promise<never>;
  private timer?: NodeJS.Timeout;
  private waiting = 0;
  private progress = 0;
  private progressAtArm = -1;

  /**
   * @param commandLine the exec command (names as bytes, see decodeFileName)
   * @param user the logged-in user: `~user` is the home directory
   */
  constructor(
    commandLine: string,
    options: SCPSessionOptions,
    private readonly transport: SCPTransport,
    private readonly user = '',
  ) {
    super();
    this.fs = options.fileSystem;
    this.access = options.access ?? 'read-write';
    const timeout = options.timeout ?? DEFAULT_TIMEOUT_S;
    if (!Number.isFinite(timeout) || timeout < 0)
      throw new RangeError(`SCP timeout must be a number of seconds >= 0, got ${String(options.timeout)}`);
    this.timeoutMs = Math.round(timeout * 1000);
    this.input = new InputBuffer((hold) => this.transport.holdInput(hold && !this.over));
    this.aborted = new Promise<never>((_, reject) => (this.rejectAbort = reject));
    this.aborted.catch(() => undefined);
    try {
      this.command = parseSCPCommand(commandLine);
    } catch (err) {
      if (!(err instanceof SCPUsageError)) throw err;
      this.usageError = err.message;
    }
  }

  /**
   * Client bytes received and not processed yet, for diagnostics: past 1 MiB the client's window
   * is held, so this stays below about 1 MiB plus one channel window (2 MiB).
   */
  get bufferedBytes(): number {
    return this.input.buffered;
  }

  /** Starts serving; call once, after the exec request was answered. */
  start(): void {
    if (this.started || this.over) return;
    this.started = true;
    // run() settles the session itself; what can still escape is a throwing 'failed' or 'ended' listener.
    markHandled(this.run());
  }

  /** Channel data from the client. */
  data(chunk: Buffer): void {
    this.input.push(chunk);
  }

  /** The client sent EOF. */
  end(): void {
    this.input.end();
  }

  /** The channel is gone: stop, release the open file and the timer. */
  shutdown(): void {
    this.channelGone = true;
    this.abort(new SessionOverError());
    if (!this.started) this.finish(undefined);
  }

  private abort(err: Error): void {
    if (this.abortError) return;
    this.abortError = err;
    this.input.abort(err);
    this.rejectAbort?.(err);
  }

  private async run(): Promise<void> {
    let status: number | undefined = 1;
    try {
      if (this.usageError !== undefined || !this.command) throw new SCPProtocolError(this.usageError ?? 'usage');
      const command = this.command;
      if (command.direction === 'sink' && this.access === 'read-only') throw new SCPProtocolError('Permission denied: read-only access');
      if (command.direction === 'source' && this.access === 'upload-only')
        throw new SCPProtocolError('Permission denied: upload-only access');
      const ctx = this.context(command);
      await (command.direction === 'sink' ? new SCPSink(ctx).run() : new SCPSource(ctx).run());
      status = this.errors > 0 ? 1 : 0;
    } catch (err) {
      status = this.failed(err);
    } finally {
      // Also when a 'failed' listener threw: the client must get its exit status and CLOSE.
      this.finish(status);
    }
  }

  /** Handles what ended the run: tells the client when it still listens; the exit status. */
  private failed(err: unknown): number | undefined {
    if (this.channelGone) return undefined;
    const reason = this.abortError && !(this.abortError instanceof SessionOverError) ? this.abortError : err;
    if (reason instanceof PeerFatalError) return 1; // the client stopped; nothing more to say (as OpenSSH)
    const known = reason instanceof SCPProtocolError || reason instanceof InputEndedError;
    // An unexpected error (a filesystem throwing where none was expected) is named to the
    // application in full, to the client only by its code: its text may hold a real path.
    const code = (reason as NodeJS.ErrnoException | undefined)?.code;
    const message = known ? reason.message : `internal error${typeof code === 'string' ? ` (${code})` : ''}`;
    this.emit('failed', {
      operation: 'protocol',
      message: known ? message : `${message}: ${(reason as Error)?.message ?? String(reason)}`,
      fatal: true,
    });
    // Queued, not awaited: a client that does not read must not keep us here.
    this.transport.send(errorRecord(true, message)).catch(() => undefined);
    return 1;
  }

  private finish(status: number | undefined): void {
    if (this.over) return;
    this.over = true;
    this.abort(new SessionOverError());
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.transport.holdInput(false);
    if (status !== undefined && !this.channelGone) this.transport.exit(status);
    this.emit('ended', { exitStatus: status });
  }

  // ---- waiting on the client, under the stall timer --------------------------

  private async clientWait<T>(p: Promise<T>): Promise<T> {
    this.waiting++;
    this.armTimer();
    try {
      return await Promise.race([p, this.aborted]);
    } finally {
      this.waiting--;
      this.progress++;
    }
  }

  private armTimer(): void {
    if (this.timeoutMs === 0 || this.timer || this.over) return;
    this.progressAtArm = this.progressMark();
    this.timer = setTimeout(() => this.checkStall(), this.timeoutMs);
    this.timer.unref();
  }

  private progressMark(): number {
    return this.progress + this.input.received;
  }

  private checkStall(): void {
    this.timer = undefined;
    if (this.over || this.waiting === 0) return;
    if (this.progressMark() !== this.progressAtArm) return this.armTimer();
    this.abort(new SCPProtocolError(`timed out: no progress from the client in ${this.timeoutMs / 1000} s`));
  }

  private context(command: SCPCommand): SCPContext {
    const session = this;
    return {
      fs: this.fs,
      command,
      input: this.input,
      user: this.user,
      send: (data) => this.clientWait(this.transport.send(data)),
      fromClient: (read) => this.clientWait(read),
      async reportError(operation, path, text) {
        session.errors++;
        session.emit('failed', { operation, path, message: text, fatal: false });
        await session.clientWait(session.transport.send(errorRecord(false, text)));
      },
      uploaded: (path, bytes) => this.emit('uploaded', { path, bytes }),
      downloaded: (path, bytes) => this.emit('downloaded', { path, bytes }),
      directoryCreated: (path) => this.emit('directoryCreated', { path }),
      peerError: (message) => {
        this.errors++;
        this.emit('failed', { operation: 'client', message, fatal: false });
      },
    };
  }
}
