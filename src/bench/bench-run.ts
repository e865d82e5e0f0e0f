import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import type { Config, LoadedConfig } from '../config/types.js';
import type { Logger } from '../logging/logger.js';
import type { InferenceEngine } from '../inference/engine.js';
import { resolveCore } from '../inference/affinity.js';
import { startEmbeddedBroker, type EmbeddedBroker } from '../mqtt/broker.js';
import { embeddedConnection, plainClientOptions } from '../mqtt/connection.js';
import { MqttPublisher } from '../mqtt/client.js';
import { topicsFor } from '../mqtt/topics.js';
import { toModelInput } from '../preprocess/preprocess.js';
import type { LoadedModel } from '../models/store.js';
import { VERSION } from '../service/version.js';
import { prepareBenchFrames } from './frames.js';
import { engineRuns, hopComparison, inThreadThroughput, pairedLatency, startEngine, throughputOf, type Tensor } from './inference.js';
import { libcameraSource } from '../capture/libcamera.js';
import { describeMachine } from './machine.js';
import { renderMarkdown } from './markdown.js';
import { resolveBenchModels, type BenchPrecision, type Int8Preparer, type ModelTable } from './bench-models.js';
import { runPipelineBench, type PipelineRunResult } from './pipeline-run.js';
import { BENCH_SCHEMA, type BenchReport, type LiveViewPair, type ModelEntry, type PipelineSection } from './report-types.js';
import { round } from './sample-stats.js';
import { withLiveView } from './live-viewer.js';
import type { FrameResult } from '../pipeline/pipeline.js';
import type { Observable } from 'rxjs';
import type { Frame } from '../capture/frame.js';
import type { CaptureHooks } from '../capture/hooks.js';
import { latencyChartSvg, type ChartRow } from './svg.js';

export interface BenchOptions {
  lc: LoadedConfig;
  /** measured frames per pipeline run and runs for the ceiling */
  frames: number;
  width: number;
  height: number;
  /** photos the JPEG frames are made from */
  framesDir: string;
  outDir: string;
  /** run ≥ soakFrames frames and report RSS growth */
  soak: boolean;
  soakFrames: number;
  /** in order of preference for the pipeline runs */
  precisions: BenchPrecision[];
  segmentationEvery: number;
  /** pairs of runs without / with one live-view viewer (0 = no live-view measurement) */
  viewerPairs: number;
  /** an rpicam-vid-compatible program for the raw-path run, or why that run is skipped */
  rawCamera?: string | { unavailable: string };
  prepareInt8?: Int8Preparer | { unavailable: string };
  log: Logger;
  /** progress lines for a person (stderr) */
  progress?: (msg: string) => void;
}

const MIB = 1024 * 1024;

/** The median, averaging the two middle values of an even count (pairs of runs are few). */
function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
}
const rssMb = (): number => round(process.memoryUsage().rss / MIB, 1);

/** Runs the whole benchmark in one process and writes bench.json, bench.md and latency.svg to outDir. */
export async function runBench(o: BenchOptions): Promise<BenchReport> {
  const say = o.progress ?? ((): void => undefined);
  const rssStart = rssMb();
  if (!Number.isInteger(o.frames) || o.frames < 10) throw new RangeError(`--frames must be an integer ≥ 10, got ${o.frames}`);
  if (!Number.isInteger(o.viewerPairs) || o.viewerPairs < 0) throw new RangeError(`--viewer-pairs must be an integer ≥ 0, got ${o.viewerPairs}`);
  if (!Number.isInteger(o.segmentationEvery) || o.segmentationEvery < 0)
    throw new RangeError(`--segmentation-every must be an integer ≥ 0, got ${o.segmentationEvery}`);
  if (o.soak && (!Number.isInteger(o.soakFrames) || o.soakFrames < 5000))
    throw new RangeError(`--soak-frames must be an integer ≥ 5000, got ${o.soakFrames}`);
  const cfg = o.lc.config;
  const machine = describeMachine();
  const warmup = Math.min(10, Math.max(1, Math.floor(o.frames / 10)));
  const core = resolveCore(cfg.inference.core);

  say(`frames: ${o.width}×${o.height} JPEG from ${o.framesDir}`);
  const frames = await prepareBenchFrames(o.framesDir, o.width, o.height);
  const engines: InferenceEngine[] = [];
  let broker: EmbeddedBroker | null = null;
  let publisher: MqttPublisher | null = null;
  let counter: mqtt.MqttClient | null = null;
  try {
    say('models: resolving fp32/int8 variants');
    const table = await resolveBenchModels(o.lc, o.precisions, o.log, o.prepareInt8);
    const primary = o.precisions.find((p) => table.detector[p].available);
    if (!primary) {
      throw new Error(`no detector to benchmark: ${o.precisions.map((p) => `${p}: ${table.detector[p].reason}`).join('; ')}`);
    }
    const det = table.detector[primary].model!;
    const seg = table.segmenter[primary].model;
    const settings = {
      core,
      threads: cfg.inference.threads,
      spinning: cfg.inference.spinning,
      segWidth: cfg.segmentation.width,
      segHeight: cfg.segmentation.height,
    };
    say(`inference: ${primary} worker pinned to core ${core}`);
    const { engine, affinity } = await startEngine(det, seg, settings);
    engines.push(engine);
    const rssLoaded = rssMb();

    const detTensors = await tensorsFor(frames.files, det, det.manifest.input.width ?? 320, det.manifest.input.height ?? 320);
    const segW = cfg.segmentation.width;
    const segH = cfg.segmentation.height;
    const segTensors = seg ? await tensorsFor(frames.files.slice(0, 1), seg, segW, segH) : [];

    const half = Math.ceil(o.frames / 2);
    say(`ceiling: ${half} detector runs on pre-made tensors through the pinned worker (and ${half} more after the pipeline run)`);
    const ceilingBefore = await engineRuns(engine, detTensors, half, warmup);
    const firstCeiling = throughputOf([ceilingBefore]);
    say(`ceiling: ${firstCeiling.fps.toFixed(1)} fps; in-thread reference: ${Math.min(o.frames, 200)} runs on core ${core}`);
    const inThread = await inThreadThroughput(det, detTensors, Math.min(o.frames, 200), warmup, cfg.inference.threads, core);
    const hopRounds = 5;
    const hopRuns = Math.max(10, Math.min(60, Math.floor(o.frames / 5)));
    say(
      `worker hop: ${hopRounds} rounds of ${hopRuns} worker runs, ${hopRuns} main-thread runs on core ${core} (alternating) and ${hopRuns} hops alone`,
    );
    const hop = await hopComparison(engine, det, detTensors, core, cfg.inference.threads, hopRounds, hopRuns, warmup);
    say(
      `worker hop: worker ÷ main-thread session.run ${hop.worker_over_in_thread} (rounds ${hop.ratio_min}–${hop.ratio_max}); hop alone ${hop.hop_ms} ms; session.run inside the worker ${hop.worker_session_run_ms} ms vs ${hop.in_thread_ms} ms on the main thread`,
    );

    broker = await startEmbeddedBroker('127.0.0.1', 0);
    const topics = topicsFor(cfg.mqtt.base_topic, cfg.device.id, cfg.camera.name);
    publisher = new MqttPublisher({
      ...embeddedConnection(broker.url, `edgesight_bench_${process.pid}`),
      qos: cfg.mqtt.qos,
      queueSize: cfg.mqtt.queue_size,
      will: { topic: topics.availability, payload: 'offline' },
    });
    await waitConnected(publisher);
    // a real subscriber proves the messages reach the broker and go out again
    counter = mqtt.connect(broker.url, plainClientOptions(embeddedConnection(broker.url, `edgesight_bench_sub_${process.pid}`)));
    let received = 0;
    counter.on('message', () => received++);
    await new Promise<void>((resolve, reject) => {
      counter!.once('connect', () => resolve());
      counter!.once('error', reject);
    });
    await counter.subscribeAsync(`${topics.root}/#`, { qos: 0 });

    const sourceFps = Math.max(10, Math.round(2 * firstCeiling.fps));
    const runCfg = (every: number): Config => ({
      ...cfg,
      segmentation: { ...cfg.segmentation, every },
      mqtt: { ...cfg.mqtt, detections: { ...cfg.mqtt.detections, enabled: true, max_rate_hz: 0, only_with_objects: false } },
      logging: { ...cfg.logging, publish_frames: false },
    });
    const pipelineRun = async (
      every: number,
      n: number,
      rssEvery?: number,
      onResult?: (r: FrameResult) => void,
      source?: (hooks: CaptureHooks) => Observable<Frame>,
    ): Promise<{ run: PipelineRunResult; messages: number }> => {
      const before = received;
      const run = await runPipelineBench({
        engine,
        detector: det,
        segmenter: every > 0 ? seg : null,
        config: runCfg(every),
        framesDir: frames.dir,
        sourceFps,
        frames: n,
        warmup,
        publisher: publisher!,
        topics,
        log: o.log,
        rssEvery,
        onResult,
        source,
      });
      await settleMessages(() => received);
      return { run, messages: received - before };
    };

    say(`pipeline: ${o.frames} frames, detection only (source at ${sourceFps} fps, drop-if-busy)`);
    const detOnly = await pipelineRun(0, o.frames);
    const ceilingAfter = await engineRuns(engine, detTensors, o.frames - half, Math.min(warmup, 3));
    const ceiling = throughputOf([ceilingBefore, ceilingAfter]);
    const pipeline = section(detOnly.run, detOnly.messages, primary, 0, ceiling.fps);
    say(
      `pipeline: ${pipeline.fps.toFixed(1)} fps; ceiling before/after ${firstCeiling.fps.toFixed(1)}/${throughputOf([ceilingAfter]).fps.toFixed(1)} fps; efficiency ${pipeline.efficiency?.toFixed(2)}`,
    );

    // the camera's raw path: an rpicam-vid (the repository's fake on a machine without a camera) streaming
    // yuv420 at the detector's input size, so preprocessing skips sharp; its efficiency against the
    // ceiling runs measured right before and after it
    let pipelineRaw: BenchReport['pipeline_raw'];
    const detW = det.manifest.input.width ?? 320;
    const detH = det.manifest.input.height ?? 320;
    if (o.rawCamera === undefined || typeof o.rawCamera !== 'string') {
      pipelineRaw = { available: false, reason: o.rawCamera?.unavailable ?? 'no raw camera program given' };
      say(`pipeline (raw path): not run (${pipelineRaw.reason})`);
    } else {
      const program = o.rawCamera;
      say(`pipeline (raw path): ${o.frames} frames of yuv420 ${detW}×${detH} from ${program} at ${sourceFps} fps, detection only`);
      const rawBefore = await engineRuns(engine, detTensors, half, Math.min(warmup, 3));
      const source = (hooks: CaptureHooks) =>
        libcameraSource(
          { ...cfg.camera.libcamera, codec: 'yuv420', binary: program, args: [] },
          { width: detW, height: detH, fps: sourceFps, stallTimeoutS: 30 },
          hooks,
          // the fake's frames: the bench JPEGs, converted to I420 at the model size when it starts
          { env: { ...process.env, FAKE_CAM_FRAMES: frames.dir } },
        );
      const r = await pipelineRun(0, o.frames, undefined, undefined, source);
      const rawAfter = await engineRuns(engine, detTensors, o.frames - half, Math.min(warmup, 3));
      const rawCeiling = throughputOf([rawBefore, rawAfter]);
      pipelineRaw = {
        available: true,
        program,
        codec: 'yuv420',
        width: detW,
        height: detH,
        ceiling_fps: rawCeiling.fps,
        ...section(r.run, r.messages, primary, 0, rawCeiling.fps),
      };
      say(
        `pipeline (raw path): ${pipelineRaw.fps.toFixed(1)} fps; ceiling around it ${rawCeiling.fps.toFixed(1)} fps; efficiency ${pipelineRaw.efficiency?.toFixed(2)}`,
      );
    }

    // the live view's cost, robust to a noisy machine: pairs of runs without and with one viewer on
    // /stream.mjpeg, interleaved (AB, BA, AB, … so a drift in the machine's load cancels), each pair
    // giving one ratio; the median of the ratios and their range are reported
    let liveView: BenchReport['live_view'] = null;
    if (o.viewerPairs > 0) {
      const liveFps = cfg.metrics.http.live_fps;
      const n = Math.max(10, Math.ceil(o.frames / 2));
      say(`live view: ${o.viewerPairs} pairs of ${n}-frame runs without / with one viewer at ${liveFps} fps, detection only, interleaved`);
      const pairs: LiveViewPair[] = [];
      let encodedWithout = 0;
      let parts = 0;
      let bytes = 0;
      for (let i = 0; i < o.viewerPairs; i++) {
        const order = i % 2 === 0 ? 'AB' : 'BA';
        const fps: Record<'A' | 'B', number> = { A: NaN, B: NaN };
        let encoded = 0;
        let seconds = 0;
        for (const which of order as unknown as ['A' | 'B', 'A' | 'B']) {
          const run = await withLiveView(liveFps, which === 'B', (push) => pipelineRun(0, n, undefined, push));
          fps[which] = run.result.run.fps;
          if (which === 'B') {
            encoded = run.frames_encoded;
            seconds = run.seconds_watched;
            parts += run.parts_received;
            bytes += run.bytes_received;
          } else encodedWithout += run.frames_encoded;
        }
        pairs.push({
          order,
          fps_no_viewer: round(fps.A, 2),
          fps_with_viewer: round(fps.B, 2),
          ratio: round(fps.B / fps.A, 3),
          frames_encoded: encoded,
          encodes_per_s: round(encoded / seconds, 2),
        });
        say(`live view pair ${i + 1} (${order}): ${fps.A.toFixed(2)} fps without, ${fps.B.toFixed(2)} with → ${(fps.B / fps.A).toFixed(3)}`);
      }
      const ratios = pairs.map((p) => p.ratio);
      const m = median(ratios);
      liveView = {
        live_fps: liveFps,
        frames_per_run: n,
        pairs,
        ratio: round(m, 3),
        ratio_min: Math.min(...ratios),
        ratio_max: Math.max(...ratios),
        ratio_mad: round(median(ratios.map((r) => Math.abs(r - m))), 3),
        fps_no_viewer: round(median(pairs.map((p) => p.fps_no_viewer)), 2),
        fps_with_viewer: round(median(pairs.map((p) => p.fps_with_viewer)), 2),
        no_viewer_spread: round(Math.max(...pairs.map((p) => p.fps_no_viewer)) / Math.min(...pairs.map((p) => p.fps_no_viewer)) - 1, 3),
        frames_encoded: pairs.reduce((a, p) => a + p.frames_encoded, 0),
        frames_encoded_without_viewer: encodedWithout,
        parts_received: parts,
        bytes_received: bytes,
      };
      say(
        `live view: median ratio ${liveView.ratio} (range ${liveView.ratio_min}–${liveView.ratio_max}, ${pairs.length} pairs); no-viewer runs alone vary by ${(liveView.no_viewer_spread * 100).toFixed(1)} %`,
      );
    }

    let pipelineSeg: PipelineSection | null = null;
    let segRun: PipelineRunResult | null = null;
    if (seg && o.segmentationEvery > 0) {
      say(`pipeline: ${o.frames} frames, detection + segmentation every ${o.segmentationEvery}`);
      const r = await pipelineRun(o.segmentationEvery, o.frames);
      segRun = r.run;
      pipelineSeg = section(r.run, r.messages, primary, o.segmentationEvery, null);
    }
    const rssAfter = process.memoryUsage();

    const both = (role: 'detector' | 'segmenter'): boolean => table[role].fp32.available && table[role].int8.available;
    const whyNot = (role: 'detector' | 'segmenter'): string => {
      const m = (['fp32', 'int8'] as const).find((p) => !table[role][p].available);
      return m ? `${m} ${role} unavailable: ${table[role][m].reason}` : 'not measured';
    };
    const ratio: BenchReport['precision_ratio'] = {
      detector: { available: false, reason: whyNot('detector') },
      segmenter: { available: false, reason: whyNot('segmenter') },
    };
    if (both('detector') || both('segmenter')) {
      // the other precision's worker, pinned to the same core; runs alternate with the primary's
      const other: BenchPrecision = primary === 'fp32' ? 'int8' : 'fp32';
      const { engine: e2 } = await startEngine(table.detector[other].model ?? det, table.segmenter[other].model, settings);
      engines.push(e2);
      const [fp32E, int8E] = primary === 'fp32' ? [engine, e2] : [e2, engine];
      const pairs = Math.min(o.frames, 100);
      if (both('detector')) {
        say(`int8/fp32: ${pairs} alternating detector pairs`);
        ratio.detector = { available: true, ...(await pairedLatency(fp32E, int8E, 'detector', detTensors[0]!, null, pairs, warmup)) };
      }
      if (both('segmenter') && segTensors[0]) {
        const segPairs = Math.min(pairs, 40);
        say(`int8/fp32: ${segPairs} alternating segmenter pairs`);
        ratio.segmenter = {
          available: true,
          ...(await pairedLatency(fp32E, int8E, 'segmenter', detTensors[0]!, segTensors[0], segPairs, Math.min(warmup, 3))),
        };
      }
    } else {
      say(`int8/fp32: not measured (${ratio.detector.available ? '' : ratio.detector.reason})`);
    }

    let soak: BenchReport['memory']['soak'] = null;
    if (o.soak) {
      const every = seg ? o.segmentationEvery : 0;
      say(`soak: ${o.soakFrames} frames${every ? `, segmentation every ${every}` : ''}, RSS every 500`);
      const r = await pipelineRun(every, o.soakFrames, 500);
      const first = r.run.rss[0]!;
      const last = r.run.rss[r.run.rss.length - 1]!;
      const rssValues = r.run.rss.map((x) => x.rss_mb);
      soak = {
        frames: r.run.frames,
        seconds: r.run.seconds,
        fps: r.run.fps,
        segmentation_every: every,
        samples: r.run.rss,
        rss_growth_mb: round(last.rss_mb - first.rss_mb, 1),
        rss_min_mb: Math.min(...rssValues),
        rss_max_mb: Math.max(...rssValues),
        // RSS wobbles by allocator arenas from sample to sample; the fitted slope is the trend
        rss_growth_mb_per_1000_frames: round(slope(r.run.rss.map((x) => [x.frames, x.rss_mb] as [number, number])) * 1000, 2),
        heap_growth_mb_per_1000_frames: round(slope(r.run.rss.map((x) => [x.frames, x.heap_used_mb] as [number, number])) * 1000, 2),
      };
    }

    await mkdir(o.outDir, { recursive: true });
    const outputs = { json: path.join(o.outDir, 'bench.json'), markdown: path.join(o.outDir, 'bench.md'), chart: path.join(o.outDir, 'latency.svg') };
    const report: BenchReport = {
      schema: BENCH_SCHEMA,
      created_at: new Date().toISOString(),
      edgesight_version: VERSION,
      machine,
      settings: {
        frames: o.frames,
        warmup,
        width: frames.width,
        height: frames.height,
        frames_dir: o.framesDir,
        distinct_frames: frames.files.length,
        jpeg_bytes_mean: frames.meanBytes,
        core,
        cpus_allowed_list: affinity.allowed,
        threads: cfg.inference.threads,
        source_fps: sourceFps,
        segmentation_every: o.segmentationEvery,
        segmentation_width: segW,
        segmentation_height: segH,
        precisions_requested: o.precisions,
        pipeline_precision: primary,
        soak_frames: o.soak ? o.soakFrames : null,
      },
      models: modelEntries(table),
      ceiling: { worker: ceiling, in_thread: inThread },
      worker_hop: hop,
      pipeline,
      pipeline_raw: pipelineRaw,
      pipeline_segmentation: pipelineSeg,
      live_view: liveView,
      precision_ratio: ratio,
      memory: {
        rss_start_mb: rssStart,
        rss_models_loaded_mb: rssLoaded,
        rss_after_frames_mb: round(rssAfter.rss / MIB, 1),
        frames_before_rss_after: (o.frames + warmup) * (segRun ? 2 : 1),
        heap_used_after_mb: round(rssAfter.heapUsed / MIB, 1),
        soak,
      },
      loadavg_end: os.loadavg().map((x) => round(x, 2)),
      outputs,
    };
    await writeFile(outputs.json, JSON.stringify(report, null, 2) + '\n');
    await writeFile(
      outputs.chart,
      latencyChartSvg(
        `edgesight per-stage latency — ${frames.width}×${frames.height} JPEG, ${primary}`,
        `${machine.cpu_model}, ${machine.cores} cores, ${machine.arch}; inference pinned to core ${core}; ${o.frames} frames per run`,
        chartRows(detOnly.run, segRun, o.segmentationEvery),
      ),
    );
    await writeFile(outputs.markdown, renderMarkdown(report, path.basename(outputs.chart)));
    return report;
  } finally {
    // Worker.terminate() of an ORT worker resolves only while something else keeps the event loop
    // alive; without this Node would exit (status 0) in the middle of the cleanup with nothing printed.
    const keepAlive = setInterval(() => undefined, 1000);
    await counter?.endAsync(true).catch(() => undefined);
    await publisher?.close(undefined, 500).catch(() => undefined);
    await broker?.close();
    for (const e of engines) await e.stop();
    await frames.cleanup();
    clearInterval(keepAlive);
  }
}

async function tensorsFor(files: string[], model: LoadedModel, width: number, height: number): Promise<Tensor[]> {
  const out: Tensor[] = [];
  for (const [i, file] of files.entries()) {
    const data = await readFile(file);
    const t = await toModelInput(
      { kind: 'encoded', id: i, capturedAt: Date.now(), capturedMono: performance.now(), data, format: 'jpeg', origin: file },
      model.manifest.input,
      width,
      height,
    );
    out.push({ data: t.data, shape: [1, 3, height, width] });
  }
  return out;
}

function section(r: PipelineRunResult, messages: number, precision: BenchPrecision, every: number, ceilingFps: number | null): PipelineSection {
  const { samples: _s, rss: _r, ...rest } = r;
  const shareStages = ['receive', 'preprocess', 'queue', 'inference', 'postprocess', 'publish'] as const;
  const means = shareStages.map((s) => ({ stage: s, mean_ms: r.stages[s]?.mean ?? 0 }));
  const total = means.reduce((a, b) => a + b.mean_ms, 0);
  return {
    ...rest,
    precision,
    segmentation_every: every,
    efficiency: ceilingFps ? round(r.fps / ceilingFps, 3) : null,
    time_shares: means.map((m) => ({ stage: m.stage, mean_ms: round(m.mean_ms, 3), share: total > 0 ? round(m.mean_ms / total, 3) : 0 })),
    mqtt_messages_received: messages,
  };
}

function chartRows(det: PipelineRunResult, seg: PipelineRunResult | null, every: number): ChartRow[] {
  // `inference` equals `detector` when only the detector runs: not drawn twice
  const order = ['receive', 'decode', 'preprocess', 'queue', 'detector', 'postprocess', 'publish', 'pipeline', 'end_to_end'] as const;
  const rows: ChartRow[] = order.map((s) => ({ label: s, values: det.samples[s] ?? [] }));
  if (seg) {
    rows.push({ label: `segmenter (every ${every})`, values: seg.samples.segmenter ?? [] });
    rows.push({ label: `end_to_end (+seg run)`, values: seg.samples.end_to_end ?? [] });
  }
  return rows;
}

function modelEntries(t: ModelTable): BenchReport['models'] {
  const entry = (a: ModelTable['detector']['fp32']): ModelEntry => ({
    available: a.available,
    reason: a.reason,
    name: a.model?.manifest.name ?? null,
    sha256: a.model?.manifest.sha256 ?? null,
    manifest: a.model?.manifestPath ?? null,
  });
  return {
    detector: { fp32: entry(t.detector.fp32), int8: entry(t.detector.int8) },
    segmenter: { fp32: entry(t.segmenter.fp32), int8: entry(t.segmenter.int8) },
  };
}

function waitConnected(p: MqttPublisher): Promise<void> {
  if (p.connected) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('bench: could not connect to the embedded MQTT broker within 10 s')), 10_000);
    p.on('event', (ev: { type: string; message?: string }) => {
      if (ev.type === 'connected') {
        clearTimeout(t);
        resolve();
      }
    });
  });
}

/** Waits until the subscriber's count stops moving (the broker has delivered what was published). */
async function settleMessages(count: () => number): Promise<void> {
  let last = -1;
  for (let i = 0; i < 50 && count() !== last; i++) {
    last = count();
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Least-squares slope of y over x (0 for fewer than two distinct x). */
function slope(points: Array<[number, number]>): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((a, p) => a + p[0], 0) / n;
  const my = points.reduce((a, p) => a + p[1], 0) / n;
  const sxx = points.reduce((a, p) => a + (p[0] - mx) ** 2, 0);
  if (sxx === 0) return 0;
  return points.reduce((a, p) => a + (p[0] - mx) * (p[1] - my), 0) / sxx;
}
