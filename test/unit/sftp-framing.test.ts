// SFTP framing and reply batching alone (no session, no channel). Framing: packets come out whole
// and in order from any chunking; every packet is a copy and no chunk is referenced after push(); pool
// buffers are reused only after release and never handed out twice at once; without pooling (a file
// system of your own) no packet lives in a reused buffer; bad lengths are reported. Batching: small
// replies of one turn of the event loop leave as one send, in order; a large reply sends the batch
// ahead of it; a full batch goes at once; a dropped batch sends nothing. The session with a file
// system that keeps WRITE data: what it kept stays intact (no pooling for it). Real clients:
// sftp-openssh (64 MiB up with checksums through the pool), sftp-ordering.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BufferPool, SFTPFraming, SMALL_PACKET } from '../../src/sftp/framing';
import { BATCH_LIMIT, ReplyBatch, SMALL_REPLY } from '../../src/sftp/replyBatch';

/** uint32 length + body. */
function framed(body: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length);
  return Buffer.concat([head, body]);
}

/** A deterministic generator (so a failure replays). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
}

function bodies(random: () => number): Buffer[] {
  const sizes = [1, 5, 13, 100, 32 * 1024 + 30, 4096, 33 * 1024, 40 * 1024, 2];
  return sizes.map((n, i) => Buffer.from(Array.from({ length: n }, (_, j) => (i * 31 + j + Math.floor(random() * 7)) & 0xff)));
}

test('framing: every chunking gives the same packets, in order, whole', () => {
  for (let seed = 1; seed <= 40; seed++) {
    const random = rng(seed);
    const want = bodies(random);
    const stream = Buffer.concat(want.map(framed));
    const framing = new SFTPFraming(256 * 1024, seed % 2 === 0);
    const got: Buffer[] = [];
    for (let at = 0; at < stream.length;) {
      // Chunks of 1 byte up to 70 KiB, as SSH packets and socket reads cut them.
      const n = Math.min(stream.length - at, seed % 5 === 0 ? 1 + Math.floor(random() * 3) : 1 + Math.floor(random() * 70 * 1024));
      framing.push(stream.subarray(at, at + n));
      at += n;
      for (let next = framing.next(); next; next = framing.next()) {
        assert.ok(!('tooLong' in next));
        got.push(Buffer.from(next.packet)); // copied: a pooled buffer is reused once released
        if (next.pooled) framing.release(next.pooled);
      }
    }
    assert.equal(got.length, want.length, `seed ${seed}`);
    for (const [i, body] of want.entries()) assert.ok(got[i].equals(body), `seed ${seed}, packet ${i}`);
  }
});

test('framing: every packet is a copy (pooled only when allowed); overwriting a chunk after push() changes nothing', () => {
  for (const size of [100, 32 * 1024 + 30, 200 * 1024]) {
    const body = Buffer.alloc(size, 7);
    for (const pooling of [true, false]) {
      for (const cut of [0, 1000, 2, 4 + body.length - 1]) {
        // The connection may read into one reused buffer: each chunk is overwritten once pushed.
        const stream = framed(body);
        const framing = new SFTPFraming(256 * 1024, pooling);
        const pieces = cut === 0 ? [stream] : [stream.subarray(0, cut), stream.subarray(cut)];
        for (const piece of pieces) {
          framing.push(piece);
          piece.fill(0xee);
        }
        const got = framing.next();
        assert.ok(got && 'packet' in got, `size ${size}, cut ${cut}`);
        assert.ok(got.packet.equals(body), `size ${size}, pooling ${pooling}, cut ${cut}: the packet as sent`);
        // Pooled only when a pool buffer is at most twice the packet (framing.ts): not the 100-byte one.
        const poolSize = size <= SMALL_PACKET ? SMALL_PACKET : 256 * 1024;
        assert.equal(got.pooled !== undefined, pooling && size >= poolSize / 2, `size ${size}, pooling ${pooling}, cut ${cut}`);
        if (got.pooled) assert.equal(got.pooled.length, size <= SMALL_PACKET ? SMALL_PACKET : 256 * 1024);
        if (got.pooled) framing.release(got.pooled);
      }
    }
  }
});

test('framing: a pool buffer is never handed out twice at once, and the one released is the one reused', () => {
  const framing = new SFTPFraming(256 * 1024, true);
  const split = (fill: number, size: number) => {
    const s = framed(Buffer.alloc(size, fill));
    framing.push(s.subarray(0, 10));
    framing.push(s.subarray(10));
    const r = framing.next();
    assert.ok(r && 'packet' in r && r.pooled);
    return r;
  };
  for (const size of [20 * 1024, 200 * 1024]) {
    const held = Array.from({ length: 5 }, (_, i) => split(i + 1, size));
    assert.equal(new Set(held.map((r) => r.pooled)).size, 5, `five outstanding ${size}-byte packets, five buffers`);
    for (const [i, r] of held.entries()) assert.ok(r.packet.equals(Buffer.alloc(size, i + 1)), 'none overwritten by a later packet');
    framing.release(held[2].pooled!);
    const again = split(9, size);
    assert.equal(again.pooled, held[2].pooled, 'the released buffer is the one reused');
    for (const r of [...held.slice(0, 2), ...held.slice(3), again]) framing.release(r.pooled!);
  }
});

test('framing: a length header alone never allocates a large buffer; the pools keep a bounded number of free buffers', () => {
  // A fresh maximum size: its large pool starts empty.
  const framing = new SFTPFraming(250 * 1024, true);
  const header = Buffer.alloc(4);
  header.writeUInt32BE(200 * 1024);
  const kept: SFTPFraming[] = [];
  const before = process.memoryUsage().arrayBuffers;
  for (let i = 0; i < 200; i++) {
    const f = new SFTPFraming(250 * 1024, true);
    f.push(header);
    kept.push(f);
  }
  const grown = process.memoryUsage().arrayBuffers - before;
  assert.ok(
    grown < 200 * 100 * 1024,
    `200 headers of 200 KiB packets held ${grown} bytes (a whole buffer each would be ${200 * 200 * 1024})`,
  );
  assert.equal(framing.next(), undefined);

  const pool = new BufferPool(1000, 5000);
  const buffers = Array.from({ length: 8 }, () => pool.get());
  for (const b of buffers) pool.give(b);
  assert.equal(pool.freeBytes, 5000, 'five of eight kept');
  pool.give(Buffer.alloc(999));
  assert.equal(pool.freeBytes, 5000, 'a buffer of another size is not taken');
  const taken = new Set(Array.from({ length: 5 }, () => pool.take()));
  assert.ok(buffers.slice(0, 5).every((b) => taken.has(b)));
  assert.equal(pool.take(), undefined);
});

test('framing: lengths of 0 and above the maximum are reported, also when the length itself is split', () => {
  const zero = new SFTPFraming(1000, true);
  zero.push(Buffer.from([0, 0]));
  assert.equal(zero.next(), undefined);
  zero.push(Buffer.from([0, 0, 9]));
  assert.deepEqual(zero.next(), { tooLong: 0 });
  const long = new SFTPFraming(1000, true);
  long.push(Buffer.from([0, 0, 0x03, 0xe9]));
  assert.deepEqual(long.next(), { tooLong: 1001 });
  const ok = new SFTPFraming(1000, true);
  ok.push(Buffer.from([0, 0, 0x03]));
  ok.push(Buffer.from([0xe8]));
  assert.equal(ok.next(), undefined, 'length 1000 is allowed; the body has not arrived');
});

/** Resolves after the current turn's setImmediate callbacks. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

test('reply batch: small replies of one turn leave as one send, in order, at the end of the turn', async () => {
  const sent: Buffer[] = [];
  const batch = new ReplyBatch((b) => sent.push(Buffer.from(b)));
  const replies = Array.from({ length: 20 }, (_, i) => Buffer.alloc(28, i));
  for (const r of replies) batch.send(r);
  assert.equal(sent.length, 0, 'nothing before the end of the turn');
  assert.equal(batch.pending, 20 * 28);
  await nextTurn();
  assert.equal(sent.length, 1);
  assert.ok(sent[0].equals(Buffer.concat(replies)));
  assert.equal(batch.pending, 0);
});

test('reply batch: a large reply sends the batch ahead of it; a full batch goes at once; drop sends nothing', async () => {
  const sent: Buffer[] = [];
  const batch = new ReplyBatch((b) => sent.push(Buffer.from(b)));
  batch.send(Buffer.from('a'));
  batch.send(Buffer.from('b'));
  batch.send(Buffer.alloc(SMALL_REPLY + 1, 0x63));
  assert.deepEqual(
    sent.map((b) => b.length),
    [2, SMALL_REPLY + 1],
    'order kept: the batch, then the large reply, at once',
  );
  assert.equal(sent[0].toString(), 'ab');

  sent.length = 0;
  const n = Math.floor(BATCH_LIMIT / SMALL_REPLY);
  for (let i = 0; i <= n; i++) batch.send(Buffer.alloc(SMALL_REPLY, i));
  assert.equal(sent.length, 1, 'the batch went when the next reply would pass the limit');
  assert.equal(sent[0].length, n * SMALL_REPLY);
  await nextTurn();
  assert.equal(sent.length, 2);
  assert.equal(sent[1].length, SMALL_REPLY);

  sent.length = 0;
  batch.send(Buffer.from('lost'));
  batch.drop();
  await nextTurn();
  assert.equal(sent.length, 0);
  assert.equal(batch.pending, 0);
});
