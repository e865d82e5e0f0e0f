import type { Notifier } from './sdnotify.js';

/**
 * Feeds systemd's watchdog (WatchdogSec=) with WATCHDOG=1, but only while the daemon is healthy.
 *
 * - A wedged event loop stops the feed by itself: the timer never fires.
 * - A hung inference worker stops it through isHealthy(), which the daemon bases on a recent answer
 *   from the worker and on event-loop lag.
 * - A health check still running when the next tick comes counts as unhealthy (no overlapping checks,
 *   and a check that never settles can't keep the feed going).
 * Then systemd restarts the service once WatchdogSec passes without a ping.
 */
export interface WatchdogOptions {
  notifier: Notifier;
  /** Ping period; systemd's advice is half of WATCHDOG_USEC (see watchdogIntervalFromEnv). */
  intervalMs: number;
  isHealthy: () => boolean | Promise<boolean>;
  /** Called when health flips, so the daemon can log it and put it on STATUS=. */
  onHealthChange?: (healthy: boolean, reason: string) => void;
  /** A failed health check (throw/reject) or a failed send; the feed skips that tick. */
  onError?: (err: Error) => void;
}

/** setInterval's upper bound. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface WatchdogHandle {
  stop(): void;
}

export function startWatchdog(opts: WatchdogOptions): WatchdogHandle {
  const { notifier, intervalMs, isHealthy } = opts;
  if (!Number.isFinite(intervalMs) || intervalMs < 1 || intervalMs > MAX_TIMER_MS) {
    throw new Error(`watchdog intervalMs must be between 1 and ${MAX_TIMER_MS} ms, got ${intervalMs}`);
  }
  let stopped = false;
  let inFlight = false;
  let lastHealthy: boolean | undefined;

  const report = (healthy: boolean, reason: string): void => {
    if (healthy !== lastHealthy) {
      lastHealthy = healthy;
      opts.onHealthChange?.(healthy, reason);
    }
  };
  const fail = (err: unknown): void => opts.onError?.(err instanceof Error ? err : new Error(String(err)));

  const tick = async (): Promise<void> => {
    if (inFlight) {
      report(false, 'health check still pending after one watchdog interval');
      return;
    }
    inFlight = true;
    let healthy = false;
    let reason = 'isHealthy() returned false';
    try {
      healthy = (await isHealthy()) === true;
    } catch (err) {
      reason = `isHealthy() failed: ${(err as Error)?.message ?? String(err)}`;
      fail(err);
    } finally {
      inFlight = false;
    }
    if (stopped) return;
    report(healthy, healthy ? 'healthy' : reason);
    if (!healthy) return;
    try {
      notifier.watchdog();
    } catch (err) {
      fail(err);
    }
  };

  void tick();
  const timer = setInterval(() => void tick(), intervalMs);
  timer.unref(); // the watchdog must never be what keeps a stopping daemon alive
  return {
    stop(): void {
      stopped = true;
      clearInterval(timer);
    },
  };
}

/**
 * The ping period systemd asked for, or null when this process should not ping: no WATCHDOG_USEC, or
 * WATCHDOG_PID names another process (the variables leaked into a child). Malformed values throw.
 */
export function watchdogIntervalFromEnv(env: NodeJS.ProcessEnv = process.env, pid: number = process.pid): number | null {
  const usecText = env.WATCHDOG_USEC;
  if (usecText === undefined) return null;
  if (!/^[0-9]+$/.test(usecText) || BigInt(usecText) === 0n) {
    throw new Error(`WATCHDOG_USEC=${JSON.stringify(usecText)} is not a positive integer`);
  }
  const pidText = env.WATCHDOG_PID;
  if (pidText !== undefined) {
    if (!/^[0-9]+$/.test(pidText)) throw new Error(`WATCHDOG_PID=${JSON.stringify(pidText)} is not a PID`);
    if (Number(pidText) !== pid) return null;
  }
  // Half the timeout, as sd_watchdog_enabled(3) recommends; at least 1 ms, and within what setInterval
  // accepts (beyond 2^31-1 ms Node would silently fire every 1 ms).
  const half = BigInt(usecText) / 2000n;
  return half < 1n ? 1 : half > BigInt(MAX_TIMER_MS) ? MAX_TIMER_MS : Number(half);
}
