/**
 * SFTP throughput with OpenSSH's `sftp` client as the load: `put` of a local file and `get` of a
 * served one, against the SDK's SFTP server (LocalFileSystem) and sshd's sftp-server.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchKeys } from '../lib/keys';
import type { ServerHandle } from '../servers/handle';
import { type BulkResult, clientOptions } from './bulk';

function sftpArgs(server: ServerHandle, keys: BenchKeys, batch: string): string[] {
  return [
    '-P',
    String(server.port),
    ...clientOptions(keys),
    '-o',
    'Ciphers=aes128-gcm@openssh.com',
    '-b',
    batch,
    `${server.user}@127.0.0.1`,
  ];
}

/**
 * `root` is the served directory on disk; `remoteDir` how the server names it (the SDK jails the
 * session at `/`, sshd's sftp-server sees real paths).
 */
export async function sftpTransfer(
  server: ServerHandle,
  keys: BenchKeys,
  direction: 'download' | 'upload',
  bytes: number,
  work: { root: string; remoteDir: string; source: string; scratch: string },
): Promise<BulkResult> {
  const remote = `${work.remoteDir.replace(/\/$/, '')}/bench-${direction}.bin`;
  const local = join(work.scratch, `got-${server.id}.bin`);
  const batch = join(work.scratch, `batch-${server.id}-${direction}.txt`);
  writeFileSync(
    batch,
    direction === 'upload' ? `put ${work.source} ${remote}\n` : `get ${work.remoteDir.replace(/\/$/, '')}/served.bin ${local}\n`,
  );
  await server.settle();
  const cpu0 = server.cpuSeconds();
  const t0 = process.hrtime.bigint();
  await new Promise<void>((resolve, reject) => {
    const child = spawn('sftp', sftpArgs(server, keys, batch), { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`sftp exited ${code}: ${err.trim()}`))));
  });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  await server.settle();
  const serverCpuSeconds = server.cpuSeconds() - cpu0;
  // A fast transfer that lost data measures nothing: the file that arrived must be the one sent.
  const sent = direction === 'upload' ? work.source : join(work.root, 'served.bin');
  const got = direction === 'upload' ? join(work.root, `bench-${direction}.bin`) : local;
  const [want, have] = await Promise.all([sha256(sent), sha256(got)]);
  if (want !== have) throw new Error(`sftp ${direction} to ${server.id}: the file that arrived differs from the one sent (SHA-256)`);
  rmSync(local, { force: true });
  rmSync(join(work.root, `bench-${direction}.bin`), { force: true });
  return { seconds, mibPerSecond: bytes / 2 ** 20 / seconds, serverCpuSeconds, cpuPerGiB: serverCpuSeconds / (bytes / 2 ** 30) };
}

const hashes = new Map<string, string>();

/** SHA-256 of a file (the source's is computed once). */
async function sha256(path: string): Promise<string> {
  const known = hashes.get(path);
  if (known) return known;
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  const hex = hash.digest('hex');
  if (!path.includes('bench-') && !path.includes('got-')) hashes.set(path, hex);
  return hex;
}
