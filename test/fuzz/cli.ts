/** Long fuzz runs: `npm run fuzz -- --cases 200000 --seed 42` (prints the report as JSON; exit 1 on a failed check). */
import { parseArgs } from 'node:util';
import { runFuzz } from './runFuzz';

const { values } = parseArgs({
  options: { cases: { type: 'string', default: '100000' }, seed: { type: 'string', default: String(Date.now() % 2 ** 31) } },
});
runFuzz({ cases: Number(values.cases), seed: Number(values.seed) }).then(
  (report) => {
    console.log(JSON.stringify(report, null, 2));
    if (report.internalErrors.length) process.exitCode = 1;
  },
  (err: Error) => {
    console.error(`fuzz seed ${values.seed}: ${err.message}`);
    process.exitCode = 1;
  },
);
