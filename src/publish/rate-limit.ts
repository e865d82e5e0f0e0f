/**
 * Per-key rate limiter for per-frame topics (`mqtt.detections.max_rate_hz`, `mqtt.snapshot.max_rate_hz`).
 *
 * A GCRA with a burst of one: each accepted message books the next slot one interval after the previous
 * slot (not after "now"), so a camera running just above the limit (12 fps against 10 Hz) still gets ~10
 * messages a second instead of the 6 a plain "min interval since last" would give. Over any window of length
 * L at most rate·L + 1 messages pass. After an idle gap the schedule restarts at "now", so no burst builds up.
 */
export class RateLimitError extends Error {
  override name = 'RateLimitError';
}

interface Slot {
  next: number;
  skipped: number;
  passed: number;
}

export class RateLimiter {
  private readonly intervalMs: number;
  private readonly slots = new Map<string, Slot>();
  /** skips over all keys */
  skipped = 0;

  /** `maxRateHz` 0 = unlimited. `now` is a monotonic ms clock (performance.now by default). */
  constructor(
    readonly maxRateHz: number,
    private readonly now: () => number = () => performance.now(),
    readonly name = 'max_rate_hz',
  ) {
    if (typeof maxRateHz !== 'number' || !Number.isFinite(maxRateHz) || maxRateHz < 0) {
      throw new RateLimitError(`${name} must be a finite number >= 0 (0 = unlimited), got ${String(maxRateHz)}`);
    }
    this.intervalMs = maxRateHz === 0 ? 0 : 1000 / maxRateHz;
  }

  /** True if a message for `key` may go now (and books it); false counts a skip. */
  tryAcquire(key = '', at: number = this.now()): boolean {
    let s = this.slots.get(key);
    if (!s) {
      s = { next: -Infinity, skipped: 0, passed: 0 };
      this.slots.set(key, s);
    }
    if (this.intervalMs === 0) {
      s.passed++;
      return true;
    }
    if (at < s.next) {
      s.skipped++;
      this.skipped++;
      return false;
    }
    // Continue the schedule if we are within one interval of it; otherwise restart it from now.
    const base = at - s.next < this.intervalMs ? s.next : at;
    s.next = base + this.intervalMs;
    s.passed++;
    return true;
  }

  skippedFor(key = ''): number {
    return this.slots.get(key)?.skipped ?? 0;
  }

  passedFor(key = ''): number {
    return this.slots.get(key)?.passed ?? 0;
  }

  /** Forget a key (e.g. a camera that was removed on reload). */
  delete(key: string): void {
    this.slots.delete(key);
  }
}
