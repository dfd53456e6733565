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
daemon
  .on('SSHServiceRequest', (e) => { e.accept = true; })
  .on('SSHUserAuthRequest', async (e) => { e.accept = e.authMethod === 'password' && await checkPassword(e.user, e.authParam); })
  .on('SSHChannelOpenRequest', (e) => { e.accept = e.service === 'session'; })
  .on('SSHChannelRequest', (e) => { e.success = e.requestType === 'exec'; })
  .on('SSHChannelRequested', async (e) => {
    await daemon.sendChannelData(e.channelId, `you ran ${daemon.getSSHParam(e.packet, 'Command')}\n`);
    await daemon.sendExitStatus(e.channelId, 0);
    await daemon.closeChannel(e.channelId);
  });
void listen(daemon, options);
