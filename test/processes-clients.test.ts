/**
 * The process service with PuTTY's plink and paramiko, against OpenSSH's sshd too where the
 * outcome is the client's reading of the server's messages (exit status, a signal death): a
 * terminal that follows a resize from 80x24 to 132x50, ^C, and `seq 1 200000` in a terminal that
 * arrives whole before `exit`, 20 times.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { testEachSet, type ClientSet } from './fixtures/clientSets';
import { runPythonJson } from './fixtures/interop';
import { PROCESS_KEY, type SshTarget, withProcessServer, withReferenceSshd } from './fixtures/processServer';

const TIMEOUT = { timeout: 180_000 };
/** PuTTY keeps its random seed under $HOME/.putty; keep it out of the real home. */
const HOME = mkdtempSync(join(tmpdir(), 'processes-putty-'));
after(() => rmSync(HOME, { recursive: true, force: true }));

async function ppk(clients: ClientSet): Promise<string> {
  const file = join(mkdtempSync(join(HOME, 'ppk-')), 'key.ppk');
  const r = await clients.run('puttygen', [PROCESS_KEY.privateKeyPath, '-O', 'private', '-o', file], { timeoutMs: 30_000, env: { HOME } });
  assert.equal(r.code, 0, `puttygen: ${r.stderr}`);
  return file;
}

function plink(clients: ClientSet, s: SshTarget, key: string, command: string) {
  return clients.run(
    'plink',
    ['-batch', '-ssh', '-noagent', '-P', String(s.port), '-l', s.user, '-i', key, '-hostkey', s.fingerprint!, '127.0.0.1', command],
    { timeoutMs: 60_000, env: { HOME } },
  );
}

testEachSet(
  "plink: exit status and SSH_CONNECTION; a program killed by TERM gives plink's exit code 128 as with sshd",
  TIMEOUT,
  async (clients) => {
    const key = await ppk(clients);
    const outcome = async (s: SshTarget) => {
      const exec = await plink(clients, s, key, 'echo "$SSH_CONNECTION"; exit 3');
      assert.equal(exec.code, 3, exec.stderr);
      assert.match(exec.stdout.toString(), new RegExp(`^127\\.0\\.0\\.1 \\d+ 127\\.0\\.0\\.1 ${s.port}\\n$`));
      const killed = await plink(clients, s, key, 'kill -TERM $$');
      return { code: killed.code, stdout: killed.stdout.toString() };
    };
    let reference: Awaited<ReturnType<typeof outcome>> | undefined;
    await withReferenceSshd(async (s) => void (reference = await outcome(s)));
    assert.deepEqual(reference, { code: 128, stdout: '' }, 'plink with sshd');
    // Several times: the exit-signal must never be behind EOF (PuTTY closes at EOF both ways and drops what follows).
    await withProcessServer({}, async (s) => {
      for (let i = 0; i < 5; i++) assert.deepEqual(await outcome(s), reference);
    });
  },
);

const PY_EXIT = String.raw`
import json, sys, paramiko
cfg = json.loads(sys.argv[1])
c = paramiko.SSHClient()
c.set_missing_host_key_policy(paramiko.AutoAddPolicy())
c.connect('127.0.0.1', cfg['port'], cfg['user'], key_filename=cfg['key'], look_for_keys=False, allow_agent=False, timeout=15)
out = {}
for cmd in ['exit 3', 'kill -TERM $$']:
    ch = c.get_transport().open_session()
    ch.exec_command(cmd)
    out[cmd] = ch.recv_exit_status()
c.close()
print(json.dumps(out))
`;

test('paramiko: recv_exit_status gives the exit code, and -1 for a signal death, as with sshd', TIMEOUT, async () => {
  const outcome = (s: SshTarget) => runPythonJson(PY_EXIT, { port: s.port, user: s.user, key: PROCESS_KEY.privateKeyPath });
  let reference: unknown;
  await withReferenceSshd(async (s) => void (reference = await outcome(s)));
  assert.deepEqual(reference, { 'exit 3': 3, 'kill -TERM $$': -1 });
  await withProcessServer({}, async (s) => assert.deepEqual(await outcome(s), reference));
});

/**
 * A terminal driven by paramiko: `stty size` at 80x24, resize_pty to 132x50 (window-change), `stty
 * size` again; then `sleep` interrupted by ^C once it runs (status 130); then exit 9.
 */
const PY_TERMINAL = String.raw`
import json, os, re, sys, time, paramiko
cfg = json.loads(sys.argv[1])
c = paramiko.SSHClient()
c.set_missing_host_key_policy(paramiko.AutoAddPolicy())
c.connect('127.0.0.1', cfg['port'], cfg['user'], key_filename=cfg['key'], look_for_keys=False, allow_agent=False, timeout=15)
ch = c.get_transport().open_session()
ch.get_pty(term='xterm', width=80, height=24)
ch.invoke_shell()
out = b''
def until(pattern, seconds=60):
    global out
    end = time.time() + seconds
    while time.time() < end:
        if re.search(pattern, out):
            return True
        if ch.recv_ready():
            out += ch.recv(65536)
        else:
            time.sleep(0.02)
    return False
def sleeping(marker):
    for pid in os.listdir('/proc'):
        try:
            if pid.isdigit() and ('sleep\0' + marker).encode() in open('/proc/%s/cmdline' % pid, 'rb').read():
                return True
        except OSError:
            pass
    return False
ch.send('stty size; echo at-$((6*7))\n')
first = until(rb'24 80\r\nat-42')
ch.resize_pty(width=132, height=50)
ch.send('stty size; echo at-$((6*8))\n')
resized = until(rb'50 132\r\nat-48')
marker = cfg['marker']
ch.send('sleep %s\n' % marker)
end = time.time() + 60
while not sleeping(marker) and time.time() < end:
    time.sleep(0.02)
started = sleeping(marker)
ch.send('\x03')
ch.send('echo rc=$?; exit 9\n')
interrupted = until(rb'rc=130')
code = ch.recv_exit_status()
c.close()
print(json.dumps({'first': first, 'resized': resized, 'started': started, 'interrupted': interrupted, 'code': code, 'output': out.decode('utf8', 'replace')[-2000:]}))
`;

test('paramiko terminal: stty size follows a resize from 80x24 to 132x50, ^C interrupts sleep, exit status 9', TIMEOUT, () =>
  withProcessServer({ plan: () => ({ shell: '/bin/bash' }) }, async (s) => {
    const r = await runPythonJson(PY_TERMINAL, {
      port: s.port,
      user: s.user,
      key: PROCESS_KEY.privateKeyPath,
      marker: `100.${process.pid}7`,
    });
    assert.equal(r.first, true, `stty size showed 24 80:\n${r.output}`);
    assert.equal(r.resized, true, `stty size followed window-change to 50 132:\n${r.output}`);
    assert.equal(r.started, true, `sleep ran:\n${r.output}`);
    assert.equal(r.interrupted, true, `^C ended sleep with SIGINT:\n${r.output}`);
    assert.equal(r.code, 9, r.output);
  }),
);

/**
 * 20 terminal sessions on one connection, each typing `echo START; seq 1 200000; exit` into a
 * shell: the lines after START that are all digits must be exactly 1..200000, and the exit status 0
 * (the pty's tail is drained before exit-status, EOF and CLOSE).
 */
const PY_SEQ = String.raw`
import json, sys, paramiko
cfg = json.loads(sys.argv[1])
c = paramiko.SSHClient()
c.set_missing_host_key_policy(paramiko.AutoAddPolicy())
c.connect('127.0.0.1', cfg['port'], cfg['user'], key_filename=cfg['key'], look_for_keys=False, allow_agent=False, timeout=15)
expected = '\n'.join(str(i) for i in range(1, 200001))
runs = []
for run in range(cfg['runs']):
    ch = c.get_transport().open_session(window_size=4 * 1024 * 1024)
    ch.get_pty(term='dumb', width=80, height=24)
    ch.invoke_shell()
    ch.sendall('echo START; seq 1 200000; exit\n')
    chunks = []
    while True:
        d = ch.recv(1 << 20)
        if not d:
            break
        chunks.append(d)
    code = ch.recv_exit_status()
    text = b''.join(chunks).decode('latin1')
    # After the shell's START line (the typed line's echo has 'echo START;'), before the end.
    numbers = [l for l in text.split('START\r\n', 1)[-1].split('\r\n') if l.isdigit()]
    runs.append({'code': code, 'whole': '\n'.join(numbers) == expected, 'count': len(numbers), 'last': numbers[-1] if numbers else None, 'tail': text[-200:]})
c.close()
print(json.dumps(runs))
`;

test('seq 1 200000 in a terminal arrives whole before exit, 20 times (paramiko)', TIMEOUT, () =>
  withProcessServer({}, async (s) => {
    const runs = (await runPythonJson(PY_SEQ, { port: s.port, user: s.user, key: PROCESS_KEY.privateKeyPath, runs: 20 })) as Array<{
      code: number;
      whole: boolean;
      count: number;
      last: string;
      tail: string;
    }>;
    assert.equal(runs.length, 20);
    for (const [i, r] of runs.entries()) {
      assert.ok(r.whole, `run ${i + 1}: ${r.count} lines, the last ${r.last}; the output ended with ${JSON.stringify(r.tail)}`);
      assert.equal(r.code, 0, `run ${i + 1}`);
    }
  }),
);
