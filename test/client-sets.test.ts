/**
 * The client-set fixture (test/fixtures/clientSets.ts): each set runs its own programs, the Debian 13
 * root sees the temp folder at the same paths, gets /proc and ptys, leaves no mount behind, the
 * spawned process is the client itself, and a missing or half-built root fails with how to build it.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { CLIENT_SETS, DEBIAN12, DEBIAN13, chrootSet, type ClientSetName } from './fixtures/clientSets';

const DIR = mkdtempSync(join(tmpdir(), 'client-sets-'));
after(() => rmSync(DIR, { recursive: true, force: true }));

/** The version lines each set must report: the Debian 12 packages, and Debian 13's newer ones. */
const VERSIONS: Record<ClientSetName, { ssh: RegExp; plink: RegExp; dbclient: RegExp; python: RegExp }> = {
  debian12: {
    ssh: /^OpenSSH_9\.2/,
    plink: /Release 0\.78/,
    dbclient: /Dropbear v2022\./,
    python: /^paramiko 2\.\d+\.\d+ asyncssh 2\.1[0-3]\./,
  },
  debian13: {
    ssh: /^OpenSSH_10\./,
    plink: /Release 0\.8[3-9]/,
    dbclient: /Dropbear v2025\./,
    python: /^paramiko 3\.\d+\.\d+ asyncssh 2\.2\d\./,
  },
};

test('each set runs its own clients: OpenSSH, PuTTY, Dropbear, paramiko and AsyncSSH versions', { timeout: 60_000 }, async () => {
  for (const set of CLIENT_SETS) {
    const want = VERSIONS[set.name];
    const ssh = await set.run('ssh', ['-V']);
    assert.match(ssh.stderr, want.ssh, `${set.name} ssh -V`);
    const plink = await set.run('plink', ['-V']);
    assert.match(plink.stdout.toString(), want.plink, `${set.name} plink -V`);
    const dbclient = await set.run('dbclient', ['-V']);
    assert.match(dbclient.stderr, want.dbclient, `${set.name} dbclient -V`);
    const py = await set.run('/usr/bin/python3', [
      '-W',
      'ignore',
      '-c',
      'import paramiko, asyncssh; print("paramiko", paramiko.__version__, "asyncssh", asyncssh.__version__)',
    ]);
    assert.match(py.stdout.toString(), want.python, `${set.name} python: ${py.stderr}`);
  }
});

test('debian13: the temp folder has the same paths inside the root, both ways; /proc and ptys work', { timeout: 60_000 }, async () => {
  writeFileSync(join(DIR, 'from-host.txt'), 'host\n');
  const script = [
    'import os, pty, sys',
    'd = sys.argv[1]',
    'sys.stdout.write(open(os.path.join(d, "from-host.txt")).read())',
    'open(os.path.join(d, "from-root.txt"), "w").write("root\\n")',
    'm, s = pty.openpty()',
    'print(os.ttyname(s).startswith("/dev/pts/"))',
    'print(os.readlink("/proc/self/exe"))',
    'print(open("/etc/debian_version").read().strip().split(".")[0])',
  ].join('\n');
  const r = await DEBIAN13.run('/usr/bin/python3', ['-c', script, DIR]);
  assert.equal(r.code, 0, r.stderr);
  const [fromHost, pts, exe, debian] = r.stdout.toString().trim().split('\n');
  assert.equal(fromHost, 'host');
  assert.equal(readFileSync(join(DIR, 'from-root.txt'), 'utf8'), 'root\n');
  assert.equal(pts, 'True', 'a pty from the root devpts instance');
  assert.match(exe, /^\/usr\/bin\/python3\.\d+$/);
  assert.equal(debian, '13', 'the program ran inside the Debian 13 root');
});

test("debian13: the mounts live only in the client's namespace and the spawned process is the client", { timeout: 60_000 }, async () => {
  const root = DEBIAN13.argv('true')[9];
  const child = DEBIAN13.spawn('sleep', ['30']);
  const comm = () => {
    try {
      return readFileSync(`/proc/${child.pid}/comm`, 'utf8').trim();
    } catch {
      return '';
    }
  };
  const until = Date.now() + 20_000;
  while (comm() !== 'sleep') {
    assert.ok(Date.now() < until, `pid ${child.pid} never became sleep (${comm()})`);
    await new Promise((r) => setTimeout(r, 20));
  }
  // Seen from the client, relative to its root: only the mounts the fixture made are inside it.
  const inside = readFileSync(`/proc/${child.pid}/mountinfo`, 'utf8').trim().split('\n');
  const at = (point: string) => inside.find((l) => l.split(' ')[4] === point) ?? '';
  assert.match(at('/proc'), / - proc proc /, inside.join('\n'));
  assert.match(at('/dev/pts'), / - devpts devpts .*ptmxmode=666/, 'a devpts instance of its own');
  assert.match(at('/dev/ptmx'), / - devpts devpts /);
  assert.ok(at(tmpdir()), 'the temp folder is bound at its own path');
  assert.equal(inside.length, 4, inside.join('\n'));
  assert.ok(!readFileSync('/proc/self/mountinfo', 'utf8').includes(root), 'no mount of the root shows on the host');
  child.kill();
  const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
  assert.deepEqual([code, signal], [null, 'SIGTERM'], 'killing the spawned process killed the client');
});

test('a missing or half-built root fails with how to build it (never a skip)', () => {
  const missing = chrootSet('debian13', join(DIR, 'no-root'));
  assert.throws(
    () => missing.path('ssh'),
    /client root is missing or incomplete at .*no-root: build it with scripts\/install-client-root\.sh/,
  );
  // An interrupted build: files but no recipe (the script writes it last).
  const half = join(DIR, 'half-root');
  mkdirSync(join(half, 'usr', 'bin'), { recursive: true });
  writeFileSync(join(half, 'usr', 'bin', 'ssh'), '');
  assert.throws(() => chrootSet('debian13', half).argv('ssh', ['-V']), /missing or incomplete .*install-client-root\.sh/);
  // A complete root without a program names its package.
  writeFileSync(join(half, '.recipe'), 'suite=trixie\n');
  assert.throws(
    () => chrootSet('debian13', half).path('plink'),
    /plink is missing from the debian13 client root .*\(Debian package putty-tools\)/,
  );
  assert.equal(DEBIAN12.path('ssh'), '/usr/bin/ssh');
});
