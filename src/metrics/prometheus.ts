import { createServer, type Server } from 'node:http';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Metrics } from './registry.js';
import { ALL_COUNTERS, COUNTER_HELP, type AnyCounterName } from './stats-schema.js';
import { STAGES, type Stage } from './timing.js';

/** 1 ms … 2 s: a Pi 4 SSDLite frame is tens of ms, a segmenter frame ~100 ms, a stall seconds. */
export const STAGE_BUCKETS_S = [0.001, 0.0025, 0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2];

/** frames_* counters share one metric with a `result` label; the rest get their own `_total`. */
const FRAME_RESULTS: Partial<Record<AnyCounterName, string>> = {
  frames_processed: 'processed',
  frames_skipped: 'skipped',
  frames_corrupt: 'corrupt',
};

/** MQTT drops share one metric with a `class` label. */
const DROP_CLASSES: Partial<Record<AnyCounterName, string>> = {
  mqtt_dropped_stream: 'stream',
  mqtt_dropped_event: 'event',
  mqtt_dropped_latest: 'latest',
  mqtt_dropped_offline: 'offline',
  mqtt_dropped_backpressure: 'backpressure',
};

export interface PrometheusExporter {
  registry: Registry;
  /** stops listening to the Metrics instance */
  detach(): void;
}

/**
 * A dedicated prom-client Registry (never the global default one, so tests and embedders can make
 * several) fed by a `Metrics` instance: stage histograms and counters are updated as frames and counts
 * arrive; rates, temperature, throttling and event-loop delay are read at scrape time.
 */
export function createPrometheusExporter(metrics: Metrics, opts: { defaultMetrics?: boolean } = {}): PrometheusExporter {
  const registry = new Registry();
  const registers = [registry];

  const stageHist = new Histogram<'stage'>({
    name: 'edgesight_frame_stage_seconds',
    help: 'Per-frame stage durations (stage="end_to_end" is capture to publish)',
    labelNames: ['stage'],
    buckets: STAGE_BUCKETS_S,
    registers,
  });
  for (const stage of STAGES) stageHist.zero({ stage });

  const frames = new Counter<'result'>({
    name: 'edgesight_frames_total',
    help: 'Frames by outcome: processed, skipped (drop-if-busy), corrupt',
    labelNames: ['result'],
    registers,
  });
  const drops = new Counter<'class'>({
    name: 'edgesight_mqtt_dropped_total',
    help: 'MQTT messages lost by class: stream, event, latest (offline queue full), offline (unqueued), backpressure (broker not acknowledging)',
    labelNames: ['class'],
    registers,
  });
  const own = new Map<AnyCounterName, Counter>();
  for (const c of ALL_COUNTERS) {
    const result = FRAME_RESULTS[c];
    if (result) {
      frames.inc({ result }, metrics.total(c));
      continue;
    }
    const cls = DROP_CLASSES[c];
    if (cls) {
      drops.inc({ class: cls }, metrics.total(c));
      continue;
    }
    const counter = new Counter({ name: `edgesight_${c}_total`, help: capitalise(COUNTER_HELP[c]), registers });
    counter.inc(metrics.total(c));
    own.set(c, counter);
  }

  const detach = metrics.subscribe({
    frame(durations) {
      for (const [stage, ms] of Object.entries(durations) as [Stage, number][]) stageHist.observe({ stage }, ms / 1000);
    },
    count(name, n) {
      const result = FRAME_RESULTS[name];
      const cls = DROP_CLASSES[name];
      if (result) frames.inc({ result }, n);
      else if (cls) drops.inc({ class: cls }, n);
      else own.get(name)?.inc(n);
    },
  });

  new Gauge<'stream'>({
    name: 'edgesight_frames_per_second',
    help: `Frame rate over the last ${metrics.windowS} s window by stream: camera, processed, skipped`,
    labelNames: ['stream'],
    registers,
    collect() {
      const fps = metrics.fps();
      this.set({ stream: 'camera' }, fps.camera);
      this.set({ stream: 'processed' }, fps.processed);
      this.set({ stream: 'skipped' }, fps.skipped);
    },
  });

  new Gauge<'stat'>({
    name: 'edgesight_event_loop_delay_seconds',
    help: `Event-loop delay over the last ${metrics.windowS} s window (stat: p50, p99, max)`,
    labelNames: ['stat'],
    registers,
    collect() {
      this.reset();
      const e = metrics.eventLoopDelay();
      for (const stat of ['p50', 'p99', 'max'] as const) {
        const v = e[stat];
        if (v !== null) this.set({ stat }, v / 1000);
      }
    },
  });

  // labelled with the zone so that "no reading" is no series (a label-less gauge always shows 0)
  new Gauge<'zone'>({
    name: 'edgesight_soc_temperature_celsius',
    help: 'SoC temperature from /sys/class/thermal (absent where unavailable)',
    labelNames: ['zone'],
    registers,
    collect() {
      this.reset();
      const b = metrics.board();
      if (b && b.soc_temp_c !== null) this.set({ zone: b.thermal_zone ?? 'unknown' }, b.soc_temp_c);
    },
  });

  new Gauge<'flag' | 'when'>({
    name: 'edgesight_throttled',
    help: 'Raspberry Pi firmware throttling flags, 1 = set (absent off a Pi)',
    labelNames: ['flag', 'when'],
    registers,
    collect() {
      this.reset();
      const t = metrics.board()?.throttled;
      if (!t) return;
      for (const flag of ['under_voltage', 'freq_capped', 'throttled', 'soft_temp_limit'] as const) {
        this.set({ flag, when: 'now' }, t[`${flag}_now`] ? 1 : 0);
        this.set({ flag, when: 'since_boot' }, t[`${flag}_since_boot`] ? 1 : 0);
      }
    },
  });

  new Gauge<'window'>({
    name: 'edgesight_load_average',
    help: 'System load average (window: 1m, 5m, 15m)',
    labelNames: ['window'],
    registers,
    collect() {
      this.reset();
      const b = metrics.board();
      if (!b) return;
      for (const [window, v] of [
        ['1m', b.load_1],
        ['5m', b.load_5],
        ['15m', b.load_15],
      ] as const) {
        if (v !== null) this.set({ window }, v);
      }
    },
  });

  const info = new Gauge<'device'>({ name: 'edgesight_info', help: 'Constant 1, labelled with the device id', labelNames: ['device'], registers });
  info.set({ device: metrics.device }, 1);

  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  return { registry, detach };
}

export interface MetricsServerOptions {
  registry: Registry;
  /** 0 picks a free port (tests) */
  port: number;
  /** default loopback: the endpoint has no auth, so exposing it is an explicit choice */
  bind?: string;
}

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

/** Serves GET /metrics (Prometheus text format 0.0.4) and GET /healthz with node:http. */
export function startMetricsServer(opts: MetricsServerOptions): Promise<MetricsServer> {
  const bind = opts.bind ?? '127.0.0.1';
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) {
    return Promise.reject(new RangeError(`metrics.http.port must be an integer 0–65535, got ${opts.port}`));
  }
  const server: Server = createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    if (url === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    if (url !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics\n');
      return;
    }
    opts.registry.metrics().then(
      (body) => {
        res.writeHead(200, { 'content-type': opts.registry.contentType });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      (err: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics collection failed: ${err instanceof Error ? err.message : String(err)}\n`);
      },
    );
  });
  server.keepAliveTimeout = 5000;
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      // the code travels on, so the CLI can exit EX_UNAVAILABLE for a taken port
      reject(
        Object.assign(
          new Error(
            `metrics endpoint: cannot listen on ${bind}:${opts.port}: ${err.code ?? err.message}${err.code === 'EADDRINUSE' ? ' (the port is taken: choose another metrics.port, or 0 for any free one)' : ''}`,
          ),
          { code: err.code, syscall: 'listen' },
        ),
      );
    });
    server.listen(opts.port, bind, () => {
      const addr = server.address();
      const port = typeof addr === 'object' && addr ? addr.port : opts.port;
      resolve({
        port,
        close: () =>
          new Promise<void>((res, rej) => {
            server.close((e) => (e ? rej(e) : res()));
            server.closeAllConnections();
          }),
      });
    });
  });
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
