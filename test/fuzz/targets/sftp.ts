/**
 * SFTP requests (src/sftp/SFTPSession.ts) served by a LocalFileSystem jailed to a fresh temporary
 * tree per input, through a transport stub. The input (after the mode byte) is what a client
 * writes on the channel; seeds are real OpenSSH sftp sessions (test/fuzz/seeds/captureSftp.sh).
 * Contract:
 * - every reply is a Buffer framed as one SFTP v3 packet of a server type; VERSION answers INIT;
 *   then exactly one reply per request, in request order, carrying its id; status codes 0..8;
 *   a malformed stream closes the channel instead;
 * - the jail: nothing outside the root is created, changed, removed, or read (its secret never
 *   appears in a reply, its file names never listed);
 * - never hangs (Jazzer's per-input timeout), and when the session ends every handle is closed and
 *   the process holds no more file descriptors than before;
 * - file names: decodeFileName/encodeFileName (src/sftp/fileNames.ts) are one-to-one on the input's
 *   bytes, whatever they are (PEP 383 surrogate escapes for bytes that are not UTF-8).
 * Mode byte: bits 0-1 access (read-write, read-only, upload-only), bits 2-3 how the bytes arrive
 * (whole, one byte at a time for the first 64, in pieces of 1..7), bit 4 a limit of 3 handles.
 */
import { randomBytes } from 'node:crypto';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeFileName, encodeFileName } from '../../../src/sftp/fileNames';
import { LocalFileSystem } from '../../../src/sftp/LocalFileSystem';
import { type SFTPAccess, SFTPSession } from '../../../src/sftp/SFTPSession';
import { check } from './contract';
import { sftpPackets } from '../../fixtures/rawSftp';

const BASE = mkdtempSync(join(tmpdir(), 'fuzz-sftp-'));
const OUTSIDE = join(BASE, 'outside');
const SECRET = randomBytes(24).toString('hex');
const CANARY = `canary-${SECRET.slice(0, 12)}`;
mkdirSync(join(OUTSIDE, 'dir'), { recursive: true });
writeFileSync(join(OUTSIDE, CANARY), SECRET, { mode: 0o600 });
writeFileSync(join(OUTSIDE, 'dir', 'x'), SECRET, { mode: 0o644 });
process.on('exit', () => rmSync(BASE, { recursive: true, force: true }));

const REPLY_TYPES = new Set([2, 101, 102, 103, 104, 105, 201]);
const ACCESS: SFTPAccess[] = ['read-write', 'read-only', 'upload-only', 'read-write'];

function snapshot(dir: string): string {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const s = lstatSync(p);
      out.push(`${p} ${s.mode} ${s.size} ${s.uid}:${s.gid} ${s.mtimeMs} ${s.nlink}`);
      if (s.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out.join('\n') + readFileSync(join(OUTSIDE, CANARY), 'latin1');
}
const OUTSIDE_BEFORE = snapshot(OUTSIDE);

/**
 * A fresh root per input (requests still running when a session ends may finish afterwards, so an
 * old root is removed only later): a.txt, d/b.bin, d/e/, a link inside and one planted outside.
 */
let inputs = 0;
const oldRoots: string[] = [];
function freshRoot(): string {
  for (const old of oldRoots.splice(0, oldRoots.length - 4)) rmSync(old, { recursive: true, force: true, maxRetries: 3 });
  const root = join(BASE, `root${inputs++}`);
  oldRoots.push(root);
  mkdirSync(join(root, 'd', 'e'), { recursive: true });
  writeFileSync(join(root, 'a.txt'), 'hello\n');
  writeFileSync(join(root, 'd', 'b.bin'), randomBytes(300));
  symlinkSync('a.txt', join(root, 'in'));
  symlinkSync('../outside', join(root, 'out')); // planted by a local user: never to be followed
  return root;
}

const fdCount = () => readdirSync('/proc/self/fd').length;

/** The requests in a byte stream, as the session frames them: [type, id] per packet, and whether the framing broke. */
function requests(stream: Buffer): { packets: Array<[number, number]>; broken: boolean } {
  const packets: Array<[number, number]> = [];
  let at = 0;
  while (stream.length - at >= 4) {
    const length = stream.readUInt32BE(at);
    if (length < 1 || length > 256 * 1024 + 1024) return { packets, broken: true };
    if (stream.length - at < 4 + length) break;
    const type = stream[at + 4];
    if (packets.length === 0 && type !== 1) return { packets, broken: true };
    if (packets.length > 0 && length < 5) return { packets, broken: true };
    packets.push([type, packets.length === 0 ? -1 : stream.readUInt32BE(at + 5)]);
    at += 4 + length;
  }
  return { packets, broken: false };
}

export async function fuzz(data: Buffer): Promise<void> {
  const mode = data.length ? data[0] : 0;
  const stream = data.subarray(1);
  const name = decodeFileName(stream);
  check(
    encodeFileName(name).equals(stream) && decodeFileName(encodeFileName(name)) === name,
    'decodeFileName/encodeFileName are not one-to-one on these bytes',
  );
  const root = freshRoot();
  const fdsBefore = fdCount();
  const replies: Buffer[] = [];
  let closed = false;
  let wake: () => void = () => undefined;
  const session = new SFTPSession(
    { fileSystem: new LocalFileSystem(root), access: ACCESS[mode & 3], maxHandles: mode & 0x10 ? 3 : 256 },
    {
      send: async (packet) => {
        check(Buffer.isBuffer(packet), () => `the session sent a ${typeof packet} (${String(packet).slice(0, 60)}), not a Buffer`);
        check(!closed, 'a reply after the channel was closed');
        // Small replies of one turn come as one send (replyBatch.ts): each send must be whole packets.
        let packets: Buffer[] = [];
        try {
          packets = sftpPackets(Buffer.from(packet));
        } catch (err) {
          check(false, (err as Error).message);
        }
        replies.push(...packets);
        wake();
      },
      holdInput: () => undefined,
      close: () => {
        closed = true;
        wake();
      },
    },
  );
  const ended = new Promise<void>((resolve) => session.once('ended', resolve));
  const { packets, broken } = requests(stream);
  // Feed the stream as a channel would.
  const how = (mode >> 2) & 3;
  if (how === 1) {
    for (let i = 0; i < Math.min(stream.length, 64); i++) session.data(stream.subarray(i, i + 1));
    if (stream.length > 64) session.data(stream.subarray(64));
  } else if (how === 2) {
    for (let i = 0, step = 1; i < stream.length; i += step, step = (step % 7) + 1) session.data(stream.subarray(i, i + step));
  } else {
    session.data(stream);
  }
  // Every framed request answered (or the channel closed), then the client's EOF.
  while (!closed && replies.length < packets.length) await new Promise<void>((resolve) => (wake = resolve));
  session.end();
  await ended;

  if (broken) check(closed, 'a malformed packet stream did not close the channel');
  else check(replies.length === packets.length, () => `${packets.length} packets, ${replies.length} replies`);
  for (const [i, reply] of replies.entries()) {
    check(reply.length >= 5 && reply.readUInt32BE(0) === reply.length - 4, `reply ${i} is not framed`);
    check(REPLY_TYPES.has(reply[4]), `reply ${i} has type ${reply[4]}`);
    if (i === 0) {
      check(reply[4] === 2, 'the first reply is not VERSION');
      continue;
    }
    check(
      reply.length >= 9 && reply.readUInt32BE(5) === packets[i][1] >>> 0,
      () => `reply ${i} carries id ${reply.readUInt32BE(5)}, request ${i} had ${packets[i][1]}`,
    );
    if (reply[4] === 101) check(reply.readUInt32BE(9) <= 8, `status code ${reply.readUInt32BE(9)}`);
    check(
      !reply.includes(SECRET.slice(0, 16)) && !reply.includes(CANARY),
      () => `reply ${i} (type ${reply[4]}) holds data from outside the root`,
    );
  }
  check(session.openHandles === 0, `${session.openHandles} handles open after the session ended`);
  check(snapshot(OUTSIDE) === OUTSIDE_BEFORE, 'something outside the root changed');
  // Closing is asynchronous in LocalFileSystem (the jail's walk descriptors close on the thread
  // pool): wait for them up to a second before calling one leaked.
  for (let waited = 0; fdCount() > fdsBefore && waited < 1000; waited += 10) await new Promise((resolve) => setTimeout(resolve, 10));
  check(fdCount() <= fdsBefore, () => `${fdCount() - fdsBefore} file descriptors leaked`);
}
