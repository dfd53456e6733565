/** The built package from both module systems, as a user's `import` and `require` resolve it through package.json exports. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';

const ROOT = resolve(__dirname, '..');
const APP = mkdtempSync(join(tmpdir(), 'sshdaemon-app-'));
after(() => rmSync(APP, { recursive: true, force: true }));

/** A throwaway project whose node_modules/sshdaemon is this package (built by `npm test`'s pretest). */
function project(): string {
  assert.ok(
    existsSync(join(ROOT, 'dist', 'cjs', 'index.js')) && existsSync(join(ROOT, 'dist', 'esm', 'index.mjs')),
    'dist/ is missing: run npm run build',
  );
  const modules = join(APP, 'node_modules');
  if (!existsSync(join(modules, 'sshdaemon'))) {
    mkdirSync(modules, { recursive: true });
    symlinkSync(ROOT, join(modules, 'sshdaemon'), 'dir');
  }
  return APP;
}

/** Starts a daemon, logs in with the ssh2 client, runs one exec; prints the output. */
const SCRIPT = (load: string) => `
${load}
const { Client } = require(require.resolve('ssh2', { paths: [${JSON.stringify(ROOT)}] }));
(async () => {
  const daemon = new SSHServer();
  daemon.sshCert = Certificate.generate('ed25519');
  daemon.localHost = '127.0.0.1';
  daemon.localPort = 0;
  daemon
    .on('SSHServiceRequest', (e) => { e.accept = true; })
    .on('SSHUserAuthRequest', (e) => { e.accept = e.authMethod === 'password' && e.authParam === 'pw'; })
    .on('SSHChannelOpenRequest', (e) => { e.accept = true; })
    .on('SSHChannelRequest', (e) => { e.success = e.requestType === 'exec'; })
    .on('SSHChannelRequested', async (e) => {
      await daemon.sendChannelData(e.channelId, 'ran ' + daemon.getSSHParam(e.packet, 'Command'));
      await daemon.sendExitStatus(e.channelId, 0);
      await daemon.closeChannel(e.channelId);
    });
  await daemon.startListening();
  let threw = '';
  try { daemon.config('Nope=1'); } catch (err) { threw = (err instanceof SSHDaemonError) + ':' + err.code; }
  const c = new Client();
  c.on('ready', () => c.exec('it', (err, s) => {
    let out = '';
    s.on('data', (d) => (out += d)).on('close', async () => {
      c.end();
      await daemon.shutdown();
      console.log(JSON.stringify({ out, threw, kind: typeof CertStoreTypes.cstPEMKeyFile }));
    });
  })).connect({ host: '127.0.0.1', port: daemon.localPort, username: 'u', password: 'pw' });
})();
`;

function runNode(file: string, source: string): { out: string; threw: string; kind: string } {
  const path = join(project(), file);
  writeFileSync(path, source);
  const r = spawnSync(process.execPath, [path], { cwd: APP, encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

test('require("sshdaemon") (CommonJS) serves a session', () => {
  const r = runNode('app.cjs', SCRIPT("const { SSHServer, Certificate, CertStoreTypes, SSHDaemonError } = require('sshdaemon');"));
  assert.deepEqual(r, { out: 'ran it', threw: 'true:101', kind: 'number' });
});

test('import from "sshdaemon" (ESM) serves a session, with the same classes as require', () => {
  const load = `import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
import { SSHServer, SSHDaemon, Certificate, CertStoreTypes, SSHDaemonError } from 'sshdaemon';
if (require('sshdaemon').SSHDaemon !== SSHDaemon || SSHServer !== SSHDaemon) throw new Error('ESM and CJS differ');`;
  const r = runNode('app.mjs', SCRIPT(load));
  assert.deepEqual(r, { out: 'ran it', threw: 'true:101', kind: 'number' });
});
