/**
 * Legacy SCP with other clients than OpenSSH's, every case against both client sets
 * (test/fixtures/clientSets.ts): PuTTY's `pscp -scp` 0.78 and 0.83 (password, pinned host key, batch
 * mode) and AsyncSSH's `asyncssh.scp()` 2.10 and 2.20, whose server side is one of the references
 * for SCP over an SFTP filesystem.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ClientSet, testEachSet } from './fixtures/clientSets';
import type { RunResult } from './fixtures/clients';
import { runPythonJson } from './fixtures/interop';
import { SCP_PASSWORD, SCP_USER, withScpServer, type ScpScope } from './fixtures/scpServer';
import { clientHome, MiB, sha, shaOf, TIMEOUT } from './fixtures/sftpClients';
import { buildTree, describeTree } from './fixtures/trees';

function pscp(clients: ClientSet, s: ScpScope, flags: string[], ...paths: string[]): Promise<RunResult> {
  const args = [
    '-scp',
    '-P',
    String(s.port),
    '-pw',
    SCP_PASSWORD,
    '-noagent',
    '-hostkey',
    s.daemon.sshCert!.fingerprint,
    '-batch',
    '-q',
    ...flags,
    ...paths,
  ];
  return clients.run('pscp', args, { timeoutMs: 120_000, env: { HOME: clientHome(s as never) } });
}

const remote = (path: string) => `${SCP_USER}@127.0.0.1:${path}`;

testEachSet('pscp -scp: 64 MiB up and down with matching checksums', TIMEOUT, (clients) =>
  withScpServer(async (s) => {
    const data = randomBytes(64 * MiB);
    writeFileSync(join(s.local, 'big.bin'), data);
    const up = await pscp(clients, s, [], join(s.local, 'big.bin'), remote('copy.bin'));
    assert.equal(up.code, 0, up.stderr + up.stdout.toString());
    assert.equal(shaOf(join(s.root, 'copy.bin')), sha(data));
    const down = await pscp(clients, s, [], remote('copy.bin'), join(s.local, 'back.bin'));
    assert.equal(down.code, 0, down.stderr + down.stdout.toString());
    assert.equal(shaOf(join(s.local, 'back.bin')), sha(data));
    assert.deepEqual(s.audit, ['uploaded /copy.bin', 'downloaded /copy.bin']);
  }),
);

testEachSet('pscp -scp -r -p: a tree with its modes and times up and down; a wildcard download; errors printed', TIMEOUT, (clients) =>
  withScpServer(async (s) => {
    const src = join(s.local, 'tree');
    buildTree(src, { files: 60 });
    chmodSync(join(src, 'a', 'zero-length'), 0o600);
    utimesSync(join(src, 'a', 'zero-length'), 1_400_000_000, 1_300_000_000);
    const attrs = { mode: true, mtime: true };
    // pscp sends no times for folders (and sets a downloaded folder's before writing into it): files' mtimes only.
    const filesOnly = (t: ReturnType<typeof describeTree>) =>
      Object.fromEntries(Object.entries(t).map(([k, v]) => [k, v.type === 'dir' ? { ...v, mtime: 0 } : v]));
    const up = await pscp(clients, s, ['-r', '-p'], src, remote('site'));
    assert.equal(up.code, 0, up.stderr + up.stdout.toString());
    assert.deepEqual(filesOnly(describeTree(join(s.root, 'site'), attrs)), filesOnly(describeTree(src, attrs)));
    const down = await pscp(clients, s, ['-r', '-p'], remote('site'), join(s.local, 'back'));
    assert.equal(down.code, 0, down.stderr + down.stdout.toString());
    assert.deepEqual(filesOnly(describeTree(join(s.local, 'back'), attrs)), filesOnly(describeTree(src, attrs)));

    // pscp renames wildcard matches only with -unsafe (it cannot check a server's glob), whatever the server.
    mkdirSync(join(s.local, 'wild'));
    const wild = await pscp(clients, s, ['-unsafe'], remote('site/d/file-1*.dat'), join(s.local, 'wild'));
    assert.equal(wild.code, 0, wild.stderr + wild.stdout.toString());
    assert.deepEqual(
      readdirSync(join(s.local, 'wild')).sort(),
      readdirSync(join(src, 'd'))
        .filter((n) => /^file-1.*\.dat$/.test(n))
        .sort(),
    );

    const missing = await pscp(clients, s, [], remote('nope.txt'), join(s.local, 'nope.txt'));
    assert.equal(missing.code, 1);
    assert.match(missing.stderr + missing.stdout.toString(), /nope\.txt: No such file or directory/);
    writeFileSync(join(s.local, 'x.txt'), 'x');
    const into = await pscp(clients, s, [], join(s.local, 'x.txt'), remote('missing-dir/x.txt'));
    assert.equal(into.code, 1);
    assert.match(into.stderr + into.stdout.toString(), /missing-dir\/x\.txt: No such file or directory/);
    assert.equal(readFileSync(join(s.root, 'site', 'a', 'file-1.dat'), 'utf8'), readFileSync(join(src, 'a', 'file-1.dat'), 'utf8'));
  }),
);

const ASYNCSSH = `
import asyncio, json, sys, warnings
warnings.simplefilter('ignore')
import asyncssh
cfg = json.loads(sys.argv[1])
async def main():
    async with asyncssh.connect('127.0.0.1', port=cfg['port'], username=cfg['user'], password=cfg['password'], known_hosts=None,
                                client_keys=None, agent_path=None, config=()) as conn:
        out = {}
        await asyncssh.scp(cfg['src'], (conn, 'up'), recurse=True, preserve=True)
        await asyncssh.scp((conn, 'up'), cfg['back'], recurse=True, preserve=True)
        await asyncssh.scp(cfg['big'], (conn, 'big.bin'))
        await asyncssh.scp((conn, 'big.bin'), cfg['bigBack'])
        try:
            await asyncssh.scp((conn, 'missing.txt'), cfg['back'])
            out['missing'] = 'no error'
        except asyncssh.SFTPError as e:
            out['missing'] = e.reason
        return out
print(json.dumps(asyncio.run(main())))
`;

testEachSet(
  'asyncssh.scp: a tree with times and modes up and down, 16 MiB both ways, and an error raised with the server text',
  TIMEOUT,
  (clients) =>
    withScpServer(async (s) => {
      await clients.requirePythonModule('asyncssh');
      const src = join(s.local, 'tree');
      buildTree(src, { files: 40 });
      chmodSync(join(src, 'a', 'zero-length'), 0o640);
      utimesSync(join(src, 'a', 'zero-length'), 1_400_000_000, 1_300_000_000);
      const big = randomBytes(16 * MiB);
      writeFileSync(join(s.local, 'big.bin'), big);
      const r = await runPythonJson(
        ASYNCSSH,
        {
          port: s.port,
          user: SCP_USER,
          password: SCP_PASSWORD,
          src,
          back: join(s.local, 'back'),
          big: join(s.local, 'big.bin'),
          bigBack: join(s.local, 'big-back.bin'),
        },
        undefined,
        clients,
      );
      const attrs = { mode: true, mtime: true };
      assert.deepEqual(describeTree(join(s.root, 'up'), attrs), describeTree(src, attrs), 'uploaded with modes and times');
      assert.deepEqual(describeTree(join(s.local, 'back'), attrs), describeTree(src, attrs), 'downloaded with modes and times');
      assert.equal(shaOf(join(s.root, 'big.bin')), sha(big));
      assert.equal(shaOf(join(s.local, 'big-back.bin')), sha(big));
      assert.match(r.missing, /missing\.txt: No such file or directory/);
    }),
);
