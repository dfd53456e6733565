/** samples/echo-server: the README's fifteen lines, driven by OpenSSH. */
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { sshWithPassword } from './fixtures/clients';
import { startSample, tempDir } from './fixtures/samples';

const DIR = tempDir('echo');
after(() => rmSync(DIR, { recursive: true, force: true }));

test("echo-server runs the README's fifteen lines as written", () => {
  const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
  const block = /## Fifteen lines\n\n```ts\n([\s\S]*?)```/.exec(readme)![1];
  const sample = readFileSync(join(__dirname, '..', 'samples', 'echo-server', 'server.ts'), 'utf8');
  // The handlers, from the first .on( to the end of the chain; host key and port come from the sample's options.
  const handlers = (text: string) => text.slice(text.indexOf('  .on('), text.indexOf('  });\n') + 6);
  assert.ok(block.split('\n').length - 1 <= 15, 'fifteen lines at most');
  assert.equal(handlers(sample), handlers(block));
});

test('echo-server: exec answers with the command, wrong passwords and shells are refused', { timeout: 60_000 }, async () => {
  const server = await startSample('echo-server/server.ts', DIR, ['--user', 'ann:secret']);
  try {
    const ssh = (password: string, extra: string[]) => sshWithPassword(server.port, password, extra);
    const ok = await ssh('secret', ['ann@127.0.0.1', 'hello', 'world']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout.toString(), 'you ran hello world\n');
    const wrong = await ssh('guess', ['ann@127.0.0.1', 'hello']);
    assert.notEqual(wrong.code, 0);
    assert.equal(wrong.stdout.length, 0);
    const shell = await ssh('secret', ['-T', 'ann@127.0.0.1']);
    assert.notEqual(shell.code, 0, 'a shell request is refused');
    assert.match(shell.stderr, /shell request failed/);
  } finally {
    assert.equal(await server.stop(), 0, 'SIGINT stops it cleanly');
  }
});
