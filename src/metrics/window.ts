import * as hdr from 'hdr-histogram-js';

/**
 * Sliding windows with bounded memory: the window is split into `slots` buckets of `windowMs / slots`
 * each; a bucket is recycled when the clock moves a whole window past it. Nothing grows per sample.
 * The window therefore covers the current partial bucket plus the `slots − 1` before it: between
 * `(slots − 1) / slots` and one full window of history. Time comes from an injectable monotonic clock
 * (ms) so tests can step it.
 */
export interface WindowOptions {
  /** window length in ms (> 0) */
  windowMs: number;
  /** number of buckets (≥ 2); the window slides in steps of windowMs / slots. Default 6. */
  slots?: number;
  /** monotonic ms; default `nowMs` from timing.ts is passed by the registry */
  clock: () => number;
}

export interface WindowSummary {
  count: number;
  /** ms, null when the window holds no sample */
  p50: number | null;
  p90: number | null;
  p99: number | null;
  max: number | null;
}

/** Values are stored as integer µs; larger ones are clamped (and then show as max = this). */
export const MAX_TRACKABLE_MS = 120_000;
const MAX_US = MAX_TRACKABLE_MS * 1000;

class SlotRing<T> {
  readonly slotMs: number;
  readonly slots: number;
  private readonly epochs: number[];
  readonly items: T[];

  constructor(
    opts: WindowOptions,
    make: () => T,
    private readonly clear: (item: T) => void,
  ) {
    if (!(opts.windowMs > 0) || !Number.isFinite(opts.windowMs)) {
      throw new RangeError(`window: windowMs must be a positive finite number of ms, got ${opts.windowMs}`);
    }
    const slots = opts.slots ?? 6;
    if (!Number.isInteger(slots) || slots < 2) throw new RangeError(`window: slots must be an integer ≥ 2, got ${slots}`);
    this.slots = slots;
    this.slotMs = opts.windowMs / slots;
    this.epochs = new Array<number>(slots).fill(Number.NEGATIVE_INFINITY);
    this.items = Array.from({ length: slots }, make);
  }

  epochAt(now: number): number {
    return Math.floor(now / this.slotMs);
  }

  /** The bucket for `now`, recycled if it last held an older epoch. */
  current(now: number): T {
    const epoch = this.epochAt(now);
    const pos = ((epoch % this.slots) + this.slots) % this.slots;
    if (this.epochs[pos] !== epoch) {
      this.clear(this.items[pos]!);
      this.epochs[pos] = epoch;
    }
    return this.items[pos]!;
  }

  /** Buckets still inside the window at `now`. */
  live(now: number): T[] {
    const epoch = this.epochAt(now);
    const out: T[] = [];
    for (let i = 0; i < this.slots; i++) {
      const e = this.epochs[i]!;
      if (e <= epoch && e > epoch - this.slots) out.push(this.items[i]!);
    }
    return out;
  }

  /** Start (ms) of the oldest bucket the window can hold at `now`. */
  windowStart(now: number): number {
    return (this.epochAt(now) - this.slots + 1) * this.slotMs;
  }
}

function newHistogram(): hdr.Histogram {
  // 2 significant digits: ≤1 % value error at ~11 kB per histogram (3 digits costs 70 kB).
  return hdr.build({
    bitBucketSize: 32,
    autoResize: false,
    lowestDiscernibleValue: 1,
    highestTrackableValue: MAX_US,
    numberOfSignificantValueDigits: 2,
  });
}

/** Sliding-window latency percentiles (p50/p90/p99/max/count) in ms. */
export class LatencyWindow {
  private readonly ring: SlotRing<hdr.Histogram>;
  private readonly merged = newHistogram();

  constructor(private readonly opts: WindowOptions) {
    this.ring = new SlotRing(opts, newHistogram, (h) => h.reset());
  }

  /** Records one duration in ms (negative or non-finite values are a caller bug and throw). */
  record(ms: number, count = 1): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`LatencyWindow.record: duration must be a finite ms value ≥ 0, got ${ms}`);
    if (!Number.isInteger(count) || count < 1) throw new RangeError(`LatencyWindow.record: count must be a positive integer, got ${count}`);
    const us = Math.min(Math.round(ms * 1000), MAX_US);
    this.ring.current(this.opts.clock()).recordValueWithCount(us, count);
  }

  summary(): WindowSummary {
    const now = this.opts.clock();
    this.merged.reset();
    for (const h of this.ring.live(now)) if (h.totalCount > 0) this.merged.add(h);
    const count = this.merged.totalCount;
    if (count === 0) return { count: 0, p50: null, p90: null, p99: null, max: null };
    // HDR answers a percentile with the top of its value bucket (up to 1 % high); the exact max caps it
    const max = this.merged.maxValue / 1000;
    const at = (p: number): number => Math.min(this.merged.getValueAtPercentile(p) / 1000, max);
    return { count, p50: at(50), p90: at(90), p99: at(99), max };
  }
}

/** Sliding-window event rate (events per second). */
export class RateWindow {
  private readonly ring: SlotRing<{ n: number }>;
  private readonly createdAt: number;

  constructor(private readonly opts: WindowOptions) {
    this.ring = new SlotRing(
      opts,
      () => ({ n: 0 }),
      (c) => (c.n = 0),
    );
    this.createdAt = opts.clock();
  }

  add(n = 1): void {
    this.ring.current(this.opts.clock()).n += n;
  }

  count(): number {
    return this.ring.live(this.opts.clock()).reduce((s, c) => s + c.n, 0);
  }

  /**
   * Events per second over the covered part of the window. The denominator is at least 1 s so a
   * daemon that just started does not report 1000 fps after its first frame.
   */
  perSecond(): number {
    const now = this.opts.clock();
    const covered = now - Math.max(this.ring.windowStart(now), this.createdAt);
    return this.count() / (Math.max(covered, 1000) / 1000);
  }
}
