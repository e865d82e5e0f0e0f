import type { Logger } from '../logging/logger.js';
import type { Metrics } from '../metrics/registry.js';
import type { InferenceEngine } from '../inference/engine.js';
import { createNotifier, type Notifier } from '../systemd/sdnotify.js';
import { createReadiness, formatStatus, type Readiness, type ServiceState } from '../systemd/sdnotify-status.js';
import { startWatchdog, watchdogIntervalFromEnv, type WatchdogHandle } from '../systemd/watchdog.js';

/** Event-loop delay above this (p99 over the window's last samples) counts as a wedged loop for the watchdog. */
const MAX_LOOP_DELAY_MS = 5000;
const PING_TIMEOUT_MS = 5000;

/**
 * systemd integration: READY once config, models and pipeline are up (not waiting for the camera),
 * STATUS with fps and latency every few seconds, WATCHDOG only while the loop and the worker answer.
 */
export class ServiceHealth {
  readonly notifier: Notifier;
  readonly readiness: Readiness;
  private watchdog: WatchdogHandle | null = null;
  private statusTimer: NodeJS.Timeout | null = null;
  state: ServiceState = 'starting';
  detail: string | undefined;

  constructor(
    private readonly log: Logger,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    this.notifier = createNotifier(env);
    this.readiness = createReadiness(this.notifier, () => this.statusLine());
    if (this.notifier.enabled) log.info({ socket: this.notifier.socket }, 'systemd notification socket found');
  }

  private metrics: Metrics | null = null;

  statusLine(): string {
    const m = this.metrics;
    if (!m) return formatStatus({ state: this.state, detail: this.detail });
    const fps = m.fps().processed;
    const e2e = m.stage('end_to_end');
    const p50 = e2e.p50 ?? undefined;
    const p99 = e2e.p99 ?? undefined;
    return formatStatus({ state: this.state, detail: this.detail, fps, latencyP50Ms: p50, latencyP95Ms: p99 === undefined ? undefined : p99 });
  }

  /** After the pipeline runs: periodic STATUS and the watchdog feed. */
  start(metrics: Metrics, engine: InferenceEngine, env: NodeJS.ProcessEnv = process.env): void {
    this.metrics = metrics;
    if (!this.notifier.enabled) return;
    this.statusTimer = setInterval(() => this.notifier.status(this.statusLine()), 5000);
    this.statusTimer.unref();
    const intervalMs = watchdogIntervalFromEnv(env);
    if (intervalMs) {
      this.watchdog = startWatchdog({
        notifier: this.notifier,
        intervalMs,
        isHealthy: async () => {
          const loop = metrics.eventLoopDelay();
          if (loop.max !== null && loop.max > MAX_LOOP_DELAY_MS && (loop.p99 ?? 0) > MAX_LOOP_DELAY_MS) return false;
          return engine.ping(PING_TIMEOUT_MS);
        },
        onHealthChange: (healthy, reason) =>
          healthy ? this.log.info({ reason }, 'watchdog: healthy again') : this.log.error({ reason }, 'watchdog: unhealthy, not feeding systemd'),
        onError: (e) => this.log.warn({ err: e.message }, 'watchdog check failed'),
      });
      this.log.info({ interval_ms: intervalMs }, 'systemd watchdog armed');
    }
  }

  setState(state: ServiceState, detail?: string): void {
    this.state = state;
    this.detail = detail;
    if (this.notifier.enabled) this.notifier.status(this.statusLine());
  }

  stop(): void {
    this.watchdog?.stop();
    if (this.statusTimer) clearInterval(this.statusTimer);
    if (this.notifier.enabled) this.notifier.stopping(this.statusLine());
  }
}
