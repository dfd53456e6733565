/**
 * The process service's parts on their own: AcceptEnv matching, the RFC 4254 signal names, the
 * node-pty adapter (pinned version, binding shape), the pty master reader that keeps the output's
 * tail, how a plan becomes a program (argv, environment, folder, ids) and option checks.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { constants } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { SSHDaemon, SSHDaemonError, type ProcessRequest } from '../src';
import { exitSignalPayload } from '../src/packet/messages';
import { AcceptEnv } from '../src/processes/acceptEnv';
import { resolveLaunch } from '../src/processes/launchPlan';
import { PINNED_NODE_PTY_VERSION, ptyBinding, ptyProblem } from '../src/processes/ptyBinding';
import { PtyMaster } from '../src/processes/ptyMaster';
import { exitSignalName, OTHER_SIGNAL, signalOfRequest } from '../src/processes/signals';
import type { SSHConnection } from '../src/views/views';
import { until } from './fixtures/wait';

test('AcceptEnv: OpenSSH wildcards, case-sensitive, default LANG and LC_*; linear on hostile patterns', () => {
  const def = new AcceptEnv();
  for (const name of ['LANG', 'LC_ALL', 'LC_', 'LC_TIME']) assert.ok(def.accepts(name), name);
  for (const name of ['LANGUAGE', 'lang', 'PATH', 'LD_PRELOAD', 'XLC_ALL', '']) assert.ok(!def.accepts(name), name);
  const q = new AcceptEnv(['GIT_?', 'X*Y']);
  assert.ok(q.accepts('GIT_A') && !q.accepts('GIT_AB') && q.accepts('XY') && q.accepts('XaaY') && !q.accepts('XaaYz'));
  assert.ok(!new AcceptEnv([]).accepts('LANG'), 'an empty list accepts nothing');
  const hostile = new AcceptEnv([`${'*a'.repeat(40)}b`]);
  assert.ok(!hostile.accepts('a'.repeat(5000)), 'no match, found without backtracking');
  assert.throws(() => new AcceptEnv('LANG' as unknown as string[]), SSHDaemonError);
});

test('signal requests take only the RFC 4254 6.10 names; exit-signal names the rest SIG@openssh.com as sshd', () => {
  for (const name of ['ABRT', 'ALRM', 'FPE', 'HUP', 'ILL', 'INT', 'KILL', 'PIPE', 'QUIT', 'SEGV', 'TERM', 'USR1', 'USR2'])
    assert.equal(signalOfRequest(name), `SIG${name}`);
  for (const name of ['STOP', 'WINCH', 'CONT', 'SIGTERM', 'term', '__proto__', 'constructor', ''])
    assert.equal(signalOfRequest(name), undefined, name);
  assert.equal(exitSignalName('SIGTERM'), 'TERM');
  assert.equal(exitSignalName(constants.signals.SIGINT), 'INT');
  assert.equal(exitSignalName('SIGBUS'), OTHER_SIGNAL);
  assert.equal(exitSignalName(constants.signals.SIGXCPU), OTHER_SIGNAL);
  // The wire name keeps a domain whole (ChannelStream strips "SIG" only before a plain name).
  const name = (payload: Buffer) => payload.subarray(25, 25 + payload.readUInt32BE(21)).toString();
  assert.equal(name(exitSignalPayload(0, 'SIG@openssh.com', false, '')), 'SIG@openssh.com');
  assert.equal(name(exitSignalPayload(0, 'SIGTERM', false, '')), 'TERM');
});

test('node-pty is the pinned version and its native fork/resize load (the adapter is written for it)', () => {
  assert.equal(ptyProblem(), undefined);
  assert.equal(ptyBinding().version, PINNED_NODE_PTY_VERSION);
  assert.equal((require('node-pty/package.json') as { version: string }).version, PINNED_NODE_PTY_VERSION);
});

test('without node-pty (never built): enableProcesses() throws naming python3, make and g++; pty: false serves pipes', () => {
  const script = `
    const { SSHDaemon } = require('./src');
    const d = new SSHDaemon();
    try { d.enableProcesses(); console.log('enabled'); } catch (e) { console.log(e.name + ' ' + e.code + ': ' + e.message); }
    d.enableProcesses({ pty: false });
    console.log('pipes only: ok');`;
  const r = spawnSync(process.execPath, ['--require', join(__dirname, 'fixtures', 'hideNodePty.cjs'), '--import', 'tsx', '-e', script], {
    cwd: join(__dirname, '..'),
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(
    r.stdout,
    /^SSHDaemonError 140: Pseudo-terminals are unavailable: node-pty cannot be loaded \(Cannot find module 'node-pty'/m,
  );
  assert.match(r.stdout, /needs python3, make and g\+\+/);
  assert.match(r.stdout, /npm rebuild node-pty/);
  assert.match(r.stdout, /^pipes only: ok$/m);
});

/** Runs `file args` in a pty through the adapter; resolves with everything read and the exit. */
function runInPty(args: string[], holdUntilExit: boolean): Promise<{ output: Buffer; code: number }> {
  return new Promise((resolve) => {
    let code = -1;
    let exited = false;
    const fork = ptyBinding().fork('/bin/sh', ['-c', ...args], { PATH: '/usr/bin:/bin' }, '/', 80, 24, (c) => {
      code = c;
      exited = true;
    });
    const master = new PtyMaster(fork.fd);
    const chunks: Buffer[] = [];
    const read = () => master.output.on('data', (d: Buffer) => chunks.push(d));
    // Held: nothing is read until the program has exited (a paused reader when the slave closes).
    if (holdUntilExit) void until('the program to exit', () => exited).then(read);
    else read();
    master.output.on('end', () => {
      master.close();
      void until('the exit status', () => exited).then(() => resolve({ output: Buffer.concat(chunks), code }));
    });
  });
}

test('pty master: output written just before exit is read even when nobody read while the program ran (node-pty loses it)', async () => {
  const r = await runInPty(['printf "%3000s" | tr " " x; exit 4'], true);
  assert.equal(r.output.toString(), 'x'.repeat(3000));
  assert.equal(r.code, 4);
});

test('pty master: seq 1 50000 is whole 10 times (the tail libuv ends early at POLLHUP is drained to EIO)', async () => {
  const expected = Array.from({ length: 50_000 }, (_, i) => `${i + 1}\r\n`).join('');
  for (let i = 0; i < 10; i++) {
    const r = await runInPty(['seq 1 50000'], false);
    assert.equal(r.output.length, expected.length, `run ${i + 1}`);
    assert.equal(r.output.toString(), expected);
  }
});

const connection = { user: 'alice', restrictions: { environment: {} } } as unknown as SSHConnection;
const request = (over: Partial<ProcessRequest> = {}): ProcessRequest => ({
  connectionId: 'c',
  channelId: 'h',
  user: 'nosuchuser-sshdaemon',
  connection,
  kind: 'exec',
  command: 'echo hi',
  environment: {},
  remoteHost: '192.0.2.1',
  remotePort: 50000,
  localHost: '192.0.2.2',
  localPort: 22,
  ...over,
});

test('a plan becomes a program as sshd starts it: shell -c, a login shell, the environment from scratch', async () => {
  const exec = await resolveLaunch({
    request: request({ environment: { LC_ALL: 'C', SSH_CONNECTION: 'forged' } }),
    plan: { shell: '/bin/bash', cwd: '/' },
    terminal: false,
  });
  assert.deepEqual([exec.launch.file, exec.launch.args, exec.launch.argv0], ['/bin/bash', ['-c', 'echo hi'], 'bash']);
  assert.equal(exec.launch.env.USER, 'nosuchuser-sshdaemon');
  assert.equal(exec.launch.env.LOGNAME, 'nosuchuser-sshdaemon');
  assert.equal(exec.launch.env.SHELL, '/bin/bash');
  assert.equal(exec.launch.env.LC_ALL, 'C');
  assert.equal(exec.launch.env.SSH_CONNECTION, '192.0.2.1 50000 192.0.2.2 22', 'a client env request cannot forge SSH_CONNECTION');
  assert.equal(exec.launch.env.SSH_CLIENT, '192.0.2.1 50000 22');
  assert.equal(exec.launch.env.TERM, undefined);
  assert.equal(exec.launch.env.SSH_ORIGINAL_COMMAND, undefined);
  assert.equal(exec.launch.env.NODE_OPTIONS, undefined, "nothing of the daemon's environment");
  const login = await resolveLaunch({ request: request({ kind: 'shell', command: undefined }), plan: { cwd: '/' }, terminal: false });
  assert.deepEqual(
    [login.launch.file, login.launch.args, login.launch.argv0],
    ['/bin/sh', [], '-sh'],
    'an unknown user gets /bin/sh, as a login shell',
  );
  const tty = await resolveLaunch({
    request: request({
      kind: 'shell',
      command: undefined,
      terminal: { term: 'vt100', cols: 80, rows: 24, width: 0, height: 0, modes: {} },
    }),
    plan: { cwd: '/', env: { PATH: '/opt/bin', HOME: '/' } },
    terminal: true,
  });
  assert.deepEqual([tty.launch.args, tty.launch.argv0], [['-l'], undefined], 'in a terminal argv[0] cannot be set: -l');
  assert.equal(tty.launch.env.TERM, 'vt100');
  assert.equal(tty.launch.env.PATH, '/opt/bin', "the plan's env goes last");
  const forced = await resolveLaunch({
    request: request({ command: 'git-upload-pack x', originalCommand: 'rm -rf /' }),
    plan: { file: '/usr/bin/env', args: ['-0'], cwd: '/' },
    terminal: false,
  });
  assert.deepEqual([forced.launch.file, forced.launch.args], ['/usr/bin/env', ['-0']]);
  assert.equal(forced.launch.env.SSH_ORIGINAL_COMMAND, 'rm -rf /');
  const homeless = await resolveLaunch({ request: request(), plan: { env: { HOME: '/nonexistent-sshdaemon' } }, terminal: false });
  assert.equal(homeless.launch.cwd, '/');
  assert.match(homeless.notice ?? '', /Could not chdir to home directory \/nonexistent-sshdaemon/);
});

test('plans that cannot run are refused with what is wrong: a missing cwd, a uid without a group, bad ids, bad variable names', async () => {
  const refused = (plan: Parameters<typeof resolveLaunch>[0]['plan'], pattern: RegExp) =>
    assert.rejects(
      resolveLaunch({ request: request(), plan, terminal: false }),
      (err: SSHDaemonError) => err instanceof SSHDaemonError && pattern.test(err.message),
    );
  await refused({ cwd: '/nonexistent-sshdaemon' }, /cwd "\/nonexistent-sshdaemon" is not a folder/);
  await refused({ cwd: '/', uid: 4_000_000 }, /uid 4000000 has no passwd entry: give gid too/);
  await refused({ cwd: '/', uid: -1, gid: 0 }, /uid must be an integer/);
  await refused({ cwd: '/', env: { 'A=B': 'x' } }, /"A=B" cannot be passed/);
  const root = await resolveLaunch({ request: request(), plan: { cwd: '/', uid: 65534 }, terminal: false });
  assert.deepEqual(
    root.launch.args.slice(0, 4),
    ['--reuid=65534', '--regid=65534', '--clear-groups', '--'],
    "the passwd entry's group; supplementary groups dropped",
  );
});

test('enableProcesses checks its options: killGrace, acceptEnv, plan', () => {
  const daemon = new SSHDaemon();
  assert.throws(() => daemon.enableProcesses({ killGrace: -1 }), /killGrace must be a number of seconds from 0 to 3600/);
  assert.throws(() => daemon.enableProcesses({ acceptEnv: 'LANG' as unknown as string[] }), /acceptEnv must be an array/);
  assert.throws(() => daemon.enableProcesses({ plan: 'sh' as unknown as () => undefined }), /plan must be a function/);
  daemon.enableProcesses();
  daemon.enableProcesses(undefined);
  daemon.enableProcesses(() => undefined);
});
