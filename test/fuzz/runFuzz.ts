/**
 * Runs fuzz cases against a real daemon over loopback sockets and checks that nothing breaks:
 * the daemon keeps serving, every connection ends with Disconnected, and the registry, sockets and
 * timers return to where they started.
 */
import { once } from 'node:events';
import { connect as tcpConnect } from 'node:net';
import { Client, type ClientChannel } from 'ssh2';
import { Certificate, ErrorCodes, SSHDaemon } from '../../src';
import { sendClientPayload } from '../fixtures/net';
import { POST_AUTH, PRE_AUTH, Rng } from './generators';

export interface FuzzOptions {
  cases: number;
  seed: number;
  /** Share of cases sent before authentication (the rest go through authenticated sessions). */
  preAuthShare?: number;
  concurrency?: number;
}

export interface FuzzReport {
  seed: number;
  preAuth: number;
  postAuth: number;
  connected: number;
  disconnected: number;
  errors: number;
  /** Error descriptions that look like our own failures (not the client's protocol faults). */
  internalErrors: string[];
  sessionsRebuilt: number;
  /** Connections the daemon refused, by setting (none expected: the fuzz daemon's limits are generous). */
  refusals: Record<string, number>;
  sessionRetries: string[];
  byKind: Record<string, number>;
}

const resourceCount = (kind: string) => process.getActiveResourcesInfo().filter((r) => r === kind).length;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Test-only: sends an arbitrary payload through an authenticated ssh2 client. */

async function preAuthCase(port: number, data: Buffer, rng: Rng): Promise<void> {
  const sock = tcpConnect(port, '127.0.0.1');
  sock.on('error', () => undefined);
  sock.on('data', () => undefined);
  try {
    await once(sock, 'connect');
  } catch {
    return;
  }
  // Sometimes in pieces, to exercise partial reads.
  const cut = data.length > 1 && rng.next() < 0.3 ? rng.int(data.length) : data.length;
  sock.write(data.subarray(0, cut));
  if (cut < data.length) {
    await sleep(5);
    sock.write(data.subarray(cut));
  }
  await Promise.race([once(sock, 'close'), sleep(150)]);
  sock.destroy();
}

interface Session {
  client: Client;
  channel: number;
  alive: boolean;
}

/** Failed attempts to open a legitimate session, with why (reported, so a flaky cause stays visible). */
let sessionRetries: string[] = [];

async function openSession(port: number): Promise<Session> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await tryOpenSession(port);
    } catch (err) {
      sessionRetries.push((err as Error).message);
      if (attempt === 3) throw new Error(`a legitimate session could not be opened: ${sessionRetries.join('; ')}`);
    }
  }
}

async function tryOpenSession(port: number): Promise<Session> {
  const client = new Client();
  const session: Session = { client, channel: -1, alive: true };
  client.on('error', () => (session.alive = false));
  client.on('close', () => (session.alive = false));
  await new Promise<void>((resolve, reject) => {
    client.once('ready', () => resolve());
    client.once('error', reject);
    client.connect({ host: '127.0.0.1', port, username: 'fuzz', password: 'fuzz', readyTimeout: 10_000 });
  });
  const stream = await new Promise<ClientChannel>((resolve, reject) => client.exec('hold', (err, s) => (err ? reject(err) : resolve(s))));
  stream.on('data', () => undefined);
  stream.stderr.on('data', () => undefined);
  session.channel = (stream as unknown as { outgoing: { id: number } }).outgoing.id;
  return session;
}

/** A daemon that authenticates `fuzz`/`fuzz`, accepts sessions and every request, and keeps exec channels open. */
export function fuzzDaemon(): SSHDaemon {
  const daemon = new SSHDaemon();
  daemon.sshCert = Certificate.generate('ed25519');
  daemon.localHost = '127.0.0.1';
  daemon.localPort = 0;
  daemon.config('MaxStartups=1000');
  daemon.config('AuthTimeout=10');
  // Thousands of garbage connections from 127.0.0.1 would earn it a penalty ban (on by default).
  daemon.config('PerSourcePenalties=no');
  daemon.on('SSHServiceRequest', (e) => void (e.accept = true));
  daemon.on('SSHUserAuthRequest', (e) => void (e.accept = e.authMethod === 'password' && e.authParam === 'fuzz'));
  daemon.on('SSHChannelOpenRequest', (e) => void (e.accept = e.service === 'session'));
  daemon.on('SSHChannelRequest', (e) => void (e.success = true));
  return daemon;
}

/** What a bug of ours looks like when ssh2 catches it during parsing and reports it as an error. */
const OUR_FAULT =
  /TypeError|ReferenceError|RangeError|SyntaxError|Cannot read prop|is not a function|is not iterable|of undefined|of null|Maximum call stack/;

export async function runFuzz(o: FuzzOptions): Promise<FuzzReport> {
  const rng = new Rng(o.seed);
  const daemon = fuzzDaemon();
  const report: FuzzReport = {
    seed: o.seed,
    preAuth: 0,
    postAuth: 0,
    connected: 0,
    disconnected: 0,
    errors: 0,
    internalErrors: [],
    sessionsRebuilt: 0,
    byKind: {},
    refusals: {},
    sessionRetries: [],
  };
  sessionRetries = report.sessionRetries;
  daemon.on('Connected', () => void report.connected++);
  daemon.on('Disconnected', () => void report.disconnected++);
  daemon.on('Error', (e) => {
    report.errors++;
    if ((OUR_FAULT.test(e.description) || e.errorCode === ErrorCodes.HandlerFailed) && report.internalErrors.length < 20)
      report.internalErrors.push(`${e.errorCode} ${e.description}`);
  });
  const baseline = { tcp: resourceCount('TCPSocketWrap'), timers: resourceCount('Timeout') };
  await daemon.startListening();
  const port = daemon.localPort;
  const preAuthCases = Math.round(o.cases * (o.preAuthShare ?? 0.8));
  const concurrency = o.concurrency ?? 32;
  try {
    // Before authentication: many sockets at once.
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < preAuthCases) {
          next++;
          const kind = rng.pick(PRE_AUTH);
          report.byKind[kind.name] = (report.byKind[kind.name] ?? 0) + 1;
          await preAuthCase(port, kind.make(rng), rng);
          report.preAuth++;
        }
      }),
    );
    // After authentication: a few sessions, each taking cases until one kills it.
    const sessions: Session[] = [];
    for (let i = 0; i < 4; i++) sessions.push(await openSession(port));
    for (let i = 0; i < o.cases - preAuthCases; i++) {
      const slot = i % sessions.length;
      if (!sessions[slot].alive) {
        sessions[slot].client.destroy();
        sessions[slot] = await openSession(port);
        report.sessionsRebuilt++;
      }
      const kind = rng.pick(POST_AUTH);
      report.byKind[kind.name] = (report.byKind[kind.name] ?? 0) + 1;
      try {
        sendClientPayload(sessions[slot].client, kind.make(rng, sessions[slot].channel));
      } catch {
        sessions[slot].alive = false;
      }
      report.postAuth++;
      if (i % 64 === 63) await sleep(1);
    }
    await sleep(200);
    for (const s of sessions) s.client.end();
    // The daemon still serves a normal client.
    const probe = await openSession(port);
    probe.client.end();
    const end = Date.now() + 15_000;
    while ((daemon.sshConnections.size > 0 || report.disconnected < report.connected) && Date.now() < end) await sleep(50);
  } finally {
    report.refusals = daemon.refusalCounts();
    await daemon.shutdown();
  }
  await sleep(100);
  const after = { tcp: resourceCount('TCPSocketWrap'), timers: resourceCount('Timeout') };
  if (daemon.sshConnections.size || daemon.sshChannels.size)
    throw new Error(`registry not empty: ${daemon.sshConnections.size} connections, ${daemon.sshChannels.size} channels`);
  if (report.disconnected !== report.connected) throw new Error(`${report.connected} Connected but ${report.disconnected} Disconnected`);
  if (after.tcp > baseline.tcp) throw new Error(`sockets leaked: ${baseline.tcp} before, ${after.tcp} after`);
  if (after.timers > baseline.timers + 2) throw new Error(`timers leaked: ${baseline.timers} before, ${after.timers} after`);
  return report;
}
