/**
 * Bulk transfer with the OpenSSH client as the load: `ssh -c CIPHER -m MAC ... 'head -c N /dev/zero' > /dev/null`
 * for download, `head -c N /dev/zero | ssh ... 'cat > /dev/null'` for upload. Wall time of the whole
 * ssh invocation (the handshake is a few ms of it) and the server's CPU seconds over it.
 */
import { spawn } from 'node:child_process';
import { COMMANDS } from '../lib/algorithms';
import type { BenchKeys } from '../lib/keys';
import type { ServerHandle } from '../servers/handle';

export interface BulkResult {
  seconds: number;
  mibPerSecond: number;
  serverCpuSeconds: number;
  /** Server CPU seconds per GiB moved. */
  cpuPerGiB: number;
}

/** What every OpenSSH client the bench runs (ssh, sftp) gets: no user config, the bench key, no prompts, the same key exchange. */
export function clientOptions(keys: BenchKeys): string[] {
  return [
    '-F',
    '/dev/null',
    '-i',
    keys.userKeyPath,
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    'BatchMode=yes',
    '-o',
    'StrictHostKeyChecking=no',
    '-o',
    'UserKnownHostsFile=/dev/null',
    '-o',
    'LogLevel=ERROR',
    '-o',
    'KexAlgorithms=curve25519-sha256',
    '-o',
    'HostKeyAlgorithms=ssh-ed25519',
    '-o',
    'Compression=no',
  ];
}

export function sshArgs(server: ServerHandle, keys: BenchKeys, extra: string[] = []): string[] {
  return ['-p', String(server.port), ...clientOptions(keys), ...extra, `${server.user}@127.0.0.1`];
}

function run(shellLine: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    // argv goes through "$@" so nothing is re-parsed by the shell.
    const child = spawn('sh', ['-c', shellLine, 'sh', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`ssh exited ${code}: ${err.trim()}`))));
  });
}

/** `style`: how the Node servers write it (bench/servers/commands.ts STYLES); undefined: the default loop. */
export async function bulkTransfer(
  server: ServerHandle,
  keys: BenchKeys,
  direction: 'download' | 'upload',
  bytes: number,
  cipher: string,
  mac: string,
  style?: string,
): Promise<BulkResult> {
  const args = sshArgs(server, keys, ['-c', cipher, '-m', mac]);
  await server.settle();
  const cpu0 = server.cpuSeconds();
  const t0 = process.hrtime.bigint();
  if (direction === 'download') await run('exec ssh "$@" > /dev/null', [...args, COMMANDS.download(bytes, style)]);
  else await run(`head -c ${bytes} /dev/zero | ssh "$@"`, [...args, COMMANDS.upload(style)]);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  await server.settle();
  const serverCpuSeconds = server.cpuSeconds() - cpu0;
  const gib = bytes / 2 ** 30;
  return { seconds, mibPerSecond: bytes / 2 ** 20 / seconds, serverCpuSeconds, cpuPerGiB: serverCpuSeconds / gib };
}
