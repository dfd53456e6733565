/**
 * The SCP protocol byte by byte, as a hostile client speaks it: hand-made records through an
 * in-process ssh2 client, each run against the daemon and against OpenSSH's own `scp -t`/`scp -f`
 * (a subprocess on stdio, no sshd), the reference's answer being the expected one. Then what
 * only a server must survive: clients that stop answering or reading, floods, channels closed
 * mid-file, commands a shell would run; every case ends with no handle, timer or registry entry left.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Client } from 'ssh2';
import { LocalFileSystem, type SCPSession, type SFTPAttributes, type SFTPFileHandle, type SFTPOpenFlags } from '../src';
import { requireBinary } from './fixtures/clients';
import { CountingFileSystem } from './fixtures/countingFs';
import { SCP_PASSWORD, withScpServer, type ScpScope } from './fixtures/scpServer';
import { describeTree } from './fixtures/trees';
import { connect } from './helpers-ssh2';
import { until } from './fixtures/wait';

const TIMEOUT = { timeout: 180_000 };

interface Outcome {
  code: number | null | undefined;
  out: Buffer;
}

/** Runs `command` on the daemon with `input` sent at once (then EOF), as a client that does not wait for acknowledgements. */
function ours(client: Client, command: string, input: Buffer): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    client.exec(command, (err, stream) => {
      if (err) return reject(err);
      const out: Buffer[] = [];
      let code: number | undefined;
      stream.on('data', (d: Buffer) => out.push(d));
      stream.stderr.on('data', () => undefined);
      stream.on('exit', (c: number) => (code = c));
      stream.on('close', () => resolve({ code, out: Buffer.concat(out) }));
      stream.end(input);
    });
  });
}

/** The same with OpenSSH's scp as the server, on stdio, in the reference root. */
function reference(s: ScpScope, command: string, input: Buffer): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(requireBinary('scp'), command.split(' ').slice(1), { cwd: s.refRoot, stdio: ['pipe', 'pipe', 'ignore'] });
    const out: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out: Buffer.concat(out) }));
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}

/** The reply stream with fatal (`\x02`) and non-fatal (`\x01`) messages told apart only by text: OpenSSH sends all as `\x01`. */
const normalise = (b: Buffer): string => b.toString('latin1').replace(/\x02/g, '\x01');

const connectTester = (s: ScpScope) => connect(s.port, { username: 'tester', password: SCP_PASSWORD });

const b = (text: string) => Buffer.from(text, 'latin1');

/** Sink cases: [description, flags, input, target (default `t`, which exists in both roots)]. */
const SINK_CASES: Array<[string, string, Buffer, string?]> = [
  ['a good file', '', b('C0644 5 a.txt\nhello\0')],
  ['two files, then EOF', '', b('C0644 1 one\n1\0C0600 2 two\n22\0')],
  ['a name with ../', '', b('C0644 5 ../up.txt\nhello\0')],
  ['a name with /', '', b('C0644 5 a/b\nhello\0')],
  ['an empty name', '', b('C0644 5 \nhello\0')],
  ['the name ..', '', b('C0644 5 ..\nhello\0')],
  ['the name .', '', b('C0644 5 .\nhello\0')],
  ['a mode of three digits', '', b('C644 5 x\nhello\0')],
  ['a mode with an 8', '', b('C0648 5 x\nhello\0')],
  ['a mode not delimited', '', b('C06444 5 x\nhello\0')],
  ['no size', '', b('C0644  x\nhello\0')],
  ['a size not delimited', '', b('C0644 5x x\nhello\0')],
  ['a size beyond 64 bits', '', b('C0644 99999999999999999999999 x\nhello\0')],
  ['a size of 2^63', '', b('C0644 9223372036854775808 x\nhello\0')],
  ['fewer bytes than announced, then EOF', '', b('C0644 10 short\nhello')],
  ['a directory without -r', '', b('D0755 0 d\nE\n')],
  ['a directory with -r', '-r', b('D0755 0 d\nC0644 1 f\nx\0E\n')],
  ['a directory named ..', '-r', b('D0755 0 ..\nE\n')],
  ['times, then a file', '', b('T1000000000 0 1100000000 0\nC0644 1 tt\nx\0')],
  ['times with -p', '-p', b('T1000000000 0 1100000000 0\nC0600 1 tp\nx\0')],
  ['times missing a field', '', b('T1 0 2\nC0644 1 tt\nx\0')],
  ['times with a letter', '', b('T1 0 2x 0\n')],
  ['times with microseconds out of range', '', b('T1 1000000 2 0\n')],
  ['a first line that is no record', '', b('hello there\n')],
  ['a later line that is no record', '', b('C0644 1 ok\nx\0X\n')],
  ['an empty line', '', b('\n')],
  ['E at the top', '', b('E\nC0644 1 after\nx\0')],
  ['an error from the client', '', b('\x01scp: trouble\nC0644 1 aftererr\nx\0')],
  ['a fatal error from the client', '', b('\x02scp: fatal\nC0644 1 afterfatal\nx\0')],
  ['the client says its read failed after the data', '', b('C0644 3 readerr\nabc\x01scp: read error\n')],
  ['a file onto an existing folder', '-r', b('D0755 0 sub\nE\nC0644 1 sub\nx\0')],
  ['a folder onto an existing file', '-r', b('C0644 1 file\nx\0D0755 0 file\nE\n')],
  ['EOF in the middle of a record', '', b('C0644 5 cut')],
  ['a file into a target with a slash that is no folder', '', b('C0644 1 q\nx\0'), 't/new/'],
  ['a folder into a target with a slash that is no folder', '-r', b('D0755 0 q\nC0644 1 f\nx\0E\n'), 't/new/'],
  ['a file into a folder named with a slash', '', b('C0644 1 q\nx\0'), 't/'],
  ['a file onto a target file', '', b('C0644 1 q\nx\0'), 't/one'],
  ['a file into a missing folder', '', b('C0644 1 q\nx\0'), 't/missing/x'],
  ['-d onto a missing target', '-d', b('C0644 1 q\nx\0'), 't/missing'],
];

test('sink: hand-made records get the answers, exit status and files OpenSSH scp -t gives; no handle stays open', TIMEOUT, () =>
  withCountedServer(async (s, fs) => {
    const client = await connectTester(s);
    try {
      for (const [what, flags, input, target = 't'] of SINK_CASES) {
        for (const root of [s.root, s.refRoot]) {
          rmSync(join(root, 't'), { recursive: true, force: true });
          mkdirSync(join(root, 't'));
        }
        const command = `scp ${flags ? `${flags} ` : ''}-t ${target}`;
        const got = await ours(client, command, input);
        const want = await reference(s, command, input);
        assert.equal(got.code, want.code, `${what}: exit status`);
        if (what === 'a good file') assert.equal(readFileSync(join(s.root, 't', 'a.txt'), 'utf8'), 'hello');
        if (what.startsWith('fewer bytes')) {
          // OpenSSH writes in blocks, so its partial file is empty where ours holds what arrived; both fail.
          assert.deepEqual(Object.keys(describeTree(join(s.root, 't'))), Object.keys(describeTree(join(s.refRoot, 't'))), what);
        } else {
          assert.equal(normalise(got.out), normalise(want.out), `${what}: answers`);
          assert.deepEqual(
            describeTree(join(s.root, 't'), { mode: true }),
            describeTree(join(s.refRoot, 't'), { mode: true }),
            `${what}: files`,
          );
        }
        assert.equal(fs.openHandles, 0, `${what}: handles left open`);
      }
    } finally {
      client.end();
    }
    assert.ok(fs.opened > 10);
  }, 0),
);

test('sink: where OpenSSH says nothing or takes what a server should not, the daemon refuses with a message', TIMEOUT, () =>
  withScpServer(async (s) => {
    mkdirSync(join(s.root, 't'));
    const client = await connectTester(s);
    const cases: Array<[string, string, Buffer, RegExp]> = [
      // OpenSSH exits silently when a status byte is not one; the client is told here.
      ['more bytes than announced', '', b('C0644 3 long\nhello\0'), /^\0\0\x02scp: protocol error: expected an acknowledgement\n$/],
      // OpenSSH reads a C string: the name would be cut at the NUL.
      ['a NUL in a name', '', b('C0644 1 a\0b\nx\0'), /^\0\x02scp: error: unexpected filename: a\0b\n$/],
      // Above 2^53 - 1 no JavaScript number is exact.
      ['a size above 2^53 - 1', '', b('C0644 9007199254740993 x\nhello\0'), /^\0\x02scp: protocol error: size out of range\n$/],
      ['a line longer than 2 KiB', '', b(`C0644 1 ${'n'.repeat(3000)}\nx\0`), /^\0\x02scp: protocol error: line too long\n$/],
      ['folders nested 129 deep', '-r', b('D0755 0 n\n'.repeat(129)), /\x02scp: protocol error: directories nested deeper than 128\n$/],
    ];
    try {
      for (const [what, flags, input, expected] of cases) {
        const got = await ours(client, `scp ${flags ? `${flags} ` : ''}-t t`, input);
        assert.equal(got.code, 1, what);
        assert.match(got.out.toString('latin1'), expected, what);
      }
    } finally {
      client.end();
    }
    assert.equal(readFileSync(join(s.root, 't', 'long'), 'utf8'), 'hel', 'the announced bytes were written, no more');
  }),
);

/** Source cases: [description, command, input (the client's acknowledgements)]. */
const SOURCE_CASES: Array<[string, string, Buffer]> = [
  ['a file', 'scp -f t/a.txt', b('\0\0\0')],
  ['a file with -p', 'scp -p -f t/a.txt', b('\0\0\0\0')],
  ['a folder without -r', 'scp -f t', b('\0')],
  ['a folder with -r', 'scp -r -f t/d', b('\0'.repeat(8))],
  ['a folder with -r -p', 'scp -r -p -f t/d', b('\0'.repeat(12))],
  ['a missing and an existing file', 'scp -f nope t/a.txt', b('\0\0\0')],
  ['the client refuses the file', 'scp -f t/a.txt', b('\0\x01no thanks\n')],
  ['the client refuses the times', 'scp -p -f t/a.txt', b('\0\x01no times\n')],
  ['the client fails after the data', 'scp -f t/a.txt', b('\0\0\x01disk full\n')],
  ['the client ends at once', 'scp -f t/a.txt', b('')],
  ['the client answers garbage', 'scp -f t/a.txt', b('\0Z')],
  ['trailing slashes', 'scp -r -f t/d//', b('\0'.repeat(8))],
];

test('source: records, data and answers are the bytes OpenSSH scp -f sends, with the same exit status; no handle stays open', TIMEOUT, () =>
  withCountedServer(async (s, fs) => {
    for (const root of [s.root, s.refRoot]) {
      mkdirSync(join(root, 't', 'd'), { recursive: true });
      writeFileSync(join(root, 't', 'a.txt'), 'hello');
      writeFileSync(join(root, 't', 'd', 'f'), 'x');
    }
    const client = await connectTester(s);
    try {
      for (const [what, command, input] of SOURCE_CASES) {
        const { utimesSync } = await import('node:fs');
        for (const root of [s.root, s.refRoot]) {
          utimesSync(join(root, 't', 'a.txt'), 1_200_000_000, 1_100_000_000);
          utimesSync(join(root, 't', 'd', 'f'), 1_200_000_000, 1_100_000_000);
          utimesSync(join(root, 't', 'd'), 1_200_000_000, 1_100_000_000);
        }
        const got = await ours(client, command, input);
        const want = await reference(s, command, input);
        if (what === 'the client answers garbage') {
          // OpenSSH exits silently; the daemon says why.
          assert.equal(got.code, want.code, what);
          assert.equal(normalise(got.out), `${normalise(want.out)}\x01scp: protocol error: expected an acknowledgement\n`, what);
          assert.equal(fs.openHandles, 0, `${what}: handles left open`);
          continue;
        }
        assert.equal(got.code, want.code, `${what}: exit status`);
        assert.equal(normalise(got.out), normalise(want.out), `${what}: bytes sent`);
        assert.equal(fs.openHandles, 0, `${what}: handles left open`);
      }
    } finally {
      client.end();
    }
  }, 0),
);

/** The daemon with a CountingFileSystem and a short stall timeout. */
function withCountedServer(body: (s: ScpScope, fs: CountingFileSystem) => Promise<void>, timeout = 1): Promise<void> {
  let counting: CountingFileSystem | undefined;
  return withScpServer((s) => body(s, counting!), {
    timeout,
    fileSystem: (root) => (counting = new CountingFileSystem(new LocalFileSystem(root))),
  });
}

interface OpenExec {
  out: Buffer[];
  code?: number;
  closed: Promise<void>;
  stream: import('ssh2').ClientChannel;
}

function openExec(client: Client, command: string): Promise<OpenExec> {
  return new Promise((resolve, reject) => {
    client.exec(command, (err, stream) => {
      if (err) return reject(err);
      const h: Partial<OpenExec> = { out: [], stream };
      stream.on('data', (d: Buffer) => h.out!.push(d));
      stream.stderr.on('data', () => undefined);
      stream.on('exit', (c: number) => (h.code = c));
      h.closed = new Promise((r) => stream.on('close', () => r()));
      resolve(h as OpenExec);
    });
  });
}

const activeTimers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

test(
  'a client that never acknowledges, or stops sending mid-file, is cut off after the timeout with a protocol error; the file is closed',
  TIMEOUT,
  () =>
    withCountedServer(async (s, fs) => {
      writeFileSync(join(s.root, 'a.txt'), 'hello');
      const timersBefore = activeTimers();
      const client = await connectTester(s);
      try {
        // Source: the client sends its first \0, then never acknowledges the C record.
        const silent = await openExec(client, 'scp -f a.txt');
        silent.stream.write(Buffer.from([0]));
        await silent.closed;
        assert.equal(silent.code, 1);
        assert.match(
          Buffer.concat(silent.out).toString('latin1'),
          /^C0644 5 a\.txt\n\x02scp: timed out: no progress from the client in 1 s\n$/,
        );

        // Sink: a file announced, half its data sent, then nothing.
        const stall = await openExec(client, 'scp -t stalled.bin');
        stall.stream.write(b('C0644 100 stalled.bin\n'));
        stall.stream.write(Buffer.alloc(50, 1));
        await stall.closed;
        assert.equal(stall.code, 1);
        assert.match(Buffer.concat(stall.out).toString('latin1'), /^\0\0\x02scp: timed out/);
        assert.equal(readFileSync(join(s.root, 'stalled.bin')).length, 50);
      } finally {
        client.end();
      }
      assert.equal(fs.openHandles, 0, 'every handle closed');
      assert.ok(fs.opened >= 2);
      assert.ok(
        s.audit.some((e) => /failed protocol fatal timed out/.test(e)),
        s.audit.join('\n'),
      );
      await until('the stall timers are gone', () => activeTimers() <= timersBefore);
    }),
);

test('a client that does not read a download is cut off after the timeout; the file is closed', TIMEOUT, () =>
  withCountedServer(async (s, fs) => {
    writeFileSync(join(s.root, 'big.bin'), Buffer.alloc(16 * 1024 * 1024, 7));
    const client = await connectTester(s);
    try {
      const h = await openExec(client, 'scp -f big.bin');
      h.stream.pause();
      h.stream.write(Buffer.from([0, 0]));
      await until('the server gave up', () => s.ended.length === 1);
      assert.equal(fs.openHandles, 0, 'the file is closed although the client never read');
      assert.deepEqual(s.ended, [1]);
      h.stream.destroy();
    } finally {
      client.end();
    }
  }),
);

test(
  'a client flooding an upload while the filesystem is behind: the window is held, memory stays bounded, the file is complete once writes resume',
  TIMEOUT,
  () =>
    withCountedServer(async (s, fs) => {
      const client = await connectTester(s);
      const size = 48 * 1024 * 1024;
      try {
        fs.holdWrites();
        const h = await openExec(client, 'scp -t flood.bin');
        let session: SCPSession | undefined;
        await until('the session started', () => (session = s.sessions[0]) !== undefined);
        h.stream.write(b(`C0644 ${size} flood.bin\n`));
        const chunk = Buffer.alloc(64 * 1024, 3);
        let queued = 0;
        const pump = (): void => {
          while (queued < size) {
            queued += chunk.length;
            if (!h.stream.write(chunk)) return void h.stream.once('drain', pump);
          }
          h.stream.end(Buffer.from([0]));
        };
        pump();
        // The client can only send what the held window lets through: the session's buffer stops growing.
        let peak = 0;
        let last = -1;
        let stable = 0;
        await until('the client is throttled', () => {
          const now = session!.bufferedBytes;
          stable = now === last && now > 1024 * 1024 ? stable + 1 : 0;
          last = now;
          peak = Math.max(peak, now);
          return stable >= 20;
        });
        assert.ok(peak <= 1024 * 1024 + 2 * 1024 * 1024 + 256 * 1024, `buffered ${peak} bytes`);
        assert.ok(queued < size, `the client is still held back (${queued} of ${size} bytes queued)`);
        fs.release();
        await h.closed;
        assert.equal(h.code, 0);
        assert.equal(fs.written, size);
        assert.equal(readFileSync(join(s.root, 'flood.bin')).length, size);
      } finally {
        fs.release();
        client.end();
      }
      assert.equal(fs.openHandles, 0);
    }, 0),
);

test('a channel closed in the middle of an upload or a download releases the file; the session ends without an exit status', TIMEOUT, () =>
  withCountedServer(async (s, fs) => {
    writeFileSync(join(s.root, 'big.bin'), Buffer.alloc(8 * 1024 * 1024, 5));
    const client = await connectTester(s);
    try {
      const up = await openExec(client, 'scp -t part.bin');
      up.stream.write(b('C0644 10000000 part.bin\n'));
      up.stream.write(Buffer.alloc(100_000, 1));
      await until('data written', () => fs.written > 0);
      up.stream.close();
      await up.closed;
      const down = await openExec(client, 'scp -f big.bin');
      down.stream.write(Buffer.from([0, 0]));
      await until('data arriving', () => down.out.length > 0);
      down.stream.close();
      await down.closed;
      await until('both sessions ended', () => s.ended.length === 2);
      assert.deepEqual(s.ended, [undefined, undefined]);
      assert.equal(fs.openHandles, 0);
    } finally {
      client.end();
    }
  }, 0),
);

test(
  'command lines: shell syntax is refused (nothing runs), bad options and missing -t/-f are usage errors told in the protocol',
  TIMEOUT,
  () =>
    withScpServer(async (s) => {
      const client = await connectTester(s);
      const cases: Array<[string, RegExp]> = [
        [`scp -t x; touch ${join(s.local, 'pwned')}`, /';' is not supported/],
        ['scp -t $(touch pwned)', /'\$' expansions are not supported/],
        ['scp -t `touch pwned`', /'`' expansions are not supported/],
        ['scp -t x | cat', /'\|' is not supported/],
        ['scp -t "unterminated', /unterminated double quote/],
        ['scp -Z -t x', /unknown option -- Z/],
        ['scp x', /a server needs -t \(upload\) or -f \(download\)/],
        ['/usr/bin/scp -t', /ambiguous target/],
        ['scp -t a b', /ambiguous target/],
      ];
      try {
        for (const [command, expected] of cases) {
          const got = await ours(client, command, Buffer.alloc(0));
          assert.equal(got.code, 1, command);
          assert.match(got.out.toString('latin1'), new RegExp(`^\\x02scp: ${expected.source}`), command);
        }
        // Quoted, the same characters are just a name.
        const quoted = await ours(client, "scp -t 'x; touch pwned'", b('C0644 1 ignored\nq\0'));
        assert.equal(quoted.code, 0);
      } finally {
        client.end();
      }
      assert.equal(readFileSync(join(s.root, 'x; touch pwned'), 'utf8'), 'q');
      assert.throws(() => readFileSync(join(s.local, 'pwned')));
      assert.throws(() => readFileSync(join(s.root, 'pwned')));
    }),
);

test(
  'a filesystem failing mid-listing or mid-read: the error is reported by path, the stream stays in step, no host path leaks',
  TIMEOUT,
  () => {
    const hostPath = '/real/host/secret/location';
    return withScpServer(
      async (s) => {
        mkdirSync(join(s.root, 't', 'bad'), { recursive: true });
        writeFileSync(join(s.root, 't', 'bad', 'x'), 'x');
        writeFileSync(join(s.root, 't', 'a.txt'), 'hello');
        writeFileSync(join(s.root, 't', 'shrinks.bin'), Buffer.alloc(300_000, 9));
        const client = await connectTester(s);
        try {
          const got = await ours(client, 'scp -r -f t', b('\0'.repeat(20)));
          const text = got.out.toString('latin1');
          assert.equal(got.code, 1);
          assert.ok(!text.includes(hostPath), 'no host path in what the client gets');
          assert.match(text, /D0755 0 bad\n\x01scp: t\/bad: Input\/output error\nE\n/, 'the failing folder is opened, reported and closed');
          assert.match(text, /C0644 5 a\.txt\nhello\0/, 'the other files go on');
          // 300,000 bytes announced, the read fails after the first 256 KiB: zeros keep the stream in step, then the error.
          const at = text.indexOf('C0644 300000 shrinks.bin\n');
          assert.ok(at >= 0, text.slice(0, 200));
          const data = got.out.subarray(at + 'C0644 300000 shrinks.bin\n'.length, at + 'C0644 300000 shrinks.bin\n'.length + 300_000);
          assert.equal(
            data.subarray(0, 262_144).every((x) => x === 9),
            true,
          );
          assert.equal(
            data.subarray(262_144).every((x) => x === 0),
            true,
          );
          assert.equal(
            got.out
              .subarray(at + 'C0644 300000 shrinks.bin\n'.length + 300_000)
              .toString('latin1')
              .split('\n')[0],
            '\x01scp: t/shrinks.bin: Input/output error',
          );
        } finally {
          client.end();
        }
      },
      {
        fileSystem: (root) => {
          const inner = new LocalFileSystem(root);
          const eio = (p: string) => Object.assign(new Error(`EIO at ${hostPath}${p}`), { code: 'EIO' });
          return Object.assign(Object.create(inner) as LocalFileSystem, {
            opendir: async (p: string) => {
              const dir = await inner.opendir(p);
              if (p !== '/t/bad') return dir;
              return { next: async () => Promise.reject(eio(p)), close: () => dir.close() };
            },
            open: async (p: string, flags: SFTPOpenFlags, attrs: SFTPAttributes) => {
              const h = await inner.open(p, flags, attrs);
              if (p !== '/t/shrinks.bin') return h;
              return Object.assign(Object.create(h) as SFTPFileHandle, {
                readInto: async (position: number, target: Buffer, offset: number, length: number) =>
                  position >= 262_144 ? Promise.reject(eio(p)) : h.readInto!(position, target, offset, length),
                close: () => h.close(),
              });
            },
          });
        },
      },
    );
  },
);
