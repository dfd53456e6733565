/**
 * A Git host over SSH: repositories in one folder, users, keys and per-repository rights in a SQLite
 * store (repoStore.ts) that admin.ts changes while the server runs. Each exec request is a git
 * command, parsed and authorized by gitAccess.ts; only git-upload-pack (clone, fetch, pull),
 * git-receive-pack (push) and git-upload-archive (git archive --remote) run, on a repository inside
 * the folder the user has the right for. Anything else gets a message on stderr and exit status 1.
 *
 *   npm run sample:git-admin -- add-user alice
 *   npm run sample:git-admin -- add-key alice --key-file ~/.ssh/id_ed25519.pub
 *   npm run sample:git-admin -- add-repo team/app
 *   npm run sample:git-admin -- grant alice team/app write
 *   npm run sample:git                       # 127.0.0.1:2222
 *   git clone ssh://alice@127.0.0.1:2222/team/app.git
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { pipeline } from 'node:stream';
import { parseArgs } from 'node:util';
import { AuthorizedKeys, escapeLogText, requestParamsOf, SSHDaemon } from 'sshdaemon';
import { COMMON_OPTIONS, commonOptions, hostKey, listen } from '../shared/sampleHost';
import { decide } from './gitAccess';
import { RepoStore } from './repoStore';

const { values } = parseArgs({ options: { ...COMMON_OPTIONS, db: { type: 'string' }, repos: { type: 'string' }, git: { type: 'string', default: 'git' } } });
const options = commonOptions(values, __dirname);
const store = new RepoStore(values.db ?? join(options.data, 'git.sqlite'));
const reposDir = values.repos ?? join(options.data, 'repos');

/**
 * The only client variable passed on: git sends `GIT_PROTOCOL=version=2` (ssh -o SendEnv). Soft
 * Serve passed every client variable to git, LD_PRELOAD included: code execution (soft-serve#544).
 */
const GIT_PROTOCOL = /^[a-z0-9=:.-]{1,64}$/i;

const daemon = new SSHDaemon();
daemon.sshCert = hostKey(options.data);
daemon.defaultAuthMethods = 'publickey';
// A git client opens one session per connection: room for one more, not for a hundred idle git
// processes per connection. A connection silent for 5 minutes is closed (git sends keepalives
// while it prepares a pack).
daemon.config('MaxSessionsPerConnection=2');
daemon.config('DefaultIdleTimeout=300');

const log = (connectionId: string, message: string) => console.log(`[${connectionId || '-'}] ${message}`);

daemon
  .on('SSHServiceRequest', (e) => void (e.accept = true))
  .on('SSHUserAuthRequest', async (e) => {
    if (e.authMethod !== 'publickey') return;
    const keys = await store.keys(e.user);
    if (keys) AuthorizedKeys.parse(keys.join('\n'), `keys of ${e.user}`).authorize(e, daemon.sshConnections.get(e.connectionId)?.remoteHost ?? '');
  })
  .on('SSHChannelOpenRequest', (e) => void (e.accept = e.service === 'session'))
  .on('SSHChannelRequest', (e) => {
    const env = requestParamsOf(e, 'env');
    if (env) e.success = env.name === 'GIT_PROTOCOL' && GIT_PROTOCOL.test(env.value);
    // No pty, no subsystem, no forwarding: exec runs git, shell only says hello.
    else e.success = e.requestType === 'exec' || e.requestType === 'shell';
  })
  .on('SSHChannelRequested', async (e) => {
    if (e.requestType !== 'exec' && e.requestType !== 'shell') return;
    // Taken before any await, so the client's first bytes (a push sends them at once) wait in it.
    const channel = daemon.channelStream(e.channelId);
    const user = daemon.sshConnections.get(e.connectionId)?.user ?? '';
    const exec = requestParamsOf(e, 'exec');
    if (!exec) {
      // `ssh -T git@host`, as GitHub answers it: who you are, no shell, exit status 1.
      channel.stderr.write(`Hi ${user}! You've successfully authenticated, but this server does not provide shell access.\n`);
      return void channel.exit(1);
    }
    const decision = await decide(exec.command, reposDir, (repo) => store.access(user, repo));
    if ('refuse' in decision) {
      log(e.connectionId, `${escapeLogText(user)}: refused '${escapeLogText(exec.command)}': ${escapeLogText(decision.refuse)}${decision.log ? ` (${escapeLogText(decision.log)})` : ''}`);
      channel.stderr.write(`git-server: ${decision.refuse}\n`);
      return void channel.exit(1);
    }
    const { service, repository, directory } = decision.grant;
    log(e.connectionId, `${escapeLogText(user)}: ${service} ${escapeLogText(repository)}`);
    const protocol = daemon.sshChannels.get(e.channelId)?.environment.get('GIT_PROTOCOL');
    // `git upload-pack DIR`: DIR is absolute (never an option) and already resolved inside the folder.
    const child = spawn(values.git!, [service.slice('git-'.length), directory], {
      cwd: reposDir,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/', GIT_PUSHER: user, ...(protocol ? { GIT_PROTOCOL: protocol } : {}) },
      stdio: 'pipe',
    });
    channel.pipe(child.stdin);
    child.stdin.on('error', () => undefined); // EPIPE once git has exited
    pipeline(child.stdout, channel, () => undefined);
    pipeline(child.stderr, channel.stderr, () => undefined);
    child.on('close', (code, signal) => (signal ? channel.signal(signal) : channel.exit(code ?? 0)));
    child.on('error', (err) => {
      channel.stderr.write(`git-server: cannot run git: ${err.message}\n`);
      channel.exit(127);
    });
    channel.on('close', () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    });
  })
  .on('Log', (e) => log(e.connectionId, e.message));

void listen(daemon, options);
