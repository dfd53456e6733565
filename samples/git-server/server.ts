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
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { AuthorizedKeys, escapeLogText, SSHDaemon } from 'sshdaemon';
import { COMMON_OPTIONS, commonOptions, hostKey, listen } from '../shared/sampleHost';
import { decide } from './gitAccess';
import { RepoStore } from './repoStore';

const { values } = parseArgs({
  options: { ...COMMON_OPTIONS, db: { type: 'string' }, repos: { type: 'string' }, git: { type: 'string', default: 'git' } },
});
const options = commonOptions(values, __dirname);
const store = new RepoStore(values.db ?? join(options.data, 'git.sqlite'));
const reposDir = values.repos ?? join(options.data, 'repos');

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
    if (keys)
      AuthorizedKeys.parse(keys.join('\n'), `keys of ${e.user}`).authorize(e, daemon.sshConnections.get(e.connectionId)?.remoteHost ?? '');
  })
  .on('SSHChannelOpenRequest', (e) => void (e.accept = e.service === 'session'))
  .on('Log', (e) => log(e.connectionId, e.message));

// exec and shell through the process service: plan() decides what runs; a refusal is a line on
// stderr and exit status 1. No pty (git never asks for one), no subsystem, no forwarding.
daemon.enableProcesses({
  pty: false,
  // The only client variable passed on: git sends GIT_PROTOCOL=version=2 (ssh -o SendEnv). Soft
  // Serve passed every client variable to git, LD_PRELOAD included: code execution (soft-serve#544).
  acceptEnv: ['GIT_PROTOCOL'],
  async plan(request) {
    const { user, connectionId } = request;
    // `ssh -T git@host`, as GitHub answers it: who you are, no shell, exit status 1.
    if (request.kind === 'shell')
      return { refused: `Hi ${user}! You've successfully authenticated, but this server does not provide shell access.` };
    const command = request.command ?? '';
    const decision = await decide(command, reposDir, (repo) => store.access(user, repo));
    if ('refuse' in decision) {
      log(
        connectionId,
        `${escapeLogText(user)}: refused '${escapeLogText(command)}': ${escapeLogText(decision.refuse)}${decision.log ? ` (${escapeLogText(decision.log)})` : ''}`,
      );
      return { refused: `git-server: ${decision.refuse}` };
    }
    const { service, repository, directory } = decision.grant;
    log(connectionId, `${escapeLogText(user)}: ${service} ${escapeLogText(repository)}`);
    // `git upload-pack DIR`, no shell: DIR is absolute (never an option) and resolved inside the folder.
    // HOME is the server's (git reads its config there), not that of a local account named like the user.
    return {
      file: values.git!,
      args: [service.slice('git-'.length), directory],
      cwd: reposDir,
      env: { HOME: process.env.HOME ?? reposDir, GIT_PUSHER: user },
    };
  },
});

void listen(daemon, options);
