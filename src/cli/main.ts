#!/usr/bin/env node
/**
 * The demo server: `npm start` (or `sshdaemon`) serves ssh on 127.0.0.1:2222 with a host key generated
 * on first run into ./data, user demo/demo, and a tiny line shell.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Certificate, CertStoreTypes, SSHDaemon } from '../index';

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
  daemon
    .on('SSHServiceRequest', (e) => void (e.accept = true))
    .on('SSHUserAuthRequest', (e) => void (e.accept = e.user === user && e.authMethod === 'password' && e.authParam === password))
    .on('SSHChannelOpenRequest', (e) => void (e.accept = e.service === 'session'))
    .on('SSHChannelRequest', (e) => void (e.success = ['pty-req', 'env', 'shell', 'exec', 'window-change'].includes(e.requestType)))
    .on('SSHChannelRequested', (e) => {
      if (e.requestType === 'shell') void daemon.sendChannelData(e.channelId, `Welcome to the sshdaemon demo, ${user}. Type a line; 'exit' quits.\r\n$ `);
      if (e.requestType === 'exec') {
        const command = daemon.getSSHParam(e.packet, 'Command');
        void daemon.sendChannelData(e.channelId, `you ran: ${command}\n`).then(() => daemon.sendExitStatus(e.channelId, 0)).then(() => daemon.closeChannel(e.channelId));
      }
    })
    .on('SSHChannelDataIn', (e) => {
      const text = e.data.toString();
      if (/^exit\b/.test(text.trim())) {
        void daemon.sendChannelData(e.channelId, '\r\nbye\r\n').then(() => daemon.sendExitStatus(e.channelId, 0)).then(() => daemon.closeChannel(e.channelId));
      } else {
        void daemon.sendChannelData(e.channelId, text.replace(/\r/g, '\r\n') + (text.includes('\r') ? '$ ' : ''));
      }
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
