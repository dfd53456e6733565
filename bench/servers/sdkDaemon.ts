/**
 * A bench server built with this SDK's public API: publickey auth for one user key, exec of the bench
 * commands (see commands.ts). Counts connections through events (no registry scans on the hot path).
 */
import type { SSHDaemon as SSHDaemonType } from '../../src';

/*
 * The package as users run it: the tsc build in dist/ (bench/run.ts builds it first), not src/
 * through tsx. tsx's esbuild keeps function names with Object.defineProperty, which turns every
 * closure into a dictionary-mode object (about 9 KiB more heap per idle connection, and extra CPU
 * on every closure made) — a cost of the bench's loader, not of the SDK.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Certificate, CertStoreTypes, LocalFileSystem, requestParamsOf, SSHDaemon } =
  require('../../dist/cjs/index.js') as typeof import('../../src');
type SSHDaemon = SSHDaemonType;
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseCommand, pumpZeros, zeroPieces } from './commands';

export interface BenchDaemonOptions {
  hostKeyPath: string;
  /** Base64 of the SSH public key blob that may log in. */
  userKeyBlob: string;
  user: string;
  port: number;
  host?: string;
}

export interface BenchCounters {
  connected: number;
  disconnected: number;
  authenticated: number;
  execs: number;
  errors: number;
}

export async function startBenchDaemon(o: BenchDaemonOptions): Promise<{ daemon: SSHDaemon; counters: BenchCounters }> {
  const daemon = new SSHDaemon();
  const counters: BenchCounters = { connected: 0, disconnected: 0, authenticated: 0, execs: 0, errors: 0 };
  daemon.sshCert = new Certificate(CertStoreTypes.cstPEMKeyFile, o.hostKeyPath);
  daemon.localHost = o.host ?? '127.0.0.1';
  daemon.localPort = o.port;
  daemon.defaultAuthMethods = 'publickey';
  // Limits as open as the bench's sshd_config (MaxStartups 100000): the load opens 64 at once and 10,000 in all.
  daemon.config('MaxConnections=100000');
  daemon.config('MaxStartups=100000');
  daemon.config('LogLevel=0');
  // Experiments: BENCH_SDK_CONFIG='Name=Value;Name=Value' applies extra config() statements.
  for (const statement of (process.env.BENCH_SDK_CONFIG ?? '').split(';').filter(Boolean)) daemon.config(statement);
  daemon.connectionBacklog = 4096;
  // The SFTP suite: serve the bench's directory, as sshd's sftp-server does.
  if (process.env.BENCH_SFTP_ROOT) daemon.enableSFTP({ fileSystem: new LocalFileSystem(process.env.BENCH_SFTP_ROOT) });

  daemon.on('Connected', () => void counters.connected++);
  daemon.on('Disconnected', () => void counters.disconnected++);
  daemon.on('Error', () => void counters.errors++);
  daemon.on('SSHServiceRequest', (e) => {
    e.accept = true;
  });
  daemon.on('SSHUserAuthRequest', (e) => {
    e.accept = e.authMethod === 'publickey' && e.user === o.user && e.authParam === o.userKeyBlob;
    if (e.accept && e.authMethod === 'publickey') counters.authenticated++;
  });
  daemon.on('SSHChannelOpenRequest', (e) => {
    e.accept = e.service === 'session';
  });
  daemon.on('SSHChannelRequest', (e) => {
    const exec = requestParamsOf(e, 'exec');
    // Other requests keep their preset (the sftp subsystem starts granted by enableSFTP).
    if (exec) e.success = parseCommand(exec.command).kind !== 'unknown';
  });

  const sinks = new Set<string>();
  const finish = (id: string) =>
    daemon
      .sendExitStatus(id, 0)
      .then(() => daemon.closeChannel(id))
      .catch(() => undefined);
  daemon.on('SSHChannelRequested', (e) => {
    if (e.requestType !== 'exec') return;
    counters.execs++;
    const cmd = parseCommand(requestParamsOf(e, 'exec')?.command ?? '');
    const id = e.channelId;
    if (cmd.kind === 'download' && cmd.style === 'stream') {
      // The channel as a Node stream: pipeline() and the stream's own backpressure, then exit(0).
      const channel = daemon.channelStream(id);
      pipeline(Readable.from(zeroPieces(cmd.bytes, cmd.chunk), { objectMode: false }), channel, { end: false }).then(
        () => channel.exit(0),
        () => undefined,
      );
    } else if (cmd.kind === 'download') {
      pumpZeros(cmd.bytes, (chunk) => daemon.sendChannelData(id, chunk), cmd.chunk).then(
        () => finish(id),
        () => undefined,
      );
    } else if (cmd.kind === 'upload' && cmd.style === 'stream') {
      const channel = daemon.channelStream(id);
      const sink = new Writable({ write: (_chunk, _encoding, done) => done() });
      pipeline(channel, sink).then(
        () => channel.exit(0),
        () => undefined,
      );
    } else if (cmd.kind === 'upload') {
      sinks.add(id);
    } else {
      void finish(id);
    }
  });
  // SSHChannelDataIn: the sink drops the data (no listener work beyond the event itself).
  daemon.on('SSHChannelDataIn', () => undefined);
  daemon.on('SSHChannelEOF', (e) => {
    if (sinks.delete(e.channelId)) void finish(e.channelId);
  });
  daemon.on('SSHChannelClosed', (e) => void sinks.delete(e.channelId));

  await daemon.startListening();
  return { daemon, counters };
}
