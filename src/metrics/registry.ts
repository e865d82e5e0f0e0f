import { BoardMonitor, type BoardHealth, type BoardOptions } from './board.js';
import { EventLoopDelay } from './eventloop.js';
import { ALL_COUNTERS, COUNTERS, PERCENTILES, THROTTLE_FLAGS, type AnyCounterName, type CounterName, type StatsPayload } from './stats-schema.js';
import { nowMs, stageDurations, STAGES, type FrameTimings, type Stage, type StageDurations } from './timing.js';
import { LatencyWindow, RateWindow, type WindowSummary } from './window.js';

export interface MetricsOptions {
  /** device id published in the stats payload */
  device: string;
  /** sliding window for percentiles, rates and CPU, seconds. Default 60. */
  windowS?: number;
  /** buckets per window (the window slides in windowS / slots steps). Default 6. */
  slots?: number;
  /** monotonic ms; default `nowMs` (the clock FrameTimings use) */
  clock?: () => number;
  /** wall clock for the payload's `ts`; default Date.now */
  wallClock?: () => number;
  /** board health source; `false` turns it off (payload fields null). Default: real /sys and /proc. */
  board?: BoardMonitor | BoardOptions | false;
  /** how often `start()` re-reads board health. Default 10 000 ms. */
  boardIntervalMs?: number;
  /** monitorEventLoopDelay resolution. Default 20 ms. */
  eventLoopResolutionMs?: number;
  /** injectable for tests */
  cpuUsage?: () => NodeJS.CpuUsage;
  memoryUsage?: () => { rss: number; heapUsed: number };
}

/** Receives every recorded frame and counter increment (the Prometheus exporter is one). */
export interface MetricsListener {
  frame?(durations: StageDurations): void;
  count?(name: AnyCounterName, n: number): void;
}

const MIB = 1024 * 1024;
const counterSet = new Set<string>(COUNTERS);

/**
 * The one place frame timings and counters go. Memory is bounded: a fixed set of sliding windows,
 * nothing per frame. Everything is synchronous and cheap so it can sit on the frame path.
 */
export class Metrics {
  readonly device: string;
  readonly windowS: number;
  private readonly clock: () => number;
  private readonly wallClock: () => number;
  private readonly startedAt: number;
  private readonly stages: Record<Stage, LatencyWindow>;
  private readonly rates: { captured: RateWindow; processed: RateWindow; skipped: RateWindow };
  private readonly totals: Record<AnyCounterName, number>;
  private readonly eventLoop: EventLoopDelay;
  private readonly boardMonitor: BoardMonitor | undefined;
  private readonly boardIntervalMs: number;
  private readonly cpuUsage: () => NodeJS.CpuUsage;
  private readonly memoryUsage: () => { rss: number; heapUsed: number };
  /** CPU samples at slot boundaries; at most slots + 1 kept */
  private readonly cpuSamples: { t: number; us: number }[] = [];
  private readonly slots: number;
  private readonly listeners = new Set<MetricsListener>();
  private latestBoard: BoardHealth | null = null;
  private timers: NodeJS.Timeout[] = [];
  private boardInFlight: Promise<BoardHealth | null> | undefined;
  private lastError: { message: string; at: number } | null = null;

  constructor(opts: MetricsOptions) {
    if (typeof opts.device !== 'string' || opts.device === '') throw new TypeError('Metrics: device must be a non-empty string');
    this.device = opts.device;
    this.windowS = opts.windowS ?? 60;
    if (!(this.windowS > 0) || !Number.isFinite(this.windowS)) throw new RangeError(`Metrics: windowS must be > 0, got ${opts.windowS}`);
    this.slots = opts.slots ?? 6;
    this.clock = opts.clock ?? nowMs;
    this.wallClock = opts.wallClock ?? Date.now;
    this.startedAt = this.clock();
    const w = { windowMs: this.windowS * 1000, slots: this.slots, clock: this.clock };
    this.stages = Object.fromEntries(STAGES.map((s) => [s, new LatencyWindow(w)])) as Record<Stage, LatencyWindow>;
    this.rates = { captured: new RateWindow(w), processed: new RateWindow(w), skipped: new RateWindow(w) };
    this.totals = Object.fromEntries(ALL_COUNTERS.map((c) => [c, 0])) as Record<AnyCounterName, number>;
    this.eventLoop = new EventLoopDelay({ ...w, resolutionMs: opts.eventLoopResolutionMs ?? 20 });
    this.boardMonitor = opts.board === false ? undefined : opts.board instanceof BoardMonitor ? opts.board : new BoardMonitor(opts.board);
    this.boardIntervalMs = opts.boardIntervalMs ?? 10_000;
    this.cpuUsage = opts.cpuUsage ?? (() => process.cpuUsage());
    this.memoryUsage = opts.memoryUsage ?? (() => process.memoryUsage());
    this.sampleCpu();
  }

  /** Records one processed frame: every stage duration its stamps allow; counts frames_processed (and segmentations). */
  recordFrame(t: FrameTimings): void {
    for (const k of ['captured', 'received'] as const) {
      if (typeof t[k] !== 'number' || !Number.isFinite(t[k]))
        throw new TypeError(`Metrics.recordFrame: timings.${k} must be a finite ms value, got ${t[k]}`);
    }
    const { durations, anomalies } = stageDurations(t);
    for (const s of STAGES) {
      const d = durations[s];
      if (d !== undefined) this.stages[s].record(d);
    }
    this.rates.processed.add();
    this.bump('frames_processed', 1);
    if (durations.segmenter !== undefined) this.bump('segmentations', 1);
    if (anomalies.length) this.bump('timing_anomalies', anomalies.length);
    for (const l of this.listeners) l.frame?.(durations);
  }

  inc(name: CounterName, n = 1): void {
    if (!counterSet.has(name)) {
      throw new RangeError(
        `Metrics.inc: unknown counter ${JSON.stringify(name)} (known: ${COUNTERS.join(', ')}; frames_processed and segmentations come from recordFrame)`,
      );
    }
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`Metrics.inc(${name}): n must be a non-negative integer, got ${n}`);
    if (name === 'frames_captured') this.rates.captured.add(n);
    if (name === 'frames_skipped') this.rates.skipped.add(n);
    this.bump(name, n);
  }

  private bump(name: AnyCounterName, n: number): void {
    this.totals[name] += n;
    for (const l of this.listeners) l.count?.(name, n);
  }

  /** Remembers the most recent error (one line, capped) for the stats payload, the fleet view and the live page. */
  noteError(message: string): void {
    const line = String(message).replace(/\s+/g, ' ').trim();
    this.lastError = { message: line.length > 200 ? line.slice(0, 199) + '…' : line, at: this.wallClock() };
  }

  latestError(): { message: string; at: number } | null {
    return this.lastError;
  }

  total(name: AnyCounterName): number {
    return this.totals[name];
  }

  counters(): Readonly<Record<AnyCounterName, number>> {
    return { ...this.totals };
  }

  stage(s: Stage): WindowSummary {
    return this.stages[s].summary();
  }

  fps(): { camera: number; processed: number; skipped: number } {
    return { camera: this.rates.captured.perSecond(), processed: this.rates.processed.perSecond(), skipped: this.rates.skipped.perSecond() };
  }

  eventLoopDelay(): WindowSummary {
    return this.eventLoop.summary();
  }

  /** % of one core over the window (from the oldest CPU sample still inside it); null until time has passed. */
  cpuPercent(): number | null {
    const now = this.sampleCpu();
    const from = now.t - this.windowS * 1000;
    const earlier = this.cpuSamples.filter((s) => s.t < now.t);
    // the oldest sample inside the window, else (reads rarer than the window) the newest one before it
    const oldest = earlier.find((s) => s.t >= from) ?? earlier[earlier.length - 1] ?? now;
    const dt = now.t - oldest.t;
    if (dt <= 0) return null;
    return ((now.us - oldest.us) / 1000 / dt) * 100;
  }

  private sampleCpu(): { t: number; us: number } {
    const u = this.cpuUsage();
    const s = { t: this.clock(), us: u.user + u.system };
    const last = this.cpuSamples[this.cpuSamples.length - 1];
    // keep one sample per slot so the list stays bounded however often this is called
    if (!last || s.t - last.t >= (this.windowS * 1000) / this.slots) {
      this.cpuSamples.push(s);
      if (this.cpuSamples.length > this.slots + 1) this.cpuSamples.shift();
    }
    return s;
  }

  board(): BoardHealth | null {
    return this.latestBoard;
  }

  /** Re-reads board health now (the timer from `start()` does this every boardIntervalMs). */
  refreshBoard(): Promise<BoardHealth | null> {
    if (!this.boardMonitor) return Promise.resolve(null);
    this.boardInFlight ??= this.boardMonitor.read().then((b) => {
      this.latestBoard = b;
      this.boardInFlight = undefined;
      return b;
    });
    return this.boardInFlight;
  }

  subscribe(listener: MetricsListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** true between start() and stop() */
  get running(): boolean {
    return this.timers.length > 0;
  }

  /** Starts the event-loop monitor, CPU sampling and board polling (unref'd timers). Idempotent. */
  start(): void {
    if (this.timers.length) return;
    this.eventLoop.start();
    const slotMs = (this.windowS * 1000) / this.slots;
    this.timers.push(
      setInterval(() => {
        this.eventLoop.flush();
        this.sampleCpu();
      }, slotMs),
    );
    if (this.boardMonitor) {
      void this.refreshBoard();
      this.timers.push(setInterval(() => void this.refreshBoard(), this.boardIntervalMs));
    }
    for (const t of this.timers) t.unref();
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.eventLoop.stop();
  }

  /** The stats topic payload (see stats-schema.ts). */
  snapshot(): StatsPayload {
    const fps = this.fps();
    const eld = this.eventLoopDelay();
    const mem = this.memoryUsage();
    const b = this.latestBoard;
    const out: Record<string, unknown> = {
      v: 2,
      device: this.device,
      ts: new Date(this.wallClock()).toISOString(),
      uptime_s: round((this.clock() - this.startedAt) / 1000, 1),
      window_s: this.windowS,
      camera_fps: round(fps.camera, 2),
      processed_fps: round(fps.processed, 2),
      skipped_fps: round(fps.skipped, 2),
    };
    for (const s of STAGES) {
      const w = this.stages[s].summary();
      for (const p of PERCENTILES) out[`${s}_ms_${p}`] = roundOrNull(w[p], 2);
      out[`${s}_count`] = w.count;
    }
    for (const c of ALL_COUNTERS) out[`${c}_total`] = this.totals[c];
    out.event_loop_delay_ms_p50 = roundOrNull(eld.p50, 2);
    out.event_loop_delay_ms_p99 = roundOrNull(eld.p99, 2);
    out.event_loop_delay_ms_max = roundOrNull(eld.max, 2);
    out.cpu_percent = roundOrNull(this.cpuPercent(), 1);
    out.rss_mb = round(mem.rss / MIB, 1);
    out.heap_used_mb = round(mem.heapUsed / MIB, 1);
    out.soc_temp_c = b?.soc_temp_c ?? null;
    out.throttled_raw = b?.throttled?.raw ?? null;
    for (const f of THROTTLE_FLAGS) out[f] = b?.throttled ? b.throttled[f] : null;
    out.load_1 = b?.load_1 ?? null;
    out.load_5 = b?.load_5 ?? null;
    out.load_15 = b?.load_15 ?? null;
    out.last_error = this.lastError?.message ?? null;
    out.last_error_at = this.lastError ? new Date(this.lastError.at).toISOString() : null;
    return out as StatsPayload;
  }
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function roundOrNull(x: number | null, digits: number): number | null {
  return x === null ? null : round(x, digits);
}
