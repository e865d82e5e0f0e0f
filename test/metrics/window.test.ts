import assert from 'node:assert/strict';
import { LatencyWindow, MAX_TRACKABLE_MS, RateWindow } from '../../src/metrics/window.js';

/** A clock the test moves by hand. */
function fakeClock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

/** Deterministic shuffle so insertion order cannot help the histogram. */
function shuffled<T>(xs: T[], seed = 7): T[] {
  const out = xs.slice();
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** HDR with 2 significant digits: each reported value is within 1 % of the true one. */
function near(actual: number | null, expected: number, what: string): void {
  assert.ok(actual !== null, `${what} is null`);
  assert.ok(Math.abs(actual - expected) <= expected * 0.01 + 0.001, `${what}: expected ≈${expected}, got ${actual}`);
}

describe('metrics/window LatencyWindow', () => {
  it('gives p50/p90/p99/max of 1..100 ms uniform within HDR precision', () => {
    const c = fakeClock();
    const w = new LatencyWindow({ windowMs: 60_000, clock: c.now });
    for (const v of shuffled(Array.from({ length: 100 }, (_, i) => i + 1))) w.record(v);
    const s = w.summary();
    assert.equal(s.count, 100);
    near(s.p50, 50, 'p50');
    near(s.p90, 90, 'p90');
    near(s.p99, 99, 'p99');
    near(s.max, 100, 'max');
  });

  it('never reports a percentile above the max', () => {
    const c = fakeClock();
    const w = new LatencyWindow({ windowMs: 60_000, clock: c.now });
    for (let i = 0; i < 50; i++) w.record(42);
    const s = w.summary();
    assert.deepEqual([s.p50, s.p90, s.p99, s.max], [42, 42, 42, 42]);
  });

  it('keeps sub-millisecond resolution (values stored as µs)', () => {
    const c = fakeClock();
    const w = new LatencyWindow({ windowMs: 10_000, clock: c.now });
    for (let i = 0; i < 99; i++) w.record(0.25);
    w.record(0.75);
    const s = w.summary();
    near(s.p50, 0.25, 'p50');
    near(s.max, 0.75, 'max');
  });

  it('forgets samples once the window has slid past them, bucket by bucket', () => {
    const c = fakeClock(0);
    const w = new LatencyWindow({ windowMs: 60_000, slots: 6, clock: c.now });
    w.record(500); // bucket [0, 10 s)
    c.advance(10_000);
    w.record(5); // bucket [10, 20 s)
    assert.equal(w.summary().count, 2);
    near(w.summary().max, 500, 'max while both are inside');

    c.advance(49_999); // t = 59.999 s: bucket 0 is still the oldest of six
    assert.equal(w.summary().count, 2);
    c.advance(1); // t = 60 s: bucket 0 leaves the window
    const s = w.summary();
    assert.equal(s.count, 1);
    near(s.max, 5, 'max after expiry');

    c.advance(120_000);
    assert.deepEqual(w.summary(), { count: 0, p50: null, p90: null, p99: null, max: null });
  });

  it('reuses a recycled bucket without leaking its old samples', () => {
    const c = fakeClock(0);
    const w = new LatencyWindow({ windowMs: 6_000, slots: 6, clock: c.now });
    w.record(900);
    c.advance(6_000); // same ring position, next lap
    w.record(3);
    const s = w.summary();
    assert.equal(s.count, 1);
    near(s.max, 3, 'max');
  });

  it('clamps values beyond the trackable range instead of throwing', () => {
    const c = fakeClock();
    const w = new LatencyWindow({ windowMs: 1000, clock: c.now });
    w.record(MAX_TRACKABLE_MS * 10);
    near(w.summary().max, MAX_TRACKABLE_MS, 'clamped max');
  });

  it('rejects negative and non-finite durations and bad options with clear errors', () => {
    const c = fakeClock();
    const w = new LatencyWindow({ windowMs: 1000, clock: c.now });
    assert.throws(() => w.record(-1), /duration must be a finite ms value ≥ 0, got -1/);
    assert.throws(() => w.record(Number.NaN), /got NaN/);
    assert.throws(() => new LatencyWindow({ windowMs: 0, clock: c.now }), /windowMs must be a positive/);
    assert.throws(() => new LatencyWindow({ windowMs: 1000, slots: 1, clock: c.now }), /slots must be an integer ≥ 2/);
  });
});

describe('metrics/window RateWindow', () => {
  it('reports events per second over the covered part of the window', () => {
    const c = fakeClock(0);
    const r = new RateWindow({ windowMs: 60_000, slots: 6, clock: c.now });
    for (let s = 0; s < 30; s++) {
      r.add(10);
      c.advance(1000);
    }
    // 300 events in 30 s since creation
    assert.equal(r.count(), 300);
    assert.equal(r.perSecond(), 10);
    for (let s = 0; s < 90; s++) {
      r.add(5);
      c.advance(1000);
    }
    // t = 120 s: the window holds buckets [70, 120) plus nothing of the current one → 50 s at 5/s
    assert.equal(r.perSecond(), 5);
  });

  it('uses at least one second as the denominator just after start', () => {
    const c = fakeClock(0);
    const r = new RateWindow({ windowMs: 60_000, clock: c.now });
    r.add();
    c.advance(10);
    assert.equal(r.perSecond(), 1);
  });
});
