/**
 * The demo shell (the CLI's default --shell) under a client that types without reading, as an
 * attacker would (issue 16.7: 8.9 MiB of input used to grow it to a V8 out-of-memory kill): OpenSSH's
 * ssh with a pty writes "x\r" lines (each answered by a longer "command not found" line) while its
 * own output is never read. The daemon stops taking input once its output waits, its RSS stays
 * bounded, and it keeps serving other logins.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { opensshArgs, requireBinary, run } from './fixtures/clients';
import { startListening } from './fixtures/processes';

const DATA = mkdtempSync(join(tmpdir(), 'demo-flood-'));
after(() => rmSync(DATA, { recursive: true, force: true }));
const MAIN = join(__dirname, '..', 'src', 'cli', 'main.ts');
const MiB = 1024 * 1024;

const rssOf = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;

test(
  'demo shell: a client typing 64 MiB without reading is throttled by the window; the daemon stays bounded and serves others',
  { timeout: 180_000 },
  async () => {
    const sshpass = requireBinary('sshpass');
    const ssh = requireBinary('ssh');
    const demo = await startListening(['--import', 'tsx', MAIN, '--port', '0', '--data', DATA]);
    try {
      const pid = demo.child.pid!;
      const login = (args: string[]) => {
        const at = args.findIndex((a) => !a.startsWith('-'));
        const options = at < 0 ? args : args.slice(0, at);
        const command = at < 0 ? [] : args.slice(at);
        return [
          sshpass,
          '-p',
          'demo',
          ssh,
          ...opensshArgs(demo.port),
          '-o',
          'PreferredAuthentications=password',
          ...options,
          'demo@127.0.0.1',
          ...command,
        ];
      };
      // Warm up: a shell session and an exec first, so the baseline includes what any session loads once.
      for (const [extra, input] of [
        [['-tt'], 'help\rexit\r'],
        [['whoami'], ''],
      ] as const) {
        const [c, ...a] = login([...extra]);
        const warm = await run(c, a, { input, timeoutMs: 60_000 });
        assert.equal(warm.code, 0, `warm-up: ${warm.stderr}`);
      }
      const [cmd, ...args] = login(['-tt']);
      const attacker = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'ignore'] });
      attacker.stdin.on('error', () => undefined);
      // Its stdout is never read: ssh stops reading the connection once that pipe is full.
      const baseline = rssOf(pid);
      let peak = baseline;
      const sampler = setInterval(() => (peak = Math.max(peak, rssOf(pid))), 50);
      const line = Buffer.from('x'.repeat(30) + '\r');
      const chunk = Buffer.concat(Array(2048).fill(line)); // 62 KiB of short command lines
      let taken = 0;
      let lastProgress = Date.now();
      const stalled = new Promise<void>((resolve) => {
        const check = setInterval(() => {
          if (Date.now() - lastProgress > 3000 || taken >= 64 * MiB) {
            clearInterval(check);
            resolve();
          }
        }, 200);
      });
      let stop = false;
      void stalled.then(() => (stop = true));
      while (!stop && taken < 64 * MiB) {
        const written = new Promise<void>((resolve) => attacker.stdin.write(chunk, () => resolve()));
        await Promise.race([written, stalled]);
        if (stop) break;
        taken += chunk.length;
        lastProgress = Date.now();
      }
      clearInterval(sampler);
      const grown = (peak - baseline) / MiB;
      // The window (2 MiB) plus ssh's and the pipe's buffers, not the 64 MiB offered.
      assert.ok(taken < 8 * MiB, `the attacker got ${(taken / MiB).toFixed(1)} MiB in before being throttled`);
      assert.ok(grown < 32, `the daemon's RSS grew ${grown.toFixed(1)} MiB`);
      // Still serving: another login runs a command.
      const [c2, ...a2] = login(['whoami']);
      const other = await run(c2, a2, { timeoutMs: 60_000 });
      assert.equal(other.code, 0, `second login: ${other.stderr} ${other.stdout}`);
      assert.equal(other.stdout.toString(), 'demo\n');
      attacker.kill('SIGKILL');
    } finally {
      assert.equal(await demo.stop('SIGTERM'), 0, demo.output());
    }
  },
);
