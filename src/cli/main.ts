#!/usr/bin/env node
/**
 * The `sshdaemon` command (`npm start -- [options]` from a clone): a configurable SSH server with
 * password users, authorized_keys, SFTP and SCP, the demo shell or real programs (--exec) and
 * forwarding. With no options it is the demo: 127.0.0.1:2222, user demo/demo, host key generated
 * into ./data.
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { userInfo } from 'node:os';
import { dirname } from 'node:path';
import {
  attachLogger,
  AuthorizedKeys,
  escapeLogText,
  Certificate,
  CertStoreTypes,
  LocalFileSystem,
  SSHDaemon,
  SSHDaemonError,
} from '../index';
import { type CliOptions, parseCommandLine, usage, UsageError } from './options';
import { serveDemoShell } from './shellService';

function hostKey(path: string): Certificate {
  if (!existsSync(path)) {
    mkdirSync(dirname(path), { recursive: true });
    Certificate.generate('ed25519').save(path, 'sshdaemon host key');
  }
  return new Certificate(CertStoreTypes.cstAuto, path);
}

/** authorized_keys re-read when it changes, so edits apply to the next login. */
function keysFrom(path: string): () => AuthorizedKeys {
  let cached: AuthorizedKeys | undefined;
  let stamp = '';
  return () => {
    const { mtimeMs, size } = statSync(path);
    if (!cached || stamp !== `${mtimeMs}:${size}`) {
      cached = AuthorizedKeys.fromFile(path);
      stamp = `${mtimeMs}:${size}`;
    }
    return cached;
  };
}

function buildDaemon(o: CliOptions): SSHDaemon {
  const daemon = new SSHDaemon();
  daemon.sshCert = hostKey(o.hostKey);
  daemon.localHost = o.host;
  daemon.localPort = o.port;
  if (o.logLevel !== undefined) daemon.config(`LogLevel=${o.logLevel}`);
  for (const setting of o.config) daemon.config(setting);
  const keys = o.authorizedKeys ? keysFrom(o.authorizedKeys) : undefined;
  daemon.defaultAuthMethods = [o.users.size ? 'password' : '', keys ? 'publickey' : ''].filter(Boolean).join(',');
  daemon
    .on('SSHServiceRequest', (e) => void (e.accept = true))
    .on('SSHUserAuthRequest', (e) => {
      if (e.authMethod === 'password') e.accept = o.users.has(e.user) && o.users.get(e.user) === e.authParam;
      if (e.authMethod === 'publickey' && keys && (o.users.size === 0 || o.users.has(e.user))) {
        keys().authorize(e, daemon.sshConnections.get(e.connectionId)?.remoteHost ?? '');
      }
    })
    .on('SSHChannelOpenRequest', (e) => {
      if (e.service === 'session') e.accept = true;
    });
  // Log and Error texts arrive escaped (a client's user name cannot forge a line or send terminal escapes).
  attachLogger(daemon, console);
  // exec of scp is the SCP server's when --sftp is given, whether or not the demo shell runs.
  if (o.shell) serveDemoShell(daemon, { leaveScp: o.sftp !== undefined });
  if (o.sftp) {
    const files = { fileSystem: new LocalFileSystem(o.sftp) };
    daemon.enableSFTP(files);
    daemon.enableSCP(files);
  }
  if (o.forwarding) daemon.enableForwarding();
  if (o.exec) daemon.enableProcesses();
  return daemon;
}

/** True for an address only this machine can reach (127.0.0.0/8, ::1, localhost). */
function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1' || /^::ffff:127\./i.test(host);
}

/** What is dangerous about this command line, for stderr before listening. */
function warnings(o: CliOptions): string[] {
  const reachable = !isLoopback(o.host);
  const lines: string[] = [];
  if (o.exec) {
    let who = 'the user running this server';
    try {
      who = `${userInfo().username} (uid ${userInfo().uid})`;
    } catch {
      // no passwd entry
    }
    if (reachable) {
      lines.push(
        `WARNING: --exec runs real commands and shells, as ${who}, for everyone who logs in, and this server listens on ${o.host}: ` +
          'anyone who can reach it over the network and log in gets a shell on this machine. Listen on 127.0.0.1 unless that is what you want.',
      );
    } else {
      lines.push(`note: --exec runs real commands and shells, as ${who}, for everyone who logs in`);
    }
  }
  if (o.demoLogin && reachable) {
    lines.push(
      `WARNING: the demo login demo/demo (a published password) is served on ${o.host}, reachable from the network. Give --user NAME:PASSWORD or --authorized-keys FILE, or listen on 127.0.0.1.`,
    );
  }
  return lines.map((l) => (l.startsWith('WARNING') ? `\n*** ${l}\n` : l));
}

async function main(): Promise<void> {
  let options: CliOptions;
  let daemon: SSHDaemon;
  try {
    options = parseCommandLine(process.argv.slice(2));
    if (options.help) {
      console.log(usage());
      return;
    }
    daemon = buildDaemon(options);
  } catch (err) {
    if (err instanceof UsageError || err instanceof SSHDaemonError) {
      console.error(`sshdaemon: ${err.message}\n\n${usage()}`);
      process.exit(2);
    }
    throw err;
  }
  for (const warning of warnings(options)) console.error(warning);
  // Signals are handled before the daemon says it listens: a supervisor (or a test) that stops it
  // right after the 'listening on' line must get an orderly shutdown, not the default kill.
  const stop = () =>
    void daemon!.shutdown().then(
      () => process.exit(0),
      (err: Error) => {
        console.error(`sshdaemon: shutdown failed: ${err.message}`);
        process.exit(1);
      },
    );
  process.once('SIGINT', stop).once('SIGTERM', stop);
  await daemon.startListening();
  console.log(`listening on ${options.host}:${daemon.localPort}`);
  const who = [...options.users].map(([u, p]) => `${u} (password: ${p})`).join(', ');
  console.log(
    escapeLogText(
      `host key ${daemon.sshCert!.fingerprint}; log in with: ssh -p ${daemon.localPort} ${[...options.users.keys()][0] ?? 'USER'}@${options.host === '0.0.0.0' ? 'localhost' : options.host}${who ? `  users: ${who}` : ''}`,
    ),
  );
}

main().catch((err: Error) => {
  console.error(`sshdaemon: ${err.message}`);
  process.exit(1);
});
