/**
 * Coverage-guided fuzzing of the parsers that read client bytes, with Jazzer.js (libFuzzer).
 *
 *   node --import tsx test/fuzz/jazzer/run.ts <target> [--seconds N] [--runs N] [--seed N] [--replay] [--coverage] [--keep]
 *   npm run fuzz:target -- sftp --seconds 300
 *   npm run fuzz:parsers -- --seconds 300          (every target, one after the other)
 *
 * The target module is `test/fuzz/targets/<target>.ts`; its seeds are `test/fuzz/corpus/<target>/`
 * (inputs the run finds go to a scratch folder, printed at the end; `--keep` copies the smallest
 * of at most 4 KiB into the corpus: 300 for a synchronous target, 40 for an asynchronous one). A finding is written to `test/fuzz/findings/` and the process
 * exits non-zero. Only `src/` is instrumented, loaded as TypeScript through tsx.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { installJazzerCompat } from './compat';
import { TARGETS } from './targets';

const ROOT = resolve(__dirname, '..', '..', '..');

/** Jazzer's own report step (not exported by @jazzer.js/core): istanbul over the collected counters. */
function writeCoverage(dir: string, reporters: string[]): void {
  const coverage = (globalThis as { __coverage__?: object }).__coverage__;
  if (!coverage) return;
  const fromCore = createRequire(require.resolve('@jazzer.js/core'));
  const libCoverage = fromCore('istanbul-lib-coverage') as { createCoverageMap(data: object): object };
  const libReport = fromCore('istanbul-lib-report') as { createContext(o: object): object };
  const reports = fromCore('istanbul-reports') as { create(name: string): { execute(context: object): void } };
  const context = libReport.createContext({ dir, watermarks: {}, coverageMap: libCoverage.createCoverageMap(coverage) });
  for (const r of reporters) reports.create(r).execute(context);
}

async function runOne(
  name: string,
  o: { seconds?: number; runs?: number; seed?: number; replay: boolean; coverage: boolean; keep: boolean },
): Promise<number> {
  const target = TARGETS[name];
  if (!target) throw new Error(`unknown fuzz target '${name}' (targets: ${Object.keys(TARGETS).join(', ')})`);
  installJazzerCompat();
  // Loaded only now, after the compat hook, and before any module of src/ (which must be instrumented).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const core = require('@jazzer.js/core') as typeof import('@jazzer.js/core');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { fuzzer } = require('@jazzer.js/fuzzer') as typeof import('@jazzer.js/fuzzer');
  const corpus = join(ROOT, 'test', 'fuzz', 'corpus', name);
  const findings = join(ROOT, 'test', 'fuzz', 'findings');
  mkdirSync(corpus, { recursive: true });
  mkdirSync(findings, { recursive: true });
  const scratch = mkdtempSync(join(tmpdir(), `fuzz-${name}-`));
  const libFuzzer = [
    scratch,
    corpus,
    `-artifact_prefix=${findings}/${name}-`,
    `-max_len=${target.maxLen}`,
    `-rss_limit_mb=${target.rssLimitMb ?? 2048}`,
    '-print_final_stats=1',
    ...(target.dictionary ? [`-dict=${join(ROOT, 'test', 'fuzz', 'dictionaries', target.dictionary)}`] : []),
    ...(o.seconds !== undefined ? [`-max_total_time=${o.seconds}`] : []),
    ...(o.runs !== undefined ? [`-runs=${o.runs}`] : []),
    ...(o.seed !== undefined ? [`-seed=${o.seed}`] : []),
  ];
  const options = new core.OptionsManager(core.OptionSource.DefaultCLIOptions).merge(
    {
      fuzzTarget: join(ROOT, 'test', 'fuzz', 'targets', `${name}.ts`),
      fuzzEntryPoint: 'fuzz',
      includes: [join(ROOT, 'src') + '/'],
      excludes: ['node_modules'],
      sync: target.sync,
      timeout: target.timeoutMs ?? 5000,
      mode: o.replay ? 'regression' : 'fuzzing',
      coverage: o.coverage,
      coverageDirectory: join(ROOT, 'coverage', 'fuzz', name),
      coverageReporters: ['text-summary', 'json-summary'],
      disableBugDetectors: target.disableBugDetectors ?? [],
      fuzzerOptions: libFuzzer,
    },
    core.OptionSource.CommandLineArguments,
  );
  // core.startFuzzing would import() the target, which tsx and Jazzer's ESM loader hand over as a
  // namespace without `fuzz`; the target is CommonJS TypeScript, so require() it after the
  // instrumentor's require hook is in place (initFuzzing), as startFuzzing does otherwise.
  core.registerGlobals(options);
  await core.initFuzzing(options);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const fuzzFn = (require(options.get('fuzzTarget')) as { fuzz?: (data: Buffer) => unknown }).fuzz;
  if (typeof fuzzFn !== 'function') throw new Error(`${options.get('fuzzTarget')} exports no fuzz function`);
  const result = await core.startFuzzingNoInit(core.asFindingAwareFuzzFn(fuzzFn), options);
  fuzzer.printReturnInfo(options.get('sync'));
  if (o.coverage) writeCoverage(options.get('coverageDirectory'), options.get('coverageReporters'));
  const found = readdirSync(scratch);
  if (o.keep) {
    // libFuzzer wrote only inputs that added coverage when found; keep the smallest, fewer for the
    // slow (asynchronous) targets, whose corpus CI replays in its 60 s.
    const limit = target.sync ? 300 : 40;
    const kept = found
      .map((f) => ({ f, size: statSync(join(scratch, f)).size }))
      .filter(({ f, size }) => size <= 4096 && !existsSync(join(corpus, f)))
      .sort((a, b) => a.size - b.size)
      .slice(0, limit)
      .map(({ f }) => f);
    for (const f of kept) copyFileSync(join(scratch, f), join(corpus, f));
    console.error(`fuzz ${name}: ${kept.length} of ${found.length} new inputs kept in ${corpus}`);
  } else {
    console.error(`fuzz ${name}: scratch corpus ${scratch} (${found.length} new inputs; --keep copies them into the corpus)`);
  }
  return result.returnCode;
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      seconds: { type: 'string' },
      runs: { type: 'string' },
      seed: { type: 'string' },
      replay: { type: 'boolean', default: false },
      coverage: { type: 'boolean', default: false },
      all: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
    },
  });
  const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  const o = {
    seconds: num(values.seconds),
    runs: num(values.runs),
    seed: num(values.seed),
    replay: values.replay ?? false,
    coverage: values.coverage ?? false,
    keep: values.keep ?? false,
  };
  if (values.all) {
    // libFuzzer runs once per process: one child per target.
    let failed = 0;
    for (const name of Object.keys(TARGETS)) {
      const args = ['--import', 'tsx', __filename, name, ...process.argv.slice(2).filter((a) => a !== '--all')];
      const r = spawnSync(process.execPath, args, { stdio: 'inherit', cwd: ROOT });
      if (r.status !== 0) failed++;
    }
    process.exit(failed ? 1 : 0);
  }
  if (positionals.length !== 1)
    throw new Error(`usage: run.ts <target> [--seconds N] | --all  (targets: ${Object.keys(TARGETS).join(', ')})`);
  process.exit(await runOne(positionals[0], o));
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exit(2);
});
