/** Median and spread of repeated measurements. */
export interface Summary {
  median: number;
  min: number;
  max: number;
  /** (max - min) / median, as a fraction; 0 with one sample. */
  spread: number;
  n: number;
  samples: number[];
}

export function summarize(samples: number[]): Summary {
  const xs = samples.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (xs.length === 0) return { median: NaN, min: NaN, max: NaN, spread: NaN, n: 0, samples };
  const mid = xs.length >> 1;
  const median = xs.length % 2 ? xs[mid] : (xs[mid - 1] + xs[mid]) / 2;
  const min = xs[0];
  const max = xs[xs.length - 1];
  return { median, min, max, spread: median ? (max - min) / median : 0, n: xs.length, samples };
}

export function ratio(a: Summary | undefined, b: Summary | undefined): number {
  if (!a || !b || !b.median) return NaN;
  return a.median / b.median;
}

/**
 * Ratios of runs taken in alternating pairs: a[i] / b[i] for each run i measured back to back, so a
 * drift of the shared machine hits both sides of a pair alike. The median of these is the figure to
 * quote, with min–max; a spread that straddles the goal means no verdict.
 */
export function pairwise(a: readonly number[], b: readonly number[]): Summary {
  const n = Math.min(a.length, b.length);
  const ratios: number[] = [];
  for (let i = 0; i < n; i++) if (Number.isFinite(a[i]) && Number.isFinite(b[i]) && b[i]) ratios.push(a[i] / b[i]);
  return summarize(ratios);
}
