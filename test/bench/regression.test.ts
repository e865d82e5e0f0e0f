import assert from 'node:assert/strict';
import { leastSquares, tQuantile975 } from '../../src/bench/regression.js';

describe('bench/regression (soak slopes)', () => {
  it('recovers an exact line with zero uncertainty', () => {
    const xs = [0, 1, 2, 3, 4, 5];
    const r = leastSquares(
      xs,
      xs.map((x) => 2 * x + 1),
    );
    assert.ok(Math.abs(r.slope - 2) < 1e-12 && Math.abs(r.intercept - 1) < 1e-12);
    assert.ok(Math.abs(r.ci95) < 1e-9);
  });

  it('gives the textbook slope and 95 % interval for noisy points', () => {
    // y = x ± 1 alternating: checked against the closed form below
    const xs = [1, 2, 3, 4, 5, 6, 7, 8];
    const ys = xs.map((x, i) => x + (i % 2 ? -1 : 1));
    const r = leastSquares(xs, ys);
    const n = xs.length;
    const mx = xs.reduce((a, b) => a + b) / n;
    const my = ys.reduce((a, b) => a + b) / n;
    const sxx = xs.reduce((a, x) => a + (x - mx) ** 2, 0);
    const slope = xs.reduce((a, x, i) => a + (x - mx) * (ys[i]! - my), 0) / sxx;
    const sse = xs.reduce((a, x, i) => a + (ys[i]! - (my + slope * (x - mx))) ** 2, 0);
    assert.ok(Math.abs(r.slope - slope) < 1e-12);
    assert.ok(Math.abs(r.ci95 - 2.447 * Math.sqrt(sse / (n - 2) / sxx)) < 1e-9);
    assert.ok(r.ci95 > 0);
  });

  it('is undefined (NaN) with too few points or no spread in x, never a made-up number', () => {
    assert.ok(Number.isNaN(leastSquares([1], [1]).slope));
    assert.ok(Number.isNaN(leastSquares([2, 2, 2], [1, 2, 3]).slope));
    assert.ok(Number.isNaN(leastSquares([1, 2], [1, 2]).ci95));
  });

  it('uses Student t quantiles (exact to 30 df, then close to 1.96)', () => {
    assert.equal(tQuantile975(1), 12.706);
    assert.equal(tQuantile975(10), 2.228);
    assert.ok(Math.abs(tQuantile975(60) - 2.0003) < 0.001);
    assert.ok(Math.abs(tQuantile975(1e6) - 1.96) < 0.001);
  });
});
