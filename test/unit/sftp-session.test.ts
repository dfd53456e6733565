// SFTPSession alone: a fake transport (replies go straight back to a RawSftp client, no channel,
// no socket) and an in-memory SFTPFileSystem whose reads and writes can be held open, so what runs
// when is the test's. What it proves, each in milliseconds: INIT/VERSION and the extensions
// announced; the dispatch table (each request type reaches its filesystem call, replies carry the
// request id, unknown types and extensions are OP_UNSUPPORTED, 'constructor' is not an extension);
// access modes refuse before the filesystem is touched; replies leave in request order whatever
// order requests finish in; per-handle ordering (overlapping WRITEs and appends to one file run one
// at a time in arrival order, disjoint ones overlap, any other request is a barrier); framing from
// any chunking, and a broken stream closes the channel; handle limits; EOF drops queued requests,
// lets running ones finish and closes every handle. Real clients: sftp-ordering, sftp-openssh,
// sftp-limits, sftp-session-bounds.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SFTPAttributes, SFTPDirHandle, SFTPFileHandle, SFTPFileSystem, SFTPOpenFlags } from '../../src/sftp/FileSystem';
import { SFTPError, SFTPStatus } from '../../src/sftp/FileSystem';
import { type SFTPAccess, SFTPSession, type SFTPSessionOptions, type SFTPTransport } from '../../src/sftp/SFTPSession';
import { FXF, FXP, packet, RawSftp, str, u32 } from '../fixtures/rawSftp';

/** One filesystem call waiting to be let through. */
interface Held {
  what: string;
  release: () => void;
}

/** Files in a Map; every handle read/write is logged when it starts and can be held until released. */
class MemoryFs implements SFTPFileSystem {
  readonly files = new Map<string, Buffer>([['/a', Buffer.from('hello world')]]);
  readonly dirs = new Set<string>(['/', '/d']);
  /** Calls in the order they started. */
  readonly log: string[] = [];
  /** When true, handle reads and writes wait in `held` until released. */
  hold = false;
  readonly held: Held[] = [];
  openHandles = 0;

  private async gate(what: string): Promise<void> {
    this.log.push(what);
    if (!this.hold) return;
    await new Promise<void>((release) => this.held.push({ what, release }));
  }

  /** Releases the held call named `what`. */
  release(what: string): void {
    const i = this.held.findIndex((h) => h.what === what);
    assert.ok(i >= 0, `${what} is not held (held: ${this.held.map((h) => h.what).join(', ')})`);
    this.held.splice(i, 1)[0].release();
  }

  async open(path: string, flags: SFTPOpenFlags): Promise<SFTPFileHandle> {
    this.log.push(`open ${path}`);
    if (!this.files.has(path)) {
      if (!flags.create) throw new SFTPError(SFTPStatus.NO_SUCH_FILE, 'No such file');
      this.files.set(path, Buffer.alloc(0));
    }
    if (flags.truncate) this.files.set(path, Buffer.alloc(0));
    this.openHandles++;
    const fs = this;
    return {
      async read(position, length) {
        await fs.gate(`read ${path} ${position}`);
        return fs.files.get(path)!.subarray(position, position + length);
      },
      async write(position, data) {
        const at = flags.append ? fs.files.get(path)!.length : position;
        await fs.gate(`write ${path} ${flags.append ? 'append' : position}`);
        const old = fs.files.get(path)!;
        const next = Buffer.alloc(Math.max(old.length, at + data.length));
        old.copy(next);
        data.copy(next, at);
        fs.files.set(path, next);
      },
      async stat() {
        return { size: fs.files.get(path)!.length, mode: 0o100644 };
      },
      async setstat() {},
      async sync() {},
      async close() {
        fs.openHandles--;
        fs.log.push(`close ${path}`);
      },
    };
  }
  async opendir(path: string): Promise<SFTPDirHandle> {
    if (!this.dirs.has(path)) throw new SFTPError(SFTPStatus.NO_SUCH_FILE, 'No such file');
    this.openHandles++;
    let done = false;
    return {
      next: async () => {
        if (done) return undefined;
        done = true;
        return [...this.files.keys()].map((f) => ({ filename: f.slice(1), attrs: { size: this.files.get(f)!.length } }));
      },
      close: async () => void this.openHandles--,
    };
  }
  async stat(path: string): Promise<SFTPAttributes> {
    await this.gate(`stat ${path}`);
    if (this.dirs.has(path)) return { mode: 0o040755 };
    const f = this.files.get(path);
    if (!f) throw new SFTPError(SFTPStatus.NO_SUCH_FILE, 'No such file');
    return { size: f.length, mode: 0o100644 };
  }
  lstat(path: string): Promise<SFTPAttributes> {
    return this.stat(path);
  }
  async setstat(path: string): Promise<void> {
    this.log.push(`setstat ${path}`);
  }
  async remove(path: string): Promise<void> {
    this.log.push(`remove ${path}`);
    if (!this.files.delete(path)) throw new SFTPError(SFTPStatus.NO_SUCH_FILE, 'No such file');
  }
  async mkdir(path: string): Promise<void> {
    this.log.push(`mkdir ${path}`);
    this.dirs.add(path);
  }
  async rmdir(path: string): Promise<void> {
    this.log.push(`rmdir ${path}`);
    this.dirs.delete(path);
  }
  async rename(from: string, to: string, overwrite: boolean): Promise<void> {
    this.log.push(`rename ${from} ${to} ${overwrite}`);
    const f = this.files.get(from);
    if (!f) throw new SFTPError(SFTPStatus.NO_SUCH_FILE, 'No such file');
    this.files.delete(from);
    this.files.set(to, f);
  }
  async readlink(path: string): Promise<string> {
    this.log.push(`readlink ${path}`);
    return '/a';
  }
  async symlink(linkPath: string, targetPath: string): Promise<void> {
    this.log.push(`symlink ${linkPath} -> ${targetPath}`);
  }
}

/** The transport: replies go back to the client at once; holds and closes are recorded. */
class FakeTransport implements SFTPTransport {
  closed = false;
  holds: boolean[] = [];
  receiver?: (d: Buffer) => void;
  async send(p: Buffer): Promise<void> {
    // A copy: the session reuses DATA reply buffers once a send resolves.
    this.receiver?.(Buffer.from(p));
  }
  holdInput(hold: boolean): void {
    this.holds.push(hold);
  }
  close(): void {
    this.closed = true;
  }
}

interface Rig {
  session: SFTPSession;
  client: RawSftp;
  fs: MemoryFs;
  transport: FakeTransport;
}

/** A session and a client on it; `bytewise` hands the session what the client sends one byte at a time. */
async function rig(options: Partial<SFTPSessionOptions> = {}, { init = true, bytewise = false } = {}): Promise<Rig> {
  const fs = new MemoryFs();
  const transport = new FakeTransport();
  const session = new SFTPSession({ fileSystem: fs, ...options }, transport);
  const client = new RawSftp(
    (b) => (bytewise ? b.forEach((x) => session.data(Buffer.from([x]))) : session.data(b)),
    (listener) => (transport.receiver = listener),
    () => session.end(),
  );
  if (init) await client.init();
  return { session, client, fs, transport };
}

/** Lets queued microtasks and promise chains run (no timers involved). */
const settle = () => new Promise((resolve) => setImmediate(resolve));

const FLAGS = { read: FXF.READ, write: FXF.WRITE | FXF.CREAT, append: FXF.WRITE | FXF.APPEND | FXF.CREAT };

test('INIT is answered with VERSION 3 and the extensions; users-groups-by-id only when the filesystem has it', async () => {
  const { client } = await rig();
  for (const name of ['posix-rename@openssh.com', 'limits@openssh.com', 'copy-data', 'expand-path@openssh.com', 'hardlink@openssh.com'])
    assert.ok(client.extensions.has(name), name);
  assert.equal(client.extensions.has('users-groups-by-id@openssh.com'), false);
});

test('dispatch: each request type reaches its filesystem call and the reply carries its id', async () => {
  const { client, fs } = await rig();
  const h = await client.openHandle('/n', FLAGS.write);
  assert.equal((await client.write(h, 0, 'abc')).status, SFTPStatus.OK);
  assert.equal((await client.close(h)).status, SFTPStatus.OK);
  assert.equal(fs.files.get('/n')?.toString(), 'abc');
  const r = await client.openHandle('/n', FLAGS.read);
  const data = await client.read(r, 1, 10);
  assert.equal(data.type, FXP.DATA);
  assert.equal(data.data?.toString(), 'bc');
  assert.equal((await client.read(r, 3, 10)).status, SFTPStatus.EOF);
  assert.equal((await client.stat('/n')).attrs?.size, 3);
  assert.equal((await client.rename('/n', '/m')).status, SFTPStatus.OK);
  assert.equal((await client.posixRename('/m', '/k')).status, SFTPStatus.OK);
  assert.equal((await client.mkdir('/e')).status, SFTPStatus.OK);
  assert.equal((await client.rmdir('/e')).status, SFTPStatus.OK);
  assert.equal((await client.remove('/k')).status, SFTPStatus.OK);
  assert.equal((await client.remove('/k')).status, SFTPStatus.NO_SUCH_FILE);
  assert.equal((await client.readlink('/l')).names?.[0].filename.toString(), '/a');
  assert.equal((await client.symlink('/a', '/l')).status, SFTPStatus.OK);
  const list = await client.list('/d');
  assert.ok(Array.isArray(list) && list.some((e) => e.filename.toString() === 'a'));
  assert.deepEqual(
    fs.log.filter((l) => !/^(read|write|open|close) /.test(l)),
    [
      'stat /n',
      'rename /n /m false',
      'rename /m /k true',
      'mkdir /e',
      'rmdir /e',
      'remove /k',
      'remove /k',
      'readlink /l',
      'symlink /l -> /a',
    ],
  );
  const limits = await client.extended('limits@openssh.com');
  assert.equal(limits.type, FXP.EXTENDED_REPLY);
  assert.equal(limits.body?.readBigUInt64BE(24), 256n, 'max open handles: the default 256');
});

test('unknown request types and extensions are OP_UNSUPPORTED; Object.prototype names are not extensions', async () => {
  const { client } = await rig();
  const unknown = await client.request(99, str('x'));
  assert.equal(unknown.status, SFTPStatus.OP_UNSUPPORTED);
  for (const name of ['no-such@example.com', 'constructor', 'toString', '__proto__']) {
    const r = await client.extended(name);
    assert.equal(r.type, FXP.STATUS, name);
    assert.equal(r.status, SFTPStatus.OP_UNSUPPORTED, name);
  }
  // statvfs: announced, but this filesystem has none.
  assert.equal((await client.extended('statvfs@openssh.com', str('/'))).status, SFTPStatus.OP_UNSUPPORTED);
});

test('read-only and upload-only access refuse before the filesystem is touched', async () => {
  const ro = await rig({ access: 'read-only' satisfies SFTPAccess });
  for (const r of [
    await ro.client.open('/new', FLAGS.write),
    await ro.client.remove('/a'),
    await ro.client.mkdir('/x'),
    await ro.client.rename('/a', '/b'),
    await ro.client.posixRename('/a', '/b'),
    await ro.client.setstat('/a', { mode: 0o600 }),
    await ro.client.symlink('/a', '/s'),
  ])
    assert.equal(r.status, SFTPStatus.PERMISSION_DENIED);
  assert.deepEqual(ro.fs.log, []);
  assert.equal((await ro.client.stat('/a')).attrs?.size, 11, 'reads still work');

  const up = await rig({ access: 'upload-only' });
  assert.equal((await up.client.open('/a', FLAGS.read)).status, SFTPStatus.PERMISSION_DENIED);
  assert.equal(up.fs.openHandles, 0);
  const h = await up.client.openHandle('/u', FLAGS.write);
  assert.equal((await up.client.write(h, 0, 'x')).status, SFTPStatus.OK);
});

test('replies leave in request order: a READ that finishes first waits for the one before it', async () => {
  const { client, fs } = await rig();
  fs.files.set('/b', Buffer.from('second file'));
  const a = await client.openHandle('/a', FLAGS.read);
  const b = await client.openHandle('/b', FLAGS.read);
  fs.hold = true;
  const order: string[] = [];
  const first = client.read(a, 0, 5).then((r) => (order.push('a'), r));
  const second = client.read(b, 0, 6).then((r) => (order.push('b'), r));
  await settle();
  assert.deepEqual(
    fs.held.map((h) => h.what),
    ['read /a 0', 'read /b 0'],
    'both READs run at once',
  );
  fs.release('read /b 0');
  await settle();
  assert.deepEqual(order, [], 'the second reply is held behind the first');
  fs.release('read /a 0');
  assert.equal((await first).data?.toString(), 'hello');
  assert.equal((await second).data?.toString(), 'second');
  assert.deepEqual(order, ['a', 'b']);
});

test('per-handle order: overlapping WRITEs run one at a time in arrival order; disjoint ones overlap', async () => {
  const { client, fs } = await rig();
  const h = await client.openHandle('/f', FLAGS.write);
  fs.hold = true;
  const w1 = client.write(h, 0, 'aaaa');
  const w2 = client.write(h, 2, 'bb'); // overlaps w1
  const w3 = client.write(h, 100, 'cc'); // disjoint, but behind w2 (head of line)
  await settle();
  assert.deepEqual(
    fs.held.map((x) => x.what),
    ['write /f 0'],
    'w2 waits for w1, w3 waits behind w2',
  );
  fs.release('write /f 0');
  await settle();
  assert.deepEqual(
    fs.held.map((x) => x.what),
    ['write /f 2', 'write /f 100'],
    'then w2 and the disjoint w3 run together',
  );
  fs.release('write /f 100');
  fs.release('write /f 2');
  for (const r of await Promise.all([w1, w2, w3])) assert.equal(r.status, SFTPStatus.OK);
  assert.equal(fs.files.get('/f')!.subarray(0, 4).toString(), 'aabb', 'the later write landed last');
});

test('per-handle order: appends run one at a time in arrival order', async () => {
  const { client, fs } = await rig();
  const h = await client.openHandle('/log', FLAGS.append);
  fs.hold = true;
  const writes = ['one ', 'two ', 'three'].map((s) => client.write(h, 0, s));
  await settle();
  assert.equal(fs.held.length, 1, 'only the first append runs');
  for (let i = 0; i < 3; i++) {
    fs.release('write /log append');
    await settle();
  }
  await Promise.all(writes);
  assert.equal(fs.files.get('/log')!.toString(), 'one two three');
});

test('a request other than READ/WRITE is a barrier: it waits for running writes, and later writes wait for it', async () => {
  const { client, fs } = await rig();
  const h = await client.openHandle('/f', FLAGS.write);
  fs.hold = true;
  const w1 = client.write(h, 0, 'x');
  const st = client.stat('/a');
  const w2 = client.write(h, 10, 'y');
  await settle();
  assert.deepEqual(
    fs.held.map((x) => x.what),
    ['write /f 0'],
    'STAT has not started behind the running WRITE',
  );
  fs.release('write /f 0');
  await settle();
  assert.deepEqual(
    fs.held.map((x) => x.what),
    ['stat /a'],
    'STAT runs alone: the later WRITE waits for it',
  );
  fs.release('stat /a');
  await settle();
  assert.deepEqual(
    fs.held.map((x) => x.what),
    ['write /f 10'],
  );
  fs.release('write /f 10');
  await Promise.all([w1, st, w2]);
});

test('framing: a stream handed over one byte at a time is the same session; a bad first packet or length closes the channel', async () => {
  const { client, fs } = await rig({}, { bytewise: true });
  assert.ok(client.extensions.has('limits@openssh.com'));
  assert.equal((await client.stat('/a')).attrs?.size, 11);
  const h = await client.openHandle('/f', FLAGS.write);
  assert.equal((await client.write(h, 0, 'bytewise')).status, SFTPStatus.OK);
  assert.equal(fs.files.get('/f')?.toString(), 'bytewise');

  const notInit = await rig({}, { init: false });
  const failed: string[] = [];
  notInit.session.on('failed', (e) => failed.push(e.message));
  notInit.session.data(packet(FXP.STAT, u32(1), str('/a')));
  assert.equal(notInit.transport.closed, true);
  assert.deepEqual(failed, ['the first packet is not INIT']);
  assert.deepEqual(notInit.fs.log, []);

  const huge = await rig();
  huge.session.data(Buffer.from([0x7f, 0, 0, 0]));
  assert.equal(huge.transport.closed, true, 'a length past the largest packet ends the session');
  const empty = await rig();
  empty.session.data(u32(0));
  assert.equal(empty.transport.closed, true, 'a packet of length 0 ends the session');
});

test('handle limit: maxHandles open at once, the next OPEN fails until one is closed', async () => {
  assert.throws(() => new SFTPSession({ fileSystem: new MemoryFs(), maxHandles: 0 }, new FakeTransport()), /maxHandles/);
  const { client, fs } = await rig({ maxHandles: 2 });
  const a = await client.openHandle('/a', FLAGS.read);
  await client.openHandle('/a', FLAGS.read);
  const third = await client.open('/a', FLAGS.read);
  assert.equal(third.status, SFTPStatus.FAILURE);
  assert.match(third.message ?? '', /Too many open handles \(2\)/);
  assert.equal(fs.openHandles, 2);
  await client.close(a);
  assert.ok((await client.open('/a', FLAGS.read)).handle);
  assert.equal((await client.close(Buffer.from('nope'))).status, SFTPStatus.FAILURE, 'an unknown handle');
});

test('EOF: queued requests are dropped, the running one finishes, every handle is closed, then the channel', async () => {
  const { client, fs, session, transport } = await rig();
  const audit: string[] = [];
  session.on('uploaded', (e) => audit.push(`uploaded ${e.path} ${e.bytes}`));
  session.on('ended', () => audit.push('ended'));
  const h = await client.openHandle('/f', FLAGS.write);
  await client.openHandle('/a', FLAGS.read);
  fs.hold = true;
  const running = client.write(h, 0, 'abc');
  void client.stat('/a'); // queued behind the write: dropped, never answered
  await settle();
  client.end();
  assert.equal(transport.closed, false, 'the running WRITE is not cut off');
  fs.release('write /f 0');
  assert.equal((await running).status, SFTPStatus.OK);
  await settle();
  assert.equal(transport.closed, true);
  assert.equal(fs.openHandles, 0);
  assert.ok(!fs.log.includes('stat /a'), 'the queued STAT never ran');
  assert.deepEqual(audit, ['uploaded /f 3', 'ended']);
});

test('a client far ahead is held: more than 256 requests queued shuts its window until the session catches up', async () => {
  const { client, fs, transport } = await rig();
  const h = await client.openHandle('/f', FLAGS.write);
  fs.hold = true;
  const writes = Array.from({ length: 300 }, () => client.write(h, 0, 'z')); // all overlap: one at a time
  await settle();
  assert.equal(transport.holds.at(-1), true);
  while (fs.held.length) {
    fs.release('write /f 0');
    await settle();
  }
  await Promise.all(writes);
  assert.equal(transport.holds.at(-1), false);
});

test('a file system that keeps the WRITE data it was given still has it intact after later WRITEs (split packets are never reused for it)', async () => {
  const kept: Buffer[] = [];
  class KeepingFs extends MemoryFs {
    override async open(path: string, flags: SFTPOpenFlags): Promise<SFTPFileHandle> {
      const handle = await super.open(path, flags);
      return { ...handle, write: async (_position: number, data: Buffer) => void kept.push(data) };
    }
  }
  const transport = new FakeTransport();
  const session = new SFTPSession({ fileSystem: new KeepingFs() }, transport);
  // 1000-byte chunks: every 20 KiB WRITE arrives split over channel packets, as from OpenSSH.
  const client = new RawSftp(
    (b) => {
      for (let at = 0; at < b.length; at += 1000) session.data(b.subarray(at, at + 1000));
    },
    (listener) => (transport.receiver = listener),
    () => session.end(),
  );
  await client.init();
  const h = await client.openHandle('/kept', FLAGS.write);
  const sent = Array.from({ length: 8 }, (_, i) => Buffer.alloc(20 * 1024, i + 1));
  for (const [i, data] of sent.entries()) assert.equal((await client.write(h, i * data.length, data)).status, SFTPStatus.OK);
  assert.equal(kept.length, sent.length);
  for (const [i, data] of sent.entries()) assert.ok(kept[i].equals(data), `WRITE ${i} as the file system kept it`);
});
