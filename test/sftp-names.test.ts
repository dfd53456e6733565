/**
 * Names as bytes (issue 17.3): a file whose name on disk is not UTF-8 (Latin-1 `caf\xe9.txt`) is
 * listed, downloaded, renamed and removed, and two uploads with different non-UTF-8 names stay two
 * files. LocalFileSystem directly, the protocol with hand-made requests (the exact bytes on the
 * wire), then OpenSSH sftp, lftp and paramiko, each running the same steps against OpenSSH's
 * sftp-server (`sftp -D`, a connect-program, a pipe) in the same test: the expected values are
 * sftp-server's.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readlinkSync, writeFileSync } from 'node:fs';
import fs from 'node:fs';
import os from 'node:os';
import path, { join } from 'node:path';
import { test } from 'node:test';
import { decodeFileName, encodeFileName, LocalFileSystem, SFTPStatus } from '../src';
import { DEBIAN12 } from './fixtures/clientSets';
import { requireBinary, requirePythonModule, run } from './fixtures/clients';
import { runPythonJson } from './fixtures/interop';
import { FXF } from './fixtures/rawSftp';
import { clientHome, TIMEOUT } from './fixtures/sftpClients';
import { PY_OPEN_SFTP, pyTarget, requireSftpServer, sftpBatch } from './fixtures/sftpReference';
import { rawSftpLogin, SFTP_USER, withSftpServer, type SftpScope } from './fixtures/sftpServer';
import { formatLongname } from '../src/sftp/longname';

const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');
/** `café.txt` in Latin-1, as a legacy client writes it: not UTF-8. */
const CAFE = latin1('caf\xe9.txt');
/** Two upload names differing only in a non-UTF-8 byte; a lossy decoder makes them one (U+FFFD). */
const UP_E9 = latin1('up\xe9.txt');
const UP_E8 = latin1('up\xe8.txt');

/** Names (as hex of their bytes) and contents of the files in `dir`, sorted. */
function listing(dir: string): Array<[string, string]> {
  return fs
    .readdirSync(dir, { encoding: 'buffer' })
    .map((n): [string, string] => [n.toString('hex'), fs.readFileSync(Buffer.concat([Buffer.from(dir + '/'), n])).toString('latin1')])
    .sort(([a], [b]) => a.localeCompare(b));
}

/** The same starting point in a served root and in the reference's directory: `caf\xe9.txt` holding `café`. */
function seed(dir: string): void {
  fs.writeFileSync(Buffer.concat([Buffer.from(dir + '/'), CAFE]), 'cafe-latin1');
}

/** Local files to upload, named with the two non-UTF-8 names, with different contents. */
function uploads(local: string): void {
  fs.writeFileSync(Buffer.concat([Buffer.from(local + '/'), UP_E9]), 'first upload');
  fs.writeFileSync(Buffer.concat([Buffer.from(local + '/'), UP_E8]), 'second upload');
}

test('LocalFileSystem: non-UTF-8 names are listed, opened, renamed, linked and removed as their bytes', async () => {
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'sftp-names-')));
  try {
    const lfs = new LocalFileSystem(root);
    seed(root);
    const cafe = decodeFileName(CAFE);
    assert.equal(cafe, 'caf\udce9.txt');
    const d = await lfs.opendir('/');
    const entries = (await d.next())!;
    await d.close();
    const entry = entries.find((e) => e.filename === cafe);
    assert.ok(entry, `listed: ${entries.map((e) => JSON.stringify(e.filename)).join(', ')}`);
    assert.ok(encodeFileName(entry.longname!).subarray(-CAFE.length).equals(CAFE), 'the long name ends with the same bytes');
    assert.equal((await lfs.stat(`/${cafe}`)).size, 11);
    const h = await lfs.open(`/${cafe}`, { read: true, write: false, append: false, create: false, truncate: false, exclusive: false }, {});
    assert.equal((await h.read(0, 100)).toString(), 'cafe-latin1');
    await h.close();
    // Two names a lossy decoder would merge stay two files.
    for (const [name, text] of [
      [UP_E9, 'one'],
      [UP_E8, 'two'],
    ] as const) {
      const w = await lfs.open(
        `/${decodeFileName(name)}`,
        { read: false, write: true, append: false, create: true, truncate: true, exclusive: true },
        {},
      );
      await w.write(0, Buffer.from(text));
      await w.close();
    }
    assert.deepEqual(
      listing(root).map(([n, c]) => [Buffer.from(n, 'hex').toString('latin1'), c]),
      [
        ['caf\xe9.txt', 'cafe-latin1'],
        ['up\xe8.txt', 'two'],
        ['up\xe9.txt', 'one'],
      ],
    );
    // Folders, links (targets are bytes too), renames, removal.
    const dir = decodeFileName(latin1('d\xefr'));
    await lfs.mkdir(`/${dir}`, {});
    await lfs.symlink(`/${dir}/l`, `../${cafe}`);
    assert.ok(
      readlinkSync(Buffer.concat([Buffer.from(root + '/'), latin1('d\xefr/l')]), { encoding: 'buffer' }).equals(
        Buffer.concat([Buffer.from('../'), CAFE]),
      ),
    );
    assert.equal(await lfs.readlink(`/${dir}/l`), `../${cafe}`);
    assert.equal(await lfs.realpath(`/${dir}/l`), `/${cafe}`);
    await lfs.rename(`/${cafe}`, `/${dir}/${cafe}`, false);
    await lfs.remove(`/${dir}/l`);
    await lfs.remove(`/${dir}/${cafe}`);
    await lfs.rmdir(`/${dir}`);
    assert.deepEqual(
      listing(root).map(([n]) => n),
      [UP_E8.toString('hex'), UP_E9.toString('hex')],
    );
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('long names: a non-UTF-8 name ends the line with its bytes; user and group columns are padded in bytes, as printf does', () => {
  const now = Date.UTC(2024, 5, 15, 12, 0, 0) / 1000;
  const line = formatLongname(
    decodeFileName(CAFE),
    { mode: 0o100644, size: 5, uid: 1, gid: 2, mtime: now - 60, nlink: 1, user: 'jösé', group: 'g' },
    now,
  );
  const bytes = encodeFileName(line);
  assert.ok(bytes.subarray(-CAFE.length).equals(CAFE));
  // `%-8s` of the 6 bytes of "jösé": two spaces of padding, then the separator.
  assert.ok(bytes.includes(Buffer.from('  1 jösé   g        ')), line);
});

test('the protocol carries names as bytes: READDIR, OPEN, REALPATH, READLINK, SYMLINK, RENAME, REMOVE', TIMEOUT, () =>
  withSftpServer(async (s) => {
    seed(s.root);
    const sftp = await rawSftpLogin(s);
    try {
      const names = await sftp.list('/');
      assert.ok(Array.isArray(names));
      const entry = names.find((e) => e.filename.equals(CAFE));
      assert.ok(entry, 'READDIR gives the exact bytes');
      assert.ok(entry.longname.subarray(-CAFE.length).equals(CAFE), 'and so does the long name');
      const h = await sftp.open(Buffer.concat([Buffer.from('/'), CAFE]), FXF.READ);
      assert.ok(h.handle, `OPEN by the bytes: ${h.message}`);
      assert.equal((await sftp.read(h.handle, 0, 100)).data?.toString(), 'cafe-latin1');
      await sftp.close(h.handle);
      const rp = await sftp.realpath(CAFE);
      assert.ok(rp.names?.[0].filename.equals(Buffer.concat([Buffer.from('/'), CAFE])), 'REALPATH answers the bytes');
      assert.equal((await sftp.symlink(CAFE, UP_E9)).status, SFTPStatus.OK, 'SYMLINK with a non-UTF-8 target');
      assert.ok(
        readlinkSync(Buffer.concat([Buffer.from(s.root + '/'), UP_E9]), { encoding: 'buffer' }).equals(CAFE),
        'stored as those bytes',
      );
      assert.ok((await sftp.readlink(UP_E9)).names?.[0].filename.equals(CAFE), 'READLINK answers them');
      assert.equal((await sftp.rename(CAFE, UP_E8)).status, SFTPStatus.OK);
      assert.equal((await sftp.remove(UP_E9)).status, SFTPStatus.OK);
      assert.deepEqual(listing(s.root), [[UP_E8.toString('hex'), 'cafe-latin1']]);
      assert.equal((await sftp.remove(UP_E8)).status, SFTPStatus.OK);
      // A lone surrogate's UTF-8 (ED B3 A9) is not U+DCE9: a different name, not the Latin-1 one.
      const w = await sftp.open(Buffer.from('caf\udce9.txt', 'utf8'), FXF.WRITE | FXF.CREAT);
      assert.ok(w.handle);
      await sftp.close(w.handle);
      assert.deepEqual(
        listing(s.root).map(([n]) => n),
        [Buffer.from('caf\ufffd.txt', 'utf8').toString('hex')],
      );
    } finally {
      sftp.end();
    }
  }),
);

/** Fresh directories for one client run: the served (or reference) root and the client's local side. */
function sides(s: SftpScope, name: string): { ref: string; refLocal: string; ourLocal: string } {
  const ref = join(path.dirname(s.root), `ref-${name}`);
  const refLocal = join(path.dirname(s.root), `ref-${name}-local`);
  const ourLocal = join(s.local, name);
  for (const d of [ref, refLocal, ourLocal]) mkdirSync(d);
  seed(ref);
  seed(s.root);
  uploads(refLocal);
  uploads(ourLocal);
  return { ref, refLocal, ourLocal };
}

test('OpenSSH sftp lists, gets, removes a Latin-1 name and keeps two non-UTF-8 uploads apart, as with sftp-server', TIMEOUT, () =>
  withSftpServer(async (s) => {
    const { ref, refLocal, ourLocal } = sides(s, 'sftp');
    const steps = (local: string): Buffer[] => [
      Buffer.from(`lcd ${local}`),
      Buffer.from('ls -1'),
      Buffer.concat([Buffer.from('get '), CAFE]),
      Buffer.concat([Buffer.from('put '), UP_E9]),
      Buffer.concat([Buffer.from('put '), UP_E8]),
      Buffer.concat([Buffer.from('rm '), CAFE]),
      Buffer.from('ls -1'),
    ];
    // The batch files go to s.local, outside both local sides (compared below).
    const theirs = await sftpBatch({ reference: ref, local: s.local }, steps(refLocal), DEBIAN12, { LC_ALL: 'C' });
    const ours = await sftpBatch(s, steps(ourLocal), DEBIAN12, { LC_ALL: 'C' });
    assert.equal(theirs.code, 0, `reference: ${theirs.err}`);
    assert.equal(ours.code, 0, ours.err);
    const normal = (b: Buffer, local: string) => b.toString('latin1').replace(local, 'LOCAL');
    assert.equal(normal(ours.stdout, ourLocal), normal(theirs.stdout, refLocal), 'the same output, byte for byte');
    assert.match(ours.stdout.toString('latin1'), /^caf\\351\.txt$/m, 'listed (sftp escapes the byte when printing)');
    assert.deepEqual(listing(s.root), listing(ref), 'the same files remain, with the same contents');
    assert.deepEqual(listing(s.root), [
      [UP_E8.toString('hex'), 'second upload'],
      [UP_E9.toString('hex'), 'first upload'],
    ]);
    assert.deepEqual(listing(ourLocal), listing(refLocal), 'the same download');
  }),
);

/** Runs an lftp script; the connect program is ssh to our server, or a script starting sftp-server in `refDir`. */
async function lftp(
  s: SftpScope,
  target: 'ours' | { refDir: string },
  local: string,
  commands: Buffer[],
): Promise<{ code: number | null; out: Buffer; err: string }> {
  let connect: string;
  let open: string;
  if (target === 'ours') {
    requireBinary('ssh');
    connect = [
      'ssh',
      '-a',
      '-x',
      '-F',
      '/dev/null',
      '-o',
      'StrictHostKeyChecking=no',
      '-o',
      'UserKnownHostsFile=/dev/null',
      '-o',
      'LogLevel=ERROR',
      '-o',
      'PasswordAuthentication=no',
      '-o',
      'IdentitiesOnly=yes',
      '-o',
      `IdentityFile=${s.key.privateKeyPath}`,
    ].join(' ');
    open = `open -u ${SFTP_USER}, -p ${s.port} sftp://127.0.0.1`;
  } else {
    // lftp starts its connect program with ssh's arguments: the wrapper ignores them.
    const wrapper = join(path.dirname(s.root), 'sftp-server-wrapper.sh');
    writeFileSync(wrapper, `#!/bin/sh\nexec ${requireSftpServer()} -d ${target.refDir}\n`);
    chmodSync(wrapper, 0o755);
    connect = wrapper;
    open = `open -u ${SFTP_USER}, sftp://127.0.0.1`;
  }
  const script = Buffer.concat(
    [
      Buffer.from('set cmd:fail-exit yes'),
      Buffer.from('set sftp:auto-confirm yes'),
      Buffer.from(`set sftp:connect-program "${connect}"`),
      Buffer.from('set net:max-retries 1'),
      Buffer.from('set net:timeout 30'),
      Buffer.from('set xfer:clobber yes'),
      Buffer.from(open),
      Buffer.from(`lcd ${local}`),
      ...commands,
    ].map((c) => Buffer.concat([c, Buffer.from('\n')])),
  );
  const file = join(local, '..', `lftp-script-${path.basename(local)}`);
  writeFileSync(file, script);
  const r = await run(requireBinary('lftp'), ['-f', file], { timeoutMs: 100_000, env: { HOME: clientHome(s), LC_ALL: 'C' } });
  return { code: r.code, out: r.stdout, err: r.stderr };
}

test('lftp lists, gets, removes a Latin-1 name and keeps two non-UTF-8 uploads apart, as with sftp-server', TIMEOUT, () =>
  withSftpServer(async (s) => {
    const { ref, refLocal, ourLocal } = sides(s, 'lftp');
    const steps: Buffer[] = [
      Buffer.from('cls -1'),
      Buffer.concat([Buffer.from('get '), CAFE]),
      Buffer.concat([Buffer.from('put '), UP_E9]),
      Buffer.concat([Buffer.from('put '), UP_E8]),
      Buffer.concat([Buffer.from('rm '), CAFE]),
      Buffer.from('cls -1'),
    ];
    const theirs = await lftp(s, { refDir: ref }, refLocal, steps);
    const ours = await lftp(s, 'ours', ourLocal, steps);
    assert.equal(theirs.code, 0, `reference: ${theirs.err}`);
    assert.equal(ours.code, 0, ours.err);
    assert.ok(ours.out.equals(theirs.out), `the same listings:\n${ours.out.toString('latin1')}\n---\n${theirs.out.toString('latin1')}`);
    assert.ok(ours.out.includes(CAFE), `listed: ${ours.out.toString('latin1')}`);
    assert.deepEqual(listing(s.root), listing(ref));
    assert.deepEqual(listing(s.root), [
      [UP_E8.toString('hex'), 'second upload'],
      [UP_E9.toString('hex'), 'first upload'],
    ]);
    assert.deepEqual(listing(ourLocal), listing(refLocal));
  }),
);

/** paramiko against our server (password) or sftp-server on a pipe; reports what it saw. */
const PARAMIKO = `${PY_OPEN_SFTP}
cfg = json.loads(sys.argv[1])
sftp = open_sftp(cfg['target'])
from paramiko.sftp import CMD_CLOSE, CMD_OPENDIR, CMD_READDIR
def listdir_bytes(path):
    # paramiko 2.12's listdir() decodes names as UTF-8 and raises on others (with sftp-server too):
    # the same requests through its protocol layer, names kept as bytes.
    t, msg = sftp._request(CMD_OPENDIR, path)
    handle = msg.get_binary()
    names = []
    while True:
        try:
            t, msg = sftp._request(CMD_READDIR, handle)
        except EOFError:
            break
        for _ in range(msg.get_int()):
            names.append(msg.get_string())
            msg.get_string()
            paramiko.SFTPAttributes._from_msg(msg)
    sftp._request(CMD_CLOSE, handle)
    return sorted(n.hex() for n in names if n not in (b'.', b'..'))
cafe, e9, e8 = (bytes.fromhex(cfg[k]) for k in ('cafe', 'e9', 'e8'))
before = listdir_bytes('.')
sftp.get(cafe, os.path.join(cfg['local'], 'got.txt'))
for name, text in ((e9, b'first upload'), (e8, b'second upload')):
    with sftp.open(name, 'wb') as f:
        f.write(text)
sftp.remove(cafe)
after = listdir_bytes('.')
print(json.dumps({'before': before, 'after': after, 'got': open(os.path.join(cfg['local'], 'got.txt'), 'rb').read().decode()}))
`;

test('paramiko lists, gets, removes a Latin-1 name and keeps two non-UTF-8 uploads apart, as with sftp-server', TIMEOUT, () =>
  withSftpServer(async (s) => {
    requirePythonModule('paramiko');
    const { ref, refLocal, ourLocal } = sides(s, 'paramiko');
    const common = { cafe: CAFE.toString('hex'), e9: UP_E9.toString('hex'), e8: UP_E8.toString('hex') };
    requireSftpServer();
    const theirs = await runPythonJson(PARAMIKO, { ...common, target: pyTarget({ reference: ref, local: refLocal }), local: refLocal });
    const ours = await runPythonJson(PARAMIKO, { ...common, target: pyTarget(s), local: ourLocal });
    assert.deepEqual(ours, theirs);
    assert.deepEqual(ours.before, [CAFE.toString('hex')]);
    assert.equal(ours.got, 'cafe-latin1');
    assert.deepEqual(listing(s.root), listing(ref));
    assert.deepEqual(listing(s.root), [
      [UP_E8.toString('hex'), 'second upload'],
      [UP_E9.toString('hex'), 'first upload'],
    ]);
  }),
);
