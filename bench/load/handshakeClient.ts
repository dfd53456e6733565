/**
 * One load process for the handshake test (run by handshakes.ts): `concurrency` loops of
 * connect (curve25519-sha256, ssh-ed25519 host key) -> publickey auth (Ed25519) -> exec `true`
 * -> wait for the channel to close -> end. Counts the ones that finish inside the window.
 * Protocol: sends {type:'ready'}, waits for {type:'go', warmupMs, durationMs}, replies with the result.
 */
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { Client, utils } from 'ssh2';
import { COMMANDS, HANDSHAKE_ALGORITHMS } from '../lib/algorithms';

export interface HandshakeClientOptions {
  port: number;
  user: string;
  keyPath: string;
  concurrency: number;
  /** Key exchange to use; default curve25519-sha256. mlkem768x25519-sha256 installs the SDK's engine patch (installEngine), which also serves ssh2 clients. */
  kex?: string;
}
export interface HandshakeClientResult {
  completed: number;
  errors: number;
  firstError?: string;
  /** Connections whose exec completed but whose socket then ended with an error (e.g. a reset). */
  teardownErrors: number;
  firstTeardownError?: string;
  latenciesMs: number[];
}

const o = JSON.parse(process.argv[2]) as HandshakeClientOptions;
// eslint-disable-next-line @typescript-eslint/no-require-imports
if (o.kex && o.kex !== 'curve25519-sha256') require('../../src/engine/installEngine').installEngine();
const algorithms = { ...HANDSHAKE_ALGORITHMS, kex: [o.kex ?? HANDSHAKE_ALGORITHMS.kex[0]] };
const privateKey = readFileSync(o.keyPath);
const parsed = utils.parseKey(privateKey);
if (parsed instanceof Error) throw parsed;

/** Resolves with the teardown error, if any, once the connection is closed; rejects when the exec did not complete. */
function once(): Promise<Error | undefined> {
  return new Promise((resolve, reject) => {
    const c = new Client();
    let failed: Error | undefined;
    let done = false;
    c.on('error', (err) => (failed ??= err));
    c.on('close', () => (done ? resolve(failed) : reject(failed ?? new Error('closed before the exec completed'))));
    c.on('ready', () => {
      c.exec(COMMANDS.trivial, (err, stream) => {
        if (err) {
          failed = err;
          return c.end();
        }
        stream.on('exit', (code: number) => (done = code === 0));
        stream.on('close', () => c.end());
        stream.resume();
        stream.stderr.resume();
      });
    });
    // Our own socket with Nagle off: the load must not add TCP delayed-ACK stalls of its own.
    const sock = connect({ host: '127.0.0.1', port: o.port, noDelay: true });
    c.connect({
      sock,
      username: o.user,
      privateKey,
      algorithms: algorithms as never,
      hostVerifier: () => true,
      readyTimeout: 30_000,
    });
  });
}

async function measure(warmupMs: number, durationMs: number): Promise<HandshakeClientResult> {
  const start = Date.now();
  const from = start + warmupMs;
  const to = from + durationMs;
  const result: HandshakeClientResult = { completed: 0, errors: 0, teardownErrors: 0, latenciesMs: [] };
  const loop = async () => {
    while (Date.now() < to) {
      const t0 = performance.now();
      try {
        const teardown = await once();
        const now = Date.now();
        if (now >= from && now < to) {
          result.completed++;
          if (teardown) {
            result.teardownErrors++;
            result.firstTeardownError ??= teardown.message;
          }
          result.latenciesMs.push(performance.now() - t0);
        }
      } catch (err) {
        result.errors++;
        result.firstError ??= (err as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, loop));
  return result;
}

process.on('message', (m: { type: string; warmupMs: number; durationMs: number }) => {
  if (m.type !== 'go') return;
  measure(m.warmupMs, m.durationMs).then((r) => {
    process.send!({ type: 'result', result: r }, () => process.exit(0));
  });
});
process.send!({ type: 'ready' });
