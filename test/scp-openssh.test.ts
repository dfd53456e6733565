/**
 * Legacy SCP with OpenSSH's `scp -O` as a separate process, every case against both client sets
 * (test/fixtures/clientSets.ts): OpenSSH 9.2 and 10.0. Where the step can be run against OpenSSH's
 * own scp server too (the same set's `scp -t`/`scp -f` behind `scp -S`, see scpServer.ts), the same
 * command runs against both and the reference's outcome is the expected one.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { testEachSet } from './fixtures/clientSets';
import { remote, scp, scpReference, withScpServer } from './fixtures/scpServer';
import { assertNoAuditThroughLinks, MiB, plantEscapeFixture, sha, shaOf, TIMEOUT } from './fixtures/sftpClients';
import { buildTree, bytePath, describeTree, latin1Name } from './fixtures/trees';

const REF = 'ref@localhost:';

testEachSet('scp -O: 64 MiB up and down with matching checksums; audit events; exit status 0', TIMEOUT, (clients) =>
  withScpServer(async (s) => {
    const data = randomBytes(64 * MiB);
    writeFileSync(join(s.local, 'big.bin'), data);
    const up = await scp(clients, s, [], join(s.local, 'big.bin'), remote('copy.bin'));
    assert.equal(up.code, 0, up.stderr);
    assert.equal(shaOf(join(s.root, 'copy.bin')), sha(data), 'uploaded bytes match');
    const down = await scp(clients, s, [], remote('copy.bin'), join(s.local, 'back.bin'));
    assert.equal(down.code, 0, down.stderr);
    assert.equal(shaOf(join(s.local, 'back.bin')), sha(data), 'downloaded bytes match');
    assert.deepEqual(s.audit, ['uploaded /copy.bin', 'downloaded /copy.bin']);
    assert.deepEqual(s.ended, [0, 0]);
  }),
);

testEachSet(
  'scp -O -r: a tree of 200 files in folders (empty folder, empty file, spaces and quotes, a Latin-1 name) up and down, as OpenSSH copies it',
  TIMEOUT,
  (clients) =>
    withScpServer(async (s) => {
      const src = join(s.local, 'tree');
      buildTree(src, { files: 200, latin1: true });
      const expected = describeTree(src);
      assert.equal(Object.values(expected).filter((e) => e.type === 'file').length, 200);

      const up = await scp(clients, s, ['-r'], src, remote('site'));
      assert.equal(up.code, 0, up.stderr);
      assert.deepEqual(describeTree(join(s.root, 'site')), expected, 'the uploaded tree equals the source');
      const ref = await scpReference(clients, s, ['-r'], src, `${REF}site`);
      assert.equal(ref.code, 0, ref.stderr);
      assert.deepEqual(describeTree(join(s.root, 'site')), describeTree(join(s.refRoot, 'site')), 'same tree as OpenSSH makes');

      // Into an existing folder: the tree lands inside it, under its own name.
      const again = await scp(clients, s, ['-r'], src, remote('site'));
      assert.equal(again.code, 0, again.stderr);
      assert.deepEqual(describeTree(join(s.root, 'site', 'tree')), expected);

      const down = await scp(clients, s, ['-r'], remote('site'), join(s.local, 'back'));
      assert.equal(down.code, 0, down.stderr);
      assert.deepEqual(
        describeTree(join(s.local, 'back')),
        describeTree(join(s.root, 'site')),
        'the downloaded tree equals the served one',
      );
      assert.ok(s.audit.includes('mkdir /site/d/e f'), s.audit.join('\n'));
      assert.deepEqual(s.ended, [0, 0, 0]);
    }),
);

/**
 * Modes and times of a small tree: odd modes on files and folders, times in the past. Returns a
 * function that sets the times again (reading a file moves its atime on, and scp -p sends atimes).
 */
function plantModesAndTimes(dir: string): () => void {
  mkdirSync(join(dir, 'private'), { recursive: true });
  mkdirSync(join(dir, 'shared'));
  const files: Array<[string, number]> = [
    ['script.sh', 0o755],
    ['secret.txt', 0o600],
    ['readonly.txt', 0o444],
    ['private/notes.txt', 0o640],
    ['shared/open.txt', 0o666],
  ];
  for (const [name, mode] of files) {
    writeFileSync(join(dir, name), `${name}\n`);
    chmodSync(join(dir, name), mode);
  }
  chmodSync(join(dir, 'private'), 0o700);
  chmodSync(join(dir, 'shared'), 0o775);
  const setTimes = () => {
    for (const [name, mode] of files) utimesSync(join(dir, name), 1_500_000_000 + mode, 1_400_000_000 + mode);
    utimesSync(join(dir, 'private'), 1_300_000_000, 1_200_000_000);
    utimesSync(join(dir, 'shared'), 1_300_000_100, 1_200_000_100);
    utimesSync(dir, 1_300_000_200, 1_200_000_200);
  };
  setTimes();
  return setTimes;
}

testEachSet(
  'scp -O -p keeps times and modes of files and folders both ways, as OpenSSH does; without -p new files get the mode less the umask',
  TIMEOUT,
  (clients) =>
    withScpServer(async (s) => {
      const src = join(s.local, 'tree');
      const setTimes = plantModesAndTimes(src);
      const attrs = { mode: true, mtime: true };
      const expected = describeTree(src, attrs);

      setTimes();
      const up = await scp(clients, s, ['-rp'], src, remote('kept'));
      assert.equal(up.code, 0, up.stderr);
      setTimes();
      const ref = await scpReference(clients, s, ['-rp'], src, `${REF}kept`);
      assert.equal(ref.code, 0, ref.stderr);
      // Atimes first: describeTree reads each file after its lstat, which moves the atime on.
      assert.deepEqual(
        describeTree(join(s.root, 'kept'), { ...attrs, atime: true }),
        describeTree(join(s.refRoot, 'kept'), { ...attrs, atime: true }),
        'the same modes and times as OpenSSH sets (atimes too)',
      );
      assert.deepEqual(describeTree(join(s.root, 'kept'), attrs), expected, 'modes and mtimes as in the source');

      const down = await scp(clients, s, ['-rp'], remote('kept'), join(s.local, 'back'));
      assert.equal(down.code, 0, down.stderr);
      assert.deepEqual(describeTree(join(s.local, 'back'), attrs), expected, 'downloaded with the same modes and mtimes');

      // Without -p: new files and folders get the sent mode less the umask, times are not kept.
      const plain = await scp(clients, s, ['-r'], src, remote('plain'));
      assert.equal(plain.code, 0, plain.stderr);
      const refPlain = await scpReference(clients, s, ['-r'], src, `${REF}plain`);
      assert.equal(refPlain.code, 0, refPlain.stderr);
      assert.deepEqual(
        describeTree(join(s.root, 'plain'), { mode: true }),
        describeTree(join(s.refRoot, 'plain'), { mode: true }),
        'modes as OpenSSH gives them',
      );
      assert.notEqual(describeTree(join(s.root, 'plain'), { mtime: true })['script.sh'].mtime, expected['script.sh'].mtime);

      // An existing file keeps its mode without -p and takes the sent one with -p.
      for (const root of [s.root, s.refRoot]) chmodSync(join(root, 'plain', 'script.sh'), 0o700);
      for (const [run, target] of [
        [scp, remote('plain/script.sh')],
        [scpReference, `${REF}plain/script.sh`],
      ] as const) {
        const r = await run(clients, s, [], join(src, 'script.sh'), target);
        assert.equal(r.code, 0, r.stderr);
      }
      assert.equal(describeTree(join(s.root, 'plain'), { mode: true })['script.sh'].mode, '700');
      assert.equal(describeTree(join(s.refRoot, 'plain'), { mode: true })['script.sh'].mode, '700');
    }),
);

testEachSet(
  'scp -O: errors are printed by the client with the exit status OpenSSH gives (missing files, a folder without -r, a missing folder, -d onto a file, a file onto a folder)',
  TIMEOUT,
  (clients) =>
    withScpServer(async (s) => {
      for (const root of [s.root, s.refRoot]) {
        mkdirSync(join(root, 'dir'));
        writeFileSync(join(root, 'file.txt'), 'file\n');
      }
      writeFileSync(join(s.local, 'a.txt'), 'a\n');
      writeFileSync(join(s.local, 'b.txt'), 'b\n');
      const cases: Array<{ what: string; flags: string[]; paths: string[] }> = [
        { what: 'download of a missing file', flags: [], paths: ['~REMOTE~missing.txt', join(s.local, 'got.txt')] },
        { what: 'download of a folder without -r', flags: [], paths: ['~REMOTE~dir', join(s.local, 'got-dir')] },
        { what: 'upload into a missing folder', flags: [], paths: [join(s.local, 'a.txt'), '~REMOTE~nowhere/a.txt'] },
        { what: 'two files onto a file (-d)', flags: [], paths: [join(s.local, 'a.txt'), join(s.local, 'b.txt'), '~REMOTE~file.txt'] },
        { what: 'a file onto a folder name inside a folder', flags: [], paths: [join(s.local, 'a.txt'), '~REMOTE~.'] },
        { what: 'a missing and an existing file', flags: [], paths: ['~REMOTE~missing.txt', '~REMOTE~file.txt', join(s.local, 'dl')] },
      ];
      mkdirSync(join(s.local, 'dl'));
      for (const root of [s.root, s.refRoot]) mkdirSync(join(root, 'a.txt'));
      for (const c of cases) {
        const ours = await scp(clients, s, c.flags, ...c.paths.map((p) => p.replace('~REMOTE~', remote(''))));
        const ref = await scpReference(clients, s, c.flags, ...c.paths.map((p) => p.replace('~REMOTE~', REF)));
        assert.equal(ours.code, ref.code, `${c.what}: exit status (ours: ${ours.stderr}; OpenSSH: ${ref.stderr})`);
        assert.notEqual(ours.code, 0, c.what);
        assert.equal(ours.stderr, ref.stderr, `${c.what}: the client prints what it prints against OpenSSH`);
      }
      assert.equal(
        readFileSync(join(s.local, 'dl', 'file.txt'), 'utf8'),
        'file\n',
        'the existing file still arrives after the missing one',
      );
      // The root as a whole has no name: OpenSSH's client refuses a folder named '.', the daemon says so first.
      for (const root of ['.', '~', '/']) {
        const whole = await scp(clients, s, ['-r'], remote(root), join(s.local, 'whole'));
        assert.equal(whole.code, 1, root);
        assert.match(whole.stderr, /the root directory has no name to send; copy its entries instead/, root);
      }
    }),
);

testEachSet('scp -O: quoting, globs and ~ in remote paths are read as the remote shell reads them', TIMEOUT, (clients) =>
  withScpServer(async (s) => {
    for (const root of [s.root, s.refRoot]) {
      mkdirSync(join(root, 'logs'));
      for (const n of ['a.log', 'b.log', 'c.txt', '.hidden.log', 'my file.log']) writeFileSync(join(root, 'logs', n), `${n}\n`);
    }
    writeFileSync(join(s.local, 'up.txt'), 'up\n');
    const steps: Array<{ flags: string[]; from: string; to: string; local?: boolean }> = [
      { flags: [], from: 'logs/*.log', to: 'glob' },
      { flags: [], from: "'logs/my file.log'", to: 'quoted' },
      { flags: [], from: 'logs/my\\ file.log', to: 'escaped' },
      { flags: [], from: 'logs/[ab].log', to: 'bracket' },
      { flags: [], from: 'logs/?.log', to: 'question' },
      { flags: [], from: "'logs/*.log'", to: 'quoted-glob' },
      { flags: [], from: 'logs/*.none', to: 'no-match' },
      { flags: [], from: 'logs/.*', to: 'dot' },
    ];
    for (const step of steps) {
      for (const side of ['ours', 'ref'] as const) mkdirSync(join(s.local, side, step.to), { recursive: true });
      const ours = await scp(clients, s, step.flags, remote(step.from), join(s.local, 'ours', step.to));
      const ref = await scpReference(clients, s, step.flags, `${REF}${step.from}`, join(s.local, 'ref', step.to));
      assert.equal(ours.code, ref.code, `${step.from}: ${ours.stderr} / ${ref.stderr}`);
      assert.equal(ours.stderr, ref.stderr, step.from);
      assert.deepEqual(describeTree(join(s.local, 'ours', step.to)), describeTree(join(s.local, 'ref', step.to)), step.from);
    }
    assert.deepEqual(readdirSync(join(s.local, 'ours', 'glob')).sort(), ['a.log', 'b.log', 'my file.log']);
    // Upload to a quoted name with a space, and through ~/ (the home directory).
    for (const target of ["'new file.txt'", '~/home.txt']) {
      const ours = await scp(clients, s, [], join(s.local, 'up.txt'), remote(target));
      assert.equal(ours.code, 0, ours.stderr);
    }
    assert.equal(readFileSync(join(s.root, 'new file.txt'), 'utf8'), 'up\n');
    assert.equal(readFileSync(join(s.root, 'home.txt'), 'utf8'), 'up\n');
  }),
);

testEachSet(
  'scp -O: file names that are not UTF-8 keep their bytes both ways, as with OpenSSH; two such names stay two files',
  TIMEOUT,
  (clients) =>
    withScpServer(async (s) => {
      const src = join(s.local, 'names');
      mkdirSync(src);
      writeFileSync(bytePath(src, latin1Name('-1')), 'one\n');
      writeFileSync(bytePath(src, Buffer.from([0x63, 0x61, 0x66, 0xc3, 0x28, 0x2d, 0x32])), 'two\n'); // an invalid two-byte sequence
      buildTree(join(src, 'tree'), { files: 20, latin1: true });
      const up = await scp(clients, s, ['-r'], src, remote('names'));
      assert.equal(up.code, 0, up.stderr);
      assert.deepEqual(describeTree(join(s.root, 'names')), describeTree(src), 'the same bytes on disk, each name with its own content');
      const ref = await scpReference(clients, s, ['-r'], src, `${REF}names`);
      assert.equal(ref.code, 0, ref.stderr);
      assert.deepEqual(describeTree(join(s.root, 'names')), describeTree(join(s.refRoot, 'names')), 'as OpenSSH stores them');
      const down = await scp(clients, s, ['-r'], remote('names'), join(s.local, 'back'));
      assert.equal(down.code, 0, down.stderr);
      assert.deepEqual(describeTree(join(s.local, 'back')), describeTree(src), 'the same bytes come back');
      const one = await scp(clients, s, [], remote('names/caf?-1.txt'), join(s.local, 'one.txt'));
      assert.equal(one.code, 0, one.stderr);
      assert.equal(readFileSync(join(s.local, 'one.txt'), 'utf8'), 'one\n', 'a glob matches the name');
    }),
);

testEachSet('scp -O: escapes through .. and through links out of the root are refused; nothing outside changes', TIMEOUT, (clients) =>
  withScpServer(async (s) => {
    const f = plantEscapeFixture(s as unknown as Parameters<typeof plantEscapeFixture>[0]);
    const tries: Array<{ from: string; to: string; ok: boolean }> = [
      // .. is clamped at the root (as in SFTP): the upload lands in the root, never above it.
      { from: f.payload, to: remote(`../../../${f.dotdotName}`), ok: true },
      { from: remote('../local/outside/secret.txt'), to: join(s.local, 'got-dotdot.txt'), ok: true },
      { from: f.payload, to: remote('door/payload-link.txt'), ok: false },
      { from: f.payload, to: remote('updoor/payload-link.txt'), ok: false },
      { from: f.payload, to: remote('leak.txt'), ok: false },
      { from: remote('door/secret.txt'), to: join(s.local, 'stolen.txt'), ok: false },
      { from: remote('leak.txt'), to: join(s.local, 'stolen2.txt'), ok: false },
      { from: remote('updoor'), to: join(s.local, 'stolen-dir'), ok: false },
    ];
    for (const t of tries) {
      const r = await scp(clients, s, ['-r'], t.from, t.to);
      if (t.ok) assert.equal(r.code, 0, `${t.from} -> ${t.to}: ${r.stderr}`);
      else {
        assert.equal(r.code, 1, `${t.from} -> ${t.to} must fail`);
        assert.match(r.stderr, /Permission denied/, `${t.from} -> ${t.to}: ${r.stderr}`);
      }
    }
    // -r of the whole root: the links out are refused one by one, the rest arrives.
    const all = await scp(clients, s, ['-r'], remote('local'), join(s.local, 'whole'));
    assert.equal(all.code, 0, all.stderr);
    mkdirSync(join(s.local, 'all'));
    const everything = await scp(clients, s, ['-r'], remote('*'), join(s.local, 'all'));
    assert.equal(everything.code, 1);
    assert.match(everything.stderr, /door: Permission denied/);
    f.assertOutsideUntouched();
    assert.equal(existsSync(join(s.root, f.dotdotName)), true, 'the .. upload landed in the root');
    assert.equal(readFileSync(join(s.local, 'got-dotdot.txt'), 'utf8'), f.decoy.dotdot, 'the .. download read the decoy inside the root');
    for (const stolen of ['stolen.txt', 'stolen2.txt', 'stolen-dir']) assert.equal(existsSync(join(s.local, stolen)), false, stolen);
    assertNoAuditThroughLinks(s.audit.filter((e) => !e.startsWith('failed')));
  }),
);

testEachSet('scp -O: a read-only user cannot write through SCP, an upload-only user cannot read', TIMEOUT, async (clients) => {
  await withScpServer(
    async (s) => {
      writeFileSync(join(s.root, 'kept.txt'), 'kept\n');
      writeFileSync(join(s.local, 'new.txt'), 'new\n');
      const up = await scp(clients, s, [], join(s.local, 'new.txt'), remote('kept.txt'));
      assert.equal(up.code, 1);
      assert.match(up.stderr, /scp: Permission denied: read-only access/);
      const upr = await scp(clients, s, ['-r'], s.local, remote('dir'));
      assert.equal(upr.code, 1);
      assert.deepEqual(readdirSync(s.root), ['kept.txt'], 'nothing created');
      assert.equal(readFileSync(join(s.root, 'kept.txt'), 'utf8'), 'kept\n', 'nothing overwritten');
      const down = await scp(clients, s, [], remote('kept.txt'), join(s.local, 'got.txt'));
      assert.equal(down.code, 0, down.stderr);
    },
    { access: 'read-only' },
  );
  await withScpServer(
    async (s) => {
      writeFileSync(join(s.root, 'secret.txt'), 'secret\n');
      writeFileSync(join(s.local, 'new.txt'), 'new\n');
      const down = await scp(clients, s, [], remote('secret.txt'), join(s.local, 'got.txt'));
      assert.equal(down.code, 1);
      assert.match(down.stderr, /scp: Permission denied: upload-only access/);
      assert.equal(existsSync(join(s.local, 'got.txt')), false);
      const up = await scp(clients, s, [], join(s.local, 'new.txt'), remote('new.txt'));
      assert.equal(up.code, 0, up.stderr);
      assert.equal(readFileSync(join(s.root, 'new.txt'), 'utf8'), 'new\n');
    },
    { access: 'upload-only' },
  );
});

testEachSet(
  'scp -O -r through symlink loops inside the root: each loop is reported once, the rest arrives, nothing recurses forever',
  TIMEOUT,
  (clients) =>
    withScpServer(async (s) => {
      mkdirSync(join(s.root, 'a', 'b'), { recursive: true });
      writeFileSync(join(s.root, 'a', 'f.txt'), 'f\n');
      writeFileSync(join(s.root, 'a', 'b', 'g.txt'), 'g\n');
      symlinkSync('.', join(s.root, 'a', 'self'));
      symlinkSync('..', join(s.root, 'a', 'b', 'up'));
      const r = await scp(clients, s, ['-r'], remote('a'), join(s.local, 'got'));
      assert.equal(r.code, 1);
      assert.equal((r.stderr.match(/directory loop/g) ?? []).length, 2, r.stderr);
      assert.match(r.stderr, /scp: a\/self: directory loop/);
      assert.match(r.stderr, /scp: a\/b\/up: directory loop/);
      assert.deepEqual(Object.keys(describeTree(join(s.local, 'got'))).sort(), ['b', 'b/g.txt', 'f.txt']);
    }),
);
