/**
 * In-process SSH for the sshAuth and sshChannel targets: a real SSHDaemon on loopback and a real
 * ssh2 Client per input (key exchange, encryption and packet framing as on the wire). After the
 * handshake (and, for sshChannel, a password login) the client is only a transport: the target
 * sends its messages with the client's packet writer, and the client's message handlers are
 * replaced by recorders, so that nothing the daemon answers confuses the client.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'ssh2';
import { Certificate } from '../../../src/certs/Certificate';
import { SSHDaemon } from '../../../src/daemon/SSHDaemon';
import { ErrorCodes } from '../../../src/errors/SSHDaemonError';
import { LocalFileSystem } from '../../../src/sftp/LocalFileSystem';
import { sendClientPayload } from '../../fixtures/net';
import { check } from './contract';

/** What a bug of ours looks like when it surfaces as an Error event (as test/fuzz/runFuzz.ts). */
const OUR_FAULT =
  /TypeError|ReferenceError|RangeError|SyntaxError|Cannot read prop|Cannot convert|Cannot destructure|is not a function|is not a constructor|is not iterable|of undefined|of null|Maximum call stack/;

export const USER = 'fuzz';
export const PASSWORD = 'fuzz-password';
/** The one public key the daemon accepts (an Ed25519 key, RFC 8032 test 1). */
export const ACCEPTED_KEY = Buffer.concat([
  Buffer.from('0000000b7373682d6564323535313900000020', 'hex'),
  Buffer.from('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a', 'hex'),
]);

export interface Harness {
  daemon: SSHDaemon;
  port: number;
  /** Error events that look like failures of our own, since the harness started. */
  internalErrors: string[];
}

let harness: Promise<Harness> | undefined;

/** The daemon, started on first use: sessions, exec, SFTP on a temporary root; no forwarding (no sockets to anywhere). */
export function startHarness(): Promise<Harness> {
  harness ??= (async () => {
    const daemon = new SSHDaemon();
    daemon.sshCert = Certificate.generate('ed25519');
    daemon.localHost = '127.0.0.1';
    daemon.localPort = 0;
    daemon.config('MaxStartups=1000');
    daemon.config('MaxAuthAttempts=20');
    // Every input is a new connection from loopback, most of them failing to log in: penalties would ban it.
    daemon.config('PerSourcePenalties=no');
    daemon.keyboardInteractivePrompts = [
      { prompt: 'Password: ', echo: false },
      { prompt: 'Code: ', echo: true },
    ];
    const internalErrors: string[] = [];
    daemon.on('Error', (e) => {
      if ((OUR_FAULT.test(e.description) || e.errorCode === ErrorCodes.HandlerFailed) && internalErrors.length < 20)
        internalErrors.push(`${e.errorCode} ${e.description}`);
    });
    daemon.on('SSHServiceRequest', (e) => void (e.accept = true));
    daemon.on('SSHUserAuthRequest', (e) => {
      if (e.user !== USER) return;
      if (e.authMethod === 'password') e.accept = e.authParam === PASSWORD;
      else if (e.authMethod === 'publickey') e.accept = e.authParam === ACCEPTED_KEY.toString('base64');
      else if (e.authMethod.startsWith('keyboard-interactive')) e.accept = e.authParam === PASSWORD || e.authParam === '123456';
    });
    daemon.on('SSHChannelOpenRequest', (e) => void (e.accept = e.service === 'session'));
    // Channel requests only: a global request (channelId '') would be tcpip-forward, which binds ports.
    daemon.on('SSHChannelRequest', (e) => {
      if (e.channelId !== '' && e.requestType !== 'subsystem') e.success = true;
    });
    daemon.on('SSHChannelRequested', (e) => {
      if (e.requestType !== 'exec') return;
      const command = daemon.getSSHParam(e.packet, 'Command');
      if (command === 'exit')
        void daemon
          .sendExitStatus(e.channelId, 3)
          .then(() => daemon.closeChannel(e.channelId))
          .catch(() => undefined);
      else if (command.startsWith('echo ')) void daemon.sendChannelData(e.channelId, command.slice(5)).catch(() => undefined);
    });
    const root = mkdtempSync(join(tmpdir(), 'fuzz-ssh-sftp-'));
    process.on('exit', () => rmSync(root, { recursive: true, force: true }));
    daemon.enableSFTP({ fileSystem: new LocalFileSystem(root), maxHandles: 8 });
    await daemon.startListening();
    return { daemon, port: daemon.localPort, internalErrors };
  })();
  return harness;
}

/** Messages the daemon sent to one client, by kind, after the client became a bare transport. */
export interface Received {
  authFailures: number;
  authSuccesses: number;
  /** USERAUTH_PK_OK, USERAUTH_INFO_REQUEST, USERAUTH_PASSWD_CHANGEREQ. */
  authOther: number;
  globalReplies: number;
  openConfirmations: Array<{ recipient: number; sender: number }>;
  openFailures: number;
  channelMessages: number;
}

export interface Connection {
  client: Client;
  received: Received;
  closed: boolean;
  send(payload: Buffer): void;
  /** Waits until `done()` or the connection closes; false when `ms` passed first. */
  until(done: () => boolean, ms: number): Promise<boolean>;
  /** Ends the connection and checks the daemon forgets it. */
  close(): Promise<void>;
}

type Handlers = Record<string, (...args: unknown[]) => void>;

/** The method name of a USERAUTH_REQUEST payload (after user and service), or undefined when truncated. */
function userauthMethod(payload: Buffer): string | undefined {
  let at = 1;
  for (let field = 0; field < 3; field++) {
    if (payload.length < at + 4) return undefined;
    const len = payload.readUInt32BE(at);
    if (payload.length < at + 4 + len) return undefined;
    if (field === 2) return payload.toString('utf8', at + 4, at + 4 + len);
    at += 4 + len;
  }
  return undefined;
}

/**
 * Connects; `login` false stops after SERVICE_ACCEPT (pre-authentication), true logs in with the
 * password. Resolves once the client is a bare transport.
 */
export async function connect(h: Harness, login: boolean): Promise<Connection> {
  h.internalErrors.length = 0;
  const client = new Client();
  const received: Received = {
    authFailures: 0,
    authSuccesses: 0,
    authOther: 0,
    globalReplies: 0,
    openConfirmations: [],
    openFailures: 0,
    channelMessages: 0,
  };
  let wake = () => undefined as void;
  const conn: Connection = {
    client,
    received,
    closed: false,
    send: (payload) => {
      if (conn.closed) return;
      // ssh2 reads message 60 (PK_OK, INFO_REQUEST or PASSWD_CHANGEREQ) by the method of the
      // request it answers, from the client's queue of sent methods: keep that queue as ssh2 would.
      const method = payload[0] === 50 ? userauthMethod(payload) : undefined;
      if (method !== undefined) (client as unknown as { _protocol: { _authsQueue: string[] } })._protocol._authsQueue.push(method);
      sendClientPayload(client, payload);
    },
    until: async (done, ms) => {
      const deadline = Date.now() + ms;
      while (!done() && !conn.closed) {
        const left = deadline - Date.now();
        if (left <= 0) return false;
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, Math.min(left, 50));
          wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
      }
      return true;
    },
    close: async () => {
      client.end();
      client.destroy();
      const deadline = Date.now() + 10_000;
      while ((h.daemon.sshConnections.size > 0 || h.daemon.sshChannels.size > 0) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 5));
      check(
        h.daemon.sshConnections.size === 0 && h.daemon.sshChannels.size === 0,
        () =>
          `the daemon still holds ${h.daemon.sshConnections.size} connections and ${h.daemon.sshChannels.size} channels 10 s after the client went`,
      );
      check(h.internalErrors.length === 0, () => `internal errors: ${h.internalErrors.join('; ')}`);
    },
  };
  client.on('error', () => undefined);
  client.on('close', () => {
    conn.closed = true;
    wake();
  });
  const bare = () => {
    const handlers = (client as unknown as { _protocol: { _handlers: Handlers } })._protocol._handlers;
    const count = (key: keyof Received) => () => {
      (received[key] as number)++;
      wake();
    };
    Object.assign(handlers, {
      USERAUTH_FAILURE: count('authFailures'),
      USERAUTH_SUCCESS: count('authSuccesses'),
      USERAUTH_PK_OK: count('authOther'),
      USERAUTH_INFO_REQUEST: count('authOther'),
      USERAUTH_PASSWD_CHANGEREQ: count('authOther'),
      USERAUTH_BANNER: () => undefined,
      REQUEST_SUCCESS: count('globalReplies'),
      REQUEST_FAILURE: count('globalReplies'),
      GLOBAL_REQUEST: () => undefined,
      CHANNEL_OPEN: () => undefined,
      CHANNEL_OPEN_CONFIRMATION: (_p: unknown, info: { recipient: number; sender: number }) => {
        received.openConfirmations.push({ recipient: info.recipient, sender: info.sender });
        wake();
      },
      CHANNEL_OPEN_FAILURE: count('openFailures'),
      ...Object.fromEntries(
        [
          'CHANNEL_WINDOW_ADJUST',
          'CHANNEL_DATA',
          'CHANNEL_EXTENDED_DATA',
          'CHANNEL_EOF',
          'CHANNEL_CLOSE',
          'CHANNEL_REQUEST',
          'CHANNEL_SUCCESS',
          'CHANNEL_FAILURE',
        ].map((k) => [k, count('channelMessages')]),
      ),
    });
  };
  await new Promise<void>((resolve, reject) => {
    client.once('error', reject);
    client.once('close', () => reject(new Error('closed before it was ready')));
    if (login) {
      client.once('ready', () => {
        bare();
        resolve();
      });
      client.connect({ host: '127.0.0.1', port: h.port, username: USER, password: PASSWORD, readyTimeout: 20_000, keepaliveInterval: 0 });
    } else {
      client.connect({
        host: '127.0.0.1',
        port: h.port,
        username: USER,
        readyTimeout: 0,
        keepaliveInterval: 0,
        // Called after SERVICE_ACCEPT: the client never answers, the target speaks instead.
        authHandler: () => {
          bare();
          resolve();
        },
      });
    }
  });
  return conn;
}
