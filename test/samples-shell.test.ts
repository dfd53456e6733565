/**
 * samples/shell-server with OpenSSH: /bin/sh in a pseudo-terminal (exit status, stdout/stderr
 * without a pty, window-change reaching the program), and the TypeScript shell (line editing,
 * commands, exit codes).
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { opensshArgs, requireBinary, run } from './fixtures/clients';
import { startSample, tempDir } from './fixtures/samples';

const DIR = tempDir('shell');
after(() => rmSync(DIR, { recursive: true, force: true }));
const TIMEOUT = { timeout: 90_000 };

const ssh = (port: number, extra: string[], input?: string) =>
  run(
    requireBinary('sshpass'),
    [
      '-p',
      'pw',
      requireBinary('ssh'),
      ...opensshArgs(port),
      '-o',
      'PreferredAuthentications=password',
      '-o',
      'NumberOfPasswordPrompts=1',
      ...extra,
    ],
    { input, timeoutMs: 20_000 },
  );

/**
 * Runs ssh inside a terminal of its own (80x24), as a user at a terminal would: `stty size` on the
 * server must follow when that terminal is resized to 100x30 (ssh gets SIGWINCH and sends
 * window-change). Prints JSON {code, resized, output}.
 */
const TERMINAL_DRIVER = String.raw`
import fcntl, json, os, pty, re, select, struct, sys, termios, time
pid, fd = pty.fork()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    os.execvp(sys.argv[1], sys.argv[1:])
out = b""
def read_until(pattern, poke, seconds=15):
    global out
    end, next_poke = time.time() + seconds, 0
    while time.time() < end:
        if time.time() >= next_poke:
            os.write(fd, poke)
            next_poke = time.time() + 1
        if select.select([fd], [], [], 0.1)[0]:
            try:
                data = os.read(fd, 65536)
            except OSError:
                return False
            if not data:
                return False
            out += data
            if re.search(pattern, out):
                return True
    return False
first = read_until(rb"\b24 80\b", b"stty size\n")
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
resized = first and read_until(rb"\b30 100\b", b"stty size\n")
os.write(fd, b"exit 5\n")
end = time.time() + 10
while time.time() < end:
    if select.select([fd], [], [], 0.1)[0]:
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        out += data
_, status = os.waitpid(pid, 0)
print(json.dumps({"code": os.waitstatus_to_exitcode(status), "first": first, "resized": resized, "output": out.decode("utf8", "replace")}))
`;

test(
  'shell-server (pty): /bin/sh in a terminal, exit status, stdout/stderr apart without a pty, window-change reaches the program',
  TIMEOUT,
  async () => {
    const keyPath = join(DIR, 'id_ed25519');
    const keygen = await run(requireBinary('ssh-keygen'), ['-q', '-t', 'ed25519', '-N', '', '-f', keyPath]);
    assert.equal(keygen.code, 0, keygen.stderr);
    const keysFile = join(DIR, 'authorized_keys');
    writeFileSync(keysFile, readFileSync(`${keyPath}.pub`));
    const server = await startSample('shell-server/server.ts', join(DIR, 'pty'), ['--user', 'eve:pw', '--authorized-keys', keysFile]);
    try {
      const tty = await ssh(server.port, ['-tt', 'eve@127.0.0.1'], 'echo "product=$((6*7))"; tty; exit 3\n');
      assert.equal(tty.code, 3, tty.stderr);
      assert.match(tty.stdout.toString(), /product=42/);
      assert.match(tty.stdout.toString(), /\/dev\/pts\/\d+/, 'the shell runs on a terminal');

      const exec = await ssh(server.port, ['eve@127.0.0.1', 'echo out; echo err >&2; [ -t 0 ] || echo no-tty; exit 4']);
      assert.equal(exec.code, 4);
      assert.equal(exec.stdout.toString(), 'out\nno-tty\n');
      assert.equal(exec.stderr, 'err\n');

      const python = requireBinary('python3');
      const driven = await run(
        python,
        [
          '-c',
          TERMINAL_DRIVER,
          requireBinary('ssh'),
          ...opensshArgs(server.port),
          '-o',
          'BatchMode=yes',
          '-o',
          'IdentitiesOnly=yes',
          '-i',
          keyPath,
          '-t',
          'eve@127.0.0.1',
        ],
        { timeoutMs: 60_000 },
      );
      assert.equal(driven.code, 0, driven.stderr);
      const r = JSON.parse(driven.stdout.toString()) as { code: number; first: boolean; resized: boolean; output: string };
      assert.ok(r.first, `stty size showed the initial 24x80:\n${r.output}`);
      assert.ok(r.resized, `stty size followed the resize to 30x100:\n${r.output}`);
      assert.equal(r.code, 5, `ssh exits with the shell's status:\n${r.output}`);
      assert.match(server.output(), /authenticated/);
    } finally {
      assert.equal(await server.stop(), 0);
    }
  },
);

test(
  'shell-server --shell ts: line editing (backspace, arrows, history), commands, exit codes; exec runs the same commands',
  TIMEOUT,
  async () => {
    const server = await startSample('shell-server/server.ts', join(DIR, 'ts'), ['--user', 'eve:pw', '--shell', 'ts']);
    try {
      const input = [
        'ecXY\x7f\x7fho edited\r', // two backspaces
        'echo wrld\x1b[D\x1b[D\x1b[Do\r', // three Left, insert
        'cd /etc\rpwd\rls\rcat motd\r',
        'nosuch\rstatus\r',
        'echo first-line-from-history\r\x1b[A\x1b[A\x1b[B\r', // Up, Up (to 'status'), Down: the latest line again
        'exit 7\r',
      ].join('');
      const shell = await ssh(server.port, ['-tt', 'eve@127.0.0.1'], input);
      const out = shell.stdout.toString();
      assert.equal(shell.code, 7, `${shell.stderr}\n${out}`);
      assert.match(out, /\r\nedited\r\n/);
      assert.match(out, /\r\nworld\r\n/);
      assert.match(out, /\r\n\/etc\r\n/);
      assert.match(out, /\r\nmotd {2}hostname\r\n/);
      assert.match(out, /Welcome to the sshdaemon TypeScript shell\.\r\n/);
      assert.match(out, /nosuch: command not found\r\n/);
      assert.match(out, /\r\n127\r\n/, 'status shows the last exit code');
      assert.equal(out.match(/\r\nfirst-line-from-history\r\n/g)?.length, 2, 'Up recalls the previous line');

      const ls = await ssh(server.port, ['eve@127.0.0.1', 'ls /home/guest']);
      assert.equal(ls.code, 0, ls.stderr);
      assert.equal(ls.stdout.toString(), 'notes.txt\n');
      const code = await ssh(server.port, ['eve@127.0.0.1', 'exit 9']);
      assert.equal(code.code, 9);
      const missing = await ssh(server.port, ['eve@127.0.0.1', 'rm -rf /']);
      assert.equal(missing.code, 127);
      assert.equal(missing.stdout.toString(), 'rm: command not found\n');
    } finally {
      assert.equal(await server.stop(), 0);
    }
  },
);
