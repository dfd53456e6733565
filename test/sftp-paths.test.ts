/**
 * REALPATH and expand-path@openssh.com as OpenSSH's sftp-server answers them, with the clients that
 * depend on it: a missing last name is allowed (OpenSSH 9 `scp -r dir host:new` and `sftp put -r`
 * canonicalise the destination before creating it; "path canonicalization failed" otherwise), a
 * missing parent is NO_SUCH_FILE, `~user/` expands for the logged-in user. Each case runs against
 * sftp-server too, whose answer is the expected one.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { requirePythonModule } from './fixtures/clients';
import { runPythonJson } from './fixtures/interop';
import { PY_OPEN_SFTP, pyTarget, rootOf, scpTo, sftpBatch, type SftpTarget, withReference } from './fixtures/sftpReference';
import { filesBelow, TIMEOUT } from './fixtures/sftpClients';
import { SFTP_USER, withSftpServer } from './fixtures/sftpServer';

/** 200 files in nested folders under `local/tree`, each holding its own name. */
function makeTree(local: string): string {
  const tree = join(local, 'tree');
  for (let d = 0; d < 10; d++) {
    const dir = join(tree, `dir${d}`, d % 2 ? 'sub' : '');
    mkdirSync(dir, { recursive: true });
    for (let f = 0; f < 20; f++) writeFileSync(join(dir, `file${f}.txt`), `dir${d} file${f}\n`);
  }
  return tree;
}

/** Relative name -> content of every file below `dir`. */
function contents(dir: string): Record<string, string> {
  return Object.fromEntries(filesBelow(dir).map((f) => [f, readFileSync(join(dir, f), 'utf8')]));
}

test(
  'OpenSSH 9 scp -r tree host:newsite (200 files in folders) and sftp put -r: every file arrives (sftp-server: the same)',
  TIMEOUT,
  async () => {
    const copy = async (t: SftpTarget): Promise<Record<string, string>> => {
      const tree = makeTree(t.local);
      const scp = await scpTo(t, ['-r', tree, 'HOST:newsite']);
      assert.equal(scp.code, 0, scp.stderr);
      const put = await sftpBatch(t, [`lcd ${t.local}`, 'put -r tree newsite2']);
      assert.equal(put.code, 0, put.err);
      const a = contents(join(rootOf(t), 'newsite'));
      assert.deepEqual(contents(join(rootOf(t), 'newsite2')), a, 'put -r stores the same tree as scp -r');
      return a;
    };
    let expected: Record<string, string> = {};
    await withReference(async (ref) => {
      expected = await copy(ref);
    });
    assert.equal(Object.keys(expected).length, 200, 'the reference stores all 200 files');
    await withSftpServer(async (s) => assert.deepEqual(await copy(s), expected));
  },
);

const PY_NORMALIZE = `${PY_OPEN_SFTP}
cfg = json.loads(sys.argv[1])
sftp = open_sftp(cfg['target'])
out = {}
for name in cfg['names']:
    try:
        out[name] = ['ok', sftp.normalize(name)]
    except IOError as e:
        out[name] = ['error', e.errno]
sftp.close()
print(json.dumps(out))
`;

test(
  'paramiko normalize (REALPATH): a missing name is its absolute path, a name under a missing folder or a file is an error (sftp-server: the same)',
  TIMEOUT,
  async () => {
    requirePythonModule('paramiko');
    const names = [
      '.',
      'new.txt',
      'dir/new.txt',
      'dir/../new.txt',
      'missing/new.txt',
      'file.txt/new.txt',
      'dir',
      'dangling',
      'dir/link-up/new.txt',
      '',
    ];
    const normalize = async (t: SftpTarget): Promise<Record<string, [string, string | number]>> => {
      const root = rootOf(t);
      mkdirSync(join(root, 'dir'));
      writeFileSync(join(root, 'file.txt'), 'x');
      symlinkSync('target.txt', join(root, 'dangling'));
      symlinkSync('..', join(root, 'dir', 'link-up'));
      return (await runPythonJson(PY_NORMALIZE, { target: pyTarget(t), names })) as Record<string, [string, string | number]>;
    };
    let expected: Record<string, [string, string | number]> = {};
    let refRoot = '';
    await withReference(async (ref) => {
      refRoot = realpathSync(ref.reference);
      expected = await normalize(ref);
    });
    // The reference names real paths; its start directory is our `/`.
    const virtual = Object.fromEntries(
      Object.entries(expected).map(([k, [kind, v]]) => [k, [kind, typeof v === 'string' ? v.slice(refRoot.length) || '/' : v]]),
    );
    assert.deepEqual(virtual['new.txt'], ['ok', '/new.txt'], 'the reference appends a missing last name');
    assert.deepEqual(virtual['missing/new.txt'], ['error', 2], 'the reference refuses a missing parent with ENOENT');
    await withSftpServer(async (s) => assert.deepEqual(await normalize(s), virtual));
  },
);

test(
  'scp to and from host:~tester/dir/f (expand-path for the logged-in user); ~someone-else is "no such user" (sftp-server: the same)',
  TIMEOUT,
  async () => {
    // sftp-server expands ~user with the password database: its reference is the running user's real home.
    const me = userInfo().username;
    const home = mkdtempSync(join(homedir(), '.sftp-tilde-'));
    const homeDir = home.slice(homedir().length + 1);
    try {
      const check = async (t: SftpTarget, user: string, remoteDir: string, landed: string): Promise<string> => {
        writeFileSync(join(t.local, 'up.txt'), `to ${user}\n`);
        mkdirSync(landed, { recursive: true });
        const up = await scpTo(t, [join(t.local, 'up.txt'), `HOST:~${user}/${remoteDir}/f`]);
        assert.equal(up.code, 0, up.stderr);
        assert.equal(readFileSync(join(landed, 'f'), 'utf8'), `to ${user}\n`);
        const down = await scpTo(t, [`HOST:~${user}/${remoteDir}/f`, join(t.local, 'back.txt')]);
        assert.equal(down.code, 0, down.stderr);
        assert.equal(readFileSync(join(t.local, 'back.txt'), 'utf8'), `to ${user}\n`);
        const other = await scpTo(t, [join(t.local, 'up.txt'), 'HOST:~no-such-user-xyz/f']);
        assert.notEqual(other.code, 0);
        return other.stderr;
      };
      let refError = '';
      await withReference(async (ref) => {
        refError = await check(ref, me, `${homeDir}/dir`, join(home, 'dir'));
      });
      assert.match(refError, /no such user/i, refError);
      await withSftpServer(async (s) => {
        const err = await check(s, SFTP_USER, 'dir', join(s.root, 'dir'));
        assert.match(err, /no such user/i, err);
      });
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  },
);
