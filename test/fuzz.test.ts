/** The bounded fuzz pass CI runs (20,000 cases, a fixed seed so a failure can be replayed: `npm run fuzz -- --seed N`). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runFuzz } from './fuzz/runFuzz';

const SEED = Number(process.env.FUZZ_SEED ?? 20261123);

test('fuzz: 20,000 pre- and post-auth cases; the daemon survives, every connection ends, nothing leaks', { timeout: 600_000 }, async () => {
  const report = await runFuzz({ cases: 20_000, seed: SEED });
  console.log(
    `# fuzz seed ${report.seed}: ${report.preAuth} pre-auth + ${report.postAuth} post-auth cases, ${report.connected} connections, ${report.errors} Error events, ${report.sessionsRebuilt} sessions rebuilt`,
  );
  console.log(
    `# fuzz kinds: ${JSON.stringify(report.byKind)}; refusals ${JSON.stringify(report.refusals)}; session retries ${JSON.stringify(report.sessionRetries)}`,
  );
  assert.equal(report.preAuth + report.postAuth, 20_000);
  assert.deepEqual(report.internalErrors, [], 'no Error looks like a failure of our own');
});
