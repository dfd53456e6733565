/**
 * A real shell over SSH: the built-in process service (`enableProcesses`) runs `/bin/sh` (or
 * `--login-shell`) in a pseudo-terminal or on pipes, as sshd does; or, with `--shell ts`, the
 * TypeScript shell of tsShell.ts (no process is spawned at all).
 *
 *   npm run sample:shell                       # /bin/sh for real; user demo / password demo
 *   npm run sample:shell -- --shell ts         # the TypeScript shell
 *
 * WARNING: in `pty` mode a logged-in user runs commands as the user running this server.
 */
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
  },
});
const options = commonOptions(values, __dirname);
const users = usersFrom(values.user, 'demo:demo');
if (values.shell !== 'pty' && values.shell !== 'ts') {
  console.error(`--shell must be pty or ts, got '${values.shell}'`);
  process.exit(2);
}

const daemon = new SSHDaemon();
daemon.sshCert = hostKey(options.data);
daemon.defaultAuthMethods = values['authorized-keys'] ? 'publickey,password' : 'password';

daemon
  .on('SSHServiceRequest', (e) => void (e.accept = true))
  .on('SSHUserAuthRequest', (e) => {
    if (e.authMethod === 'password') e.accept = users.has(e.user) && sameSecret(e.authParam, users.get(e.user)!);
    if (e.authMethod === 'publickey' && values['authorized-keys']) {
      // Read at each attempt so edits apply to the next login; options such as no-pty and command= are enforced.
      AuthorizedKeys.fromFile(values['authorized-keys']).authorize(e, daemon.sshConnections.get(e.connectionId)?.remoteHost ?? '');
    }
  })
  .on('SSHChannelOpenRequest', (e) => void (e.accept = e.service === 'session'))
  .on('Log', (e) => console.log(`[${e.connectionId || '-'}] ${e.message}`));

if (values.shell === 'pty') {
  // Everything sshd does for a session: pty-req, env (LANG, LC_*), shell, exec, window-change,
  // signal, exit status after the last byte, hang-up of the program when the client goes.
  daemon.enableProcesses({ plan: () => ({ shell: values['login-shell'] }) });
} else {
  serveTsShell();
}

/** The TypeScript shell on the channel events: one shell or command per channel, as RFC 4254 says. */
function serveTsShell(): void {
  const sessions = new Map<string, { started: boolean; ts?: TsShell }>();
  const finish = (channelId: string, code: number) => {
    // In order, after the output; both are safe to leave unawaited (the channel may be gone already).
    void daemon.sendExitStatus(channelId, code);
    void daemon.closeChannel(channelId);
  };
  daemon
    .on('SSHChannelRequest', (e) => {
      const started = sessions.get(e.channelId)?.started ?? false;
      if (e.requestType === 'shell' || e.requestType === 'exec') e.success = !started;
      else e.success = ['pty-req', 'window-change'].includes(e.requestType);
    })
    .on('SSHChannelRequested', (e) => {
      const session = sessions.get(e.channelId) ?? { started: false };
      sessions.set(e.channelId, session);
      const size = requestParamsOf(e, 'window-change');
      if (size) session.ts?.resize(size.cols, size.rows);
      const exec = requestParamsOf(e, 'exec');
      if (e.requestType !== 'shell' && !exec) return;
      session.started = true;
      const channel = daemon.sshChannels.get(e.channelId)!;
      const user = daemon.sshConnections.get(e.connectionId)?.user ?? '';
      const write = (text: string) => void daemon.sendChannelData(e.channelId, text).catch(() => undefined);
      const shell = new TsShell(
        { write, exit: (code) => finish(e.channelId, code) },
        { user, terminal: channel.terminal && { term: channel.terminal.term, cols: channel.terminal.cols, rows: channel.terminal.rows } },
      );
      if (!exec) {
        session.ts = shell; // input and EOF go to it from now on
        return shell.start();
      }
      const { output, code } = shell.execute(exec.command);
      write(output);
      finish(e.channelId, code);
    })
    .on('SSHChannelDataIn', (e) => sessions.get(e.channelId)?.ts?.input(e.data))
    .on('SSHChannelEOF', (e) => sessions.get(e.channelId)?.ts?.end())
    .on('SSHChannelClosed', (e) => void sessions.delete(e.channelId));
}

void listen(daemon, options);
