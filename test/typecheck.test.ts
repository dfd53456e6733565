/** The tests, samples and benchmarks type-check as strictly as the library (tsx runs them without checking). */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';

const root = join(__dirname, '..');

test('tsc -p tsconfig.test.json: src, test, samples and bench compile without errors', { timeout: 180_000 }, () => {
  const r = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.test.json')], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
});
