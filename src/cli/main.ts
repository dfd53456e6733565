#!/usr/bin/env node
/**
 * The demo server: `npm start` (or `sshdaemon`) serves ssh on 127.0.0.1:2222 with a host key generated
 * on first run into ./data, user demo/demo, and a small shell (src/cli/demoShell.ts).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Certificate, CertStoreTypes, requestParamsOf, SSHDaemon } from '../index';
import { DemoShell, type ShellContext } from './demoShell';

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

async function main(): Promise<void> {
  const host = option('host', '127.0.0.1');
  const port = Number(option('port', '2222'));
  const dataDir = option('data', join(process.cwd(), 'data'));
  const keyFile = option('host-key', join(dataDir, 'ssh_host_ed25519_key'));
  const [user, password] = option('user', 'demo:demo').split(':');
  if (!existsSync(keyFile)) {
    mkdirSync(dataDir, { recursive: true });
    Certificate.generate('ed25519').save(keyFile, 'sshdaemon demo host key');
  }
  const daemon = new SSHDaemon();
  daemon.sshCert = new Certificate(CertStoreTypes.cstPEMKeyFile, keyFile);
  daemon.localHost = host;
  daemon.localPort = port;
  const shells = new Map<string, DemoShell>();
  const terminals = new Map<string, ShellContext['terminal']>();
  const finish = (channelId: string, code: number) =>
    void daemon.sendExitStatus(channelId, code).then(() => daemon.closeChannel(channelId), () => undefined);
  const context = (connectionId: string, channelId: string): ShellContext => {
    const conn = daemon.sshConnections.get(connectionId);
    return { user: conn?.user ?? user, remote: `${conn?.remoteHost}:${conn?.remotePort}`, terminal: terminals.get(channelId) };
  };
  daemon
    .on('SSHServiceRequest', (e) => void (e.accept = true))
    .on('SSHUserAuthRequest', (e) => void (e.accept = e.user === user && e.authMethod === 'password' && e.authParam === password))
    .on('SSHChannelOpenRequest', (e) => void (e.accept = e.service === 'session'))
    .on('SSHChannelRequest', (e) => void (e.success = ['pty-req', 'env', 'shell', 'exec', 'window-change'].includes(e.requestType)))
    .on('SSHChannelRequested', (e) => {
      const pty = requestParamsOf(e, 'pty-req');
      if (pty) terminals.set(e.channelId, { term: pty.term, cols: pty.cols, rows: pty.rows });
      const size = requestParamsOf(e, 'window-change');
      if (size) shells.get(e.channelId)?.resize(size.cols, size.rows);
      if (e.requestType === 'shell') {
        const shell = new DemoShell({ write: (text) => void daemon.sendChannelData(e.channelId, text).catch(() => undefined), exit: (code) => finish(e.channelId, code) }, context(e.connectionId, e.channelId));
        shells.set(e.channelId, shell);
        shell.start();
      }
      if (e.requestType === 'exec') {
        const { output, code } = DemoShell.execute(daemon.getSSHParam(e.packet, 'Command'), context(e.connectionId, e.channelId));
        void daemon.sendChannelData(e.channelId, output).then(() => finish(e.channelId, code), () => undefined);
      }
    })
    .on('SSHChannelDataIn', (e) => shells.get(e.channelId)?.input(Buffer.from(e.data)))
    .on('SSHChannelEOF', (e) => shells.get(e.channelId)?.end())
    .on('SSHChannelClosed', (e) => {
      shells.delete(e.channelId);
      terminals.delete(e.channelId);
    })
    .on('Log', (e) => console.log(`[${e.connectionId || '-'}] ${e.message}`))
    .on('Error', (e) => console.error(`[${e.connectionId || '-'}] error ${e.errorCode}: ${e.description}`));
  await daemon.startListening();
  console.log(`listening on ${host}:${daemon.localPort}`);
  console.log(`host key ${daemon.sshCert!.fingerprint}; log in with: ssh -p ${daemon.localPort} ${user}@${host === '0.0.0.0' ? 'localhost' : host}  (password: ${password})`);
  const stop = () => void daemon.shutdown().then(() => process.exit(0));
  process.once('SIGINT', stop).once('SIGTERM', stop);
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exit(1);
});
