/**
 * What every sample needs besides its own logic: `--host`/`--port`/`--data` options, a host key
 * kept in the data folder, and the `listening on HOST:PORT` line (tests wait for it).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Certificate, CertStoreTypes, type SSHDaemon } from 'sshdaemon';

/** parseArgs options shared by the samples; spread them into your own. */
export const COMMON_OPTIONS = {
  host: { type: 'string', default: '127.0.0.1' },
  port: { type: 'string', default: '2222' },
  /** Where the host key (and the sample's own state) lives; default `<sample>/data`. */
  data: { type: 'string' },
} as const;

export interface CommonOptions {
  host: string;
  port: number;
  data: string;
}

export function commonOptions(values: { host?: string; port?: string; data?: string }, sampleDir: string): CommonOptions {
  const port = Number(values.port ?? '2222');
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`--port must be an integer from 0 to 65535, got '${values.port}'`);
  return { host: values.host ?? '127.0.0.1', port, data: values.data ?? join(sampleDir, 'data') };
}

/** An Ed25519 host key generated on first run and reused, so clients see the same host key. */
export function hostKey(dataDir: string): Certificate {
  const path = join(dataDir, 'host_key');
  if (!existsSync(path)) {
    mkdirSync(dataDir, { recursive: true });
    Certificate.generate('ed25519').save(path, 'sample host key');
  }
  return new Certificate(CertStoreTypes.cstAuto, path);
}

/** Listens, prints the line scripts wait for, and shuts down cleanly on SIGINT/SIGTERM. */
export async function listen(daemon: SSHDaemon, o: CommonOptions): Promise<void> {
  daemon.localHost = o.host;
  daemon.localPort = o.port;
  try {
    await daemon.startListening();
  } catch (err) {
    console.error(`cannot start: ${(err as Error).message}`);
    process.exit(1);
  }
  console.log(`listening on ${o.host}:${daemon.localPort}`);
  const stop = () => void daemon.shutdown().then(() => process.exit(0));
  process.once('SIGINT', stop).once('SIGTERM', stop);
}

/** `NAME:PASSWORD` pairs from repeated `--user` options. */
export function usersFrom(list: string[] | undefined, fallback: string): Map<string, string> {
  const users = new Map<string, string>();
  for (const item of list?.length ? list : [fallback]) {
    const i = item.indexOf(':');
    if (i <= 0) throw new Error(`--user expects NAME:PASSWORD, got '${item}'`);
    users.set(item.slice(0, i), item.slice(i + 1));
  }
  return users;
}

/** Compares secrets in constant time (hashing first so lengths do not leak either). */
export function sameSecret(given: string, expected: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(given), digest(expected));
}
