/**
 * The SSH server demo of the IPWorks SSH JavaScript edition, ported: the same flow (user "test" /
 * password "test", a shell that runs each line typed, exec of single commands with their exit
 * status) written with the IPWorks names this SDK keeps: getX()/setX() properties, `e.authMethod`,
 * getSSHParam/setSSHParam, sendSSHPacket, config("Name[connectionId]").
 *
 *   npm run sample:ipworks                   # 127.0.0.1:2222, user test / password test
 *   ssh -p 2222 test@127.0.0.1 'uname -a'
 *
 * Porting notes: IPWorks' `sshserver` class becomes `SSHServer` from 'sshdaemon' (an alias of
 * SSHDaemon); the code below it is unchanged in shape. See README.md.
 * WARNING: like the original demo, it runs commands on this machine as the user running it.
 */
import { exec } from 'node:child_process';
import { parseArgs } from 'node:util';
import { Certificate, CertStoreTypes, escapeLogText, SSHServer } from 'sshdaemon';
import { COMMON_OPTIONS, commonOptions, hostKey } from '../shared/sampleHost';

const { values } = parseArgs({
  options: { ...COMMON_OPTIONS, user: { type: 'string', default: 'test' }, password: { type: 'string', default: 'test' } },
});
const options = commonOptions(values, __dirname);
hostKey(options.data); // makes sure <data>/host_key exists; loaded below the IPWorks way

const sshserver = new SSHServer();
interface Shell {
  pty: boolean;
  input: string;
  busy: boolean;
}
const shells = new Map<string, Shell>(); // shell channels by channel id
const ptys = new Set<string>(); // channels that asked for a terminal

function runCommand(command: string): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve) => {
    exec(command, { shell: '/bin/sh', timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ stdout, stderr, code });
    });
  });
}

/** The exit-status channel request, built field by field as IPWorks code does. */
async function sendExitStatus(channelId: string, code: number): Promise<void> {
  let payload = sshserver.setSSHParam(null, 's', 'exit-status');
  payload = sshserver.setSSHParam(payload, 'f', 'false'); // want-reply
  payload = sshserver.setSSHParam(payload, 'i', code);
  await sshserver.sendSSHPacket(channelId, 98, payload); // SSH_MSG_CHANNEL_REQUEST
}

/** stderr as SSH_MSG_CHANNEL_EXTENDED_DATA (95), data type 1. */
async function sendStderr(channelId: string, text: string): Promise<void> {
  let payload = sshserver.setSSHParam(null, 'i', 1);
  payload = sshserver.setSSHParam(payload, 'sb', Buffer.from(text).toString('hex'));
  await sshserver.sendSSHPacket(channelId, 95, payload);
}

sshserver.on('Connected', (e) => {
  console.log(`${e.connectionId} connected: ${e.description}`);
});
sshserver.on('Disconnected', (e) => {
  console.log(`${e.connectionId} disconnected: ${e.description}`);
});
sshserver.on('SSHStatus', (e) => {
  console.log(`${e.connectionId} status: ${e.message}`);
});
sshserver.on('Error', (e) => {
  console.log(`${e.connectionId} error ${e.errorCode}: ${e.description}`);
});
sshserver.on('SSHServiceRequest', (e) => {
  e.accept = true;
});
sshserver.on('SSHUserAuthRequest', (e) => {
  if (e.authMethod === 'password' && e.user === values.user && e.authParam === values.password) {
    e.accept = true;
    console.log(
      `${e.connectionId} ${e.user} logged in; client ${escapeLogText(sshserver.config(`ClientSSHVersionString[${e.connectionId}]`))}; ${sshserver.getSSHConnections().size} connection(s)`,
    );
  } else {
    e.accept = false;
  }
});
sshserver.on('SSHChannelOpenRequest', (e) => {
  e.accept = e.service === 'session';
});
sshserver.on('SSHChannelRequest', (e) => {
  // pty-req, env and window-change are accepted so terminal clients get on; the demo does not use them.
  e.success = ['shell', 'exec', 'pty-req', 'env', 'window-change'].includes(e.requestType);
});
sshserver.on('SSHChannelRequested', async (e) => {
  if (e.requestType === 'pty-req') ptys.add(e.channelId);
  if (e.requestType === 'shell') {
    shells.set(e.channelId, { pty: ptys.has(e.channelId), input: '', busy: false });
    await sshserver.sendChannelData(e.channelId, 'Welcome to the IPWorks SSHServer demo (ported). Type a command, or "exit".\r\n> ');
  } else if (e.requestType === 'exec') {
    const command = sshserver.getSSHParam(e.packet, 'Command');
    console.log(`${e.connectionId} exec: ${escapeLogText(command)}`); // the client's text: escaped
    const result = await runCommand(command);
    await sshserver.sendChannelData(e.channelId, result.stdout);
    if (result.stderr) await sendStderr(e.channelId, result.stderr);
    await sendExitStatus(e.channelId, result.code);
    await sshserver.closeChannel(e.channelId);
  }
});
sshserver.on('SSHChannelDataIn', (e) => {
  const shell = shells.get(e.channelId);
  if (!shell) return;
  const text = e.data.toString();
  // With a pty the client does not echo what is typed; the demo does (Enter as CR LF).
  if (shell.pty) void sshserver.sendChannelData(e.channelId, text.replace(/\r\n?|\n/g, '\r\n'));
  shell.input += text;
  void runLines(e.channelId, shell);
});
sshserver.on('SSHChannelClosed', (e) => {
  shells.delete(e.channelId);
  ptys.delete(e.channelId);
});

/** Runs the complete lines typed so far, one at a time, in order. */
async function runLines(channelId: string, shell: Shell): Promise<void> {
  if (shell.busy) return;
  shell.busy = true;
  try {
    let end: number;
    while ((end = shell.input.search(/[\r\n]/)) >= 0) {
      const command = shell.input.slice(0, end).trim();
      shell.input = shell.input.slice(end + 1).replace(/^\n/, '');
      if (command === 'exit') {
        shells.delete(channelId);
        await sendExitStatus(channelId, 0);
        await sshserver.closeChannel(channelId);
        return;
      }
      if (command) {
        const result = await runCommand(command);
        await sshserver.sendChannelData(channelId, (result.stdout + result.stderr).replace(/\r?\n/g, '\r\n'));
      }
      await sshserver.sendChannelData(channelId, '> ');
    }
  } catch {
    shells.delete(channelId); // the channel went away while a command ran
  } finally {
    shell.busy = false;
  }
}

async function main(): Promise<void> {
  sshserver.setSSHCert(new Certificate(CertStoreTypes.cstPEMKeyFile, `${options.data}/host_key`, '', '*'));
  sshserver.setLocalHost(options.host);
  sshserver.setLocalPort(options.port);
  sshserver.setDefaultAuthMethods('password');
  await sshserver.startListening(); // or setListening(true), with errors on the Error event
  console.log(`listening on ${sshserver.getLocalHost()}:${sshserver.getLocalPort()}`);
  const stop = () => void sshserver.shutdown().then(() => process.exit(0));
  process.once('SIGINT', stop).once('SIGTERM', stop);
}

main().catch((err: Error) => {
  console.error(`cannot start: ${err.message}`);
  process.exit(1);
});
