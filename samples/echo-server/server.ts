/**
 * The smallest server: the README's fifteen lines, runnable. `exec` answers with the command it
 * was given; everything else is refused (decisions default to refuse).
 *
 *   npm run sample:echo                      # 127.0.0.1:2222, user demo / password demo
 *   ssh -p 2222 demo@127.0.0.1 hello world   # prints: you ran hello world
 */
import { parseArgs } from 'node:util';
import { SSHDaemon } from 'sshdaemon';
import { COMMON_OPTIONS, commonOptions, hostKey, listen, sameSecret, usersFrom } from '../shared/sampleHost';

const { values } = parseArgs({ options: { ...COMMON_OPTIONS, user: { type: 'string', multiple: true } } });
const options = commonOptions(values, __dirname);
const users = usersFrom(values.user, 'demo:demo');
const checkPassword = async (user: string, password: string) => users.has(user) && sameSecret(password, users.get(user)!);

// ---- the fifteen lines (host key and port come from the options above) ----
const daemon = new SSHDaemon();
daemon.sshCert = hostKey(options.data);
// The README's lines, kept as written there (test/samples-echo.test.ts).
// prettier-ignore
daemon
  .on('SSHServiceRequest', (e) => { e.accept = true; })
  .on('SSHUserAuthRequest', async (e) => { e.accept = e.authMethod === 'password' && await checkPassword(e.user, e.authParam); })
  .on('SSHChannelOpenRequest', (e) => { if (e.service === 'session') e.accept = true; })
  .on('SSHChannelRequest', (e) => { if (e.requestType === 'exec') e.success = true; })
  .on('SSHChannelRequested', (e) => {
    if (e.requestType !== 'exec') return;
    daemon.channelStream(e.channelId).end(`you ran ${daemon.getSSHParam(e.packet, 'Command')}\n`).exit(0);
  });
void listen(daemon, options);
