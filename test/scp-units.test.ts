/**
 * The SCP building blocks on their own: shell words, the command line, the record codec, and the
 * glob expansion, this one checked against bash itself (the shell sshd would have run).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { LocalFileSystem, SFTPError, SFTPStatus } from '../src';
import { errorRecord, fileRecord, MAX_LINE, parseRecord, SCPProtocolError, timeRecord } from '../src/scp/codec';
import { isSCPCommand, parseSCPCommand, SCPUsageError } from '../src/scp/command';
import { wordPath } from '../src/scp/context';
import { errorText } from '../src/scp/errors';
import { expandPattern, compilePattern } from '../src/scp/glob';
import { ShellSyntaxError, splitShellWords } from '../src/scp/shellWords';

test('shell words: quotes, backslashes, comments, tilde prefixes and which glob characters were quoted', () => {
  assert.deepEqual(splitShellWords(`scp -t 'my file' "a \\"b\\"" c\\ d e#f # comment`), [
    { text: 'scp' },
    { text: '-t' },
    { text: 'my file' },
    { text: 'a "b"' },
    { text: 'c d' },
    { text: 'e#f' },
  ]);
  assert.deepEqual(splitShellWords(`logs/*.txt 'x*' "[a]" y\\? ~ ~/d ~bob/x ~+ a~`), [
    { text: 'logs/*.txt', pattern: 'logs/*.txt' },
    { text: 'x*' },
    { text: '[a]' },
    { text: 'y?' },
    { text: '', tilde: '' },
    { text: '/d', tilde: '' },
    { text: '/x', tilde: 'bob' },
    { text: '~+' },
    { text: 'a~' },
  ]);
  assert.deepEqual(splitShellWords(`'a*'*`), [{ text: 'a**', pattern: 'a\\**' }], 'a quoted * is escaped in the pattern');
  assert.deepEqual(splitShellWords(`''  ""`), [{ text: '' }, { text: '' }], 'empty quoted words are words');
  assert.deepEqual(splitShellWords('a\\\nb'), [{ text: 'ab' }], 'line continuation');
  for (const bad of ['a;b', 'a | b', 'a && b', 'a > f', '$(x)', '`x`', '"$HOME"', "'open", '"open', 'a(b)']) {
    assert.throws(() => splitShellWords(bad), ShellSyntaxError, bad);
  }
});

test('scp command lines: clustered flags, --, -f before -t, client-only options ignored, usage errors', () => {
  const c = parseSCPCommand("scp -rpd -t -- '-odd name'");
  assert.equal(c.direction, 'sink');
  assert.deepEqual([c.recursive, c.preserve, c.targetShouldBeDirectory, c.verbose], [true, true, true, false]);
  assert.deepEqual(c.paths, [{ text: '-odd name' }]);
  assert.deepEqual(parseSCPCommand("scp -v -f 'a b' c").paths, [{ text: 'a b' }, { text: 'c' }]);
  assert.equal(parseSCPCommand('/usr/bin/scp -t -f x').direction, 'source', 'OpenSSH checks -f first');
  assert.deepEqual(parseSCPCommand('scp -q -P 22 -o Foo=bar -t x').paths, [{ text: 'x' }]);
  assert.deepEqual(parseSCPCommand('scp -t').paths, []);
  for (const [bad, why] of [
    ['scp -x -t a', /unknown option -- x/],
    ['scp a b', /needs -t/],
    ['scpx -t a', /not an scp command/],
    ['scp -t a; b', /';' is not supported/],
    ['scp -t -P', /option requires an argument -- P/],
  ] as const) {
    assert.throws(
      () => parseSCPCommand(bad),
      (e: Error) => e instanceof SCPUsageError && why.test(e.message),
      bad,
    );
  }
  for (const yes of ['scp -t x', '  scp -f y', '/usr/bin/scp -f y', 'scp']) assert.equal(isSCPCommand(yes), true, yes);
  for (const no of ['scpx -t x', 'sudo scp -t x', 'sftp', 'echo scp', '']) assert.equal(isSCPCommand(no), false, no);
});

test('path words: ~ and ~user (this user) are the home, relative paths start there, .. stops at /', () => {
  const w = (text: string) => splitShellWords(text)[0];
  assert.equal(wordPath(w('~'), 'alice'), '/');
  assert.equal(wordPath(w('~/a/b'), 'alice'), '/a/b');
  assert.equal(wordPath(w('~alice/a'), 'alice'), '/a');
  assert.equal(wordPath(w('~bob/a'), 'alice'), '/~bob/a', "another user's tilde stays a name, as a shell leaves it");
  assert.equal(wordPath(w('../../etc/passwd'), 'alice'), '/etc/passwd');
  assert.equal(wordPath(w('a/./b/../c/'), 'alice'), '/a/c');
  assert.equal(wordPath(w("'~'/x"), 'alice'), '/~/x', 'a quoted ~ is a name');
});

test("error texts: an errno error (a custom filesystem's) reads as strerror, as LocalFileSystem words it, never with its real path; an SFTPError loses its leading virtual path", async () => {
  const errno = (code: string) => Object.assign(new Error(`${code}: /srv/real/path`), { code });
  assert.equal(errorText(errno('ENOENT'), '/a.txt', '', 'a.txt'), 'a.txt: No such file or directory');
  assert.equal(errorText(errno('EISDIR'), '/d', 'write: '), '/d: write: Is a directory');
  assert.equal(errorText(errno('EWEIRD'), '/a'), '/a: Failure');
  assert.equal(errorText(new Error('boom at /srv/real/path'), '/a'), '/a: Failure');
  assert.equal(
    errorText(new SFTPError(SFTPStatus.PERMISSION_DENIED, '/a: Permission denied'), '/a', 'set times: ', 'a'),
    'a: set times: Permission denied',
  );
  const root = mkdtempSync(join(tmpdir(), 'scp-errtext-'));
  try {
    mkdirSync(join(root, 'd'));
    writeFileSync(join(root, 'd', 'f'), 'x');
    const fromLocal = await new LocalFileSystem(root).rmdir('/d').then(
      () => assert.fail('rmdir of a full directory'),
      (err: unknown) => err,
    );
    assert.equal(
      errorText(fromLocal, '/d'),
      errorText(errno('ENOTEMPTY'), '/d'),
      'the same words from LocalFileSystem and from a bare errno',
    );
    assert.equal(errorText(fromLocal, '/d'), '/d: Directory not empty');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('records: OpenSSH sink wording for every malformed field; names as bytes', () => {
  const parse = (text: string | Buffer) => parseRecord(Buffer.isBuffer(text) ? text : Buffer.from(text, 'latin1'));
  assert.deepEqual(parse('C0644 12 a b.txt'), { kind: 'C', mode: 0o644, size: 12, name: 'a b.txt' });
  assert.deepEqual(parse('D0755 0 dir'), { kind: 'D', mode: 0o755, size: 0, name: 'dir' });
  assert.deepEqual(parse('T1 0 2 0'), { kind: 'T', mtime: 1, atime: 2, inRange: true });
  assert.deepEqual(parse('T99999999999999999999 0 2 0'), { kind: 'T', mtime: 99999999999999999999, atime: 2, inRange: false });
  assert.deepEqual(parse('E'), { kind: 'E' });
  assert.deepEqual(parse('\x01scp: oops'), { kind: 'error', fatal: false, message: 'scp: oops' });
  assert.deepEqual(parse('\x02bad'), { kind: 'error', fatal: true, message: 'bad' });
  assert.equal(
    (parse(Buffer.from([0x43, 0x30, 0x36, 0x34, 0x34, 0x20, 0x31, 0x20, 0x63, 0xe9])) as { name: string }).name,
    'c\udce9',
    'Latin-1 byte kept',
  );
  const errors: Array<[string, string]> = [
    ['', 'protocol error: unexpected <newline>'],
    ['Q', 'protocol error: expected control record'],
    ['C064 1 x', 'protocol error: bad mode'],
    ['C06444 1 x', 'protocol error: mode not delimited'],
    ['C0644 x', 'protocol error: size not present'],
    ['C0644 1x x', 'protocol error: size not delimited'],
    ['C0644 1', 'protocol error: size not delimited'],
    [`C0644 ${'9'.repeat(70)} x`, 'protocol error: size out of range'],
    ['C0644 9007199254740992 x', 'protocol error: size out of range'],
    ['C0644 1 ', 'error: unexpected filename: '],
    ['C0644 1 a/b', 'error: unexpected filename: a/b'],
    ['C0644 1 ..', 'error: unexpected filename: ..'],
    ['T', 'protocol error: mtime.sec not present'],
    ['T1', 'protocol error: mtime.sec not delimited'],
    ['T1 x', 'protocol error: mtime.usec not delimited'],
    ['T1 1000000 2 0', 'protocol error: mtime.usec not delimited'],
    ['T1 0 x', 'protocol error: atime.sec not present'],
    ['T1 0 2', 'protocol error: atime.sec not delimited'],
    ['T1 0 2 0 ', 'protocol error: atime.usec not delimited'],
  ];
  for (const [line, message] of errors)
    assert.throws(
      () => parse(line),
      (e: Error) => e instanceof SCPProtocolError && e.message === message,
      JSON.stringify(line),
    );
});

test('records sent: modes in four octal digits, names as bytes, no line the peer cannot read, messages on one short line', () => {
  assert.equal(fileRecord('C', 0o100755, 3, 'x y')!.toString(), 'C0755 3 x y\n');
  assert.equal(fileRecord('D', 0o40700, 99, 'd')!.toString(), 'D0700 0 d\n');
  assert.deepEqual(fileRecord('C', 0o644, 1, 'caf\udce9'), Buffer.from('C0644 1 caf\xe9\n', 'latin1'));
  assert.equal(fileRecord('C', 0o644, 1, 'a\nb'), undefined, 'a newline would end the record');
  assert.equal(fileRecord('C', 0o644, 1, 'n'.repeat(MAX_LINE)), undefined, 'longer than the peer reads');
  assert.equal(timeRecord(1_700_000_000.7, -5).toString(), 'T1700000000 0 0 0\n');
  const e = errorRecord(true, `a\nb\r${'z'.repeat(5000)}`);
  assert.equal(e[0], 2);
  assert.equal(e[e.length - 1], 0x0a);
  assert.equal(e.indexOf(0x0a), e.length - 1, 'one line');
  assert.ok(e.length <= 1026);
  assert.equal(errorRecord(false, 'x: No such file').toString(), '\x01scp: x: No such file\n');
});

test('fnmatch patterns: *, ?, brackets with ranges, negation and classes, escapes, a leading dot only explicitly', () => {
  const m = (pattern: string, name: string) => compilePattern(pattern).test(name);
  assert.ok(m('*.txt', 'a.txt') && !m('*.txt', '.a.txt') && m('.*', '.a'));
  assert.ok(m('?', 'x') && !m('?', 'xy') && m('?', '\udce9'));
  assert.ok(m('[a-c]x', 'bx') && !m('[a-c]x', 'dx') && m('[!a]', 'b') && !m('[^a]', 'a'));
  assert.ok(m('[[:digit:]]*', '7z') && !m('[[:digit:]]', 'a'));
  assert.ok(m('[]]', ']') && m('[a-]', '-') && m('x[', 'x[') && m('\\*', '*') && !m('\\*', 'a'));
  assert.ok(m('a/b', 'a/b') && m('(x)', '(x)') && m('{a}', '{a}') && m('+$^|', '+$^|'));
});

test('glob expansion matches what bash 5 expands, in its order; no match leaves nothing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'scp-glob-'));
  try {
    for (const d of ['logs', 'logs/old', 'src', 'src/lib', 'empty']) mkdirSync(join(dir, d), { recursive: true });
    for (const f of [
      'logs/a.log',
      'logs/b.log',
      'logs/B.log',
      'logs/.hidden.log',
      'logs/c.txt',
      'logs/old/x.log',
      'logs/my file.log',
      'src/a.ts',
      'src/lib/b.ts',
      'top.txt',
      '[x].txt',
    ]) {
      writeFileSync(join(dir, f), f);
    }
    const fs = new LocalFileSystem(dir);
    const patterns = [
      'logs/*.log',
      '*',
      '*/*',
      'logs/.*',
      'logs/[ab].log',
      'logs/[!a]*',
      '*/*.ts',
      '*/lib/*',
      'logs/*/x.log',
      '*.none',
      '\\[x\\].txt',
      'logs/?.log',
      '*/',
      'src/*/',
      '[[:upper:]]*',
      'logs/*[[:space:]]*',
      'logs/[[:constructor:]]*',
      '*[[:__proto__:]]*',
      'logs/[[:toString:]]*',
    ];
    for (const pattern of patterns) {
      const r = spawnSync('bash', ['-c', `shopt -s nullglob; for f in ${pattern}; do printf '%s\\n' "$f"; done`], {
        cwd: dir,
        encoding: 'utf8',
        env: { ...process.env, LC_ALL: 'C' },
      });
      assert.equal(r.status, 0, r.stderr);
      const bash = r.stdout
        .split('\n')
        .filter(Boolean)
        .map((p) => p.replace(/\/$/, ''));
      const ours: string[] = [];
      for await (const match of expandPattern(fs, '/', pattern)) ours.push(match.shown.replace(/\/$/, ''));
      assert.deepEqual(ours, bash, pattern);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test(
  'a hostile glob (many stars against a long name) is matched without backtracking: it answers instead of freezing the daemon',
  { timeout: 20_000 },
  () => {
    // With one `.*` per star in a RegExp this took 13.5 s at 7 stars and 70 characters, and forever beyond.
    const name = 'a'.repeat(255);
    assert.equal(compilePattern(`${'*a'.repeat(40)}*b`).test(name), false);
    assert.equal(compilePattern(`${'*a'.repeat(40)}*`).test(name), true);
    assert.equal(compilePattern(`${'*?'.repeat(60)}!`).test('quarterly-report-2024-final-version-reviewed-by-legal.pdf'), false);
    assert.equal(compilePattern('*[[:digit:]]*.log').test('app-2024.log'), true);
  },
);
