/**
 * Churn soak (`npm run soak -- --cycles 5000`): connect, authenticate, exec, close, over and over,
 * with the ssh2 client in-process and OpenSSH as separate processes; samples heap, RSS, handles and
 * the registry, and fails when they grow after warm-up.
 */
import { spawn } from 'node:child_process';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parseArgs } from 'node:util';
import { Client } from 'ssh2';
import { Certificate, SSHDaemon } from '../../src';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const { values } = parseArgs({
  options: {
    cycles: { type: 'string', default: '3000' },
    concurrency: { type: 'string', default: '8' },
    'openssh-every': { type: 'string', default: '20' },
  },
});
const CYCLES = Number(values.cycles);
const CONCURRENCY = Number(values.concurrency);
const OPENSSH_EVERY = Number(values['openssh-every']);

function ssh2Cycle(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = new Client();
    c.on('error', reject);
    c.on('ready', () =>
      c.exec('echo soak', (err, stream) => {
        if (err) return reject(err);
        let out = '';
        stream.on('data', (d: Buffer) => (out += d.toString()));
        stream.on('close', () => {
          c.end();
          if (out !== 'soak\n') reject(new Error(`unexpected output '${out}'`));
        });
      }),
    );
    c.on('close', () => resolve());
    c.connect({ host: '127.0.0.1', port, username: 'soak', password: 'soak', readyTimeout: 10_000 });
  });
}

function opensshCycle(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'sshpass',
      [
        '-p',
        'soak',
        'ssh',
        '-p',
        String(port),
        '-o',
        'StrictHostKeyChecking=no',
        '-o',
        'UserKnownHostsFile=/dev/null',
        '-o',
        'LogLevel=ERROR',
        '-o',
        'PreferredAuthentications=password',
        'soak@127.0.0.1',
        'echo soak',
      ],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    // 'close', not 'exit': sshpass may exit before its ssh child has written everything.
    child.on('close', (code) => (code === 0 && out === 'soak\n' ? resolve() : reject(new Error(`ssh exited ${code} with '${out}'`))));
  });
}

interface Sample {
  cycle: number;
  heapMiB: number;
  rssMiB: number;
  handles: number;
  connections: number;
}

async function main(): Promise<void> {
  const daemon = new SSHDaemon();
  daemon.sshCert = Certificate.generate('ed25519');
  daemon.localHost = '127.0.0.1';
  daemon.localPort = 0;
  daemon.config('MaxStartups=1000');
  daemon
    .on('SSHServiceRequest', (e) => void (e.accept = true))
    .on('SSHUserAuthRequest', (e) => void (e.accept = e.authMethod === 'password' && e.authParam === 'soak'))
    .on('SSHChannelOpenRequest', (e) => void (e.accept = e.service === 'session'))
    .on('SSHChannelRequest', (e) => void (e.success = e.requestType === 'exec'))
    .on('SSHChannelRequested', async (e) => {
      await daemon.sendChannelData(e.channelId, 'soak\n');
      await daemon.sendExitStatus(e.channelId, 0);
      await daemon.closeChannel(e.channelId);
    });
  let errors = 0;
  daemon.on('Error', () => void errors++);
  await daemon.startListening();
  const port = daemon.localPort;
  const samples: Sample[] = [];
  const sample = (cycle: number) => {
    gc();
    const m = process.memoryUsage();
    samples.push({
      cycle,
      heapMiB: m.heapUsed / 2 ** 20,
      rssMiB: m.rss / 2 ** 20,
      handles: process.getActiveResourcesInfo().length,
      connections: daemon.sshConnections.size,
    });
  };
  let next = 0;
  let failures = 0;
  const failureReasons: string[] = [];
  const started = Date.now();
  const every = Math.max(100, Math.floor(CYCLES / 20));
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < CYCLES) {
        const i = next++;
        try {
          await (OPENSSH_EVERY > 0 && i % OPENSSH_EVERY === 0 ? opensshCycle(port) : ssh2Cycle(port));
        } catch (err) {
          failures++;
          if (failureReasons.length < 10) failureReasons.push(`cycle ${i}: ${(err as Error).message}`);
        }
        if (i % every === 0) sample(i);
      }
    }),
  );
  while (daemon.sshConnections.size > 0) await new Promise((r) => setTimeout(r, 50));
  sample(CYCLES);
  await daemon.shutdown();
  const warm = samples.filter((s) => s.cycle >= CYCLES * 0.2);
  const first = warm[0];
  const last = samples[samples.length - 1];
  const result = {
    cycles: CYCLES,
    seconds: Math.round((Date.now() - started) / 1000),
    failures,
    failureReasons,
    errors,
    afterWarmUp: { heapMiB: +first.heapMiB.toFixed(1), rssMiB: +first.rssMiB.toFixed(1), handles: first.handles },
    end: { heapMiB: +last.heapMiB.toFixed(1), rssMiB: +last.rssMiB.toFixed(1), handles: last.handles, connections: last.connections },
  };
  console.log(JSON.stringify(result, null, 2));
  const grew = last.heapMiB > first.heapMiB * 1.15 + 2 || last.handles > first.handles + 2 || last.connections !== 0 || failures > 0;
  if (grew) {
    console.error('soak: growth after warm-up or failures');
    process.exitCode = 1;
  }
}

void main();
