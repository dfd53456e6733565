/**
 * The process service (enableProcesses) with OpenSSH's `ssh`, each behaviour run against OpenSSH's
 * sshd as well (the expected value is the reference's): exit status and SSH_CONNECTION, a signal
 * death, the env allow-list, a forced command with SSH_ORIGINAL_COMMAND, no-pty, a terminal with
 * bash where ^C interrupts a command; 100 MiB through `cat`; OpenSSH 10 (Debian 13) as well.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { requireBinary, run } from './fixtures/clients';
import { testEachSet } from './fixtures/clientSets';
import { processesRunning, type SshTarget, withProcessServer, withReferenceSshd } from './fixtures/processServer';
import { until } from './fixtures/wait';

const TIMEOUT = { timeout: 180_000 };
const DIR = mkdtempSync(join(tmpdir(), 'processes-openssh-'));
after(() => rmSync(DIR, { recursive: true, force: true }));

/** Runs `check` against the daemon (with `options`) and against the reference sshd, with the same key options. */
async function both(
  check: (s: SshTarget, which: 'daemon' | 'sshd') => Promise<void>,
  keyOptions = '',
  sshdOptions: string[] = [],
  plan: Parameters<typeof withProcessServer>[0] = {},
): Promise<void> {
  await withReferenceSshd((s) => check(s, 'sshd'), keyOptions, sshdOptions);
  await withProcessServer(plan, (s) => check(s, 'daemon'), keyOptions);
}

test('exec: the exit status comes back and SSH_CONNECTION / SSH_CLIENT name both ends, as sshd sets them', TIMEOUT, () =>
  both(async (s, which) => {
    const r = await s.ssh(['echo "$SSH_CONNECTION"; echo "$SSH_CLIENT"; echo out; echo err >&2; exit 3']);
    assert.equal(r.code, 3, `${which}: ${r.stderr}`);
    const [connection, client, out] = r.stdout.toString().split('\n');
    const m = /^127\.0\.0\.1 (\d+) 127\.0\.0\.1 (\d+)$/.exec(connection);
    assert.ok(m, `${which}: SSH_CONNECTION is "client port server port": ${connection}`);
    assert.equal(Number(m[2]), s.port, `${which}: the server port`);
    assert.equal(client, `127.0.0.1 ${m[1]} ${s.port}`, `${which}: SSH_CLIENT`);
    assert.equal(out, 'out');
    assert.equal(r.stderr, 'err\n', `${which}: stderr apart from stdout`);
  }),
);

test('a program killed by a signal: exit-signal TERM, ssh exits 255 and prints nothing, as with sshd', TIMEOUT, () =>
  both(async (s, which) => {
    const r = await s.ssh(['-v', 'echo before; kill -TERM $$']);
    assert.equal(r.code, 255, `${which}: ${r.stderr}`);
    assert.equal(r.stdout.toString(), 'before\n', which);
    assert.match(r.stderr, /rtype exit-signal/, `${which}: the client got exit-signal`);
    assert.doesNotMatch(r.stderr, /rtype exit-status/, which);
  }),
);

test('env requests: AcceptEnv LANG LC_* takes LC_TIME and LC_FOO and refuses EVIL, as sshd with the same AcceptEnv', TIMEOUT, () =>
  both(
    async (s, which) => {
      // -F /dev/null: no SendEnv from the system's ssh_config, only these three.
      const r = await s.ssh([
        '-F',
        '/dev/null',
        '-o',
        'SetEnv=LC_TIME=C.UTF-8 LC_FOO=bar EVIL=yes',
        'echo "$LC_TIME|$LC_FOO|${EVIL-unset}"',
      ]);
      assert.equal(r.code, 0, `${which}: ${r.stderr}`);
      assert.equal(r.stdout.toString(), 'C.UTF-8|bar|unset\n', which);
    },
    '',
    ['AcceptEnv LANG LC_*'],
  ),
);

test(
  "a forced command (authorized_keys command=) runs instead, with the client's command in SSH_ORIGINAL_COMMAND; a shell request too",
  TIMEOUT,
  () =>
    both(async (s, which) => {
      const exec = await s.ssh(['hello   world']);
      assert.equal(exec.code, 5, `${which}: ${exec.stderr}`);
      assert.equal(exec.stdout.toString(), 'forced:hello   world\n', which);
      const shell = await s.ssh(['-T']);
      assert.equal(shell.code, 5, which);
      assert.equal(shell.stdout.toString(), 'forced:unset\n', `${which}: no SSH_ORIGINAL_COMMAND for a shell`);
    }, 'command="echo \\"forced:${SSH_ORIGINAL_COMMAND-unset}\\"; exit 5"'),
);

test(
  'no-pty (and enableProcesses pty: false): pty-req is refused and ssh -tt gives up as it does with sshd; without -tt the command runs without a terminal',
  TIMEOUT,
  async () => {
    const outcome = async (s: SshTarget) => {
      const forced = await s.ssh(['-tt', 'tty; echo rc=$?']);
      const plain = await s.ssh(['tty; echo rc=$?']);
      return {
        forced: {
          code: forced.code,
          stdout: forced.stdout.toString(),
          refused: /PTY allocation request failed on channel 0/.test(forced.stderr),
        },
        plain: { code: plain.code, stdout: plain.stdout.toString() },
      };
    };
    let reference: Awaited<ReturnType<typeof outcome>> | undefined;
    await withReferenceSshd(async (s) => void (reference = await outcome(s)), 'no-pty');
    await withProcessServer({}, async (s) => assert.deepEqual(await outcome(s), reference), 'no-pty');
    await withProcessServer({ pty: false }, async (s) => assert.deepEqual(await outcome(s), reference));
    assert.equal(reference?.forced.refused, true, 'sshd refused the pty');
    assert.deepEqual(reference?.plain, { code: 0, stdout: 'not a tty\nrc=1\n' });
  },
);

test('ssh -tt: bash as a login shell in a terminal; ^C interrupts a running sleep (status 130), then exit 4', TIMEOUT, () =>
  both(
    async (s, which) => {
      const marker = `100.${process.pid}${which === 'sshd' ? 1 : 2}`;
      const child = spawn(requireBinary('ssh'), ['-tt', ...s.sshArgs], { stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
      try {
        child.stdin.write(`echo "shell=$0 $(shopt -q login_shell && echo login)"; sleep ${marker}\n`);
        await until(
          () => `${which}: sleep to start:\n${out}`,
          () => processesRunning(['sleep', marker]).length === 1,
        );
        child.stdin.write('\x03');
        await until(
          () => `${which}: ^C to end sleep:\n${out}`,
          () => processesRunning(['sleep', marker]).length === 0,
        );
        child.stdin.write('echo "rc=$?"; exit 4\n');
        assert.equal(await exited, 4, `${which}:\n${out}`);
        assert.match(
          out,
          /shell=(-bash|\/bin\/bash) login/,
          `${which}: bash, a login shell (sshd: argv[0] -bash, the daemon: bash -l):\n${out}`,
        );
        assert.match(out, /rc=130/, `${which}: sleep died of SIGINT:\n${out}`);
      } finally {
        child.kill();
      }
    },
    '',
    [],
    { plan: () => ({ shell: '/bin/bash' }) },
  ),
);

test('ssh host cat < 100 MiB: every byte comes back (sha256), with flow control both ways', TIMEOUT, () =>
  withProcessServer({}, async (s) => {
    const file = join(DIR, 'random.bin');
    const dd = await run('dd', ['if=/dev/urandom', `of=${file}`, 'bs=1M', 'count=100', 'status=none']);
    assert.equal(dd.code, 0, dd.stderr);
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
    const quoted = [requireBinary('ssh'), ...s.sshArgs, 'cat'].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    const r = await run('/bin/sh', ['-c', `${quoted} < '${file}' | sha256sum`], { timeoutMs: 150_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.toString().split(' ')[0], hash.digest('hex'));
  }),
);

testEachSet('OpenSSH of each client set: exit status, SSH_CONNECTION and a terminal (OpenSSH 10 in Debian 13)', TIMEOUT, (clients) =>
  withProcessServer({}, async (s) => {
    const exec = await clients.run('ssh', [...s.sshArgs, 'echo "$SSH_CONNECTION"; exit 7'], { timeoutMs: 60_000 });
    assert.equal(exec.code, 7, exec.stderr);
    assert.match(exec.stdout.toString(), new RegExp(`^127\\.0\\.0\\.1 \\d+ 127\\.0\\.0\\.1 ${s.port}\\n$`));
    const tty = await clients.run('ssh', ['-tt', ...s.sshArgs, 'echo "$TERM $SSH_TTY"; tty; exit 6'], {
      timeoutMs: 60_000,
      env: { TERM: 'xterm-256color' },
    });
    assert.equal(tty.code, 6, tty.stderr);
    const [termLine, ttyLine] = tty.stdout.toString().split('\r\n');
    assert.match(termLine, /^xterm-256color \/dev\/pts\/\d+$/);
    assert.equal(ttyLine, termLine.split(' ')[1], 'SSH_TTY names the terminal the program runs on');
  }),
);
