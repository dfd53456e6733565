// Runs every test/unit/*.test.ts and test/*.test.ts with node's test runner through tsx (Node 20 has no --test globs).
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';

const only = process.argv.slice(2);
// test/unit/ (fakes, milliseconds) first, then the suites with real sockets and clients.
const inDir = (dir) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.test.ts'))
    .sort()
    .map((f) => `${dir}/${f}`);
const files = only.length ? only : [...inDir('test/unit'), ...inDir('test')];
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-timeout=180000', ...files], {
  stdio: 'inherit',
});
process.exit(r.status ?? 1);
