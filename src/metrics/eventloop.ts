import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { LatencyWindow, type WindowOptions, type WindowSummary } from './window.js';

/**
 * Event-loop delay over the sliding window, measured by Node's native `monitorEventLoopDelay` (a libuv
 * timer in C++, so the measurement itself does not load the loop).
 *
 * Node's histogram cannot be merged into a window, so `flush()` moves what it holds into a
 * `LatencyWindow` and resets it: the histogram's percentile ticks (50, 75, 87.5, … 100) become weighted
 * samples, so window percentiles are exact at those ticks and otherwise rounded up to the next tick
 * (conservative). Node records the whole timer interval, so the configured resolution is subtracted
 * to report the delay alone.
 */
export class EventLoopDelay {
  private readonly window: LatencyWindow;
  private readonly resolutionMs: number;
  private histogram: IntervalHistogram | undefined;

  constructor(opts: WindowOptions & { resolutionMs?: number }) {
    this.resolutionMs = opts.resolutionMs ?? 20;
    if (!Number.isInteger(this.resolutionMs) || this.resolutionMs < 1) {
      throw new RangeError(`EventLoopDelay: resolutionMs must be an integer ≥ 1, got ${opts.resolutionMs}`);
    }
    this.window = new LatencyWindow(opts);
  }

  get running(): boolean {
    return this.histogram !== undefined;
  }

  start(): void {
    if (this.histogram) return;
    this.histogram = monitorEventLoopDelay({ resolution: this.resolutionMs });
    this.histogram.enable();
  }

  stop(): void {
    if (!this.histogram) return;
    this.flush();
    this.histogram.disable();
    this.histogram = undefined;
  }

  /** Moves samples gathered since the last flush into the window. Cheap; call on every read. */
  flush(): void {
    const h = this.histogram;
    if (!h || h.count === 0) return;
    const total = h.count;
    let prevPct = 0;
    let assigned = 0;
    for (const [pct, ns] of h.percentiles) {
      if (pct <= prevPct) continue;
      // cumulative rounding so the weights add up to exactly `total`
      const upTo = Math.round((total * pct) / 100);
      const n = upTo - assigned;
      if (n > 0) this.window.record(Math.max(0, ns / 1e6 - this.resolutionMs), n);
      assigned = upTo;
      prevPct = pct;
    }
    h.reset();
  }

  summary(): WindowSummary {
    this.flush();
    return this.window.summary();
  }
}
