import assert from 'node:assert/strict';
import { RateLimiter } from '../../src/publish/rate-limit.js';

/** Offers one message per frame at `fps` for `seconds`; returns accepted times. */
function offer(l: RateLimiter, fps: number, seconds: number, key = '', start = 0): number[] {
  const out: number[] = [];
  for (let i = 0; i < fps * seconds; i++) {
    const t = start + (i * 1000) / fps;
    if (l.tryAcquire(key, t)) out.push(t);
  }
  return out;
}

describe('mqtt/rate-limit', () => {
  it('0 Hz means unlimited', () => {
    const l = new RateLimiter(0, () => 0);
    assert.equal(offer(l, 30, 2).length, 60);
    assert.equal(l.skipped, 0);
  });

  it('a camera just above the limit gets the limit, not half of it', () => {
    const l = new RateLimiter(10, () => 0);
    const got = offer(l, 12, 10);
    assert.ok(got.length >= 99 && got.length <= 101, `${got.length} messages in 10 s at 12 fps against 10 Hz`);
    assert.equal(l.skipped, 120 - got.length);
    assert.equal(l.skippedFor(''), l.skipped);
    assert.equal(l.passedFor(''), got.length);
  });

  it('never lets more than rate·L + 1 through in any window of length L', () => {
    for (const [rate, fps] of [
      [2, 30],
      [5, 7],
      [1, 1.5],
      [10, 100],
    ] as const) {
      const l = new RateLimiter(rate, () => 0);
      const got = offer(l, fps, 20);
      for (const L of [250, 1000, 3000]) {
        for (let i = 0; i < got.length; i++) {
          let n = 0;
          for (let j = i; j < got.length && got[j]! < got[i]! + L; j++) n++;
          assert.ok(n <= (rate * L) / 1000 + 1, `rate ${rate} fps ${fps}: ${n} in ${L} ms from ${got[i]}`);
        }
      }
      // and it does deliver about the rate
      assert.ok(got.length >= rate * 20 * 0.95, `rate ${rate} fps ${fps}: only ${got.length} in 20 s`);
    }
  });

  it('below the limit everything passes', () => {
    const l = new RateLimiter(10, () => 0);
    assert.equal(offer(l, 5, 4).length, 20);
  });

  it('does not build up a burst while idle', () => {
    const l = new RateLimiter(1, () => 0);
    assert.equal(l.tryAcquire('', 0), true);
    // idle for a minute, then a burst of frames 10 ms apart: only the first passes
    const after = [60_000, 60_010, 60_020, 60_030].map((t) => l.tryAcquire('', t));
    assert.deepEqual(after, [true, false, false, false]);
  });

  it('keys are independent (one schedule per camera/topic)', () => {
    const l = new RateLimiter(1, () => 0);
    assert.equal(l.tryAcquire('a', 0), true);
    assert.equal(l.tryAcquire('b', 0), true);
    assert.equal(l.tryAcquire('a', 10), false);
    assert.equal(l.skippedFor('a'), 1);
    assert.equal(l.skippedFor('b'), 0);
    l.delete('a');
    assert.equal(l.tryAcquire('a', 20), true);
  });

  it('uses the injected clock by default', () => {
    let now = 0;
    const l = new RateLimiter(2, () => now);
    assert.equal(l.tryAcquire(), true);
    now = 100;
    assert.equal(l.tryAcquire(), false);
    now = 500;
    assert.equal(l.tryAcquire(), true);
  });

  it('rejects bad rates naming the setting', () => {
    assert.throws(() => new RateLimiter(-1, () => 0, 'mqtt.detections.max_rate_hz'), /mqtt.detections.max_rate_hz must be a finite number >= 0/);
    assert.throws(() => new RateLimiter(Number.POSITIVE_INFINITY), /max_rate_hz/);
    assert.throws(() => new RateLimiter(Number.NaN), /got NaN/);
  });
});
