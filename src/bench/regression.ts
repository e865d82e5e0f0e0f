/** Least-squares line through (x, y) with the 95 % confidence half-width of its slope. */
export interface Slope {
  slope: number;
  /** 95 % confidence half-width (Student t, n − 2 degrees of freedom); NaN with fewer than 3 points */
  ci95: number;
  intercept: number;
  n: number;
}

export function leastSquares(xs: readonly number[], ys: readonly number[]): Slope {
  const n = Math.min(xs.length, ys.length);
  if (n < 2) return { slope: NaN, ci95: NaN, intercept: NaN, n };
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += xs[i]!;
    my += ys[i]!;
  }
  mx /= n;
  my /= n;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    sxx += (xs[i]! - mx) ** 2;
    sxy += (xs[i]! - mx) * (ys[i]! - my);
  }
  if (sxx === 0) return { slope: NaN, ci95: NaN, intercept: NaN, n };
  const slope = sxy / sxx;
  const intercept = my - slope * mx;
  if (n < 3) return { slope, ci95: NaN, intercept, n };
  let sse = 0;
  for (let i = 0; i < n; i++) sse += (ys[i]! - (intercept + slope * xs[i]!)) ** 2;
  const se = Math.sqrt(sse / (n - 2) / sxx);
  return { slope, ci95: tQuantile975(n - 2) * se, intercept, n };
}

/** Two-sided 95 % Student t quantile; exact table to 30 degrees of freedom, then a close approximation. */
export function tQuantile975(df: number): number {
  const table = [
    NaN,
    12.706,
    4.303,
    3.182,
    2.776,
    2.571,
    2.447,
    2.365,
    2.306,
    2.262,
    2.228,
    2.201,
    2.179,
    2.16,
    2.145,
    2.131,
    2.12,
    2.11,
    2.101,
    2.093,
    2.086,
    2.08,
    2.074,
    2.069,
    2.064,
    2.06,
    2.056,
    2.052,
    2.048,
    2.045,
    2.042,
  ];
  if (df <= 30) return table[Math.max(1, Math.floor(df))]!;
  // Cornish–Fisher expansion around the normal quantile
  const z = 1.959964;
  return z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df ** 2);
}
