import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { packageRoot } from '../models/paths.js';
import { prepareBenchFrames } from './frames.js';
import { leastSquares, type Slope } from './regression.js';
import { UNIT_FILE } from './unit-memory.js';

export interface SoakOptions {
  /** frames the files source delivers (the daemon stops reading after the last) */
  frames: number;
  /** files source rate; with pace 'fps' the pipeline drops frames while busy, as with a real camera */
  fps: number;
  /** 'pipeline': the files source also waits for the pipeline, so every frame is processed (`camera.files.pace`) */
  pace: 'fps' | 'pipeline';
  width: number;
  height: number;
  photosDir: string;
  /** seconds between samples */
  sampleS: number;
  segmentationEvery: number;
  /** `models:` section of the config the daemon runs with (paths already absolute) */
  models: Record<string, unknown>;
  outDir: string;
  /** mosquitto binary; the soak needs a real broker */
  mosquitto: string;
  /** the daemon's environment (the unit's memory settings already applied unless `memoryEnv` is null) */
  env: NodeJS.ProcessEnv;
  /** the systemd unit's memory settings the daemon runs with (`UNIT_FILE`), or null for plain node */
  memoryEnv: Record<string, string> | null;
  progress: (msg: string) => void;
}

export interface SoakSample {
  t_s: number;
  frames_captured: number;
  frames_processed: number;
  rss_mb: number;
  heap_used_mb: number;
  /** V8 heap reserved (used + free pages), main thread */
  heap_total_mb: number;
  /** memory of JS objects held outside the V8 heap (Buffers, ArrayBuffers), main thread */
  external_mb: number;
  fds: number;
  threads: number;
  event_loop_p99_ms: number | null;
}

export interface SoakReport {
  settings: Omit<SoakOptions, 'env' | 'progress' | 'models'> & { models: Record<string, unknown> };
  duration_s: number;
  counts: Record<string, number>;
  events_received: number;
  /** per-topic `seq` gaps seen by the subscriber; `checked` is false when no payload carries `seq` */
  seq: { checked: boolean; topics: number; payloads_with_seq: number; json_payloads: number; gaps: number; missing: number };
  reconciliation: {
    frames: { captured: number; accounted: number; ok: boolean };
    events: { published: number; received: number; dropped: number; ok: boolean };
    ok: boolean;
  };
  /** slopes per 10 000 processed frames after the warm-up (the first `warmup_frames` processed frames) */
  warmup_frames: number;
  slopes: Record<'rss_mb' | 'heap_used_mb' | 'fds' | 'threads' | 'event_loop_p99_ms', Slope>;
  rss: { warm_mb: number; max_mb: number; last_mb: number; first_mb: number };
  samples: SoakSample[];
  daemon_exit: { code: number | null; signal: string | null };
}

const PER = 10_000;

/**
 * Drives the real daemon (`edgesight run`, a child process) at full rate from the files source into a
 * real mosquitto, samples its memory, fds, threads and event-loop delay from /proc and /metrics, and
 * reconciles its counters with what a subscriber received once the source has ended.
 */
export async function runSoak(o: SoakOptions): Promise<SoakReport> {
  const work = await mkdtemp(path.join(tmpdir(), 'edgesight-soak-'));
  let broker: ChildProcess | null = null;
  let daemon: ChildProcess | null = null;
  const frames = await prepareBenchFrames(o.photosDir, o.width, o.height);
  // an interrupted soak (Ctrl-C, kill) must not leave its daemon and broker running
  const onSignal = (sig: NodeJS.Signals): void => {
    daemon?.kill('SIGKILL');
    broker?.kill('SIGTERM');
    rmSync(work, { recursive: true, force: true });
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    // N names over the few distinct JPEGs: the source reads every one once, then ends
    const dir = path.join(work, 'frames');
    await mkdir(dir);
    for (let i = 0; i < o.frames; i++) await symlink(frames.files[i % frames.files.length]!, path.join(dir, `f${String(i).padStart(8, '0')}.jpg`));

    const brokerPort = await freePort();
    await writeFile(path.join(work, 'mosquitto.conf'), `listener ${brokerPort} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest none\n`);
    broker = spawn(o.mosquitto, ['-c', path.join(work, 'mosquitto.conf')], { stdio: 'ignore' });
    await waitForPort(brokerPort, 10_000);
    const url = `mqtt://127.0.0.1:${brokerPort}`;

    const httpPort = await freePort();
    const config = {
      device: { id: 'soak' },
      camera: { name: 'cam', source: 'files', fps: o.fps, width: o.width, height: o.height, files: { path: dir, loop: false, pace: o.pace } },
      models: o.models,
      segmentation: { every: o.segmentationEvery },
      mqtt: { url, queue_size: 1000 },
      metrics: { http: { enabled: true, port: httpPort, bind: '127.0.0.1' }, stats_interval_s: 10 },
      logging: { level: 'warn', pretty: false },
    };
    const configFile = path.join(work, 'config.yaml');
    await writeFile(configFile, JSON.stringify(config, null, 2)); // JSON is YAML

    let eventsReceived = 0;
    // gap detection, for payloads that carry a per-topic `seq` (JSON objects only)
    const seqLast = new Map<string, number>();
    const seq = { payloads_with_seq: 0, json_payloads: 0, gaps: 0, missing: 0 };
    const sub = await mqtt.connectAsync(url, { clientId: `soak_${process.pid}`, reconnectPeriod: 500 });
    sub.on('message', (topic, payload, packet) => {
      if (topic.endsWith('/events')) eventsReceived++;
      if (packet.retain || payload[0] !== 0x7b) return;
      let v: unknown;
      try {
        v = (JSON.parse(payload.toString()) as { seq?: unknown }).seq;
      } catch {
        return;
      }
      seq.json_payloads++;
      if (typeof v !== 'number') return;
      seq.payloads_with_seq++;
      const prev = seqLast.get(topic);
      if (prev !== undefined && v !== prev + 1) {
        seq.gaps++;
        seq.missing += Math.max(0, v - prev - 1);
      }
      seqLast.set(topic, v);
    });
    await sub.subscribeAsync('edgesight/soak/#', { qos: 1 });

    const t0 = performance.now();
    let log = '';
    daemon = spawn(process.execPath, [path.join(packageRoot(), 'dist', 'src', 'cli', 'main.js'), 'run', '--config', configFile], {
      env: o.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (d: Buffer): void => void (log = (log + d.toString()).slice(-20_000));
    daemon.stdout!.on('data', keep);
    daemon.stderr!.on('data', keep);
    let exit: { code: number | null; signal: string | null } | null = null;
    const exited = new Promise<void>((r) => daemon!.on('exit', (code, signal) => ((exit = { code, signal }), r())));
    const pid = daemon.pid!;

    const samples: SoakSample[] = [];
    let last: Record<string, number> = {};
    let lastProgress = 0;
    for (;;) {
      await sleep(o.sampleS * 1000);
      if (exit) throw new Error(`the daemon exited (${JSON.stringify(exit)}) during the soak:\n${log}`);
      let prom: Map<string, number>;
      try {
        prom = parseProm(await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text());
      } catch {
        continue; // not listening yet (models loading)
      }
      last = counters(prom);
      const proc = procStats(pid);
      samples.push({
        t_s: (performance.now() - t0) / 1000,
        frames_captured: last.frames_captured!,
        frames_processed: last.frames_processed!,
        rss_mb: proc.rssMb,
        heap_used_mb: (prom.get('nodejs_heap_size_used_bytes') ?? NaN) / 2 ** 20,
        heap_total_mb: (prom.get('nodejs_heap_size_total_bytes') ?? NaN) / 2 ** 20,
        external_mb: (prom.get('nodejs_external_memory_bytes') ?? NaN) / 2 ** 20,
        fds: proc.fds,
        threads: proc.threads,
        event_loop_p99_ms: prom.has('edgesight_event_loop_delay_seconds{stat="p99"}')
          ? prom.get('edgesight_event_loop_delay_seconds{stat="p99"}')! * 1000
          : null,
      });
      if (performance.now() - lastProgress > 30_000) {
        lastProgress = performance.now();
        const s = samples.at(-1)!;
        o.progress(
          `${s.frames_captured}/${o.frames} frames captured, ${s.frames_processed} processed, RSS ${s.rss_mb.toFixed(1)} MB, fds ${s.fds}, threads ${s.threads}`,
        );
        // the curve so far survives an interrupted long run (the report proper needs the source's end)
        await mkdir(o.outDir, { recursive: true });
        await writeFile(
          path.join(o.outDir, 'soak-samples.partial.json'),
          JSON.stringify({ settings: { frames: o.frames, fps: o.fps, pace: o.pace, memoryEnv: o.memoryEnv }, samples }) + '\n',
        );
      }
      const accounted = last.frames_processed! + last.frames_skipped! + last.frames_corrupt! + last.inference_errors!;
      if (last.frames_captured! >= o.frames && accounted >= last.frames_captured!) break;
    }
    // the source has ended and nothing is in flight: no new events can appear; let the last ones arrive
    await sleep(3000);
    const final = counters(parseProm(await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text()));
    const received = eventsReceived;
    daemon.kill('SIGTERM');
    await Promise.race([exited, sleep(8000)]);
    if (!exit) daemon.kill('SIGKILL');
    await exited;
    await sub.endAsync(true);

    const warmupFrames = Math.min(1000, Math.floor(final.frames_processed! / 5));
    const steady = samples.filter((s) => s.frames_processed >= warmupFrames);
    const xs = steady.map((s) => s.frames_processed / PER);
    const slope = (k: keyof SoakSample): Slope => {
      const pts = steady
        .map((s, i) => [xs[i]!, s[k]] as const)
        .filter((p): p is readonly [number, number] => typeof p[1] === 'number' && Number.isFinite(p[1]));
      return leastSquares(
        pts.map((p) => p[0]),
        pts.map((p) => p[1]),
      );
    };
    const capturedOk = final.frames_captured === final.frames_processed! + final.frames_skipped! + final.frames_corrupt! + final.inference_errors!;
    const eventsOk = final.events_published === received + final.mqtt_dropped_event!;
    return {
      settings: {
        frames: o.frames,
        fps: o.fps,
        pace: o.pace,
        width: o.width,
        height: o.height,
        photosDir: o.photosDir,
        sampleS: o.sampleS,
        segmentationEvery: o.segmentationEvery,
        outDir: o.outDir,
        mosquitto: o.mosquitto,
        memoryEnv: o.memoryEnv,
        models: o.models,
      },
      duration_s: (performance.now() - t0) / 1000,
      counts: final,
      events_received: received,
      seq: { ...seq, checked: seq.payloads_with_seq > 0, topics: seqLast.size },
      reconciliation: {
        frames: {
          captured: final.frames_captured!,
          accounted: final.frames_processed! + final.frames_skipped! + final.frames_corrupt! + final.inference_errors!,
          ok: capturedOk && final.frames_captured === o.frames,
        },
        events: { published: final.events_published!, received, dropped: final.mqtt_dropped_event!, ok: eventsOk },
        ok: capturedOk && eventsOk && final.frames_captured === o.frames,
      },
      warmup_frames: warmupFrames,
      slopes: {
        rss_mb: slope('rss_mb'),
        heap_used_mb: slope('heap_used_mb'),
        fds: slope('fds'),
        threads: slope('threads'),
        event_loop_p99_ms: slope('event_loop_p99_ms'),
      },
      rss: {
        first_mb: samples[0]?.rss_mb ?? NaN,
        warm_mb: steady[0]?.rss_mb ?? NaN,
        max_mb: Math.max(...samples.map((s) => s.rss_mb)),
        last_mb: samples.at(-1)?.rss_mb ?? NaN,
      },
      samples,
      daemon_exit: exit!,
    };
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (daemon && daemon.exitCode === null && daemon.signalCode === null) daemon.kill('SIGKILL');
    broker?.kill('SIGTERM');
    await frames.cleanup();
    await rm(work, { recursive: true, force: true });
  }
}

const COUNTER_KEYS: Record<string, string> = {
  frames_captured: 'edgesight_frames_captured_total',
  frames_processed: 'edgesight_frames_total{result="processed"}',
  frames_skipped: 'edgesight_frames_total{result="skipped"}',
  frames_corrupt: 'edgesight_frames_total{result="corrupt"}',
  inference_errors: 'edgesight_inference_errors_total',
  events_published: 'edgesight_events_published_total',
  mqtt_dropped_event: 'edgesight_mqtt_dropped_total{class="event"}',
  mqtt_dropped_stream: 'edgesight_mqtt_dropped_total{class="stream"}',
  mqtt_dropped_backpressure: 'edgesight_mqtt_dropped_total{class="backpressure"}',
  mqtt_reconnects: 'edgesight_mqtt_reconnects_total',
  worker_restarts: 'edgesight_worker_restarts_total',
  segmentations: 'edgesight_segmentations_total',
};

function counters(prom: Map<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(COUNTER_KEYS).map(([k, name]) => [k, prom.get(name) ?? 0]));
}

/** `name{labels} value` lines of the Prometheus text format, keyed by `name{labels}` as written. */
export function parseProm(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    m.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return m;
}

function procStats(pid: number): { rssMb: number; threads: number; fds: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMb: kb('VmRSS') / 1024, threads: kb('Threads'), fds: readdirSync(`/proc/${pid}/fd`).length };
}

export function findMosquitto(env: NodeJS.ProcessEnv = process.env): string | null {
  const cands = [
    env.MOSQUITTO_BIN,
    '/usr/sbin/mosquitto',
    '/usr/bin/mosquitto',
    '/usr/local/sbin/mosquitto',
    ...(env.PATH ?? '').split(':').map((d) => path.join(d, 'mosquitto')),
  ];
  return cands.find((c): c is string => Boolean(c) && existsSync(c!)) ?? null;
}

/** A free loopback port (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      import('node:net').then(
        ({ createConnection }) => {
          const c = createConnection({ port, host: '127.0.0.1' });
          c.once('connect', () => (c.destroy(), resolve(true)));
          c.once('error', () => resolve(false));
        },
        () => resolve(false),
      );
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`mosquitto did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`);
    await sleep(100);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const fx = (v: number, d = 3): string => (Number.isFinite(v) ? v.toFixed(d) : 'nan');

export function memorySettings(env: Record<string, string> | null | undefined): string {
  return env
    ? `${Object.entries(env)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')} (from ${UNIT_FILE})`
    : 'none (plain node, --plain)';
}

/** The stdout summary; the last two lines are the machine-readable verdicts. */
export function soakSummary(r: SoakReport): string {
  const s = r.slopes;
  const L = [
    `edgesight soak — ${r.settings.frames} frames at ${r.settings.pace === 'pipeline' ? `up to ${r.settings.fps} fps, paced by the pipeline` : `${r.settings.fps} fps`} (files source, ${r.settings.width}×${r.settings.height}), segmentation every ${r.settings.segmentationEvery}, ${r.duration_s.toFixed(0)} s`,
    `memory settings: ${memorySettings(r.settings.memoryEnv)}`,
    `frames: captured ${r.counts.frames_captured}, processed ${r.counts.frames_processed}, skipped ${r.counts.frames_skipped}, corrupt ${r.counts.frames_corrupt}, inference errors ${r.counts.inference_errors}`,
    `events: published ${r.counts.events_published}, received ${r.events_received}, dropped (event class) ${r.counts.mqtt_dropped_event}; stream drops ${r.counts.mqtt_dropped_stream}, backpressure drops ${r.counts.mqtt_dropped_backpressure}`,
    `RSS: ${fx(r.rss.first_mb, 1)} MB first sample, ${fx(r.rss.warm_mb, 1)} MB after ${r.warmup_frames} processed frames (warm-up), max ${fx(r.rss.max_mb, 1)} MB, last ${fx(r.rss.last_mb, 1)} MB`,
    `slopes per 10k processed frames after warm-up (least squares, ±95 % CI, ${s.rss_mb.n} samples):`,
    `  rss_mb ${fx(s.rss_mb.slope)} ± ${fx(s.rss_mb.ci95)}`,
    `  heap_used_mb ${fx(s.heap_used_mb.slope)} ± ${fx(s.heap_used_mb.ci95)}`,
    `  fds ${fx(s.fds.slope)} ± ${fx(s.fds.ci95)}`,
    `  threads ${fx(s.threads.slope)} ± ${fx(s.threads.ci95)}`,
    `  event_loop_p99_ms ${fx(s.event_loop_p99_ms.slope)} ± ${fx(s.event_loop_p99_ms.ci95)}`,
    r.seq.checked
      ? `seq: ${r.seq.payloads_with_seq} payloads on ${r.seq.topics} topics, ${r.seq.gaps} gaps (${r.seq.missing} missing); stream/backpressure drops ${r.counts.mqtt_dropped_stream! + r.counts.mqtt_dropped_backpressure!}`
      : `seq: not checked (none of ${r.seq.json_payloads} JSON payloads carries seq)`,
    `frames reconciled: ${r.reconciliation.frames.captured} captured = ${r.reconciliation.frames.accounted} processed+skipped+corrupt+failed (${r.reconciliation.frames.ok})`,
    `events reconciled: ${r.reconciliation.events.published} published = ${r.reconciliation.events.received} received + ${r.reconciliation.events.dropped} dropped (${r.reconciliation.events.ok})`,
    `rss_slope_mb_per_10k=${fx(s.rss_mb.slope)}±${fx(s.rss_mb.ci95)}`,
    `reconciled=${r.reconciliation.ok}`,
  ];
  return L.join('\n') + '\n';
}
