// Package hygiene: what `npm pack` ships, and that the tarball works once installed in a fresh
// project, from `import`, `require`, the `sshdaemon` bin, and TypeScript (node16 and bundler).
// Needs a current build (`npm test` builds first; alone: `npm run build`).
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

const root = join(__dirname, '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

let work = '';
let tarball = '';
let files: string[] = [];
const project = () => join(work, 'consumer');

function run(cmd: string, args: string[], cwd: string, timeout = 60_000): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout, env: { ...process.env, npm_config_update_notifier: 'false' } });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

before(() => {
  if (!existsSync(join(root, 'dist', 'cjs', 'index.js')) || !existsSync(join(root, 'typings', 'index.d.ts'))) {
    execFileSync(npm, ['run', 'build'], { cwd: root, stdio: 'inherit' });
  }
  work = mkdtempSync(join(tmpdir(), 'sshdaemon-pack-'));
  const [info] = JSON.parse(run(npm, ['pack', '--json', '--pack-destination', work], root)) as { filename: string; files: { path: string }[] }[];
  tarball = join(work, info.filename);
  files = info.files.map((f) => f.path);
});

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

test('npm pack ships dist/, typings/, README.md, LICENSE (and package.json), nothing else', () => {
  const stray = files.filter((f) => !/^(dist|typings)\//.test(f) && !['README.md', 'LICENSE', 'package.json'].includes(f));
  assert.deepEqual(stray, [], 'files outside dist/, typings/, README.md, LICENSE');
  for (const f of ['README.md', 'LICENSE', 'package.json', 'dist/cjs/index.js', 'dist/esm/index.mjs', 'typings/index.d.ts']) {
    assert.ok(files.includes(f), `${f} is in the tarball`);
  }
  assert.ok(!files.some((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')), 'no TypeScript sources');
  assert.ok(!files.some((f) => /(^|\/)(test|samples|bench|scripts|docs|src)\//.test(f)), 'no tests, samples, benches, scripts, docs or sources');
  assert.match(readFileSync(join(root, 'LICENSE'), 'utf8'), new RegExp(`^${pkg.license} License`), 'LICENSE matches the license field');
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
  run(npm, ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', tarball, `@types/node@${typesNode}`], project(), 120_000);
  const installed = JSON.parse(readFileSync(join(project(), 'node_modules', 'sshdaemon', 'package.json'), 'utf8'));
  assert.equal(installed.version, pkg.version);
  for (const dep of Object.keys(pkg.dependencies)) assert.ok(existsSync(join(project(), 'node_modules', dep, 'package.json')), `${dep} installed`);
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
import type { SSHUserAuthRequestEventArgs, SSHChannelRequestEventArgs, ChannelRequestParamsMap } from 'sshdaemon';

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
export { port, done, err };
`;

test('TypeScript programs type-check against typings/ (node16 ESM and CJS, bundler)', () => {
  const names = '{ SSHDaemon, Certificate, SSHDaemonError, ErrorCodes, requestParamsOf }';
  writeFileSync(join(project(), 'node16.mts'), tsProgram(`import ${names} from 'sshdaemon';`));
  // In a .cts file the import compiles to require(): the `require` condition of `exports`.
  writeFileSync(join(project(), 'node16.cts'), tsProgram(`import ${names} from 'sshdaemon';`));
  writeFileSync(join(project(), 'bundler.ts'), tsProgram(`import ${names} from 'sshdaemon';`));
  const base = { target: 'ES2022', strict: true, noEmit: true, skipLibCheck: false, types: ['node'] };
  writeFileSync(join(project(), 'tsconfig.node16.json'), JSON.stringify({ compilerOptions: { ...base, module: 'node16', moduleResolution: 'node16' }, files: ['node16.mts', 'node16.cts'] }));
  writeFileSync(join(project(), 'tsconfig.bundler.json'), JSON.stringify({ compilerOptions: { ...base, module: 'esnext', moduleResolution: 'bundler' }, files: ['bundler.ts'] }));
  run(process.execPath, [tsc, '-p', 'tsconfig.node16.json'], project());
  run(process.execPath, [tsc, '-p', 'tsconfig.bundler.json'], project());
});
