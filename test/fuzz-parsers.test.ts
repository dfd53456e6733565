/**
 * The short coverage-guided fuzzing pass CI runs (Jazzer.js; see docs/fuzzing.md): every target
 * in test/fuzz/jazzer/targets.ts replays its whole corpus (test/fuzz/corpus/<target>/, findings
 * included) and then fuzzes for a few seconds with a fixed seed. A finding, a crash or a hang
 * fails the test with the input's path and base64; long runs: `npm run fuzz:parsers`.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { TARGETS } from './fuzz/jazzer/targets';

const ROOT = join(__dirname, '..');
/** Fuzzing time per target after the replay, seconds (FUZZ_SECONDS to change). */
const SECONDS = Number(process.env.FUZZ_SECONDS ?? 2);
const SEED = Number(process.env.FUZZ_SEED ?? 20261130);

interface Run {
  code: number | null;
  output: string;
}

function fuzzTarget(name: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'test/fuzz/jazzer/run.ts'), name, '--seconds', String(SECONDS), '--seed', String(SEED)],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr.on('data', (b: Buffer) => (output += b.toString()));
    child.on('close', (code) => resolve({ code, output }));
  });
}

const executedUnits = (output: string) => Number(/stat::number_of_executed_units:\s+(\d+)/.exec(output)?.[1] ?? 0);

// Three targets at a time: the SSH and SFTP targets mostly wait on I/O.
const names = Object.keys(TARGETS);
const runs = new Map<string, Promise<Run>>();
let next = 0;
const startNext = (): void => {
  const name = names[next++];
  if (name === undefined) return;
  const run = fuzzTarget(name);
  runs.set(name, run);
  void run.then(startNext);
};

test('fuzz targets: corpus replay and a short fuzzing run each, no finding', { timeout: 600_000 }, async (t) => {
  for (let i = 0; i < 3; i++) startNext();
  for (const name of names) {
    await t.test(name, async () => {
      while (!runs.has(name)) await new Promise((r) => setTimeout(r, 20));
      const { code, output } = await runs.get(name)!;
      const seeds = readdirSync(join(ROOT, 'test/fuzz/corpus', name)).length;
      const executed = executedUnits(output);
      const tail = output
        .split('\n')
        .filter((l) => !/^#\d+\s+(NEW|REDUCE|pulse)/.test(l))
        .slice(-40)
        .join('\n');
      assert.equal(code, 0, `fuzz target ${name} failed (exit ${code}):\n${tail}`);
      assert.ok(seeds > 0, `${name} has seeds in test/fuzz/corpus/${name}`);
      assert.ok(executed >= seeds, `${name} executed ${executed} inputs, fewer than its ${seeds} seeds:\n${tail}`);
      const cov = /cov: (\d+)/.exec(
        output
          .split('\n')
          .filter((l) => l.includes('cov:'))
          .at(-1) ?? '',
      )?.[1];
      console.log(`# fuzz ${name}: ${executed} inputs (${seeds} seeds), coverage ${cov ?? '?'} edges`);
    });
  }
});
