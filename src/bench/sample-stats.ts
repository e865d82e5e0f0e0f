/** Exact order statistics of a small sample set (the benchmark keeps every value; N is at most a few thousand). */
export interface SampleSummary {
  count: number;
  mean: number | null;
  min: number | null;
  p25: number | null;
  p50: number | null;
  p75: number | null;
  p90: number | null;
  p99: number | null;
  max: number | null;
}

/** Nearest-rank percentile of sorted values, p in [0, 100]. */
export function percentile(sorted: readonly number[], p: number): number {
  if (!sorted.length) throw new RangeError('percentile of an empty sample');
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function summarize(values: readonly number[], digits = 3): SampleSummary {
  if (!values.length) return { count: 0, mean: null, min: null, p25: null, p50: null, p75: null, p90: null, p99: null, max: null };
  const s = [...values].sort((a, b) => a - b);
  const r = (x: number): number => round(x, digits);
  return {
    count: s.length,
    mean: r(s.reduce((a, b) => a + b, 0) / s.length),
    min: r(s[0]!),
    p25: r(percentile(s, 25)),
    p50: r(percentile(s, 50)),
    p75: r(percentile(s, 75)),
    p90: r(percentile(s, 90)),
    p99: r(percentile(s, 99)),
    max: r(s[s.length - 1]!),
  };
}

export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export function median(values: readonly number[]): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    50,
  );
}
