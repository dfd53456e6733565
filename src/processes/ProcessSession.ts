/**
 * One session channel served by the process service: the requests before the program (pty-req,
 * env), the program itself joined to the channel's stream, the requests while it runs
 * (window-change, signal, break), and its end: output drained, then exit-status or exit-signal,
 * EOF and CLOSE in OpenSSH's order; a channel that closes first hangs up the program's session.
 */
import { finished } from 'node:stream/promises';
import type { ChannelState } from '../channels/ChannelState';
import { type ChannelStream, channelStreamOf } from '../channels/ChannelStream';
import type { ChannelRequestParams, ChannelRequestParamsMap } from '../packet/requestParams';
import type { SSHConnection } from '../views/views';
import { type AcceptEnv } from './acceptEnv';
import { resolveLaunch } from './launchPlan';
import { startPipeProcess } from './pipeProcess';
import { hangUpSession } from './processGroup';
import type { ProcessPlan, ProcessRefusal, ProcessRequest, ProcessServiceOptions } from './ProcessServiceOptions';
import { ptyProblem } from './ptyBinding';
import { startPtyProcess } from './ptyProcess';
import type { ProcessEnd, RunningProcess } from './RunningProcess';
import { coreDumpLikely, exitSignalName, signalOfRequest } from './signals';

/** The options of one channel, checked once. */
export interface SessionOptions {
  readonly raw: ProcessServiceOptions;
  readonly acceptEnv: AcceptEnv;
  readonly killGraceMs: number;
}

/** What a session needs from the daemon. */
export interface ProcessSessionHost {
  readonly connection: SSHConnection;
  /** A Log line for this connection. */
  log(level: 1 | 2 | 3, message: string): void;
  /** The plan callback failed: `Error` 1030. */
  planFailed(err: unknown): void;
}

const DEFAULT_REFUSAL = 'Request refused by the server.';

/** Variables a channel's `env` requests may set (sshd refuses past its own cap the same way). */
export const MAX_ENV_VARIABLES = 128;
/** Bytes of names and values they may add up to: a client cannot park megabytes per channel. */
export const MAX_ENV_BYTES = 64 * 1024;

/** Terminal sizes are 16-bit (struct winsize). */
const clampSize = (n: number, fallback: number) => (n > 0 ? Math.min(n, 0xffff) : fallback);

/** A refusal, a plan, or nothing: null/undefined refuse with the default message. */
function isRefusal(result: ProcessPlan | ProcessRefusal): result is ProcessRefusal {
  return typeof (result as ProcessRefusal).refused === 'string';
}

/** Resolves once `stream` has ended or was destroyed (never rejects). */
function ended(stream: NodeJS.ReadableStream): Promise<void> {
  return finished(stream as never).then(
    () => undefined,
    () => undefined,
  );
}

export class ProcessSession {
  /** exec or shell was granted: later ones, pty-req and env are refused. */
  private startedFlag = false;
  private process?: RunningProcess;
  /** The program's end was reported (or the channel closed first): nothing more to do. */
  private done = false;
  /** The program itself has exited (its pid no longer names it; output may still be draining). */
  private exited = false;
  private terminalUsed = false;

  /** True once exec or shell was granted on the channel. */
  get started(): boolean {
    return this.startedFlag;
  }

  constructor(
    private readonly state: ChannelState,
    private readonly options: SessionOptions,
    private readonly host: ProcessSessionHost,
  ) {
    void state.whenFinished().then(() => this.channelFinished());
  }

  /** Decides one request of this channel: true grants it (the daemon answers SUCCESS). */
  request(requestType: string, params: ChannelRequestParams): boolean | Promise<boolean> {
    switch (requestType) {
      case 'pty-req':
        return this.ptyRequest();
      case 'env':
        return this.envRequest(params as ChannelRequestParamsMap['env']);
      case 'window-change':
        return this.resize(params as ChannelRequestParamsMap['window-change']);
      case 'signal':
        return this.signal((params as ChannelRequestParamsMap['signal']).signal);
      case 'break':
        // sshd sends tcsendbreak(2) to the terminal, which a pseudo-terminal takes without effect; without one it refuses.
        return this.state.terminal !== undefined && this.startedFlag;
      case 'exec':
      case 'shell':
        return this.start(requestType, params);
      default:
        return false;
    }
  }

  private ptyRequest(): boolean {
    if (this.startedFlag) return false;
    if (this.options.raw.pty === false) {
      this.host.log(2, `channel ${this.state.id}: pty-req refused (enableProcesses pty: false)`);
      return false;
    }
    const problem = ptyProblem();
    if (problem) {
      this.host.log(1, `channel ${this.state.id}: pty-req refused: ${problem}`);
      return false;
    }
    return true;
  }

  private envRequest({ name, value }: ChannelRequestParamsMap['env']): boolean {
    if (
      this.startedFlag ||
      name === '' ||
      name.includes('=') ||
      name.includes('\0') ||
      value.includes('\0') ||
      !this.options.acceptEnv.accepts(name)
    )
      return false;
    const env = this.state.environment;
    let bytes = name.length + value.length;
    for (const [k, v] of env) if (k !== name) bytes += k.length + v.length;
    if ((!env.has(name) && env.size >= MAX_ENV_VARIABLES) || bytes > MAX_ENV_BYTES) {
      this.host.log(
        2,
        `channel ${this.state.id}: env ${name} refused: at most ${MAX_ENV_VARIABLES} variables and ${MAX_ENV_BYTES} bytes per channel`,
      );
      return false;
    }
    return true;
  }

  private resize(size: ChannelRequestParamsMap['window-change']): boolean {
    if (!this.state.terminal) return false;
    if (size.cols > 0 && size.rows > 0) this.process?.resize?.(clampSize(size.cols, 80), clampSize(size.rows, 24));
    return true;
  }

  /** RFC 4254 6.9: the signal goes to the program's process group, as sshd's killpg. */
  private signal(name: string): boolean {
    const process = this.process;
    // sshd refuses once the program has exited too (its pid may name another group by then).
    if (!process || this.done || this.exited || process.pid <= 0) return false;
    if (this.host.connection.restrictions.forceCommand !== undefined) {
      // sshd refuses signals to a forced command: the key only allows that program to run as it chooses.
      this.host.log(1, `channel ${this.state.id}: signal ${name} refused for a forced command`);
      return false;
    }
    const signal = signalOfRequest(name);
    if (!signal) return false;
    try {
      globalThis.process.kill(-process.pid, signal);
      return true;
    } catch {
      return false;
    }
  }

  private start(kind: 'exec' | 'shell', params: ChannelRequestParams): boolean | Promise<boolean> {
    if (this.startedFlag) return false;
    this.startedFlag = true;
    // The stream takes the channel's input from now on (early input waits in it, with the window held).
    const stream = channelStreamOf(this.state);
    stream.on('error', () => undefined); // the client went away; the channel closes on its own
    const request = this.describe(kind, params);
    let planned: ReturnType<NonNullable<ProcessServiceOptions['plan']>>;
    try {
      planned = this.options.raw.plan ? this.options.raw.plan(request) : {};
    } catch (err) {
      return this.planError(stream, err);
    }
    const go = (result: ProcessPlan | ProcessRefusal | null | undefined): true => {
      if (!result) this.refuse(stream, { refused: DEFAULT_REFUSAL });
      else if (isRefusal(result)) this.refuse(stream, result);
      else void this.launch(stream, request, result);
      return true;
    };
    return planned instanceof Promise ? planned.then(go, (err: unknown) => this.planError(stream, err)) : go(planned);
  }

  private planError(stream: ChannelStream, err: unknown): true {
    this.host.planFailed(err);
    this.refuse(stream, { refused: DEFAULT_REFUSAL });
    return true;
  }

  private describe(kind: 'exec' | 'shell', params: ChannelRequestParams): ProcessRequest {
    const { connection } = this.host;
    const state = this.state;
    const exec = params as Partial<ChannelRequestParamsMap['exec']>;
    const socket = state.connection.socket;
    return {
      connectionId: connection.connectionId,
      channelId: state.id,
      user: connection.user,
      connection,
      kind,
      command: kind === 'exec' ? exec.command : undefined,
      originalCommand: exec.originalCommand,
      terminal: state.terminal ? { ...state.terminal } : undefined,
      environment: Object.fromEntries(state.environment),
      remoteHost: connection.remoteHost,
      remotePort: connection.remotePort,
      localHost: connection.localAddress,
      localPort: socket.localPort ?? 0,
    };
  }

  /** Nothing runs: the message on stderr, then the exit status (after the exec reply). */
  private refuse(stream: ChannelStream, refusal: ProcessRefusal): void {
    this.done = true;
    const status = Number.isInteger(refusal.exitStatus) && refusal.exitStatus! >= 0 ? refusal.exitStatus! : 1;
    setImmediate(() => {
      stream.stderr.write(`${refusal.refused}\n`);
      stream.exit(status);
    });
  }

  private async launch(stream: ChannelStream, request: ProcessRequest, plan: ProcessPlan): Promise<void> {
    const terminal = this.state.terminal;
    let resolved;
    try {
      resolved = await resolveLaunch({
        request,
        plan,
        terminal: terminal !== undefined,
        keyEnvironment: this.options.raw.permitUserEnvironment ? this.host.connection.restrictions.environment : undefined,
      });
    } catch (err) {
      this.host.log(1, `channel ${this.state.id}: cannot start the program: ${(err as Error).message}`);
      return this.refuse(stream, { refused: (err as Error).message });
    }
    // The exec/shell reply goes out first (it is sent when this request settles).
    await new Promise((resolve) => setImmediate(resolve));
    if (this.done || this.state.finished) return;
    const { launch, notice } = resolved;
    let process: RunningProcess;
    try {
      process = terminal ? startPtyProcess(launch, clampSize(terminal.cols, 80), clampSize(terminal.rows, 24)) : startPipeProcess(launch);
    } catch (err) {
      this.host.log(1, `channel ${this.state.id}: cannot start ${launch.file}: ${(err as Error).message}`);
      return this.refuse(stream, { refused: `${launch.file}: ${(err as Error).message}` });
    }
    this.process = process;
    this.terminalUsed = terminal !== undefined;
    void process.exited.then(() => void (this.exited = true));
    this.host.log(2, `channel ${this.state.id}: started ${launch.file} (pid ${process.pid}${terminal ? ', in a terminal' : ''})`);
    if (notice) (terminal ? stream : stream.stderr).write(terminal ? notice.replace(/\n/g, '\r\n') : notice);
    if (process.pid <= 0) {
      // spawn failed (reported on the next tick): as a shell that cannot run the program.
      const end = await process.exited;
      const code = (end.error as NodeJS.ErrnoException | undefined)?.code;
      stream.stderr.write(`${launch.file}: ${end.error?.message ?? 'cannot start'}\n`);
      this.done = true;
      stream.exit(code === 'ENOENT' ? 127 : 126);
      return;
    }
    // Input: the client's EOF ends the program's stdin; with a terminal it is ignored, as sshd does.
    stream.pipe(process.stdin, { end: !terminal });
    const outputs = [process.stdout, ...(process.stderr ? [process.stderr] : [])];
    process.stdout.pipe(stream, { end: false });
    process.stderr?.pipe(stream.stderr, { end: false });
    // exit-status (or exit-signal) goes before EOF, as sshd sends it when the program has ended by
    // the time its output is drained: PuTTY closes the channel once EOF went both ways and then
    // ignores an exit-status behind the EOF (plink would exit 0).
    const drained = Promise.all(outputs.map(ended));
    const [end] = await Promise.all([process.exited, drained]);
    this.finish(stream, process, end);
  }

  /** The program has exited and its output is drained: exit-status or exit-signal, then EOF and CLOSE. */
  private finish(stream: ChannelStream, process: RunningProcess, end: ProcessEnd): void {
    if (this.done) return;
    this.done = true;
    // Whatever the program left running in its session goes now, while its pid still names it.
    hangUpSession(process.pid, this.options.killGraceMs, this.terminalUsed);
    this.discardInput(stream, process);
    process.release();
    if (end.signal !== null) stream.signal(exitSignalName(end.signal), { coreDumped: coreDumpLikely(end.signal) });
    else stream.exit(end.code ?? 0);
  }

  /** Input the program did not read is dropped (sshd's "input drain" to a closed descriptor), so the stream can end. */
  private discardInput(stream: ChannelStream, process: RunningProcess): void {
    stream.unpipe(process.stdin);
    stream.resume();
  }

  /** The channel is gone (closed by the client, or the connection dropped): hang up the program. */
  private channelFinished(): void {
    const process = this.process;
    if (this.done || !process) {
      this.done = true;
      return;
    }
    this.done = true;
    this.host.log(2, `channel ${this.state.id}: closed while pid ${process.pid} runs; hanging up its session`);
    this.discardInput(channelStreamOf(this.state), process);
    process.release();
    hangUpSession(process.pid, this.options.killGraceMs, this.terminalUsed);
  }
}
