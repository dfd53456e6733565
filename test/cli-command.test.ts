/** The `sshdaemon` command's options, driven as a user runs it, with OpenSSH as the client. */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { opensshArgs, requireBinary, run } from './fixtures/clients';
import { startListening } from './fixtures/processes';
import { makeUserKey } from './fixtures/testServer';

const DIR = mkdtempSync(join(tmpdir(), 'cli-'));
after(() => rmSync(DIR, { recursive: true, force: true }));
const MAIN = join(__dirname, '..', 'src', 'cli', 'main.ts');
const TIMEOUT = { timeout: 90_000 };

/** The CLI as a server process on a free port with this test's data folder, plus `args`. */
function startCli(args: string[]) {
  return startListening(['--import', 'tsx', MAIN, '--port', '0', '--data', join(DIR, 'data'), ...args]);
}

function cli(args: string[]): Promise<{ code: number | null; out: string }> {
  return run(process.execPath, ['--import', 'tsx', MAIN, ...args], { timeoutMs: 30_000 }).then((r) => ({
    code: r.code,
    out: r.stdout.toString() + r.stderr,
  }));
}

test('bad options print what is wrong and the usage, exit 2; --help prints the usage', TIMEOUT, async () => {
  const cases: Array<[string[], RegExp]> = [
    [['--frobnicate'], /Unknown option '--frobnicate'/],
    [['--port', 'seventy'], /--port must be an integer from 0 to 65535/],
    [['--user', 'nopassword'], /--user expects NAME:PASSWORD/],
    [['--config', 'MaxAuthAttempts=zero'], /MaxAuthAttempts/],
    [['--config', 'NoSuchSetting=1'], /Unknown config setting 'NoSuchSetting'/],
    [['--sftp', join(DIR, 'missing')], /--sftp: .* is not a directory/],
    [['--log-level', '9'], /--log-level must be an integer from 0 to 3/],
  ];
  for (const [args, message] of cases) {
    const r = await cli([...args, '--data', join(DIR, 'data')]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.out}`);
    assert.match(r.out, message);
    assert.match(r.out, /usage: sshdaemon \[options\]/);
  }
  const help = await cli(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.out, /--authorized-keys FILE/);
});

test('--user, --authorized-keys, --sftp and --config together; no shell unless asked', TIMEOUT, async () => {
  const root = join(DIR, 'sftp-root');
  mkdirSync(root);
  const key = makeUserKey('ed25519');
  const keysFile = join(DIR, 'authorized_keys');
  writeFileSync(keysFile, `${key.publicKeyOpenSSH} cli-test\n`);
  const server = await startCli([
    '--user',
    'alice:wonder',
    '--user',
    'bob:builder',
    '--authorized-keys',
    keysFile,
    '--sftp',
    root,
    '--config',
    'MaxAuthAttempts=3',
    '--config',
    'ServerSSHVersionString=SSH-2.0-CliTest_1.0',
  ]);
  try {
    writeFileSync(join(DIR, 'up.txt'), 'uploaded through the command');
    const args = opensshArgs(server.port);
    args[0] = '-P';
    const batch = join(DIR, 'batch');
    writeFileSync(batch, `put ${join(DIR, 'up.txt')} up.txt\nls\n`);
    const sftp = await run(
      requireBinary('sftp'),
      [...args, '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes', '-i', key.privateKeyPath, '-b', batch, 'alice@127.0.0.1'],
      { timeoutMs: 30_000 },
    );
    assert.equal(sftp.code, 0, sftp.stderr);
    assert.equal(readFileSync(join(root, 'up.txt'), 'utf8'), 'uploaded through the command');
    const password = await run(
      requireBinary('sshpass'),
      [
        '-p',
        'builder',
        requireBinary('ssh'),
        ...opensshArgs(server.port),
        '-o',
        'PreferredAuthentications=password',
        'bob@127.0.0.1',
        'whoami',
      ],
      { timeoutMs: 30_000 },
    );
    assert.notEqual(password.code, 0, 'exec is not served without --shell');
    assert.doesNotMatch(password.stderr, /Permission denied/, 'but bob logged in with his password');
    assert.match(server.output(), /user 'bob' authenticated/);
    const banner = connect(server.port, '127.0.0.1');
    const [line] = (await once(banner, 'data')) as [Buffer];
    banner.destroy();
    assert.equal(line.toString('latin1').split('\r\n')[0], 'SSH-2.0-CliTest_1.0', '--config ServerSSHVersionString took effect');
  } finally {
    assert.equal(await server.stop(), 0, 'SIGINT stops it cleanly');
  }
});

test(
  '--shell with --allow-forwarding and --log-level 0: exec works, ssh -W reaches a TCP service, nothing is logged',
  TIMEOUT,
  async () => {
    const echo = createServer((s) => s.pipe(s));
    echo.listen(0, '127.0.0.1');
    await once(echo, 'listening');
    const echoPort = (echo.address() as { port: number }).port;
    const server = await startCli(['--shell', '--allow-forwarding', '--user', 'carol:pw', '--log-level', '0']);
    try {
      const ssh = (extra: string[], input?: string) =>
        run(
          requireBinary('sshpass'),
          ['-p', 'pw', requireBinary('ssh'), ...opensshArgs(server.port), '-o', 'PreferredAuthentications=password', ...extra],
          { input, timeoutMs: 30_000 },
        );
      const who = await ssh(['carol@127.0.0.1', 'whoami']);
      assert.equal(who.stdout.toString().trim(), 'carol', who.stderr);
      const w = await ssh(['-W', `127.0.0.1:${echoPort}`, 'carol@127.0.0.1'], 'ping');
      assert.equal(w.stdout.toString(), 'ping', w.stderr);
      assert.doesNotMatch(server.output(), /connection from/, '--log-level 0 prints no log lines');
    } finally {
      await server.stop();
      echo.close();
    }
  },
);

test('--sftp serves legacy SCP too (scp -O up and down), also beside --shell, whose exec leaves scp alone', TIMEOUT, async () => {
  const root = join(DIR, 'scp-root');
  mkdirSync(root);
  const server = await startCli(['--user', 'dave:pw', '--sftp', root, '--shell']);
  try {
    writeFileSync(join(DIR, 'scp-up.txt'), 'through scp -O');
    const args = opensshArgs(server.port);
    args[0] = '-P';
    const scp = (from: string, to: string) =>
      run(
        requireBinary('sshpass'),
        ['-p', 'pw', requireBinary('scp'), '-O', ...args, '-o', 'PreferredAuthentications=password', from, to],
        { timeoutMs: 30_000 },
      );
    const up = await scp(join(DIR, 'scp-up.txt'), 'dave@127.0.0.1:copy.txt');
    assert.equal(up.code, 0, up.stderr);
    assert.equal(readFileSync(join(root, 'copy.txt'), 'utf8'), 'through scp -O');
    const down = await scp('dave@127.0.0.1:copy.txt', join(DIR, 'scp-down.txt'));
    assert.equal(down.code, 0, down.stderr);
    assert.equal(readFileSync(join(DIR, 'scp-down.txt'), 'utf8'), 'through scp -O');
    const who = await run(
      requireBinary('sshpass'),
      [
        '-p',
        'pw',
        requireBinary('ssh'),
        ...opensshArgs(server.port),
        '-o',
        'PreferredAuthentications=password',
        'dave@127.0.0.1',
        'whoami',
      ],
      { timeoutMs: 30_000 },
    );
    assert.equal(who.stdout.toString().trim(), 'dave', 'the demo shell still answers other commands');
  } finally {
    assert.equal(await server.stop(), 0);
  }
});

test(
  "--exec: real commands and terminals for logged-in users (exit status, a pty), scp -O still the SCP server's, a note but no warning on loopback; --exec with --shell is refused",
  TIMEOUT,
  async () => {
    const both = await cli(['--exec', '--shell', '--data', join(DIR, 'data')]);
    assert.equal(both.code, 2, both.out);
    assert.match(both.out, /--exec and --shell both serve exec and shell requests/);
    const root = join(DIR, 'exec-root');
    mkdirSync(root);
    const server = await startCli(['--exec', '--sftp', root, '--user', 'erin:pw']);
    try {
      const ssh = (extra: string[]) =>
        run(
          requireBinary('sshpass'),
          ['-p', 'pw', requireBinary('ssh'), ...opensshArgs(server.port), '-o', 'PreferredAuthentications=password', ...extra],
          { timeoutMs: 30_000 },
        );
      const exec = await ssh(['erin@127.0.0.1', 'echo "$USER"; [ -t 0 ] || echo no-tty; exit 7']);
      assert.equal(exec.code, 7, exec.stderr);
      assert.equal(exec.stdout.toString(), 'erin\nno-tty\n');
      const tty = await ssh(['-tt', 'erin@127.0.0.1', 'tty; exit 5']);
      assert.equal(tty.code, 5, tty.stderr);
      assert.match(tty.stdout.toString(), /^\/dev\/pts\/\d+\r\n$/);
      // scp sends its env requests (SendEnv LANG LC_*) before `exec scp -t`: the SCP server still takes it.
      writeFileSync(join(DIR, 'exec-up.txt'), 'into the jail');
      const args = opensshArgs(server.port);
      args[0] = '-P';
      const scp = await run(
        requireBinary('sshpass'),
        [
          '-p',
          'pw',
          requireBinary('scp'),
          '-O',
          ...args,
          '-o',
          'PreferredAuthentications=password',
          '-o',
          'SendEnv=LANG LC_*',
          join(DIR, 'exec-up.txt'),
          'erin@127.0.0.1:up.txt',
        ],
        { timeoutMs: 30_000, env: { LC_TIME: 'C' } },
      );
      assert.equal(scp.code, 0, scp.stderr);
      assert.equal(readFileSync(join(root, 'up.txt'), 'utf8'), 'into the jail');
      assert.match(server.output(), /note: --exec runs real commands and shells, as \S+ \(uid \d+\), for everyone who logs in/);
      assert.doesNotMatch(server.output(), /WARNING/);
    } finally {
      assert.equal(await server.stop(), 0);
    }
  },
);

test('a server reachable from the network warns loudly on stderr: --exec, and the demo login demo/demo', TIMEOUT, async () => {
  const open = await startCli(['--host', '0.0.0.0', '--exec']);
  try {
    assert.match(open.output(), /\*\*\* WARNING: --exec runs real commands and shells, as .* and this server listens on 0\.0\.0\.0/);
    assert.match(open.output(), /\*\*\* WARNING: the demo login demo\/demo \(a published password\) is served on 0\.0\.0\.0/);
  } finally {
    await open.stop();
  }
  const named = await startCli(['--host', '0.0.0.0', '--user', 'frank:long-secret']);
  try {
    assert.doesNotMatch(named.output(), /WARNING/, 'named users and the demo shell: nothing to warn about');
  } finally {
    await named.stop();
  }
});
