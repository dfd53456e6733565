/**
 * uint64 offsets and sizes the filesystem interface cannot carry exactly (>= 2^53), sent as
 * hand-made packets: never rounded and applied elsewhere (a WRITE at 2^53 used to land at offset 0
 * and answer OK). The statuses are OpenSSH sftp-server's on the same requests, on Linux.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { describe, FXF, FXP, type RawSftp, type Reply, str, u32, u64 } from './fixtures/rawSftp';
import { withRawReference } from './fixtures/sftpReference';
import { TIMEOUT } from './fixtures/sftpClients';
import { rawSftpLogin, withSftpServer } from './fixtures/sftpServer';

const ATTR_SIZE = 1;
const OFFSETS = [1n << 53n, (1n << 53n) + 1n, 1n << 60n, (1n << 63n) - 1n, 1n << 63n, (1n << 64n) - 1n];

/** Every request at every offset: the answers (STATUS code, or the reply type) and the file afterwards. */
async function probe(raw: RawSftp, root: string): Promise<{ answers: string[]; file: string }> {
  writeFileSync(join(root, 'f.txt'), 'hello');
  const h = await raw.openHandle('f.txt', FXF.READ | FXF.WRITE);
  const a = await raw.openHandle('f.txt', FXF.WRITE | FXF.APPEND);
  const answers: string[] = [];
  const code = (reply: Reply) => describe(reply).split(' ').slice(0, 2).join(' ');
  for (const off of OFFSETS) {
    const line = [
      `READ ${code(await raw.read(h, off, 10))}`,
      `WRITE ${code(await raw.write(h, off, 'x'))}`,
      `append WRITE ${code(await raw.write(a, off, 'y'))}`,
      `FSETSTAT size ${code(await raw.request(FXP.FSETSTAT, str(h), u32(ATTR_SIZE), u64(off)))}`,
      `SETSTAT size ${code(await raw.request(FXP.SETSTAT, str('f.txt'), u32(ATTR_SIZE), u64(off)))}`,
      `OPEN size ${code(await raw.request(FXP.OPEN, str('g.txt'), u32(FXF.WRITE | FXF.CREAT), u32(ATTR_SIZE), u64(off)))}`,
    ];
    answers.push(`${off}: ${line.join(', ')}`);
  }
  return { answers, file: readFileSync(join(root, 'f.txt'), 'latin1') };
}

test(
  "READ, WRITE, FSETSTAT/SETSTAT size and OPEN attrs at offsets from 2^53 to 2^64-1: the answers and the file are sftp-server's (nothing lands at a rounded offset)",
  TIMEOUT,
  async () => {
    const expected = await withRawReference(probe);
    assert.equal(expected.file, 'hello' + 'y'.repeat(OFFSETS.length), 'the reference: only the append writes landed, at the end');
    await withSftpServer(async (s) => {
      const raw = await rawSftpLogin(s);
      try {
        assert.deepEqual(await probe(raw, s.root), expected);
      } finally {
        raw.end();
      }
    });
  },
);
