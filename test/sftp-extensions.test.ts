/**
 * The OpenSSH extensions current clients use: copy-data (OpenSSH 9.0 `sftp cp`, server-side copy),
 * users-groups-by-id@openssh.com (OpenSSH 9.1 `sftp ls -l` names), home-directory (no OpenSSH 9.2
 * command sends it: hand-made packets). Each against OpenSSH's sftp-server where it has the same
 * behaviour. The installed OpenSSH 9.2 client sends copy-data, users-groups-by-id and expand-path.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { LocalFileSystem, type SFTPAccess, type SFTPFileSystem, type SFTPIdNames } from '../src';
import { WireReader } from '../src/packet/wire';
import { describe, FXF, FXP, type RawSftp, statusCode, str, u32, u64 } from './fixtures/rawSftp';
import { rootOf, sftpBatch, type SftpTarget, withRawReference, withReference } from './fixtures/sftpReference';
import { MiB, sha, TIMEOUT } from './fixtures/sftpClients';
import { rawSftpLogin, SFTP_USER, withSftpServer, type SftpScope } from './fixtures/sftpServer';

/** uid/gid -> name from /etc/passwd and /etc/group, as sftp-server's getpwuid/getgrgid answer here. */
function idFile(file: string): Map<number, string> {
  const map = new Map<number, string>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const [name, , id] = line.split(':');
    if (name && id && !map.has(Number(id))) map.set(Number(id), name);
  }
  return map;
}
const passwdNames = async (uids: readonly number[], gids: readonly number[]): Promise<SFTPIdNames> => {
  const users = idFile('/etc/passwd');
  const groups = idFile('/etc/group');
  return { users: uids.map((u) => users.get(u) ?? ''), groups: gids.map((g) => groups.get(g) ?? '') };
};

/** `fs` with `usersGroupsById` replaced (or removed, with undefined). */
function withNames(fs: SFTPFileSystem, names: SFTPFileSystem['usersGroupsById']): SFTPFileSystem {
  return new Proxy(fs, {
    get: (target, key, receiver) => (key === 'usersGroupsById' ? names : Reflect.get(target, key, receiver)),
    has: (target, key) => (key === 'usersGroupsById' ? names !== undefined : Reflect.has(target, key)),
  });
}

function serve(s: SftpScope, names: SFTPFileSystem['usersGroupsById'], access: SFTPAccess = 'read-write'): void {
  s.daemon.enableSFTP({ fileSystem: withNames(new LocalFileSystem(s.root), names), access });
}

test('OpenSSH sftp cp (copy-data): 8 MiB copied on the server, content and mode kept (sftp-server: the same)', TIMEOUT, async () => {
  const data = randomBytes(8 * MiB);
  const cp = async (t: SftpTarget): Promise<string> => {
    writeFileSync(join(rootOf(t), 'a.bin'), data, { mode: 0o640 });
    const r = await sftpBatch(t, ['cp a.bin b.bin', 'ls -l b.bin']);
    assert.equal(r.code, 0, r.err);
    assert.doesNotMatch(r.err, /copy-data/, r.err);
    assert.equal(sha(readFileSync(join(rootOf(t), 'b.bin'))), sha(data));
    return r.out
      .split('\n')
      .find((l) => l.includes('b.bin') && !l.startsWith('sftp>'))!
      .split(/\s+/)[0];
  };
  let refMode = '';
  await withReference(async (ref) => {
    refMode = await cp(ref);
  });
  await withSftpServer(async (s) => {
    assert.equal(await cp(s), refMode, 'the same mode as the reference gives the copy');
    assert.ok(s.audit.includes('uploaded /b.bin') && s.audit.includes('downloaded /a.bin'), s.audit.join('; '));
  });
});

test(
  'copy-data by hand: offsets, lengths past the end (OK within one 64 KiB chunk, EOF beyond), an offset past 2^53, the same file refused (sftp-server: the same answers and bytes)',
  TIMEOUT,
  async () => {
    const src = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz');
    const run = async (raw: RawSftp, root: string): Promise<unknown[]> => {
      writeFileSync(join(root, 'src.txt'), src);
      writeFileSync(join(root, 'dst.txt'), '..........');
      const r = await raw.openHandle('src.txt', FXF.READ);
      const w = await raw.openHandle('dst.txt', FXF.READ | FXF.WRITE);
      const copy = async (from: Buffer, off: bigint, len: bigint, to: Buffer, woff: bigint) =>
        describe(await raw.extended('copy-data', str(from), u64(off), u64(len), str(to), u64(woff)));
      const answers = [
        await copy(r, 10n, 5n, w, 2n),
        await copy(r, 30n, 100n, w, 20n),
        await copy(r, 30n, 200_000n, w, 30n),
        await copy(r, 0n, 0n, w, 40n),
        await copy(r, 1n << 60n, 0n, w, 0n),
        await copy(w, 0n, 0n, w, 3n),
      ];
      return [...answers.map((a) => a.split(' ')[1]), readFileSync(join(root, 'dst.txt'), 'latin1')];
    };
    const expected = await withRawReference(run);
    assert.deepEqual(
      expected.slice(0, 6),
      ['0', '0', '1', '0', '5', '4'],
      'the reference: OK, OK, EOF, OK, BAD_MESSAGE (lseek EINVAL), FAILURE',
    );
    await withSftpServer(async (s) => {
      const raw = await rawSftpLogin(s);
      try {
        assert.deepEqual(await run(raw, s.root), expected);
      } finally {
        raw.end();
      }
    });
  },
);

test(
  'copy-data under the access modes: read-only refuses it as a write (sftp-server -R: the same), upload-only refuses reading through it',
  TIMEOUT,
  async () => {
    const attempt = async (raw: RawSftp): Promise<number> => {
      const h = await raw.openHandle('a.txt', FXF.READ);
      return statusCode(await raw.extended('copy-data', str(h), u64(0n), u64(0n), str(h), u64(0n)));
    };
    const refStatus = await withRawReference(
      async (ro, root) => {
        writeFileSync(join(root, 'a.txt'), 'a');
        return attempt(ro);
      },
      ['-R'],
    );
    assert.equal(refStatus, 3, 'the reference refuses with PERMISSION_DENIED');
    await withSftpServer(async (s) => {
      writeFileSync(join(s.root, 'a.txt'), 'a');
      serve(s, undefined, 'read-only');
      const ro = await rawSftpLogin(s);
      try {
        assert.equal(await attempt(ro), refStatus);
      } finally {
        ro.end();
      }
      serve(s, undefined, 'upload-only');
      const up = await rawSftpLogin(s);
      try {
        const w = await up.openHandle('b.txt', FXF.WRITE | FXF.CREAT);
        const r = await up.extended('copy-data', str(w), u64(0n), u64(0n), str(w), u64(0n));
        assert.match(describe(r), /^STATUS 3 .*upload-only/);
      } finally {
        up.end();
      }
      const cp = await sftpBatch(s, ['-cp a.txt c.txt']);
      assert.match(cp.err, /Permission denied/, cp.err);
      assert.deepEqual(readdirSync(s.root).sort(), ['a.txt', 'b.txt'], 'no copy made');
    });
  },
);

/** The same small tree with fixed times in a root. */
function plantListing(root: string): void {
  writeFileSync(join(root, 'a.txt'), 'hello', { mode: 0o644 });
  mkdirSync(join(root, 'sub'), { mode: 0o755 });
  const t = new Date('2024-03-05T14:02:00Z');
  utimesSync(join(root, 'a.txt'), t, t);
  utimesSync(join(root, 'sub'), t, t);
}

test("OpenSSH sftp ls -l with users-groups-by-id: the names the filesystem gives, lines identical to sftp-server's", TIMEOUT, async () => {
  const list = async (t: SftpTarget): Promise<{ lines: string[]; err: string }> => {
    plantListing(rootOf(t));
    const r = await sftpBatch(t, ['ls -l']);
    assert.equal(r.code, 0, r.err);
    return { lines: r.out.split('\n').filter((l) => /\s(a\.txt|sub)$/.test(l)), err: r.err };
  };
  let expected: string[] = [];
  await withReference(async (ref) => {
    expected = (await list(ref)).lines;
  });
  assert.equal(expected.length, 2, expected.join('\n'));
  await withSftpServer(async (s) => {
    serve(s, passwdNames);
    const { lines, err } = await list(s);
    assert.deepEqual(lines, expected, 'the client builds the same lines from our attributes and names');
    assert.equal(err, '');
  });
  await withSftpServer(async (s) => {
    const asked: number[][] = [];
    serve(s, async (uids, gids) => {
      asked.push([...uids], [...gids]);
      return { users: uids.map(() => 'alice'), groups: gids.map(() => 'staff') };
    });
    const { lines, err } = await list(s);
    assert.ok(lines.length === 2 && lines.every((l) => /\balice\s+staff\b/.test(l)), lines.join('\n'));
    assert.ok(asked.length > 0, 'the client asked for the names');
    assert.equal(err, '');
  });
});

test(
  'users-groups-by-id by hand: names in order, "" for unknown ids (sftp-server: the same); a filesystem without it is not announced and answers OP_UNSUPPORTED',
  TIMEOUT,
  async () => {
    const ask = async (raw: RawSftp): Promise<[string[], string[]]> => {
      const r = await raw.extended(
        'users-groups-by-id@openssh.com',
        str(Buffer.concat([u32(0), u32(4242424), u32(0)])),
        str(Buffer.concat([u32(4242424), u32(0)])),
      );
      assert.equal(r.type, FXP.EXTENDED_REPLY, describe(r));
      const names = (b: Buffer): string[] => {
        const out: string[] = [];
        for (let i = 0; i < b.length;) {
          const n = b.readUInt32BE(i);
          out.push(b.subarray(i + 4, i + 4 + n).toString());
          i += 4 + n;
        }
        return out;
      };
      const body = new WireReader(r.body!);
      return [names(body.bytes()), names(body.bytes())];
    };
    const expected = await withRawReference(async (raw) => {
      assert.equal(raw.extensions.get('users-groups-by-id@openssh.com'), '1');
      return ask(raw);
    });
    assert.deepEqual(expected[0][1], '', 'the reference answers "" for an unknown uid');
    await withSftpServer(async (s) => {
      serve(s, passwdNames);
      const a = await rawSftpLogin(s);
      try {
        assert.equal(a.extensions.get('users-groups-by-id@openssh.com'), '1');
        assert.deepEqual(await ask(a), expected);
        const bad = await a.extended('users-groups-by-id@openssh.com', str(Buffer.alloc(5)), str(''));
        assert.equal(statusCode(bad), 5, 'a list that is not whole uint32s is BAD_MESSAGE (sftp-server disconnects)');
      } finally {
        a.end();
      }
      serve(s, undefined);
      const b = await rawSftpLogin(s);
      try {
        assert.equal(b.extensions.has('users-groups-by-id@openssh.com'), false, 'not announced without usersGroupsById');
        assert.ok(b.extensions.has('copy-data') && b.extensions.has('home-directory'));
        const r = await b.extended('users-groups-by-id@openssh.com', str(u32(0)), str(''));
        assert.equal(statusCode(r), 8, 'OP_UNSUPPORTED');
      } finally {
        b.end();
      }
    });
  },
);

test(
  'home-directory by hand: "" and the logged-in user are the root "/", another user FAILURE (sftp-server: FAILURE too)',
  TIMEOUT,
  async () => {
    const home = async (raw: RawSftp, user: string) => raw.extended('home-directory', str(user));
    const refUnknown = await withRawReference(async (raw) => {
      // sftp-server 9.2 answers FAILURE for "" (fixed in 9.8: "" is the logged-in user, as here).
      assert.equal((await home(raw, userInfo().username)).type, FXP.NAME, "the reference names its user's home");
      return statusCode(await home(raw, 'no-such-user-xyz'));
    });
    assert.equal(refUnknown, 4);
    await withSftpServer(async (s) => {
      const raw = await rawSftpLogin(s);
      try {
        for (const user of ['', SFTP_USER]) {
          const r = await home(raw, user);
          assert.equal(r.type, FXP.NAME, describe(r));
          assert.equal(r.names?.length, 1);
          assert.equal(r.names![0].filename.toString(), '/');
        }
        assert.equal(statusCode(await home(raw, 'no-such-user-xyz')), refUnknown);
      } finally {
        raw.end();
      }
    });
  },
);
