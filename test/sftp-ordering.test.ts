/**
 * Requests on one file complete as if one at a time, in arrival order, where they can interfere
 * (draft-ietf-secsh-filexfer-02 section 6.1), with real clients that pipeline: OpenSSH `sftp reput`
 * (append handle, 255 KiB writes in flight), paramiko appending through an 'a' handle, a read sent
 * right behind pipelined writes. Each case also runs against OpenSSH's sftp-server, whose result is
 * the expected one. Field reports: pkg/sftp #295 (reput corrupts), ProFTPD #1584 (append offset),
 * pterodactyl/daemon #117 (writes out of order on a Node server).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { SFTPWrapper } from 'ssh2';
import { requirePythonModule } from './fixtures/clients';
import { runPythonJson } from './fixtures/interop';
import { PY_OPEN_SFTP, pyTarget, rootOf, sftpBatch, type SftpTarget, withReference } from './fixtures/sftpReference';
import { MiB, sha, TIMEOUT } from './fixtures/sftpClients';
import { SFTP_PASSWORD, SFTP_USER, withSftpServer } from './fixtures/sftpServer';
import { connect } from './helpers-ssh2';

const LONG = { timeout: 600_000 };

/** `sftp reput` of `source` onto its first 10 MB already at the target: the stored sha256. */
async function reput(t: SftpTarget, source: Buffer): Promise<string> {
  writeFileSync(join(t.local, 'big.bin'), source);
  writeFileSync(join(rootOf(t), 'big.bin'), source.subarray(0, 10_000_000));
  const r = await sftpBatch(t, [`lcd ${t.local}`, 'reput big.bin big.bin']);
  assert.equal(r.code, 0, r.err);
  return sha(readFileSync(join(rootOf(t), 'big.bin')));
}

test(
  'OpenSSH sftp reput: 64 MiB resumed onto a 10 MB prefix has the source content, 5 runs in a row (sftp-server: the same)',
  LONG,
  async () => {
    const source = randomBytes(64 * MiB);
    await withReference(async (ref) => {
      assert.equal(await reput(ref, source), sha(source), 'the reference resumes correctly');
    });
    await withSftpServer(async (s) => {
      for (let run = 1; run <= 5; run++) assert.equal(await reput(s, source), sha(source), `run ${run}: content equals the source`);
    });
  },
);

const PY_APPEND = `${PY_OPEN_SFTP}
cfg = json.loads(sys.argv[1])
sftp = open_sftp(cfg['target'])
f = sftp.open('log.txt', 'a', bufsize=0)
f.set_pipelined(True)
for i in range(cfg['lines']):
    f.write(('line %05d\\n' % i).encode())
f.close()
sftp.close()
print(json.dumps({'ok': True}))
`;

test('paramiko appends 3,000 numbered lines through an "a" handle (pipelined): all in order (sftp-server: the same)', TIMEOUT, async () => {
  requirePythonModule('paramiko');
  const lines = 3000;
  const expected = Array.from({ length: lines }, (_, i) => `line ${String(i).padStart(5, '0')}\n`).join('');
  const append = async (t: SftpTarget): Promise<string> => {
    writeFileSync(join(rootOf(t), 'log.txt'), '');
    const r = await runPythonJson(PY_APPEND, { target: pyTarget(t), lines });
    assert.equal(r.ok, true);
    return readFileSync(join(rootOf(t), 'log.txt'), 'utf8');
  };
  await withReference(async (ref) => assert.equal(await append(ref), expected, 'the reference keeps the order'));
  await withSftpServer(async (s) => assert.equal(await append(s), expected, 'every line, in the order written'));
});

const PY_READ_BEHIND = `${PY_OPEN_SFTP}
cfg = json.loads(sys.argv[1])
sftp = open_sftp(cfg['target'])
stale = []
for run in range(cfg['runs']):
    # A fresh handle per run: paramiko waits on its own list of pipelined writes past 100 of them,
    # and a read in between has already taken their replies (it would hang, with any server).
    f = sftp.open('rw.bin', 'w+' if run == 0 else 'r+')
    f.set_pipelined(True)
    data = os.urandom(256 * 1024)
    f.write(data)
    f.flush()
    f.seek(0)
    got = f.read(len(data))
    if got != data:
        stale.append(run)
    f.close()
sftp.close()
print(json.dumps({'stale': stale}))
`;

test(
  'paramiko: a read sent right behind pipelined writes on the same handle sees them, 20 runs (sftp-server: the same)',
  TIMEOUT,
  async () => {
    requirePythonModule('paramiko');
    const runs = 20;
    await withReference(async (ref) =>
      assert.deepEqual((await runPythonJson(PY_READ_BEHIND, { target: pyTarget(ref), runs })).stale, [], 'the reference'),
    );
    await withSftpServer(async (s) =>
      assert.deepEqual((await runPythonJson(PY_READ_BEHIND, { target: pyTarget(s), runs })).stale, [], 'runs that read old bytes'),
    );
  },
);

function sftpOf(c: import('ssh2').Client): Promise<SFTPWrapper> {
  return new Promise((resolve, reject) => c.sftp((err, s) => (err ? reject(err) : resolve(s))));
}

test('ssh2 client: 8 pipelined 32 KiB writes then a read of all 256 KiB, none awaited: the read sees every write, 20 runs', TIMEOUT, () =>
  withSftpServer(async ({ port }) => {
    const c = await connect(port, { username: SFTP_USER, password: SFTP_PASSWORD });
    const sftp = await sftpOf(c);
    const handle = await new Promise<Buffer>((resolve, reject) => sftp.open('rw.bin', 'w+', (err, h) => (err ? reject(err) : resolve(h))));
    const chunk = 32 * 1024;
    const stale: number[] = [];
    for (let run = 0; run < 20; run++) {
      const data = randomBytes(8 * chunk);
      const writes = Array.from(
        { length: 8 },
        (_, k) =>
          new Promise<void>((resolve, reject) =>
            sftp.write(handle, data, k * chunk, chunk, k * chunk, (err) => (err ? reject(err) : resolve())),
          ),
      );
      // Sent before any write is answered: only the server's ordering makes it see them.
      const got = Buffer.alloc(data.length);
      const reads = Array.from(
        { length: 8 },
        (_, k) =>
          new Promise<void>((resolve, reject) =>
            sftp.read(handle, got, k * chunk, chunk, k * chunk, (err, n) =>
              err ? reject(err) : n === chunk ? resolve() : reject(new Error(`short read ${n}`)),
            ),
          ),
      );
      await Promise.all([...writes, ...reads]);
      if (!got.equals(data)) stale.push(run);
    }
    assert.deepEqual(stale, [], 'runs whose read returned old bytes');
    await new Promise<void>((resolve) => sftp.close(handle, () => resolve()));
    c.end();
  }),
);
