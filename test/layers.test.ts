// The dependency rule of src/ (docs/architecture.md, scripts/check-layers.mjs): imports only go to
// the same folder or down the layers, with no cycle between folders or files. The script is run on
// the real tree, and on small trees that break the rule each way, so a check that passes everything
// cannot go unnoticed.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';

const root = join(__dirname, '..');
const script = join(root, 'scripts', 'check-layers.mjs');
const work = mkdtempSync(join(tmpdir(), 'sshdaemon-layers-'));
after(() => rmSync(work, { recursive: true, force: true }));

function check(src?: string): { status: number | null; output: string } {
  const r = spawnSync(process.execPath, [script, ...(src ? ['--src', src] : [])], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/** A small src/ tree: path -> content. */
function tree(name: string, files: Record<string, string>): string {
  const dir = join(work, name);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

test('src/ follows the layer rule: no upward import, no folder or file cycle', () => {
  const r = check();
  assert.equal(r.status, 0, r.output);
  assert.match(r.output, /layers ok: \d+ files/);
});

test('the check fails on an upward import, type-only included (channels -> daemon)', () => {
  const src = tree('upward', {
    'daemon/SSHDaemon.ts': "import { x } from '../channels/ChannelLayer';\nexport const y = x;\n",
    'channels/ChannelLayer.ts': "import type { Z } from '../daemon/SSHDaemon';\nexport const x = 1;\nexport type W = Z;\n",
  });
  const r = check(src);
  assert.equal(r.status, 1, r.output);
  assert.match(r.output, /channels\/ChannelLayer\.ts: imports daemon\/SSHDaemon\.ts, a layer above \(channels -> daemon\)/);
});

test('the check fails on a file cycle inside one folder and on a folder cycle between peers', () => {
  const src = tree('cycles', {
    'server/A.ts': "import { b } from './B';\nexport const a = b;\n",
    'server/B.ts': "export { a as b } from './A';\n",
    'auth/Flow.ts': "import { s } from '../sftp/S';\nexport const f = s;\n",
    'sftp/S.ts': "import type { T } from '../auth/Other';\nexport const s = 1;\nexport type U = T;\n",
    'auth/Other.ts': 'export type T = number;\n',
  });
  const r = check(src);
  assert.equal(r.status, 1, r.output);
  assert.match(r.output, /file cycle: server\/A\.ts <-> server\/B\.ts/);
  assert.match(r.output, /folder cycle: auth <-> sftp/);
});

test('the check fails on a folder that is in no layer', () => {
  const src = tree('unknown', { 'misc/helper.ts': 'export const h = 1;\n' });
  const r = check(src);
  assert.equal(r.status, 1, r.output);
  assert.match(r.output, /folder 'misc' is in no layer/);
});
