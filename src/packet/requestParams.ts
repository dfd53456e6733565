import { WireReader } from './wire';

/** Decoded terminal modes: opcode (RFC 4254 section 8) to value. */
export type TerminalModes = Record<number, number>;

/** `params` of a channel request, by request type; unknown types decode to `{}`. */
export interface ChannelRequestParamsMap {
  /**
   * `pty-req`: the client wants a terminal.
   * @property term The TERM value (`xterm-256color`, ...).
   * @property cols Width in characters.
   * @property rows Height in rows.
   * @property width Width in pixels (0 if unknown).
   * @property height Height in pixels (0 if unknown).
   * @property modes The terminal modes the client sent.
   */
  'pty-req': { term: string; cols: number; rows: number; width: number; height: number; modes: TerminalModes };
  /**
   * `x11-req`: X11 forwarding.
   * @property single Forward only one X11 connection.
   * @property protocol The X11 authentication protocol (`MIT-MAGIC-COOKIE-1`).
   * @property cookie The authentication cookie, hex as sent.
   * @property screen The X11 screen number.
   */
  'x11-req': { single: boolean; protocol: string; cookie: string; screen: number };
  /**
   * `env`: an environment variable.
   * @property name Its name.
   * @property value Its value.
   */
  env: { name: string; value: string };
  /** `shell`: start the user's shell (no parameters). */
  shell: Record<string, never>;
  /**
   * `exec`: run a command.
   * @property command The command line; the forced command when one replaced the client's.
   * @property originalCommand What the client asked for when a forced command replaced it (SSH_ORIGINAL_COMMAND).
   */
  exec: { command: string; originalCommand?: string };
  /**
   * `subsystem`: start a subsystem.
   * @property subsystem Its name (`sftp`, ...).
   */
  subsystem: { subsystem: string };
  /**
   * `window-change`: the client's terminal was resized.
   * @property cols Width in characters.
   * @property rows Height in rows.
   * @property width Width in pixels.
   * @property height Height in pixels.
   */
  'window-change': { cols: number; rows: number; width: number; height: number };
  /**
   * `xon-xoff`: whether the client may do flow control (^S/^Q) itself.
   * @property clientCanDo True: the client may.
   */
  'xon-xoff': { clientCanDo: boolean };
  /**
   * `signal`: deliver a signal to the process.
   * @property signal The signal name without `SIG` (`INT`, `TERM`, ...).
   */
  signal: { signal: string };
  /**
   * `break` (RFC 4335): send a break to the terminal.
   * @property length Break length in milliseconds.
   */
  break: { length: number };
  /**
   * `exit-status`: the process exit code.
   * @property exitStatus The exit code.
   */
  'exit-status': { exitStatus: number };
  /**
   * `exit-signal`: the process died of a signal.
   * @property signal The signal name without `SIG`.
   * @property coreDumped True when a core was dumped.
   * @property message An error message.
   */
  'exit-signal': { signal: string; coreDumped: boolean; message: string };
  /**
   * Global request (channelId ''): `ssh -R`; bindPort 0 asks the server to choose.
   * @property bindAddress The address to listen on, as the client names it (`localhost`, `0.0.0.0`, `''`, ...).
   * @property bindPort The port to listen on; 0 = any.
   */
  'tcpip-forward': { bindAddress: string; bindPort: number };
  /**
   * Global request (channelId ''): cancels a `tcpip-forward`.
   * @property bindAddress The address of the forward to cancel.
   * @property bindPort The port of the forward to cancel.
   */
  'cancel-tcpip-forward': { bindAddress: string; bindPort: number };
  /**
   * Global request (channelId ''): `ssh -R /remote.sock:...`, listen on a Unix socket (OpenSSH PROTOCOL 2.4).
   * @property socketPath The socket path the client asks the server to listen on.
   */
  'streamlocal-forward@openssh.com': { socketPath: string };
  /**
   * Global request (channelId ''): cancels a `streamlocal-forward@openssh.com`.
   * @property socketPath The socket path of the forward to cancel.
   */
  'cancel-streamlocal-forward@openssh.com': { socketPath: string };
}

/** Any decoded request; a union of the known shapes, or an empty object. */
export type ChannelRequestParams = ChannelRequestParamsMap[keyof ChannelRequestParamsMap] | Record<string, never>;

function decodeModes(raw: Buffer): TerminalModes {
  const modes: TerminalModes = {};
  const r = new WireReader(raw);
  while (r.remaining > 0) {
    const op = r.byte();
    if (op === 0 || op >= 160) break; // TTY_OP_END, or opcodes 160-255 whose encoding is undefined
    if (r.remaining < 4) break;
    modes[op] = r.uint32();
  }
  return modes;
}

type Decoder = (r: WireReader) => ChannelRequestParams;

const windowSize = (r: WireReader) => ({ cols: r.uint32(), rows: r.uint32(), width: r.uint32(), height: r.uint32() });

const DECODERS: Readonly<Record<string, Decoder>> = {
  'pty-req': (r) => {
    const term = r.string();
    const size = windowSize(r);
    return { term, ...size, modes: decodeModes(r.bytes()) };
  },
  'x11-req': (r) => ({ single: r.boolean(), protocol: r.string(), cookie: r.string(), screen: r.uint32() }),
  env: (r) => ({ name: r.string(), value: r.string() }),
  exec: (r) => ({ command: r.string() }),
  subsystem: (r) => ({ subsystem: r.string() }),
  'window-change': windowSize,
  'xon-xoff': (r) => ({ clientCanDo: r.boolean() }),
  signal: (r) => ({ signal: r.string() }),
  break: (r) => ({ length: r.uint32() }),
  'exit-status': (r) => ({ exitStatus: r.uint32() }),
  'exit-signal': (r) => ({ signal: r.string(), coreDumped: r.boolean(), message: r.string() }),
  'tcpip-forward': (r) => ({ bindAddress: r.string(), bindPort: r.uint32() }),
  'cancel-tcpip-forward': (r) => ({ bindAddress: r.string(), bindPort: r.uint32() }),
  'streamlocal-forward@openssh.com': (r) => ({ socketPath: r.string() }),
  'cancel-streamlocal-forward@openssh.com': (r) => ({ socketPath: r.string() }),
};

/**
 * Decodes the type-specific part of a channel request body (after channel id, type, want-reply).
 * Throws SSHDaemonError on a truncated body, which the caller treats as a protocol error.
 */
export function decodeRequestParams(requestType: string, r: WireReader): ChannelRequestParams {
  // Own properties only: a request named 'constructor' or 'hasOwnProperty' is just an unknown request.
  const decode = Object.hasOwn(DECODERS, requestType) ? DECODERS[requestType] : undefined;
  return decode ? decode(r) : {};
}

/**
 * The decoded parameters of a channel request event when it is of `type`, typed for that type;
 * `undefined` for any other request. Saves a cast in handlers:
 * `const pty = requestParamsOf(e, 'pty-req'); if (pty) resize(pty.cols, pty.rows);`
 */
export function requestParamsOf<T extends keyof ChannelRequestParamsMap>(
  e: { readonly requestType: string; readonly params: ChannelRequestParams },
  type: T,
): ChannelRequestParamsMap[T] | undefined {
  return e.requestType === type ? (e.params as ChannelRequestParamsMap[T]) : undefined;
}
