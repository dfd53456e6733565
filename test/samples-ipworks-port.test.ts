/** samples/ipworks-port: the IPWorks demo logic on the getX()/setX() API, driven by OpenSSH. */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, test } from 'node:test';
import { sshWithPassword } from './fixtures/clients';
import { startSample, tempDir } from './fixtures/samples';

const DIR = tempDir('ipworks');
after(() => rmSync(DIR, { recursive: true, force: true }));

test(
  'ipworks-port: exec with output, stderr and exit status through sendSSHPacket; the line shell; only test/test logs in',
  { timeout: 60_000 },
  async () => {
    const server = await startSample('ipworks-port/server.ts', DIR);
    const ssh = (password: string, extra: string[], input?: string) => sshWithPassword(server.port, password, extra, { input });
    try {
      const exec = await ssh('test', ['test@127.0.0.1', 'echo "sum=$((40+2))"; echo oops >&2; exit 3']);
      assert.equal(exec.code, 3, 'exit status built with setSSHParam, sent with sendSSHPacket(98)');
      assert.equal(exec.stdout.toString(), 'sum=42\n');
      assert.equal(exec.stderr, 'oops\n', 'stderr sent as extended data (95)');

      const shell = await ssh('test', ['-T', 'test@127.0.0.1'], 'echo "a=$((2*3))"\nprintf "%s\\n" b c\nexit\n');
      assert.equal(shell.code, 0, shell.stderr);
      assert.equal(
        shell.stdout.toString(),
        'Welcome to the IPWorks SSHServer demo (ported). Type a command, or "exit".\r\n> a=6\r\n> b\r\nc\r\n> ',
      );

      const wrong = await ssh('nope', ['test@127.0.0.1', 'true']);
      assert.equal(wrong.code, 255);
      assert.match(wrong.stderr, /Permission denied/);
      assert.match(
        server.output(),
        /test logged in; client SSH-2\.0-OpenSSH_[^;]+; 1 connection\(s\)/,
        'config("ClientSSHVersionString[id]") and getSSHConnections()',
      );
    } finally {
      assert.equal(await server.stop(), 0);
    }
  },
);
