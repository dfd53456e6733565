/**
 * From a request and its plan to the program that runs, as sshd's do_exec/do_child: the user's
 * shell with `-c command` (exec) or as a login shell (shell), the session's environment built from
 * scratch, the home folder as working folder, and the optional switch to another uid.
 */
import { statSync } from 'node:fs';
import { basename } from 'node:path';
import { ErrorCodes, SSHDaemonError } from '../errors/SSHDaemonError';
import { findLocalAccount } from './localAccount';
import type { ProcessPlan, ProcessRequest } from './ProcessServiceOptions';
import type { ProcessLaunch } from './RunningProcess';

/** sshd's PATH for root and for other users (Debian's build). */
const ROOT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const USER_PATH = '/usr/local/bin:/usr/bin:/bin';

/** A program ready to start, and what to tell the user first (sshd's "Could not chdir to home directory"). */
export interface ResolvedLaunch {
  readonly launch: ProcessLaunch;
  readonly notice?: string;
}

/** What a plan is resolved with besides the request. */
export interface LaunchContext {
  readonly request: ProcessRequest;
  readonly plan: ProcessPlan;
  /** The program runs in a pseudo-terminal (argv[0] cannot be chosen there). */
  readonly terminal: boolean;
  /** Variables of the accepted key's `environment=` options, when permitUserEnvironment allows them. */
  readonly keyEnvironment?: Readonly<Record<string, string>>;
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

let setprivPath: string | undefined;

/** util-linux setpriv, which switches uid, gid and supplementary groups and then runs the program. */
function setpriv(): string {
  setprivPath ??= ['/usr/bin/setpriv', '/bin/setpriv', '/usr/sbin/setpriv', '/sbin/setpriv'].find((p) => {
    try {
      return statSync(p).isFile();
    } catch {
      return false;
    }
  });
  if (!setprivPath)
    throw new SSHDaemonError(
      ErrorCodes.InvalidArgument,
      'ProcessPlan uid/gid need util-linux setpriv (Debian: apt-get install util-linux), which is not installed',
    );
  return setprivPath;
}

function checkId(name: string, value: number | undefined): void {
  if (value !== undefined && (!Number.isInteger(value) || value < 0 || value > 0xfffffffe)) {
    throw new SSHDaemonError(ErrorCodes.InvalidArgument, `ProcessPlan ${name} must be an integer from 0 to 4294967294, got ${value}`);
  }
}

/**
 * The argv prefix that runs the program as `plan.uid`/`plan.gid` (empty when the plan keeps the
 * daemon's ids). A uid without a gid takes the account's primary group; without an account, the
 * plan must name the group (root's group must never stay by accident).
 */
function runAsPrefix(plan: ProcessPlan, accountGid: number | undefined): string[] {
  if (plan.uid === undefined && plan.gid === undefined && plan.groups === undefined) return [];
  checkId('uid', plan.uid);
  checkId('gid', plan.gid);
  const gid = plan.gid ?? (plan.uid !== undefined ? accountGid : undefined);
  if (plan.uid !== undefined && gid === undefined) {
    throw new SSHDaemonError(ErrorCodes.InvalidArgument, `ProcessPlan uid ${plan.uid} has no passwd entry: give gid too`);
  }
  for (const g of plan.groups ?? []) checkId('groups[]', g);
  if (process.getuid?.() !== 0) {
    throw new SSHDaemonError(ErrorCodes.InvalidArgument, 'ProcessPlan uid/gid/groups need a daemon running as root');
  }
  return [
    setpriv(),
    ...(plan.uid !== undefined ? [`--reuid=${plan.uid}`] : []),
    ...(gid !== undefined ? [`--regid=${gid}`] : []),
    plan.groups?.length ? `--groups=${plan.groups.join(',')}` : '--clear-groups',
    '--',
  ];
}

/**
 * Resolves a plan (see ProcessPlan for the defaults). Throws SSHDaemonError (InvalidArgument) for a
 * plan that cannot run: a `cwd` that is not a folder, ids without root or setpriv.
 */
export async function resolveLaunch(context: LaunchContext): Promise<ResolvedLaunch> {
  const { request, plan, terminal } = context;
  const account = await findLocalAccount({ name: request.user });
  const runsAs =
    plan.uid !== undefined ? await findLocalAccount({ uid: plan.uid }) : await findLocalAccount({ uid: process.getuid?.() ?? -1 });
  const shell = plan.shell ?? (account?.shell || '/bin/sh');
  const home = plan.env?.HOME ?? account?.home ?? runsAs?.home ?? '/';
  const effectiveUid = plan.uid ?? process.getuid?.() ?? -1;
  const env: Record<string, string> = {
    USER: request.user,
    LOGNAME: request.user,
    HOME: home,
    SHELL: shell,
    PATH: effectiveUid === 0 ? ROOT_PATH : USER_PATH,
    ...request.environment,
    ...context.keyEnvironment,
    SSH_CLIENT: `${request.remoteHost} ${request.remotePort} ${request.localPort}`,
    SSH_CONNECTION: `${request.remoteHost} ${request.remotePort} ${request.localHost} ${request.localPort}`,
    ...(request.terminal ? { TERM: request.terminal.term } : {}),
    ...(request.originalCommand !== undefined ? { SSH_ORIGINAL_COMMAND: request.originalCommand } : {}),
    ...plan.env,
  };
  for (const [name, value] of Object.entries(env)) {
    if (name === '' || name.includes('=') || name.includes('\0') || typeof value !== 'string' || value.includes('\0')) {
      throw new SSHDaemonError(ErrorCodes.InvalidArgument, `environment variable ${JSON.stringify(name)} cannot be passed to a program`);
    }
  }
  let cwd = plan.cwd ?? home;
  let notice: string | undefined;
  if (!isDirectory(cwd)) {
    if (plan.cwd !== undefined)
      throw new SSHDaemonError(ErrorCodes.InvalidArgument, `ProcessPlan cwd ${JSON.stringify(plan.cwd)} is not a folder`);
    notice = `Could not chdir to home directory ${home}: No such file or directory\n`;
    cwd = '/';
  }
  const prefix = runAsPrefix(plan, plan.uid !== undefined ? runsAs?.gid : undefined);
  // A login shell is `-name` in argv[0], as sshd starts it; where argv[0] cannot be set (in a
  // terminal, or through setpriv) it gets `-l` instead, which sh, bash, zsh and fish take.
  const canSetArgv0 = !terminal && prefix.length === 0;
  let file: string;
  let args: string[];
  let argv0: string | undefined;
  if (plan.file !== undefined) {
    file = plan.file;
    args = plan.args ?? [];
  } else if (request.kind === 'exec') {
    file = shell;
    args = ['-c', request.command ?? ''];
    argv0 = basename(shell);
  } else if (canSetArgv0) {
    file = shell;
    args = [];
    argv0 = `-${basename(shell)}`;
  } else {
    file = shell;
    args = ['-l'];
  }
  const launch: ProcessLaunch =
    prefix.length > 0
      ? { file: prefix[0], args: [...prefix.slice(1), file, ...args], env, cwd }
      : { file, args, argv0: canSetArgv0 ? argv0 : undefined, env, cwd };
  return { launch, notice };
}
