/**
 * Streaming value statistics for one activation tensor: exact min/max plus a fixed-size signed histogram
 * whose range doubles (merging bin pairs) when a batch exceeds it, so memory stays bounded however many
 * calibration inputs pass through.
 */
export type RangeMethod = 'minmax' | 'percentile' | 'mse' | 'frames';
export const RANGE_METHODS: readonly RangeMethod[] = ['minmax', 'percentile', 'mse', 'frames'];

/** bins per sign; the histogram covers [-limit, limit] */
const HALF_BINS = 2048;

export class TensorHistogram {
  min = Infinity;
  max = -Infinity;
  count = 0;
  /** each added batch's (calibration input's) own min and max */
  readonly frameMin: number[] = [];
  readonly frameMax: number[] = [];
  /** [0, HALF_BINS) = negative values by |x|, [HALF_BINS, 2·HALF_BINS) = non-negative values */
  private readonly bins = new Float64Array(2 * HALF_BINS);
  private limit = 0;

  add(data: Float32Array): void {
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    if (!Number.isFinite(lo) || !Number.isFinite(hi)) {
      if (data.length === 0) return;
      throw new Error('calibration produced a non-finite activation value (NaN or ±Inf)');
    }
    this.min = Math.min(this.min, lo);
    this.max = Math.max(this.max, hi);
    this.frameMin.push(lo);
    this.frameMax.push(hi);
    const need = Math.max(Math.abs(lo), Math.abs(hi));
    if (this.limit === 0) this.limit = need > 0 ? 2 ** Math.ceil(Math.log2(need)) : 2 ** -20;
    while (need > this.limit) this.grow();
    const w = this.limit / HALF_BINS;
    const bins = this.bins;
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      if (v >= 0) {
        const k = Math.floor(v / w);
        bins[HALF_BINS + (k < HALF_BINS ? k : HALF_BINS - 1)]++;
      } else {
        const k = Math.floor(-v / w);
        bins[HALF_BINS - 1 - (k < HALF_BINS ? k : HALF_BINS - 1)]++;
      }
    }
    this.count += data.length;
  }

  private grow(): void {
    const b = this.bins;
    // non-negative half: new bin k = old 2k + 2k+1
    for (let k = 0; k < HALF_BINS; k++) {
      b[HALF_BINS + k] = k < HALF_BINS / 2 ? b[HALF_BINS + 2 * k] + b[HALF_BINS + 2 * k + 1] : 0;
    }
    // negative half mirrored: index HALF_BINS-1-k holds |x| bin k
    for (let k = 0; k < HALF_BINS; k++) {
      b[HALF_BINS - 1 - k] = k < HALF_BINS / 2 ? b[HALF_BINS - 1 - 2 * k] + b[HALF_BINS - 2 - 2 * k] : 0;
    }
    this.limit *= 2;
  }

  /** (centre, count) of every non-empty bin, ascending */
  private centres(): Array<[number, number]> {
    const w = this.limit / HALF_BINS;
    const out: Array<[number, number]> = [];
    for (let i = 0; i < 2 * HALF_BINS; i++) {
      const n = this.bins[i];
      if (n > 0) out.push([(i - HALF_BINS + 0.5) * w, n]);
    }
    return out;
  }

  /** value below which a fraction q of the samples lie (bin resolution, clamped to the observed range) */
  quantile(q: number): number {
    const target = q * this.count;
    const w = this.limit / HALF_BINS;
    let acc = 0;
    for (let i = 0; i < 2 * HALF_BINS; i++) {
      acc += this.bins[i];
      if (acc >= target) {
        const upper = (i - HALF_BINS + 1) * w;
        return Math.min(this.max, Math.max(this.min, upper));
      }
    }
    return this.max;
  }

  /**
   * The [lo, hi] range to quantize to (always containing 0, so zero is exact).
   * percentile: both tails cut at `percentile`% (e.g. 99.99 keeps the central 99.99% on each side);
   * mse: the range (minmax scaled by a factor in 0.2..1) minimising expected squared error over the histogram.
   */
  range(method: RangeMethod, opts: { percentile: number; levels: number; framePercentile?: number }): [number, number] {
    if (this.count === 0) throw new Error('no calibration data reached this tensor');
    let lo = this.min;
    let hi = this.max;
    if (method === 'percentile') {
      const p = opts.percentile / 100;
      lo = this.quantile(1 - p);
      hi = this.quantile(p);
    } else if (method === 'mse') {
      [lo, hi] = this.mseRange(opts.levels);
    } else if (method === 'frames') {
      // a quantile of the inputs' own extremes: one unusual input cannot set the range alone
      const q = (opts.framePercentile ?? 90) / 100;
      lo = -quantileOf(
        this.frameMin.map((v) => -v),
        q,
      );
      hi = quantileOf(this.frameMax, q);
    }
    return [Math.min(lo, 0), Math.max(hi, 0)];
  }

  private mseRange(levels: number): [number, number] {
    const pts = this.centres();
    const lo0 = Math.min(this.min, 0);
    const hi0 = Math.max(this.max, 0);
    let best: [number, number] = [lo0, hi0];
    let bestErr = Infinity;
    for (let a = 1; a >= 0.2 - 1e-9; a -= 0.01) {
      const lo = lo0 * a;
      const hi = hi0 * a;
      const step = (hi - lo) / (levels - 1);
      if (step <= 0) continue;
      let err = 0;
      for (const [c, n] of pts) {
        if (c < lo) err += n * (c - lo) ** 2;
        else if (c > hi) err += n * (c - hi) ** 2;
        else err += (n * step * step) / 12;
      }
      if (err < bestErr) {
        bestErr = err;
        best = [lo, hi];
      }
    }
    return best;
  }
}

/** linear-interpolated quantile q ∈ [0, 1] of a list */
function quantileOf(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  const pos = q * (s.length - 1);
  const i = Math.floor(pos);
  return i + 1 < s.length ? s[i]! + (s[i + 1]! - s[i]!) * (pos - i) : s[i]!;
}
