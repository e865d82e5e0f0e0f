import type { Metrics } from '../metrics/registry.js';
import { STAGES, type Stage } from '../metrics/timing.js';

export interface LatencyHistoryJson {
  /** seconds between points */
  step_s: number;
  /** epoch seconds of each point, oldest first */
  t: number[];
  /** per stage, the window's p50 and p99 (ms, null without samples) at each point */
  stages: Record<Stage, { p50: (number | null)[]; p99: (number | null)[] }>;
}

/**
 * The last few minutes of per-stage p50/p99 for the live view's chart: every `stepS` seconds the metrics
 * window's percentiles are copied into a fixed ring of `points` — bounded memory, nothing per frame.
 */
export class LatencyHistory {
  private readonly t: number[] = [];
  private readonly p50 = new Map<Stage, (number | null)[]>(STAGES.map((s) => [s, []]));
  private readonly p99 = new Map<Stage, (number | null)[]>(STAGES.map((s) => [s, []]));
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly metrics: Metrics,
    readonly stepS = 5,
    readonly points = 72,
    private readonly wallClock: () => number = Date.now,
  ) {}

  start(): void {
    if (this.timer) return;
    this.sample();
    this.timer = setInterval(() => this.sample(), this.stepS * 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  sample(): void {
    const push = <T>(a: T[], v: T): void => {
      a.push(v);
      if (a.length > this.points) a.shift();
    };
    push(this.t, Math.round(this.wallClock() / 1000));
    for (const s of STAGES) {
      const w = this.metrics.stage(s);
      push(this.p50.get(s)!, w.p50 === null ? null : round2(w.p50));
      push(this.p99.get(s)!, w.p99 === null ? null : round2(w.p99));
    }
  }

  toJSON(): LatencyHistoryJson {
    const stages = {} as LatencyHistoryJson['stages'];
    for (const s of STAGES) stages[s] = { p50: [...this.p50.get(s)!], p99: [...this.p99.get(s)!] };
    return { step_s: this.stepS, t: [...this.t], stages };
  }
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
