/**
 * The engine adapter patches ssh2 only when the daemon asks (src/engine/installEngine.ts), never at
 * import. A fresh `node` process records what the patches replace in ssh2 (dispatch-table entries,
 * Protocol.prototype accessors, the KEXINIT list parser, the zlib reader, SUPPORTED_KEX), then loads
 * the built package as a user does (require and import through package.json exports), touches the
 * settings table, `Certificate` and `new SSHDaemon()`, and checks nothing changed; after `startListening()`
 * every one of them is the adapter's. An in-process ssh2 client in an application that only imports
 * the package is thus served by ssh2 as published.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { test } from 'node:test';

const ROOT = resolve(__dirname, '..');

/** What the adapter replaces in ssh2, by name; each value compared by identity (functions, descriptors' get) or text. */
const SNAPSHOT = `
const handlers = require('ssh2/lib/protocol/handlers.js');
const Protocol = require('ssh2/lib/protocol/Protocol.js');
const utils = require('ssh2/lib/protocol/utils.js');
const constants = require('ssh2/lib/protocol/constants.js');
const zlib = require('ssh2/lib/protocol/zlib.js');
const accessor = (name) => Object.getOwnPropertyDescriptor(Protocol.prototype, name)?.get;
const snapshot = () => ({
  'handlers[20] KEXINIT (rekeyGate)': handlers[20],
  'handlers[50] USERAUTH_REQUEST (userAuthControl)': handlers[50],
  'handlers[61] USERAUTH_INFO_RESPONSE (userAuthControl)': handlers[61],
  'handlers[90] CHANNEL_OPEN (payload tap)': handlers[90],
  'handlers[98] CHANNEL_REQUEST (payload tap)': handlers[98],
  'Protocol.prototype._kex (handshakeControl, pqKex)': accessor('_kex'),
  'Protocol.prototype._offer (pqKex)': accessor('_offer'),
  'Protocol.prototype._skipNextInboundPacket (guessedKexPacketFix)': accessor('_skipNextInboundPacket'),
  'Protocol.prototype._parse (identReassembly)': accessor('_parse'),
  'utils.bufferParser.readList (pqKex)': utils.bufferParser.readList,
  'ZlibPacketReader.prototype.read (inflateLimit)': zlib.ZlibPacketReader.prototype.read,
  'constants.SUPPORTED_KEX (pqKex)': constants.SUPPORTED_KEX.join(','),
});
const changed = (a, b) => Object.keys(a).filter((k) => a[k] !== b[k]);
`;

/** Loads the package with `load`, then reports which of the snapshot's entries changed at each step. */
const SCRIPT = (load: string) => `
${SNAPSHOT}
const before = snapshot();
(async () => {
  ${load}
  const steps = {};
  steps.imported = changed(before, snapshot());
  const daemon = new SSHDaemon();
  daemon.config('SSHKeyExchangeAlgorithms=mlkem768x25519-sha256,curve25519-sha256');
  daemon.sshCert = Certificate.generate('ed25519');
  void SETTINGS.length;
  steps.constructed = changed(before, snapshot());
  daemon.localHost = '127.0.0.1';
  daemon.localPort = 0;
  await daemon.startListening();
  steps.listening = changed(before, snapshot());
  steps.all = Object.keys(before);
  await daemon.shutdown();
  console.log(JSON.stringify(steps));
})().catch((err) => { console.error(err); process.exit(1); });
`;

function run(args: string[]): { imported: string[]; constructed: string[]; listening: string[]; all: string[] } {
  assert.ok(existsSync(resolve(ROOT, 'dist', 'cjs', 'index.js')), 'dist/ is missing: run npm run build');
  const r = spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, `child failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

for (const [system, args] of [
  ['require (dist/cjs/index.js)', ['-e', SCRIPT("const { SSHDaemon, Certificate, SETTINGS } = require('./dist/cjs/index.js');")]],
  [
    'import (dist/esm/index.mjs)',
    [
      '--input-type=commonjs',
      '-e',
      SCRIPT("const { SSHDaemon, Certificate, SETTINGS } = await import(require('node:url').pathToFileURL('./dist/esm/index.mjs').href);"),
    ],
  ],
] as const) {
  test(`${system}: importing the package and building a daemon leave ssh2 unpatched; startListening() installs every patch`, () => {
    const steps = run([...args]);
    assert.deepEqual(steps.imported, [], 'patched by importing the package');
    assert.deepEqual(steps.constructed, [], 'patched by new SSHDaemon(), config(), Certificate or the settings table');
    assert.deepEqual(steps.listening, steps.all, 'left unpatched by startListening()');
  });
}
