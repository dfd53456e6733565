// Package hygiene, as a user gets the package: a fresh `git clone` of this repository (so only
// committed files count: a file left out of git, or a build output lying around, cannot hide a
// broken package), `npm pack` there (its `prepack` builds dist/ and typings/), the tarball installed
// into a fresh project outside the repository. Then: what it ships, that the links of its Markdown
// land inside it, that its source maps carry their sources and its typings leave out @internal
// members, and that it works from `import`, `require`, the `sshdaemon` bin, TypeScript (node16 and
// bundler), and the README's fifteen lines as written, logged into by an ssh2 client.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { after, before, test } from 'node:test';
import { Client } from 'ssh2';
import { anchorsOf, linksOf } from './fixtures/markdown';
import { startListening, type RunningServer } from './fixtures/processes';

const root = join(__dirname, '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');

let work = '';
let tarball = '';
let files: string[] = [];
/** The package.json of the clone (what was packed). */
let pkg: {
  version: string;
  license: string;
  main: string;
  module: string;
  types: string;
  bin: Record<string, string>;
  exports: unknown;
  dependencies: Record<string, string>;
  scripts: Record<string, string>;
};
const clone = () => join(work, 'repo');
/** The tarball's contents, unpacked with tar (`package/...`). */
const unpacked = (...parts: string[]) => join(work, 'unpacked', 'package', ...parts);
const project = () => join(work, 'consumer');

/**
 * The environment of a user's shell: under `npm test` npm exports its config (npm_config_local_prefix
 * names this checkout, which would make npm in the clone or the consumer project work on this one).
 */
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(npm_|INIT_CWD$)/i.test(k)));

function run(cmd: string, args: string[], cwd: string, timeout = 60_000): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout, env: { ...cleanEnv, npm_config_update_notifier: 'false' } });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

before(
  () => {
    work = mkdtempSync(join(tmpdir(), 'sshdaemon-pack-'));
    run('git', ['clone', '--quiet', '--no-hardlinks', root, clone()], work);
    assert.ok(!existsSync(join(clone(), 'dist')) && !existsSync(join(clone(), 'typings')), 'a fresh clone has no build');
    pkg = JSON.parse(readFileSync(join(clone(), 'package.json'), 'utf8'));
    // The clone uses this checkout's node_modules (what `npm ci` installed), as a developer's
    // clone would after its own `npm ci`: the build needs TypeScript, nothing from the registry.
    symlinkSync(join(root, 'node_modules'), join(clone(), 'node_modules'), 'dir');
    // `prepack` prints the build's output on the same stdout as npm's JSON: the JSON is the last `[` line on.
    const out = run(npm, ['pack', '--json', '--pack-destination', work], clone(), 600_000);
    const at = out.search(/^\[$/m);
    assert.ok(at >= 0, `npm pack printed no JSON:\n${out}`);
    const [info] = JSON.parse(out.slice(at)) as { filename: string; files: { path: string }[] }[];
    tarball = join(work, info.filename);
    files = info.files.map((f) => f.path);
    mkdirSync(join(work, 'unpacked'));
    run('tar', ['-xzf', tarball, '-C', join(work, 'unpacked')], work);
  },
  { timeout: 600_000 },
);

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

test('npm pack in a fresh clone builds dist/ and typings/ (prepack) and ships them', () => {
  assert.match(pkg.scripts.prepack ?? '', /npm run build/, 'package.json has a prepack script that builds');
  for (const f of [
    'dist/cjs/index.js',
    'dist/esm/index.mjs',
    'dist/cjs/cli/main.js',
    'typings/index.d.ts',
    'typings/sftp/SFTPSession.d.ts',
  ]) {
    assert.ok(files.includes(f), `${f} is in the tarball`);
    assert.ok(existsSync(unpacked(f)), `${f} unpacks`);
  }
});

test('npm pack ships dist/, typings/, the docs and files README links, and nothing else', () => {
  const shipped = (f: string) =>
    /^(dist|typings)\//.test(f) ||
    /^docs\/[^/]+\.md$/.test(f) ||
    ['README.md', 'SECURITY.md', 'LICENSE', 'package.json', 'bench/charts/benchmarks.svg'].includes(f);
  assert.deepEqual(
    files.filter((f) => !shipped(f)),
    [],
    'files outside what the package should ship',
  );
  for (const f of ['README.md', 'LICENSE', 'SECURITY.md', 'package.json', 'docs/index.md', 'docs/errors.md', 'docs/settings.md']) {
    assert.ok(files.includes(f), `${f} is in the tarball`);
  }
  const guides = readdirSync(join(clone(), 'docs')).filter((f) => f.endsWith('.md'));
  assert.deepEqual(files.filter((f) => f.startsWith('docs/')).sort(), guides.map((f) => `docs/${f}`).sort(), 'every guide ships');
  assert.ok(!files.some((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')), 'no TypeScript sources');
  assert.ok(
    !files.some((f) => /(^|\/)(test|samples|scripts|src|api)\//.test(f)),
    'no tests, samples, scripts, sources or generated API pages',
  );
  assert.match(readFileSync(unpacked('LICENSE'), 'utf8'), new RegExp(`^${pkg.license} License`), 'LICENSE matches the license field');
});

test('every relative link of a shipped Markdown file lands on a shipped file and heading', () => {
  const problems: string[] = [];
  let checked = 0;
  for (const file of files.filter((f) => f.endsWith('.md'))) {
    for (const link of linksOf(readFileSync(unpacked(file), 'utf8'))) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue;
      checked++;
      const [pathPart, anchor] = link.split('#', 2) as [string, string | undefined];
      const target = pathPart ? posix.normalize(posix.join(posix.dirname(file), decodeURIComponent(pathPart))) : file;
      if (!files.includes(target)) problems.push(`${file}: ${link} (${target} is not in the tarball)`);
      else if (
        anchor !== undefined &&
        target.endsWith('.md') &&
        !anchorsOf(readFileSync(unpacked(target), 'utf8')).has(decodeURIComponent(anchor))
      ) {
        problems.push(`${file}: ${link} (no such heading)`);
      }
    }
  }
  assert.deepEqual(problems, []);
  assert.ok(checked > 60, `only ${checked} relative links checked`);
});

test('source maps carry their sources (src/ is not shipped); no declaration maps point at src/', () => {
  const maps = files.filter((f) => f.endsWith('.js.map'));
  assert.ok(maps.length > 50, `${maps.length} source maps`);
  assert.deepEqual(
    files.filter((f) => f.endsWith('.d.ts.map')),
    [],
    'declaration maps would send "go to definition" to src/',
  );
  for (const f of maps) {
    const map = JSON.parse(readFileSync(unpacked(f), 'utf8')) as { sources: string[]; sourcesContent?: (string | null)[] };
    assert.ok(map.sources.length > 0, f);
    assert.equal(map.sourcesContent?.length, map.sources.length, `${f} has sourcesContent for each source`);
    map.sources.forEach((src, i) => {
      const source = posix.normalize(posix.join(posix.dirname(f), src));
      assert.equal(map.sourcesContent![i], readFileSync(join(clone(), source), 'utf8'), `${f}: the content of ${source}`);
    });
  }
  for (const f of files.filter((x) => x.endsWith('.js'))) {
    const url = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(readFileSync(unpacked(f), 'utf8'))?.[1];
    if (url) assert.ok(files.includes(posix.join(posix.dirname(f), url)), `${f} points at its shipped map`);
  }
});

test('the typings leave out @internal members (stripInternal)', () => {
  const sources = readdirSync(join(clone(), 'src'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
  const tagged = sources.reduce((n, f) => n + (readFileSync(join(clone(), 'src', f), 'utf8').match(/@internal\b/g)?.length ?? 0), 0);
  assert.ok(tagged >= 25, `only ${tagged} @internal tags in src/: nothing to strip?`);
  const typings = files.filter((f) => f.endsWith('.d.ts'));
  const leaked = typings.filter((f) => readFileSync(unpacked(f), 'utf8').includes('@internal'));
  assert.deepEqual(leaked, [], 'typings with @internal members');
  const sftp = readFileSync(unpacked('typings', 'sftp', 'SFTPSession.d.ts'), 'utf8');
  assert.doesNotMatch(sftp, /WireReader/, 'the SFTP request handlers (which take a WireReader) are not in the typings');
  assert.match(sftp, /export declare class SFTPSession/);
});

test('every entry point package.json names is in the tarball', () => {
  const targets = new Set<string>([pkg.main, pkg.module, pkg.types, ...Object.values(pkg.bin as Record<string, string>)]);
  const walk = (v: unknown): void => {
    if (typeof v === 'string') targets.add(v);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(pkg.exports);
  for (const t of targets) assert.ok(files.includes(t.replace(/^\.\//, '')), `${t} (named in package.json) is packed`);
});

test('the tarball installs into a fresh project', () => {
  mkdirSync(project(), { recursive: true });
  writeFileSync(join(project(), 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
  // --prefer-offline: the dependencies come from the npm cache when `npm ci` put them there (no
  // network needed), else from the registry. --ignore-scripts: ssh2's optional native binding is
  // not compiled; the package works without it.
  const typesNode = JSON.parse(readFileSync(join(root, 'node_modules', '@types', 'node', 'package.json'), 'utf8')).version;
  run(
    npm,
    ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', tarball, `@types/node@${typesNode}`],
    project(),
    120_000,
  );
  const installed = JSON.parse(readFileSync(join(project(), 'node_modules', 'sshdaemon', 'package.json'), 'utf8'));
  assert.equal(installed.version, pkg.version);
  for (const dep of Object.keys(pkg.dependencies))
    assert.ok(existsSync(join(project(), 'node_modules', dep, 'package.json')), `${dep} installed`);
});

test('import (ESM): a daemon serves an exec to an ssh2 client, then shuts down', () => {
  writeFileSync(
    join(project(), 'esm.mjs'),
    `
import { createRequire } from 'node:module';
import sshdaemon, { SSHDaemon, SSHServer, Certificate, CertStoreTypes, ErrorCodes, SSHDaemonError } from 'sshdaemon';
import ssh2 from 'ssh2';

const require = createRequire(import.meta.url);
if (require('sshdaemon').SSHDaemon !== SSHDaemon) throw new Error('import and require load two copies');
if (sshdaemon.SSHDaemon !== SSHDaemon || SSHServer !== SSHDaemon) throw new Error('default export or alias differs');
if (CertStoreTypes.cstAuto !== 99 || typeof ErrorCodes.NoHostKey !== 'number') throw new Error('enums missing');

const daemon = new SSHDaemon();
try { await daemon.startListening(); throw new Error('listened without a host key'); } catch (e) { if (!(e instanceof SSHDaemonError)) throw e; }
daemon.sshCert = Certificate.generate('ed25519');
daemon.localHost = '127.0.0.1';
daemon.localPort = 0;
daemon
  .on('SSHServiceRequest', (e) => { e.accept = true; })
  .on('SSHUserAuthRequest', async (e) => { e.accept = e.authMethod === 'password' && e.user === 'u' && e.authParam === 'p'; })
  .on('SSHChannelOpenRequest', (e) => { e.accept = e.service === 'session'; })
  .on('SSHChannelRequest', (e) => { e.success = e.requestType === 'exec'; })
  .on('SSHChannelRequested', async (e) => {
    await daemon.sendChannelData(e.channelId, 'ran ' + daemon.getSSHParam(e.packet, 'Command'));
    await daemon.sendExitStatus(e.channelId, 3);
    await daemon.closeChannel(e.channelId);
  });
await daemon.startListening();
if (!(daemon.localPort > 0)) throw new Error('no port');

const client = new ssh2.Client();
const result = await new Promise((resolve, reject) => {
  client.on('error', reject).on('ready', () => {
    client.exec('hello', (err, stream) => {
      if (err) return reject(err);
      let out = '';
      let code;
      stream.on('data', (d) => (out += d)).on('exit', (c) => (code = c)).on('close', () => resolve({ out, code }));
    });
  }).connect({ host: '127.0.0.1', port: daemon.localPort, username: 'u', password: 'p' });
});
client.end();
await daemon.shutdown();
console.log(JSON.stringify(result));
`,
  );
  const out = run(process.execPath, ['esm.mjs'], project(), 30_000);
  assert.deepEqual(JSON.parse(out.trim().split('\n').pop()!), { out: 'ran hello', code: 3 });
});

test('require (CommonJS): create a daemon, generate a key, listen on port 0, shut down', () => {
  writeFileSync(
    join(project(), 'cjs.cjs'),
    `
const { SSHDaemon, Certificate, SETTINGS } = require('sshdaemon');
(async () => {
  const daemon = new SSHDaemon();
  daemon.sshCert = Certificate.generate('ed25519');
  daemon.setLocalHost('127.0.0.1');
  daemon.setLocalPort(0);
  daemon.config('MaxAuthAttempts=3');
  await daemon.startListening();
  const port = daemon.getLocalPort();
  if (!daemon.listening || !(port > 0)) throw new Error('not listening');
  if (daemon.config('MaxAuthAttempts') !== '3' || !SETTINGS.length) throw new Error('config');
  await daemon.shutdown();
  if (daemon.listening) throw new Error('still listening');
  console.log('ok ' + daemon.sshCert.keyType);
})().catch((e) => { console.error(e); process.exit(1); });
`,
  );
  assert.match(run(process.execPath, ['cjs.cjs'], project(), 30_000), /^ok ssh-ed25519/m);
});

test('the sshdaemon bin runs', () => {
  assert.match(run(process.execPath, [join(project(), 'node_modules', '.bin', 'sshdaemon'), '--help'], project()), /usage: sshdaemon/);
});

const tsProgram = (importLine: string) => `${importLine}
import type { SSHUserAuthRequestEventArgs, SSHChannelRequestEventArgs, ChannelRequestParamsMap, ErrorCode, SFTPSession } from 'sshdaemon';

const daemon: SSHDaemon = new SSHDaemon();
daemon.sshCert = Certificate.generate('ed25519');
daemon.localPort = 0;
const port: number = daemon.getLocalPort();
daemon.on('SSHUserAuthRequest', async (e: SSHUserAuthRequestEventArgs) => {
  e.accept = e.authMethod === 'publickey' && e.publicKey?.fingerprint !== undefined;
});
daemon.on('SSHChannelRequest', (e: SSHChannelRequestEventArgs) => {
  const pty: ChannelRequestParamsMap['pty-req'] | undefined = requestParamsOf(e, 'pty-req');
  e.success = pty !== undefined && pty.cols > 0;
});
// @ts-expect-error not an event
daemon.on('NoSuchEvent', () => undefined);
// @ts-expect-error read-only event field
daemon.on('Connected', (e) => { e.connectionId = 'x'; });
const done: Promise<void> = daemon.startListening().then(() => daemon.shutdown());
const err: SSHDaemonError = new SSHDaemonError(ErrorCodes.InvalidArgument, 'x');
const code: ErrorCode = err.code;
// @ts-expect-error 7 is no error code: \`code\` is the ErrorCode union, not number
const seven = err.code === 7;
// @ts-expect-error an @internal member of the daemon (its event hub's decision runner) is not in the typings
daemon.decide;
declare const sftp: SFTPSession;
// @ts-expect-error an @internal SFTP request handler is not in the typings
void sftp.realpath;
export { port, done, err, code, seven };
`;

test('TypeScript programs type-check against typings/ (node16 ESM and CJS, bundler)', () => {
  const names = '{ SSHDaemon, Certificate, SSHDaemonError, ErrorCodes, requestParamsOf }';
  writeFileSync(join(project(), 'node16.mts'), tsProgram(`import ${names} from 'sshdaemon';`));
  // In a .cts file the import compiles to require(): the `require` condition of `exports`.
  writeFileSync(join(project(), 'node16.cts'), tsProgram(`import ${names} from 'sshdaemon';`));
  writeFileSync(join(project(), 'bundler.ts'), tsProgram(`import ${names} from 'sshdaemon';`));
  const base = { target: 'ES2022', strict: true, noEmit: true, skipLibCheck: false, types: ['node'] };
  writeFileSync(
    join(project(), 'tsconfig.node16.json'),
    JSON.stringify({ compilerOptions: { ...base, module: 'node16', moduleResolution: 'node16' }, files: ['node16.mts', 'node16.cts'] }),
  );
  writeFileSync(
    join(project(), 'tsconfig.bundler.json'),
    JSON.stringify({ compilerOptions: { ...base, module: 'esnext', moduleResolution: 'bundler' }, files: ['bundler.ts'] }),
  );
  run(process.execPath, [tsc, '-p', 'tsconfig.node16.json'], project());
  run(process.execPath, [tsc, '-p', 'tsconfig.bundler.json'], project());
});

/** The README's "Fifteen lines" block, as committed. */
function fifteenLines(): string {
  const readme = readFileSync(unpacked('README.md'), 'utf8');
  const m = /^## Fifteen lines\n[\s\S]*?^```ts\n([\s\S]*?)^```$/m.exec(readme);
  assert.ok(m, 'README.md has a "Fifteen lines" section with a ts block');
  assert.equal(m[1].trimEnd().split('\n').length, 15, 'the block is fifteen lines');
  return m[1];
}

/** Logs in with password and runs `command`; the error when the server refuses. */
function sshExec(port: number, password: string, command: string): Promise<{ out: string; code: number | undefined }> {
  const client = new Client();
  return new Promise<{ out: string; code: number | undefined }>((resolve, reject) => {
    client
      .on('error', reject)
      .on('ready', () => {
        client.exec(command, (err, stream) => {
          if (err) return reject(err);
          let out = '';
          let code: number | undefined;
          stream.on('data', (d: Buffer) => (out += d.toString())).on('exit', (c: number) => (code = c));
          stream.on('close', () => resolve({ out, code }));
        });
      })
      .connect({ host: '127.0.0.1', port, username: 'demo', password, readyTimeout: 60_000 });
  }).finally(() => client.end());
}

test("the README's fifteen lines run as written from the installed package (an ES module with top-level await)", async () => {
  const lines = fifteenLines();
  // As written, with the two things the README leaves to the reader: `checkPassword` (the README says
  // it is yours) and the port (2222 may be taken on a shared machine: 0 picks a free one, printed
  // once bound). Nothing else of the block changes.
  assert.equal(lines.split('daemon.localPort = 2222;').length, 2, 'the block sets localPort = 2222 once');
  writeFileSync(
    join(project(), 'readme.mjs'),
    "const checkPassword = async (user, password) => user === 'demo' && password === 'secret';\n" +
      lines.replace('daemon.localPort = 2222;', 'daemon.localPort = 0;') +
      'console.log(`listening on 127.0.0.1:${daemon.localPort}`);\n',
  );
  // The same block type-checks for a TypeScript user as an ES module (.mts, module node16).
  writeFileSync(
    join(project(), 'readme.mts'),
    `declare function checkPassword(user: string, password: string): Promise<boolean>;\n${lines}`,
  );
  writeFileSync(
    join(project(), 'tsconfig.readme.json'),
    JSON.stringify({
      compilerOptions: { target: 'ES2022', module: 'node16', moduleResolution: 'node16', strict: true, noEmit: true, types: ['node'] },
      files: ['readme.mts'],
    }),
  );
  run(process.execPath, [tsc, '-p', 'tsconfig.readme.json'], project());

  let server: RunningServer | undefined;
  try {
    server = await startListening([join(project(), 'readme.mjs')], {}, 60_000);
    assert.deepEqual(await sshExec(server.port, 'secret', 'hello world'), { out: 'you ran hello world\n', code: 0 });
    await assert.rejects(sshExec(server.port, 'wrong', 'hello'), /authentication methods failed/, 'checkPassword decides');
    assert.doesNotMatch(server.output(), /Error|Warning/, 'the server printed no error');
  } finally {
    await server?.stop();
  }
});
