/**
 * A real shell over SSH: `/bin/sh` in a pseudo-terminal (pty-req, window-change, exit status), or
 * with `--shell ts` the TypeScript shell of tsShell.ts (no process is spawned at all).
 *
 *   npm run sample:shell                       # /bin/sh in a pty; user demo / password demo
 *   npm run sample:shell -- --shell ts         # the TypeScript shell
 *
 * The pty comes from pty_helper.py (Python's `pty` module): see README.md for why not node-pty.
 * WARNING: in `pty` mode a logged-in user runs commands as the user running this server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { constants } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { AuthorizedKeys, requestParamsOf, SSHDaemon } from 'sshdaemon';
import { COMMON_OPTIONS, commonOptions, hostKey, listen, sameSecret, usersFrom } from '../shared/sampleHost';
import { TsShell } from './tsShell';

const { values } = parseArgs({
  options: {
    ...COMMON_OPTIONS,
    user: { type: 'string', multiple: true },
    'authorized-keys': { type: 'string' },
    shell: { type: 'string', default: 'pty' },
    'login-shell': { type: 'string', default: '/bin/sh' },
    python: { type: 'string', default: 'python3' },
  },
});
const options = commonOptions(values, __dirname);
const users = usersFrom(values.user, 'demo:demo');
if (values.shell !== 'pty' && values.shell !== 'ts') {
  console.error(`--shell must be pty or ts, got '${values.shell}'`);
  process.exit(2);
}
const HELPER = join(__dirname, 'pty_helper.py');

interface Session {
  user: string;
  /** A shell or exec already runs on this channel. */
  started?: boolean;
  pty?: { term: string; cols: number; rows: number };
  /** From `env` requests; only LANG and LC_* are taken, as sshd's usual AcceptEnv. */
  env: Record<string, string>;
  process?: ChildProcess;
  /** Writes "cols rows" lines to the pty helper. */
  resize?: Writable;
  ts?: TsShell;
}
const sessions = new Map<string, Session>();

const daemon = new SSHDaemon();
daemon.sshCert = hostKey(options.data);
daemon.defaultAuthMethods = values['authorized-keys'] ? 'publickey,password' : 'password';

daemon
  .on('SSHServiceRequest', (e) => void (e.accept = true))
  .on('SSHUserAuthRequest', (e) => {
    if (e.authMethod === 'password') e.accept = users.has(e.user) && sameSecret(e.authParam, users.get(e.user)!);
    if (e.authMethod === 'publickey' && values['authorized-keys']) {
      // Read at each attempt so edits apply to the next login; options such as no-pty are enforced.
      AuthorizedKeys.fromFile(values['authorized-keys']).authorize(e, daemon.sshConnections.get(e.connectionId)?.remoteHost ?? '');
    }
  })
  .on('SSHChannelOpenRequest', (e) => {
    e.accept = e.service === 'session';
    if (e.accept) sessions.set(e.channelId, { user: daemon.sshConnections.get(e.connectionId)?.user ?? '', env: {} });
  })
  .on('SSHChannelRequest', (e) => {
    const session = sessions.get(e.channelId);
    const env = requestParamsOf(e, 'env');
    if (env) e.success = /^(LANG|LC_[A-Z_]+)$/.test(env.name);
    // One program per channel, as RFC 4254 says: a second shell/exec is refused.
    else if (e.requestType === 'shell' || e.requestType === 'exec') e.success = session !== undefined && !session.started;
    else e.success = ['pty-req', 'window-change'].includes(e.requestType);
  })
  .on('SSHChannelRequested', (e) => {
    const session = sessions.get(e.channelId);
    if (!session) return;
    const pty = requestParamsOf(e, 'pty-req');
    if (pty) session.pty = { term: pty.term, cols: pty.cols, rows: pty.rows };
    const env = requestParamsOf(e, 'env');
    if (env) session.env[env.name] = env.value;
    const size = requestParamsOf(e, 'window-change');
    if (size) {
      if (session.pty) session.pty = { ...session.pty, cols: size.cols, rows: size.rows };
      session.resize?.write(`${size.cols} ${size.rows}\n`);
      session.ts?.resize(size.cols, size.rows);
    }
    const exec = requestParamsOf(e, 'exec');
    if (e.requestType === 'shell' || exec) {
      session.started = true;
      if (values.shell === 'ts') startTsShell(e.channelId, session, exec?.command);
      else startProcess(e.channelId, session, exec?.command);
    }
  })
  .on('SSHChannelDataIn', (e) => {
    const session = sessions.get(e.channelId);
    if (session?.ts) session.ts.input(e.data);
    else session?.process?.stdin?.write(e.data);
  })
  .on('SSHChannelEOF', (e) => {
    const session = sessions.get(e.channelId);
    session?.ts?.end();
    session?.process?.stdin?.end();
  })
  .on('SSHChannelClosed', (e) => {
    // The client went away: hang up what still runs, as sshd does.
    const child = sessions.get(e.channelId)?.process;
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGHUP');
    sessions.delete(e.channelId);
  })
  .on('Log', (e) => console.log(`[${e.connectionId || '-'}] ${e.message}`));

/** Output to the client with flow control: the stream pauses until the channel has taken the data. */
function pump(stream: Readable, send: (data: Buffer) => Promise<void>): void {
  stream.on('data', (data: Buffer) => {
    stream.pause();
    send(data).then(
      () => stream.resume(),
      () => stream.resume(),
    );
  });
}

function finish(channelId: string, code: number): void {
  // In order, after the output; both are safe to leave unawaited (the channel may be gone already).
  void daemon.sendExitStatus(channelId, code);
  void daemon.closeChannel(channelId);
}

function startProcess(channelId: string, session: Session, command: string | undefined): void {
  const shell = values['login-shell']!;
  const argv = command === undefined ? [shell] : [shell, '-c', command];
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/',
    USER: session.user,
    LOGNAME: session.user,
    SHELL: shell,
    ...(session.pty ? { TERM: session.pty.term } : {}),
    ...session.env,
  };
  const child = session.pty
    ? spawn(values.python!, [HELPER, '--control-fd', '3', String(session.pty.cols || 80), String(session.pty.rows || 24), ...argv], {
        env,
        cwd: env.HOME,
        stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
      })
    : spawn(argv[0], argv.slice(1), { env, cwd: env.HOME, stdio: ['pipe', 'pipe', 'pipe'] });
  session.process = child;
  session.resize = session.pty ? (child.stdio[3] as Writable) : undefined;
  session.resize?.on('error', () => undefined);
  child.stdin!.on('error', () => undefined); // EPIPE when the program exits before reading its input
  pump(child.stdout!, (d) => daemon.sendChannelData(channelId, d));
  // With a pty the program's stderr is in stdout already; the helper's own stderr is ours to log.
  if (session.pty) child.stderr!.on('data', (d: Buffer) => console.error(`pty helper: ${d.toString().trimEnd()}`));
  else pump(child.stderr!, (d) => daemon.sendStderr(channelId, d));
  child.on('error', (err) => {
    void daemon.sendStderr(channelId, `cannot start ${session.pty ? values.python : shell}: ${err.message}\n`);
    finish(channelId, 127);
  });
  // 'close' comes after all output was read, so the exit status goes out after the last byte.
  child.on('close', (code, signal) => finish(channelId, code ?? 128 + (signal ? constants.signals[signal] : 0)));
}

function startTsShell(channelId: string, session: Session, command: string | undefined): void {
  const write = (text: string) => void daemon.sendChannelData(channelId, text).catch(() => undefined);
  const shell = new TsShell({ write, exit: (code) => finish(channelId, code) }, { user: session.user, terminal: session.pty });
  if (command === undefined) {
    session.ts = shell; // input and EOF go to it from now on
    return shell.start();
  }
  const { output, code } = shell.execute(command);
  write(output);
  finish(channelId, code);
}

void listen(daemon, options);
