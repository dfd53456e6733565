/**
 * Seeds for the sshParam target: the CHANNEL_REQUEST and CHANNEL_OPEN payloads a real OpenSSH
 * client sends (pty-req with its terminal modes, env, exec, shell, subsystem, window-change, signal,
 * direct-tcpip), as the daemon hands them to SSHChannelRequest / SSHChannelOpenRequest, each with
 * the mode byte that tags it with its layout. Usage: node --import tsx test/fuzz/seeds/captureSshParam.ts OUT_DIR
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CHANNEL_OPEN_FIELDS } from '../../../src/packet/layouts';
import { Certificate, SSHDaemon } from '../../../src';
import { makeUserKey } from '../../fixtures/testServer';
import { opensshArgs, run } from '../../fixtures/clients';

const OPEN_TYPES = [...Object.keys(CHANNEL_OPEN_FIELDS), 'x-unknown@example.com'];
/** The sshParam target's mode byte for a layout (see layoutFor in targets/sshParam.ts). */
function modeFor(kind: 'request' | string): number {
  for (let mode = 0; mode < 256; mode++) {
    if ((mode & 3) === 3) continue;
    const pick = mode >> 2;
    if (kind === 'request' ? pick % 3 === 1 : pick % 3 === 2 && OPEN_TYPES[(pick >> 2) % OPEN_TYPES.length] === kind) return mode;
  }
  throw new Error(`no mode byte for ${kind}`);
}

async function main(): Promise<void> {
  const out = process.argv[2];
  mkdirSync(out, { recursive: true });
  const key = makeUserKey('ed25519');
  const daemon = new SSHDaemon();
  daemon.sshCert = Certificate.generate('ed25519');
  daemon.localHost = '127.0.0.1';
  daemon.localPort = 0;
  let n = 0;
  const save = (what: string, mode: number, payload: Buffer) =>
    writeFileSync(join(out, `openssh-${what}-${n++}`), Buffer.concat([Buffer.from([mode]), payload]));
  daemon.on('SSHServiceRequest', (e) => void (e.accept = true));
  daemon.on('SSHUserAuthRequest', (e) => void (e.accept = e.authMethod === 'publickey' && e.authParam === key.blobBase64));
  daemon.on('SSHChannelOpenRequest', (e) => {
    save(`open-${e.service}`, modeFor(e.service), e.parameters);
    e.accept = e.service === 'session';
  });
  daemon.on('SSHChannelRequest', (e) => {
    if (e.channelId === '') return;
    save(e.requestType, modeFor('request'), e.packet);
    e.success = e.requestType !== 'subsystem';
  });
  daemon.on('SSHChannelRequested', (e) => {
    if (e.requestType !== 'exec' && e.requestType !== 'shell') return;
    setTimeout(
      () =>
        void daemon
          .sendExitStatus(e.channelId, 0)
          .then(() => daemon.closeChannel(e.channelId))
          .catch(() => undefined),
      300,
    );
  });
  await daemon.startListening();
  const ssh = (...args: string[]) =>
    run(
      'ssh',
      [...opensshArgs(daemon.localPort), '-i', key.privateKeyPath, '-o', 'SendEnv=LANG LC_*', ...args, 'fuzz@127.0.0.1'].concat(
        args.includes('-N') ? [] : ['true'],
      ),
      { env: { LANG: 'C.UTF-8', LC_TIME: 'C' }, timeoutMs: 15_000 },
    );
  await ssh('-tt');
  await ssh('-T');
  await ssh('-L', '8080:127.0.0.1:9', '-o', 'ExitOnForwardFailure=no', '-o', 'ForkAfterAuthentication=no', '-W', '127.0.0.1:9');
  await run(
    'sftp',
    [...opensshArgs(daemon.localPort).map((a) => (a === '-p' ? '-P' : a)), '-i', key.privateKeyPath, '-b', '/dev/null', 'fuzz@127.0.0.1'],
    { timeoutMs: 15_000 },
  );
  await daemon.shutdown();
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    console.error(err);
    process.exit(1);
  },
);
