/**
 * The demo server as a new user meets it: started as `npm start` starts it, host key generated into
 * the data folder on first run and kept, then OpenSSH logs in with the demo password.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { opensshArgs, requireBinary, run } from './fixtures/clients';
import { startListening } from './fixtures/processes';

const DATA = mkdtempSync(join(tmpdir(), 'demo-data-'));
after(() => rmSync(DATA, { recursive: true, force: true }));
const MAIN = join(__dirname, '..', 'src', 'cli', 'main.ts');

test(
  'demo: first run generates a 0600 host key, ssh logs in as demo/demo, exec and a pty shell work; SIGTERM stops it',
  { timeout: 90_000 },
  async () => {
    const sshpass = requireBinary('sshpass');
    const ssh = requireBinary('ssh');
    const demo = await startListening(['--import', 'tsx', MAIN, '--port', '0', '--data', DATA]);
    const keyFile = join(DATA, 'ssh_host_ed25519_key');
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    const key = readFileSync(keyFile, 'utf8');
    const login = (args: string[], input?: Buffer) =>
      run(sshpass, ['-p', 'demo', ssh, ...opensshArgs(demo.port), '-o', 'PreferredAuthentications=password', ...args], {
        input,
        timeoutMs: 30_000,
        env: { TERM: 'xterm-256color' },
      });

    const exec = await login(['demo@127.0.0.1', 'whoami']);
    assert.equal(exec.code, 0, exec.stderr);
    assert.equal(exec.stdout.toString(), 'demo\n');
    assert.equal((await login(['demo@127.0.0.1', 'exit 3'])).code, 3);
    assert.equal((await login(['demo@127.0.0.1', 'nope'])).code, 127);

    // As a terminal sends it: CR for Enter, DEL for Backspace.
    const shell = await login(['-tt', 'demo@127.0.0.1'], Buffer.from('echo hellp\x7fo\rterm\rexit 5\r'));
    const text = shell.stdout.toString();
    assert.equal(shell.code, 5, `${shell.stderr}\n${text}`);
    assert.match(text, /Welcome to the sshdaemon demo, demo/);
    assert.match(text, /\r\nhello\r\n/);
    assert.match(text, /\r\nxterm-256color \d+x\d+\r\n/, 'the pty-req terminal reached the shell');
    assert.equal(await demo.stop('SIGTERM'), 0, demo.output());

    // Second run keeps the key.
    const again = await startListening(['--import', 'tsx', MAIN, '--port', '0', '--data', DATA]);
    assert.equal(readFileSync(keyFile, 'utf8'), key);
    assert.equal(await again.stop('SIGTERM'), 0);
  },
);
