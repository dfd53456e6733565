/**
 * One load process for the idle-connection test (run by idle.ts): opens `count` authenticated
 * connections (`parallel` handshakes at a time), opens no channel, and holds them.
 * Protocol: {type:'ready'} -> {type:'open'} -> {type:'opened', ok, errors, firstError} -> {type:'close'} -> {type:'closed'}.
 */
import { readFileSync } from 'node:fs';
import { Client, utils } from 'ssh2';
import { HANDSHAKE_ALGORITHMS } from '../lib/algorithms';

export interface IdleClientOptions {
  port: number;
  user: string;
  keyPath: string;
  count: number;
  parallel: number;
}

const o = JSON.parse(process.argv[2]) as IdleClientOptions;
const privateKey = readFileSync(o.keyPath);
const parsed = utils.parseKey(privateKey);
if (parsed instanceof Error) throw parsed;
const held: Client[] = [];
let dropped = 0;

function connectOne(): Promise<Client> {
  return new Promise((resolve, reject) => {
    const c = new Client();
    let ready = false;
    c.on('error', (err) => {
      if (!ready) reject(err);
    });
    c.on('close', () => {
      if (ready) dropped++;
      else reject(new Error('closed before ready'));
    });
    c.on('ready', () => {
      ready = true;
      resolve(c);
    });
    c.connect({
      host: '127.0.0.1',
      port: o.port,
      username: o.user,
      privateKey,
      algorithms: HANDSHAKE_ALGORITHMS as never,
      hostVerifier: () => true,
      readyTimeout: 120_000,
    });
  });
}

async function openAll(): Promise<{ ok: number; errors: number; firstError?: string }> {
  let next = 0;
  let errors = 0;
  let firstError: string | undefined;
  const worker = async () => {
    while (next < o.count) {
      next++;
      try {
        held.push(await connectOne());
      } catch (err) {
        errors++;
        firstError ??= (err as Error).message;
        if (errors > 50) return; // the server has had enough; report what was reached
      }
    }
  };
  await Promise.all(Array.from({ length: o.parallel }, worker));
  return { ok: held.length, errors, firstError };
}

process.on('message', (m: { type: string }) => {
  if (m.type === 'open') openAll().then((r) => process.send!({ type: 'opened', ...r }));
  if (m.type === 'status') process.send!({ type: 'status', held: held.length, dropped });
  if (m.type === 'close') {
    let left = held.length;
    if (!left) process.send!({ type: 'closed' });
    for (const c of held) {
      c.once('close', () => {
        if (--left === 0) process.send!({ type: 'closed' });
      });
      c.end();
    }
  }
});
process.send!({ type: 'ready' });
