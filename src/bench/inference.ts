import { InferenceEngine } from '../inference/engine.js';
import { createSession, ort } from '../inference/session.js';
import type { AffinityReport } from '../inference/protocol.js';
import type { LoadedModel } from '../models/store.js';
import { detectorSpec, segmenterSpec } from '../service/configured-engine.js';
import { nowMs } from '../metrics/timing.js';
import { summarize, type SampleSummary } from './sample-stats.js';

export interface EngineSettings {
  core: number;
  threads: number;
  spinning: boolean;
  /** the segmenter's input size (segmentation.width/height) */
  segWidth: number;
  segHeight: number;
}

/** The daemon's inference worker, pinned the same way, with the given detector (+ segmenter). */
export async function startEngine(
  detector: LoadedModel,
  segmenter: LoadedModel | null,
  s: EngineSettings,
): Promise<{ engine: InferenceEngine; affinity: AffinityReport }> {
  const engine = new InferenceEngine({
    init: {
      detector: detectorSpec(detector),
      segmenter: segmenter ? segmenterSpec(segmenter, s.segWidth, s.segHeight) : null,
      core: s.core,
      threads: s.threads,
      spinning: s.spinning,
    },
    // a benchmark run never stalls on purpose; a generous bound still ends a hung run
    stallTimeoutMs: 60_000,
  });
  const affinity = await engine.start();
  if (affinity.error) {
    await engine.stop();
    throw new Error(`could not pin the inference thread to core ${s.core}: ${affinity.error}`);
  }
  return { engine, affinity };
}

export interface ThroughputResult {
  runs: number;
  seconds: number;
  fps: number;
  /** per-run latency as the caller saw it (ms) */
  latency_ms: SampleSummary;
}

export interface Tensor {
  data: Float32Array;
  shape: number[];
}

export interface RunBatch {
  /** per-run latency as the caller saw it (ms) */
  lat: number[];
  seconds: number;
}

/**
 * The ceiling: detector runs back to back through the pinned worker on tensors made beforehand, so
 * it pays the same message passing as the pipeline but no decode, resize, post-processing or MQTT.
 * Each run gets a fresh copy (the engine transfers its buffer), as the pipeline hands over a fresh one.
 */
export async function engineRuns(engine: InferenceEngine, tensors: Tensor[], runs: number, warmup: number): Promise<RunBatch> {
  for (let i = 0; i < warmup; i++) await runDet(engine, tensors[i % tensors.length]!);
  const lat: number[] = [];
  const t0 = nowMs();
  for (let i = 0; i < runs; i++) {
    const s = nowMs();
    await runDet(engine, tensors[i % tensors.length]!);
    lat.push(nowMs() - s);
  }
  return { lat, seconds: (nowMs() - t0) / 1000 };
}

/** Several batches as one result (the ceiling is measured before and after the pipeline run, so drift hits both sides). */
export function throughputOf(batches: RunBatch[]): ThroughputResult {
  const lat = batches.flatMap((b) => b.lat);
  const seconds = batches.reduce((a, b) => a + b.seconds, 0);
  return { runs: lat.length, seconds: round3(seconds), fps: round3(lat.length / seconds), latency_ms: summarize(lat) };
}

function runDet(engine: InferenceEngine, t: Tensor): Promise<unknown> {
  return engine.run(t.data.slice(), t.shape);
}

/** For reference: session.run on the calling (main, unpinned) thread, no worker at all. */
export async function inThreadThroughput(
  model: LoadedModel,
  tensors: Tensor[],
  runs: number,
  warmup: number,
  threads: number,
): Promise<ThroughputResult> {
  const session = await createSession(model.file, { threads, spinning: false });
  try {
    const name = model.manifest.input.name;
    const feeds = tensors.map((t) => ({ [name]: new ort.Tensor('float32', t.data, t.shape) }));
    for (let i = 0; i < warmup; i++) await session.run(feeds[i % feeds.length]!);
    const lat: number[] = [];
    const t0 = nowMs();
    for (let i = 0; i < runs; i++) {
      const s = nowMs();
      await session.run(feeds[i % feeds.length]!);
      lat.push(nowMs() - s);
    }
    const seconds = (nowMs() - t0) / 1000;
    return { runs, seconds: round3(seconds), fps: round3(runs / seconds), latency_ms: summarize(lat) };
  } finally {
    await session.release();
  }
}

export interface PairedLatency {
  pairs: number;
  fp32_ms: SampleSummary;
  int8_ms: SampleSummary;
  /** median over pairs of int8/fp32 per pair: < 1 means int8 is faster */
  int8_over_fp32: number;
}

/**
 * int8 vs fp32 of one model, measured in the same run: two pinned workers on the same core, runs
 * alternating (fp32, int8, fp32, …) so drift in clock speed or load hits both alike. Latency is the
 * worker's own stamp around session.run, so message passing does not dilute the ratio.
 */
export async function pairedLatency(
  fp32: InferenceEngine,
  int8: InferenceEngine,
  role: 'detector' | 'segmenter',
  det: Tensor,
  seg: Tensor | null,
  pairs: number,
  warmup: number,
): Promise<PairedLatency> {
  if (role === 'segmenter' && !seg) throw new Error('pairedLatency: segmenter role needs a segmenter tensor');
  const once = async (e: InferenceEngine): Promise<number> => {
    const r = await e.run(det.data.slice(), det.shape, seg && role === 'segmenter' ? { data: seg.data.slice(), shape: seg.shape } : undefined);
    if (role === 'detector') return r.detEnd - r.detStart;
    if (r.segStart === undefined || r.segEnd === undefined) throw new Error('the worker did not run the segmenter');
    return r.segEnd - r.segStart;
  };
  for (let i = 0; i < warmup; i++) {
    await once(fp32);
    await once(int8);
  }
  const a: number[] = [];
  const b: number[] = [];
  const ratios: number[] = [];
  for (let i = 0; i < pairs; i++) {
    // alternate which goes first, so neither always runs on a cache the other just warmed
    let x: number;
    let y: number;
    if (i % 2 === 0) {
      x = await once(fp32);
      y = await once(int8);
    } else {
      y = await once(int8);
      x = await once(fp32);
    }
    a.push(x);
    b.push(y);
    ratios.push(y / x);
  }
  const sorted = ratios.sort((p, q) => p - q);
  return { pairs, fp32_ms: summarize(a), int8_ms: summarize(b), int8_over_fp32: round3(sorted[Math.floor(sorted.length / 2)]!) };
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;
