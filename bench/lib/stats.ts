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
