/**
 * The demo shell (the CLI's default --shell) looks up the command a client types. Names that are
 * members of Object.prototype (`__proto__`, `constructor`, `valueOf`, `hasOwnProperty`, `toString`)
 * used to find those members: the exec failed, the shell's output was swallowed, and typed while the
 * shell waited for the client to read, the TypeError was uncaught and the whole daemon exited. Each is
 * now "command not found", with OpenSSH's ssh against the demo process, and with the in-process ssh2
 * client for the paused case, where the daemon's internals tell when the shell has stopped reading.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { ClientChannel } from 'ssh2';
import { serveDemoShell } from '../src/cli/shellService';
import { withBareDaemon } from './fixtures/bareDaemon';
import { opensshArgs, requireBinary, run } from './fixtures/clients';
import { startListening } from './fixtures/processes';
import { withUnhandledWatch } from './fixtures/unhandled';
import { connect } from './helpers-ssh2';
import { until } from './fixtures/wait';

const DATA = mkdtempSync(join(tmpdir(), 'demo-names-'));
after(() => rmSync(DATA, { recursive: true, force: true }));
const MAIN = join(__dirname, '..', 'src', 'cli', 'main.ts');
const NAMES = ['__proto__', 'constructor', 'valueOf', 'hasOwnProperty', 'toString', '__lookupGetter__'];

test(
  'demo shell with OpenSSH: Object.prototype member names are "command not found" in exec and in a pty shell; the daemon keeps running',
  { timeout: 120_000 },
  async () => {
    const sshpass = requireBinary('sshpass');
    const ssh = requireBinary('ssh');
    const demo = await startListening(['--import', 'tsx', MAIN, '--port', '0', '--data', DATA, '--config', 'PerSourcePenalties=no']);
    try {
      const login = (args: string[], input?: string) =>
        run(sshpass, ['-p', 'demo', ssh, ...opensshArgs(demo.port), '-o', 'PreferredAuthentications=password', ...args], {
          input,
          timeoutMs: 30_000,
          env: { TERM: 'xterm' },
        });
      for (const name of NAMES) {
        const r = await login(['demo@127.0.0.1', name]);
        assert.equal(r.code, 127, `exec ${name}: ${r.stderr}`);
        assert.equal(r.stdout.toString(), `${name}: command not found\n`);
      }
      const shell = await login(['-tt', 'demo@127.0.0.1'], `${NAMES.join('\r')}\rexit 4\r`);
      const text = shell.stdout.toString();
      assert.equal(shell.code, 4, `${shell.stderr}\n${text}`);
      for (const name of NAMES) assert.ok(text.includes(`\r\n${name}: command not found\r\n`), `shell ${name}:\n${text}`);
    } finally {
      assert.equal(await demo.stop('SIGTERM'), 0, `the daemon was still running: ${demo.output()}`);
    }
  },
);

test(
  'demo shell: names typed while the shell waits for a client that does not read are answered once it reads, with nothing uncaught',
  { timeout: 120_000 },
  () =>
    withUnhandledWatch(() =>
      withBareDaemon(async ({ daemon, port, errors }) => {
        daemon.on('SSHUserAuthRequest', (e) => void (e.accept = e.authParam === 'demo'));
        daemon.on('SSHChannelOpenRequest', (e) => void (e.accept = e.service === 'session'));
        let channelId = '';
        daemon.on('SSHChannelRequested', (e) => void (e.requestType === 'shell' && (channelId = e.channelId)));
        serveDemoShell(daemon);
        const c = await connect(port, { password: 'demo' });
        const ch = await new Promise<ClientChannel>((resolve, reject) =>
          c.shell({ term: 'xterm', rows: 24, cols: 80 }, (err, s) => (err ? reject(err) : resolve(s))),
        );
        ch.pause(); // the client stops reading: the shell's output waits, then it stops reading input
        await until('the shell to start', () => channelId !== '');
        const stream = daemon.channelStream(channelId);
        const shellWaits = () => stream.isPaused() && stream.readableLength > 0;
        const line = `echo ${'A'.repeat(4000)}\r`;
        while (!shellWaits()) {
          if (ch.write(line)) continue;
          await new Promise<void>((resolve) => {
            const timer = setInterval(() => shellWaits() && done(), 20);
            const done = () => {
              clearInterval(timer);
              ch.off('drain', done);
              resolve();
            };
            ch.once('drain', done);
          });
        }
        // Typed now, these lines wait in the stream's buffer until the shell reads again; they are then
        // delivered from the stream's own flow (process.nextTick), outside any code of the daemon.
        const typed = NAMES.map((n) => `${n}\r`).join('');
        const before = stream.readableLength;
        ch.write(typed);
        await until('the typed names to be buffered by the paused shell', () => stream.readableLength >= before + typed.length);
        let output = '';
        ch.on('data', (d: Buffer) => void (output += d.toString('latin1')));
        const exit = new Promise<number>((resolve) => ch.on('exit', (code: number) => resolve(code)));
        ch.resume();
        await until('every name to be answered', () => NAMES.every((n) => output.includes(`\r\n${n}: command not found\r\n`)));
        ch.write('exit 4\r');
        assert.equal(await exit, 4);
        assert.deepEqual(errors, []);
        c.end();
      }),
    ),
);
