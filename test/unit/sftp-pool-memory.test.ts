// What a client can make the SFTP framing hold, against the bytes it sent. The pools
// (src/sftp/framing.ts) hand out fixed-size buffers (33 KiB small, 257 KiB large); a packet that
// takes one holds the whole buffer until its request finishes. A hostile client that fills its
// window (2 MiB) with 9-byte requests must not make the server hold a 33 KiB buffer for each
// (233,000 of them: 7.7 GB), and packets just over the small size must not each hold 257 KiB.
// Nor may the requests of that window, queued behind one that does not finish, cost many times
// their bytes as parsed requests.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { SFTPFileSystem } from '../../src/sftp/FileSystem';
import { LocalFileSystem } from '../../src/sftp/LocalFileSystem';
import { SFTPFraming, SMALL_PACKET } from '../../src/sftp/framing';
import { SFTPSession, type SFTPTransport } from '../../src/sftp/SFTPSession';
import { MAX_PACKET } from '../../src/sftp/protocol';

/** An SFTP packet: uint32 length, type, uint32 id, body. */
function sftpPacket(type: number, id: number, body: Buffer = Buffer.alloc(0)): Buffer {
  const out = Buffer.alloc(4 + 1 + 4 + body.length);
  out.writeUInt32BE(1 + 4 + body.length, 0);
  out[4] = type;
  out.writeUInt32BE(id, 5);
  body.copy(out, 9);
  return out;
}

/** Bytes a framed packet keeps alive: its pool buffer, or its own length. */
function held(result: { packet: Buffer; pooled: Buffer | undefined }): number {
  return result.pooled ? result.pooled.length : result.packet.length;
}

test('tiny requests do not each hold a 33 KiB pool buffer (session with LocalFileSystem)', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'sftp-pool-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const transport: SFTPTransport = {
    send: () => new Promise<void>(() => undefined), // the client never takes a reply
    holdInput: () => undefined,
    close: () => undefined,
  };
  const session = new SFTPSession({ fileSystem: new LocalFileSystem(root) }, transport);
  t.after(() => session.shutdown());
  const init = Buffer.alloc(9);
  init.writeUInt32BE(5, 0);
  init[4] = 1; // INIT
  init.writeUInt32BE(3, 5);
  session.data(init);
  // 16 KiB of channel data: 1,820 requests of a type nobody knows (each answered OP_UNSUPPORTED).
  const count = 1820;
  const chunk = Buffer.concat(Array.from({ length: count }, (_, i) => sftpPacket(200, i)));
  const before = process.memoryUsage().arrayBuffers;
  session.data(chunk);
  // Measured before any request could finish (data() is synchronous): what the requests hold.
  const grown = process.memoryUsage().arrayBuffers - before;
  assert.ok(
    grown < 4 * 1024 * 1024,
    `${chunk.length} bytes of requests made the session hold ${grown} bytes of buffers (${Math.round(grown / chunk.length)}x)`,
  );
});

test('framing: what packets hold is at most twice their bytes, whatever their size (pooling)', () => {
  const framing = new SFTPFraming(MAX_PACKET + 1024, true);
  const sizes = [9, 100, 4096, SMALL_PACKET / 2 - 10, SMALL_PACKET + 100, 64 * 1024, 100 * 1024];
  for (const size of sizes) {
    const packet = sftpPacket(6, 1, Buffer.alloc(size - 9, 0x41));
    // In 32 KiB pieces, as a client's channel data arrives (OpenSSH's packet size).
    for (let at = 0; at < packet.length; at += 32 * 1024) framing.push(packet.subarray(at, at + 32 * 1024));
    const result = framing.next();
    assert.ok(result && 'packet' in result, `a packet of ${size} bytes is framed`);
    assert.equal(result.packet.length, size - 4);
    assert.ok(held(result) <= 2 * result.packet.length + 64, `a ${size}-byte packet holds ${held(result)} bytes`);
    if (result.pooled) framing.release(result.pooled);
  }
});

test('a window of tiny requests behind a slow one is held as its bytes, not as 233,000 parsed requests', async (t) => {
  // Node's collector, so what is measured is what the session holds, not garbage.
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  let stats = 0;
  const never = new Promise<never>(() => undefined);
  const fs = {
    stat: () => {
      stats++;
      return never; // the first STAT never finishes: everything behind it waits
    },
  } as unknown as SFTPFileSystem;
  const transport: SFTPTransport = { send: () => Promise.resolve(), holdInput: () => undefined, close: () => undefined };
  const session = new SFTPSession({ fileSystem: fs }, transport);
  t.after(() => session.shutdown());
  session.data(Buffer.from([0, 0, 0, 5, 1, 0, 0, 0, 3])); // INIT
  const path = Buffer.from('/x');
  const statBody = Buffer.alloc(4 + path.length);
  statBody.writeUInt32BE(path.length, 0);
  path.copy(statBody, 4);
  session.data(sftpPacket(17, 0, statBody)); // STAT, held
  assert.equal(stats, 1);
  gc();
  const before = process.memoryUsage();
  // The client's whole window (2 MiB, ChannelState LOCAL_WINDOW) in 32 KiB channel packets of
  // 9-byte requests, one socket read at a time (the event loop turns in between).
  const window = 2 * 1024 * 1024;
  const perChunk = Math.floor((32 * 1024) / 9);
  let id = 1;
  for (let sent = 0; sent < window; sent += perChunk * 9) {
    session.data(Buffer.concat(Array.from({ length: perChunk }, () => sftpPacket(200, id++))));
    await new Promise((resolve) => setImmediate(resolve));
  }
  gc();
  const after = process.memoryUsage();
  const grown = after.heapUsed - before.heapUsed + (after.arrayBuffers - before.arrayBuffers);
  assert.ok(
    grown < 4 * window,
    `${window} bytes of queued requests made the session hold ${grown} bytes (${(grown / window).toFixed(1)}x)`,
  );
});

test('a long packet sent a byte per channel packet is held as its bytes, not as one object per byte', () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  for (const pooling of [false, true]) {
    const framing = new SFTPFraming(MAX_PACKET + 1024, pooling);
    const length = 200 * 1024;
    const header = Buffer.alloc(4);
    header.writeUInt32BE(length, 0);
    framing.push(header);
    const byte = Buffer.from([0x41]);
    gc();
    const before = process.memoryUsage();
    // Never completed: a client can leave it there as long as the channel is open.
    for (let i = 0; i < length - 1; i++) framing.push(byte);
    gc();
    const after = process.memoryUsage();
    const grown = after.heapUsed - before.heapUsed + (after.arrayBuffers - before.arrayBuffers);
    assert.ok(
      grown < 4 * length,
      `pooling ${pooling}: ${length - 1} bytes of a packet held ${grown} bytes (${(grown / length).toFixed(1)}x)`,
    );
    assert.equal(framing.next(), undefined);
    framing.push(byte);
    const done = framing.next();
    assert.ok(done && 'packet' in done && done.packet.length === length && done.packet.every((b) => b === 0x41));
  }
});
