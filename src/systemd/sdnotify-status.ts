import type { Notifier } from './sdnotify.js';

/**
 * READY=1 means "config valid, models loaded, pipeline running" — deliberately not "camera delivering":
 * a missing camera is a degraded state the daemon reports on STATUS= and retries, while the service
 * stays active (otherwise an unplugged ribbon cable becomes a restart loop that ends in the start limit).
 */
export const READY_STEPS = ['config', 'models', 'pipeline'] as const;
export type ReadyStep = (typeof READY_STEPS)[number];

export interface Readiness {
  /** Records one finished start-up step; READY=1 goes out once, when the last one is marked. */
  mark(step: ReadyStep): void;
  readonly isReady: boolean;
  pending(): ReadyStep[];
}

export function createReadiness(notifier: Notifier, statusText: () => string = () => 'running'): Readiness {
  const done = new Set<ReadyStep>();
  let ready = false;
  return {
    mark(step: ReadyStep): void {
      if (!(READY_STEPS as readonly string[]).includes(step)) {
        throw new Error(`unknown readiness step ${JSON.stringify(step)} (expected one of ${READY_STEPS.join(', ')})`);
      }
      done.add(step);
      if (!ready && done.size === READY_STEPS.length) {
        notifier.ready(statusText());
        ready = true;
      }
    },
    get isReady(): boolean {
      return ready;
    },
    pending(): ReadyStep[] {
      return READY_STEPS.filter((s) => !done.has(s));
    },
  };
}

export type ServiceState = 'starting' | 'running' | 'degraded' | 'reloading' | 'stopping';

export interface StatusSnapshot {
  state: ServiceState;
  /** Frames fully processed per second over the last stats window. */
  fps?: number;
  /** Capture → result latency percentiles, milliseconds. */
  latencyP50Ms?: number;
  latencyP95Ms?: number;
  /** Why the state is what it is, e.g. "camera not found, retry in 8 s". */
  detail?: string;
}

/** One short line for `systemctl status`, e.g. "degraded (camera not found, retry in 8 s): 0.0 fps". */
export function formatStatus(s: StatusSnapshot): string {
  const head = s.detail ? `${s.state} (${s.detail})` : s.state;
  const parts: string[] = [];
  if (s.fps !== undefined) parts.push(`${finite(s.fps, 'fps').toFixed(1)} fps`);
  if (s.latencyP50Ms !== undefined) {
    let lat = `latency p50 ${Math.round(finite(s.latencyP50Ms, 'latencyP50Ms'))} ms`;
    if (s.latencyP95Ms !== undefined) lat += ` p95 ${Math.round(finite(s.latencyP95Ms, 'latencyP95Ms'))} ms`;
    parts.push(lat);
  }
  return parts.length ? `${head}: ${parts.join(', ')}` : head;
}

function finite(v: number, name: string): number {
  if (!Number.isFinite(v) || v < 0) throw new Error(`status ${name} must be a finite non-negative number, got ${v}`);
  return v;
}
