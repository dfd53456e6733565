/**
 * The process service as an attacker pushes it: stdin to a program that never reads, output to a
 * client that never reads, a disconnect with programs that ignore SIGHUP (pipes, and jobs of a shell
 * in a terminal), every channel of a connection running a program, floods of window-change and
 * signal requests; signals as RFC 4254 names them, refused for a forced command; uid/gid.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import type { Client, ClientChannel } from 'ssh2';
import { requireBinary } from './fixtures/clients';
import { PROCESS_KEY, processesRunning, type ProcessServer, withProcessServer } from './fixtures/processServer';
import { sleep, until } from './fixtures/wait';
import { connect } from './helpers-ssh2';

const TIMEOUT = { timeout: 120_000 };
const MiB = 1024 * 1024;

/** Bytes a process has written so far (/proc/PID/io wchar); fails once it has exited. */
function written(pid: number): number {
  let io: string;
  try {
    io = readFileSync(`/proc/${pid}/io`, 'latin1');
  } catch {
    throw new Error(`pid ${pid} ran to its end: nothing held it`);
  }
  return Number(/^wchar: (\d+)$/m.exec(io)?.[1]);
}

/** The pids of `sleep MARKER` processes. */
const sleeping = (marker: string) => processesRunning(['sleep', marker]);

const client = (s: ProcessServer) => connect(s.port, { privateKey: PROCESS_KEY.privateKeyText });

function execOn(
  c: Client,
  command: string,
  options: { pty?: { rows: number; cols: number }; env?: Record<string, string> } = {},
): Promise<ClientChannel> {
  const pty = options.pty ? { pty: { ...options.pty, height: 0, width: 0, term: 'xterm' } } : {};
  return new Promise((resolve, reject) => c.exec(command, { ...pty, env: options.env }, (err, ch) => (err ? reject(err) : resolve(ch))));
}

function shellOn(c: Client, rows = 24, cols = 80): Promise<ClientChannel> {
  return new Promise((resolve, reject) =>
    c.shell({ rows, cols, height: 0, width: 0, term: 'xterm' }, (err, ch) => (err ? reject(err) : resolve(ch))),
  );
}

/** Collects a channel's output; `ended` settles at its close with the exit code or signal. */
function collect(ch: ClientChannel): { text: () => string; ended: Promise<{ code?: number | null; signal?: string }> } {
  let out = '';
  ch.on('data', (d: Buffer) => (out += d.toString('latin1')));
  ch.stderr.on('data', (d: Buffer) => (out += d.toString('latin1')));
  let exit: { code?: number | null; signal?: string } = {};
  ch.on('exit', (code: number | null, signal?: string) => (exit = { code, signal }));
  return { text: () => out, ended: new Promise((resolve) => ch.on('close', () => resolve(exit))) };
}

test('stdin to a program that never reads: the daemon takes the 2 MiB window and no more; the client is held', TIMEOUT, () =>
  withProcessServer({}, async (s) => {
    const marker = `300.${process.pid}1`;
    const ssh = spawn(requireBinary('ssh'), [...s.sshArgs, `sleep ${marker}`], { stdio: ['pipe', 'ignore', 'ignore'] });
    const zeros = Buffer.alloc(MiB);
    let offered = 0;
    const pump = () => {
      while (ssh.stdin.write(zeros)) offered += MiB;
      offered += MiB;
    };
    ssh.stdin.on('drain', pump);
    ssh.stdin.on('error', () => undefined);
    pump();
    try {
      await until('the program to start', () => sleeping(marker).length === 1);
      const bytesIn = () => [...s.daemon.sshConnections.values()].reduce((n, c) => n + c.bytesIn, 0);
      await until('the window to fill', () => bytesIn() > 2 * MiB);
      // The client holds more than the daemon took (its buffers are full): what the daemon read stays at the window.
      await until(
        () => `the client to hold more than the daemon read (offered ${offered}, read ${bytesIn()})`,
        () => offered > bytesIn() + 512 * 1024,
      );
      await sleep(500);
      assert.ok(bytesIn() < 3 * MiB, `the daemon read ${bytesIn()} bytes (window 2 MiB)`);
      assert.equal(sleeping(marker).length, 1, 'the program runs on');
    } finally {
      ssh.kill();
    }
    await until('the program to be hung up with its channel', () => sleeping(marker).length === 0);
  }),
);

test('output to a client that never reads: the program is held by backpressure, the daemon sends about a window', TIMEOUT, () =>
  withProcessServer({}, async (s) => {
    const c = await client(s);
    try {
      const count = `1000000${process.pid}`;
      const ch = await execOn(c, `exec head -c ${count} /dev/zero`); // nobody reads ch
      const head = () => processesRunning(['head', '-c', count, '/dev/zero']);
      await until('the program to start', () => head().length === 1);
      const [pid] = head();
      const channel = () => [...s.daemon.sshChannels.values()][0];
      // Blocked: what it wrote stops growing, bounded by the window and the buffers on the way.
      let last = -1;
      await until('the program to block', async () => {
        const now = written(pid);
        const still = now === last;
        last = now;
        if (!still) await sleep(300);
        return still;
      });
      assert.ok(last < 8 * MiB, `the program wrote ${last} bytes before it was held`);
      assert.ok(channel().bytesSent < 8 * MiB, `the daemon sent ${channel().bytesSent} bytes (about the client's window)`);
      ch.destroy();
    } finally {
      c.end();
    }
  }),
);

test(
  "a disconnect hangs up the program's session: SIGHUP, then SIGKILL for what ignores it (pipes, and shell jobs in a terminal)",
  TIMEOUT,
  () =>
    withProcessServer({ killGrace: 0.3, plan: () => ({ shell: '/bin/bash' }) }, async (s) => {
      const pipes = `1000.${process.pid}3`;
      const jobs = `1000.${process.pid}4`;
      const c = await client(s);
      await execOn(c, `trap '' HUP; sleep ${pipes} & sleep ${pipes}; wait`);
      const shell = await shellOn(c);
      shell.write(`trap '' HUP; sleep ${jobs} & sleep ${jobs}\n`);
      await until('two sleeps on pipes and two in the terminal', () => sleeping(pipes).length === 2 && sleeping(jobs).length === 2);
      // The client vanishes without a word (no EOF, no CLOSE, no DISCONNECT).
      (c as unknown as { _sock: { destroy(): void } })._sock.destroy();
      await until(
        () => `no program left (pipes ${sleeping(pipes)}, terminal ${sleeping(jobs)})`,
        () => sleeping(pipes).length + sleeping(jobs).length === 0,
        20_000,
      );
      assert.ok(
        s.logs.some((l) => /closed while pid \d+ runs; hanging up its session/.test(l)),
        s.logs.join('\n'),
      );
    }),
);

test(
  'every channel of a connection runs a program: the 11th open is refused (MaxSessionsPerConnection), closing the connection ends all ten',
  TIMEOUT,
  () =>
    withProcessServer({ killGrace: 0.3 }, async (s) => {
      const marker = `1000.${process.pid}5`;
      const c = await client(s);
      for (let i = 0; i < 10; i++) await execOn(c, `sleep ${marker}`);
      await until('ten programs', () => sleeping(marker).length === 10);
      await assert.rejects(execOn(c, 'echo eleven'), /open failed|too many channels/i);
      c.end();
      await until('no program left', () => sleeping(marker).length === 0, 20_000);
    }),
);

test('floods of window-change and signal requests cost nothing lasting: the last size holds, each signal reaches the shell', TIMEOUT, () =>
  withProcessServer({ plan: () => ({ shell: '/bin/bash' }) }, async (s) => {
    const c = await client(s);
    try {
      const shell = await shellOn(c);
      const out = collect(shell);
      shell.write("n=0; trap 'n=$((n+1))' USR1; echo ready\n");
      await until('the shell', () => out.text().includes('ready\r\n'));
      for (let i = 0; i < 20_000; i++) shell.setWindow(20 + (i % 50), 80 + (i % 100), 0, 0);
      shell.setWindow(50, 132, 0, 0);
      for (let i = 0; i < 2_000; i++) shell.signal('USR1');
      shell.write('stty size; echo "usr1=$n"; exit 3\n');
      const end = await out.ended;
      assert.ok(/\b50 132\r\nusr1=/.test(out.text()), `stty size shows the last size: ${out.text().slice(-300)}`);
      const n = Number(/usr1=(\d+)/.exec(out.text())?.[1]);
      assert.ok(n >= 1 && n <= 2_000, `the shell trapped ${n} USR1 (pending signals merge)`);
      assert.equal(end.code, 3);
    } finally {
      c.end();
    }
  }),
);

test('a flood of env requests: at most 128 variables and 64 KiB per channel reach the program', TIMEOUT, () =>
  withProcessServer({}, async (s) => {
    const c = await client(s);
    try {
      const count = async (env: Record<string, string>) => {
        const out = collect(await execOn(c, 'env | grep -c "^LC_V"; env | grep "^LC_V" | wc -c', { env }));
        assert.equal((await out.ended).code, 0, out.text());
        return out.text().trim().split(/\s+/).map(Number);
      };
      const small = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`LC_V${i}`, 'x']));
      assert.equal((await count(small))[0], 128);
      const big = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`LC_V${i}`, 'y'.repeat(2000)]));
      const [n, bytes] = await count(big);
      assert.ok(n > 10 && bytes <= 64 * 1024 + n * 2, `${n} variables, ${bytes} bytes`);
    } finally {
      c.end();
    }
  }),
);

test("signal requests reach the program's process group (INT, KILL); a forced command refuses them, as sshd", TIMEOUT, async () => {
  await withProcessServer({}, async (s) => {
    const c = await client(s);
    try {
      const ch = await execOn(c, `sleep 300.${process.pid}6`);
      const out = collect(ch);
      await until('sleep', () => sleeping(`300.${process.pid}6`).length === 1);
      ch.signal('INT');
      assert.deepEqual(await out.ended, { code: null, signal: 'SIGINT' });
    } finally {
      c.end();
    }
  });
  await withProcessServer(
    {},
    async (s) => {
      const c = await client(s);
      try {
        const ch = await execOn(c, 'anything');
        const out = collect(ch);
        await until('the forced command', () => out.text().includes('forced\n'));
        ch.signal('KILL');
        ch.write('go\n');
        assert.deepEqual(await out.ended, { code: 0, signal: undefined });
        assert.equal(out.text(), 'forced\nsurvived go\n');
        assert.ok(s.logs.some((l) => /signal KILL refused for a forced command/.test(l)));
      } finally {
        c.end();
      }
    },
    'command="echo forced; read line; echo survived $line"',
  );
});

test(
  'plan uid/gid/groups (daemon as root): the program runs as that user, on pipes and in a terminal; not as root by default',
  TIMEOUT,
  () => {
    assert.equal(process.getuid?.(), 0, 'this test needs root (as CI runs): switching users needs it');
    return withProcessServer(
      { plan: (r) => (r.command?.startsWith('as-nobody') ? { uid: 65534, gid: 65534, groups: [65534, 100] } : {}) },
      async (s) => {
        const pipes = await s.ssh(['as-nobody; id -u; id -g; id -G; echo "$HOME"']);
        assert.equal(pipes.stdout.toString(), '65534\n65534\n65534 100\n/nonexistent\n', pipes.stderr);
        assert.match(pipes.stderr, /Could not chdir to home directory \/nonexistent/, "nobody's home does not exist: / instead, as sshd");
        const tty = await s.ssh(['-tt', 'as-nobody; id -u; id -G']);
        assert.equal(
          tty.stdout
            .toString()
            .replace(/^Could not chdir to home directory \/nonexistent: No such file or directory\r\n/, '')
            .replace(/.*as-nobody: not found\r\n/, ''),
          '65534\r\n65534 100\r\n',
          tty.stderr,
        );
        const root = await s.ssh(['id -u']);
        assert.equal(root.stdout.toString(), '0\n', "the daemon's own uid without a plan");
      },
    );
  },
);
