/**
 * SFTPSession alone, with a transport stub: the requests it keeps (queued behind a slow one, or
 * running) are bounded in bytes, not only in number. Before, 256 WRITEs of 256 KiB queued behind
 * one slow STAT held 64 MiB per channel (651 MiB over 10 channels in an adversarial review).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { LocalFileSystem, SFTPSession, type SFTPAttributes, type SFTPFileSystem } from '../src';
import { withUnhandledWatch } from './fixtures/unhandled';
import { packet, str, u32 } from './fixtures/rawSftp';

test('a slow request holds the client window once 4 MiB of requests wait behind it, not after 256 requests', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sftp-bounds-'));
  try {
    const local = new LocalFileSystem(dir);
    let release!: () => void;
    const stalled = new Promise<void>((r) => (release = r));
    // A filesystem whose stat waits (a slow database, a stalled network mount).
    const fs: SFTPFileSystem = Object.assign(Object.create(local) as SFTPFileSystem, {
      stat: async (p: string): Promise<SFTPAttributes> => {
        await stalled;
        return local.stat(p);
      },
    });
    const holds: boolean[] = [];
    const replies: Buffer[] = [];
    const session = new SFTPSession(
      { fileSystem: fs },
      { send: async (p) => void replies.push(p), holdInput: (h) => void holds.push(h), close: () => undefined },
    );
    session.data(packet(1, u32(3)));
    session.data(packet(3, u32(1), str('/f'), u32(0x1a), u32(0))); // OPEN write|creat|trunc
    await new Promise((r) => setTimeout(r, 200));
    const handle = replies
      .map((r) => r)
      .find((r) => r[4] === 102)!
      .subarray(13);
    session.data(packet(17, u32(2), str('/f'))); // STAT: waits, and everything waits behind it
    const chunk = Buffer.alloc(255 * 1024, 7);
    let sent = 0;
    for (let i = 0; i < 200 && holds[holds.length - 1] !== true; i++) {
      session.data(packet(6, u32(10 + i), str(handle), Buffer.alloc(8), str(chunk)));
      sent += chunk.length;
    }
    assert.equal(holds[holds.length - 1], true, 'the window is held');
    assert.ok(sent <= 5 * 1024 * 1024, `held after ${(sent / 1024 / 1024).toFixed(1)} MiB of queued WRITEs`);
    release();
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(holds[holds.length - 1], false, 'released once the queue drained');
    session.shutdown();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('audit listeners that throw (opened, failed, ended) break nothing: every request is answered, each throw is reported, no unhandled rejection', () =>
  withUnhandledWatch(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sftp-listeners-'));
    try {
      const replies: Buffer[] = [];
      const reported: string[] = [];
      const session = new SFTPSession(
        { fileSystem: new LocalFileSystem(dir) },
        {
          send: async (p) => void replies.push(p),
          holdInput: () => undefined,
          close: () => undefined,
          listenerFailed: (event) => void reported.push(event),
        },
      );
      for (const event of ['opened', 'failed', 'ended'] as const) {
        session.on(event, () => {
          throw new Error(`${event} listener broke`);
        });
      }
      const ended = new Promise<void>((resolve) => session.on('ended', () => resolve()));
      session.data(packet(1, u32(3)));
      session.data(packet(3, u32(1), str('/new'), u32(0x1a), u32(0))); // OPEN: 'opened' throws
      session.data(packet(17, u32(2), str('/missing'))); // STAT of nothing: 'failed' throws
      for (let i = 0; i < 100 && replies.length < 3; i++) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(
        replies.map((r) => r[4]),
        [2, 102, 101],
        'VERSION, HANDLE, STATUS: both requests answered',
      );
      session.shutdown();
      await ended;
      assert.deepEqual(reported, ['opened', 'failed', 'ended']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }));
