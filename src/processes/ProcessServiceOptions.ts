import type { SSHConnection } from '../views/views';
import type { ChannelTerminal } from '../channels/ChannelState';

/**
 * The terminal a client asked for with `pty-req` (RFC 4254 6.2), with the size of its last
 * `window-change`: the same shape as `SSHChannel.terminal` ({@link ChannelTerminal}).
 */
export type ProcessTerminal = ChannelTerminal;

/** One `exec` or `shell` request the process service is about to serve, as {@link ProcessServiceOptions.plan} sees it. */
export interface ProcessRequest {
  /** The connection's id. */
  readonly connectionId: string;
  /** The session channel's id. */
  readonly channelId: string;
  /** The authenticated user name. */
  readonly user: string;
  /** The connection (restrictions, key, addresses). */
  readonly connection: SSHConnection;
  /** `exec` (a command) or `shell` (an interactive shell). */
  readonly kind: 'exec' | 'shell';
  /**
   * exec: the command the client sent; after a forced command (authorized_keys `command=`,
   * certificate `force-command`) the forced one. Undefined for a shell.
   */
  readonly command?: string;
  /**
   * The client's own command (or subsystem name) when a forced command replaced it; also given to
   * the program as `SSH_ORIGINAL_COMMAND`, as sshd does.
   */
  readonly originalCommand?: string;
  /** Present when the client asked for a terminal (`pty-req`) before this request. */
  readonly terminal?: ProcessTerminal;
  /** The variables of granted `env` requests (only names `acceptEnv` matches). */
  readonly environment: Readonly<Record<string, string>>;
  /** The client's IP address (SSH_CONNECTION, SSH_CLIENT). */
  readonly remoteHost: string;
  /** The client's TCP port. */
  readonly remotePort: number;
  /** The local address the client connected to (SSH_CONNECTION). */
  readonly localHost: string;
  /** The local port the client connected to (SSH_CONNECTION, SSH_CLIENT). */
  readonly localPort: number;
}

/**
 * What to run for one request. Every field is optional: `{}` runs the client's command through the
 * user's shell, as sshd does (`shell -c command` for exec, a login shell for shell).
 */
export interface ProcessPlan {
  /**
   * The program to run instead of the shell, with `args` (no shell is involved then: the client's
   * command is in the request, decide what to run from it yourself).
   */
  file?: string;
  /** Arguments of `file` (default none). Ignored without `file`. */
  args?: string[];
  /**
   * The shell that runs the command (`shell -c command`) or is started as a login shell. Default: the
   * user's shell from the passwd database when the user exists on this machine, else `/bin/sh`.
   */
  shell?: string;
  /**
   * Working folder. Default: the user's home (`HOME` below); a home that does not exist is replaced
   * by `/` with a message on stderr, as sshd does. A `cwd` given here must exist.
   */
  cwd?: string;
  /**
   * Variables set last, over the defaults (`USER`, `LOGNAME`, `HOME`, `SHELL`, `PATH`,
   * `SSH_CONNECTION`, `SSH_CLIENT`, `SSH_TTY`, `TERM`, `SSH_ORIGINAL_COMMAND`) and the client's
   * accepted `env` requests. Nothing of the daemon's own environment is passed on.
   */
  env?: Record<string, string>;
  /**
   * Run as this user id (and `gid`, `groups`); only when the daemon runs as root, never by default.
   * The switch is done by util-linux `setpriv` (`--reuid`, `--regid`, `--groups` or `--clear-groups`),
   * which must be installed. Without `gid`, the primary group of the uid's passwd entry (a uid
   * without one needs `gid`).
   */
  uid?: number;
  /** Run as this group id (with `uid`). */
  gid?: number;
  /** Supplementary groups with `uid` (default: none, the daemon's are dropped). */
  groups?: number[];
}

/**
 * A refusal from {@link ProcessServiceOptions.plan}: the request is granted, nothing runs, `message`
 * goes to the client's stderr and the channel ends with `exitStatus` (default 1), as a command that
 * fails under sshd.
 */
export interface ProcessRefusal {
  /** The line written to stderr (a newline is added). */
  refused: string;
  /** The exit status sent (default 1). */
  exitStatus?: number;
}

/** Options of {@link SSHDaemon.enableProcesses}. */
export interface ProcessServiceOptions {
  /**
   * What to run for one `exec` or `shell` request (may be asynchronous; the client's input waits).
   * Return a {@link ProcessPlan} (`{}` for the defaults), a {@link ProcessRefusal}, or null/undefined
   * to refuse with the message "Request refused by the server." and exit status 1. Without `plan`
   * every request runs through the user's shell. A plan that throws refuses too and fires `Error`
   * 1030.
   */
  plan?(
    request: ProcessRequest,
  ): ProcessPlan | ProcessRefusal | null | undefined | Promise<ProcessPlan | ProcessRefusal | null | undefined>;
  /**
   * OpenSSH `AcceptEnv` patterns (`*` and `?` wildcards, case-sensitive) for the client's `env`
   * requests; others are refused. Default `['LANG', 'LC_*']` (Debian's sshd_config).
   */
  acceptEnv?: string[];
  /**
   * Serve `pty-req` with a pseudo-terminal (node-pty; default true). False refuses `pty-req` and
   * does not need node-pty.
   */
  pty?: boolean;
  /**
   * Seconds between SIGHUP and SIGKILL when a channel closes (or the connection drops) while its
   * process group still runs (default 2).
   */
  killGrace?: number;
  /**
   * Apply the `environment="NAME=value"` options of the accepted authorized_keys line, as sshd's
   * `PermitUserEnvironment yes` (default false, as sshd).
   */
  permitUserEnvironment?: boolean;
}

/** Chooses process options per connection (undefined refuses exec and shell for it). */
export type ProcessProvider = (connection: SSHConnection) => ProcessServiceOptions | undefined | Promise<ProcessServiceOptions | undefined>;
