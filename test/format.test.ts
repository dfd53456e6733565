/**
 * The code base keeps one format (Prettier, .prettierrc.json): `npm run format` rewrites, this test
 * is the check CI runs with `npm test`.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';

test('every TypeScript, JavaScript and JSON file is Prettier-formatted (run `npm run format`)', { timeout: 120_000 }, () => {
  const root = join(__dirname, '..');
  const r = spawnSync(process.execPath, [join(root, 'node_modules', 'prettier', 'bin', 'prettier.cjs'), '--check', '.'], {
    cwd: root,
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, `prettier --check reports:\n${r.stdout}${r.stderr}`);
});
