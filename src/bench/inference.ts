import { InferenceEngine } from '../inference/engine.js';
import { createSession, ort } from '../inference/session.js';
import type { AffinityReport } from '../inference/protocol.js';
import type { LoadedModel } from '../models/store.js';
import { detectorSpec, segmenterSpec } from '../service/configured-engine.js';
import { readFileSync } from 'node:fs';
import { cpusAllowedList, currentTid, pinThread } from '../inference/affinity.js';
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

/**
 * For reference: session.run on the calling (main) thread, no worker at all, with the worker's session
 * settings (same model, same intra-op threads). When `core` is given the main thread is pinned to it for
 * the measurement and restored afterwards, so the reference runs on the same core as the worker: an
 * unpinned main thread may move to whichever core is idler, which on a shared machine is not a fair
 * comparison with a thread that may not.
 */
export async function inThreadThroughput(
  model: LoadedModel,
  tensors: Tensor[],
  runs: number,
  warmup: number,
  threads: number,
  core: number | null = null,
): Promise<ThroughputResult & { pinned_core: number | null }> {
  const session = await createSession(model.file, { threads, spinning: false });
  try {
    const name = model.manifest.input.name;
    const feeds = tensors.map((t) => ({ [name]: new ort.Tensor('float32', t.data, t.shape) }));
    const lat = await pinnedTo(core, async () => {
      for (let i = 0; i < warmup; i++) await session.run(feeds[i % feeds.length]!);
      const out: number[] = [];
      for (let i = 0; i < runs; i++) {
        const s = nowMs();
        await session.run(feeds[i % feeds.length]!);
        out.push(nowMs() - s);
      }
      return out;
    });
    const seconds = lat.reduce((a, b) => a + b, 0) / 1000;
    return { runs, seconds: round3(seconds), fps: round3(runs / seconds), latency_ms: summarize(lat), pinned_core: core };
  } finally {
    await session.release();
  }
}

/** Runs `fn` with the calling thread pinned to `core` (null: as it is), restoring its CPU list after. */
async function pinnedTo<T>(core: number | null, fn: () => Promise<T>): Promise<T> {
  if (core === null) return fn();
  const tid = currentTid();
  const before = cpusAllowedList(tid);
  pinThread(tid, String(core));
  try {
    return await fn();
  } finally {
    pinThread(tid, before);
  }
}

export interface HopRound {
  /** which block ran first in this round */
  order: 'worker-first' | 'main-first';
  worker_ms: number;
  in_thread_ms: number;
  hop_ms: number;
  /** in_thread_ms ÷ worker_ms, i.e. worker fps ÷ main-thread fps in this round */
  ratio: number;
  /** CPU time per run of the worker thread (its hop handling + session.run) and of the main thread's session.run */
  worker_cpu_ms: number;
  in_thread_cpu_ms: number;
}

export interface HopComparison {
  rounds: HopRound[];
  runs_per_round: number;
  /** the core both the worker and the (temporarily pinned) main thread ran on */
  core: number;
  threads: number;
  /** median over the rounds of worker fps ÷ main-thread session.run fps (target ≥ 0.95) */
  worker_over_in_thread: number;
  ratio_min: number;
  ratio_max: number;
  /** per-run medians over all rounds (ms) */
  worker_ms: number;
  in_thread_ms: number;
  /** session.run as the worker itself timed it (ms): the part of worker_ms that is not the hop */
  worker_session_run_ms: number;
  /** the hop alone: the same input transfer and round trip as a run, without session.run (ms per run) */
  hop_ms: number;
  hop_ms_p90: number;
  /**
   * The same comparison in CPU time (each thread's run time from /proc/…/schedstat, per run): what the
   * work costs, without the time a thread waited for its core — on a shared machine the wall-clock
   * ratio mostly measures who else runs on the pinned core. Median over the rounds of main ÷ worker.
   */
  cpu_in_thread_over_worker: number;
  worker_cpu_ms: number;
  in_thread_cpu_ms: number;
}

/** CPU time a thread of this process has run, in ms (first field of /proc/<pid>/task/<tid>/schedstat). */
function threadCpuMs(tid: number): number {
  return Number(readFileSync(`/proc/${process.pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
}

/**
 * The worker hop, measured fairly and in one go: `rounds` rounds, each a block of worker runs, a block of
 * main-thread session.run (the main thread pinned to the worker's core for that block) and a block of
 * hops alone, the first two in alternating order, so a drift in the machine's load hits all alike. Every
 * block runs the same pre-made tensors; the worker gets a fresh copy per run as the pipeline hands it one.
 */
export async function hopComparison(
  engine: InferenceEngine,
  model: LoadedModel,
  tensors: Tensor[],
  core: number,
  threads: number,
  rounds: number,
  runsPerRound: number,
  warmup: number,
): Promise<HopComparison> {
  const session = await createSession(model.file, { threads, spinning: false });
  try {
    const name = model.manifest.input.name;
    const feeds = tensors.map((t) => ({ [name]: new ort.Tensor('float32', t.data, t.shape) }));
    const inside: number[] = [];
    const workerTid = engine.affinity?.tid;
    const mainTid = currentTid();
    const cpuMs = (tid: number | undefined): number => (tid === undefined ? NaN : threadCpuMs(tid));
    type Block = { lat: number[]; cpuMs: number };
    const workerBlock = async (n: number): Promise<Block> => {
      const lat: number[] = [];
      const c0 = cpuMs(workerTid);
      for (let i = 0; i < n; i++) {
        const t = tensors[i % tensors.length]!;
        const copy = t.data.slice();
        const s = nowMs();
        const r = await engine.run(copy, t.shape);
        lat.push(nowMs() - s);
        inside.push(r.detEnd - r.detStart);
      }
      return { lat, cpuMs: (cpuMs(workerTid) - c0) / n };
    };
    // the CPU clock is read inside the pinned section, so taskset's spawns are not counted
    const mainBlock = (n: number): Promise<Block> =>
      pinnedTo(core, async () => {
        const lat: number[] = [];
        const c0 = cpuMs(mainTid);
        for (let i = 0; i < n; i++) {
          const s = nowMs();
          await session.run(feeds[i % feeds.length]!);
          lat.push(nowMs() - s);
        }
        return { lat, cpuMs: (cpuMs(mainTid) - c0) / n };
      });
    const hopBlock = async (n: number): Promise<number[]> => {
      const lat: number[] = [];
      for (let i = 0; i < n; i++) {
        const t = tensors[i % tensors.length]!;
        const copy = t.data.slice();
        const s = nowMs();
        await engine.hop(copy, t.shape);
        lat.push(nowMs() - s);
      }
      return lat;
    };
    await workerBlock(warmup);
    await mainBlock(warmup);
    await hopBlock(warmup);
    inside.length = 0;
    const out: HopRound[] = [];
    const all = { w: [] as number[], m: [] as number[], h: [] as number[] };
    for (let r = 0; r < rounds; r++) {
      const workerFirst = r % 2 === 0;
      let wb: Block;
      let mb: Block;
      if (workerFirst) {
        wb = await workerBlock(runsPerRound);
        mb = await mainBlock(runsPerRound);
      } else {
        mb = await mainBlock(runsPerRound);
        wb = await workerBlock(runsPerRound);
      }
      const w = wb.lat;
      const m = mb.lat;
      const h = await hopBlock(runsPerRound);
      all.w.push(...w);
      all.m.push(...m);
      all.h.push(...h);
      const wMs = mean(w);
      const mMs = mean(m);
      out.push({
        order: workerFirst ? 'worker-first' : 'main-first',
        worker_ms: round3(wMs),
        in_thread_ms: round3(mMs),
        hop_ms: round3(median(h)),
        ratio: round3(mMs / wMs),
        worker_cpu_ms: round3(wb.cpuMs),
        in_thread_cpu_ms: round3(mb.cpuMs),
      });
    }
    const ratios = out.map((x) => x.ratio);
    const hs = summarize(all.h);
    return {
      rounds: out,
      runs_per_round: runsPerRound,
      core,
      threads,
      worker_over_in_thread: round3(median(ratios)),
      ratio_min: Math.min(...ratios),
      ratio_max: Math.max(...ratios),
      worker_ms: round3(median(all.w)),
      in_thread_ms: round3(median(all.m)),
      worker_session_run_ms: round3(median(inside)),
      hop_ms: round3(hs.p50 ?? NaN),
      hop_ms_p90: round3(hs.p90 ?? NaN),
      cpu_in_thread_over_worker: round3(median(out.map((x) => x.in_thread_cpu_ms / x.worker_cpu_ms))),
      worker_cpu_ms: round3(median(out.map((x) => x.worker_cpu_ms))),
      in_thread_cpu_ms: round3(median(out.map((x) => x.in_thread_cpu_ms))),
    };
  } finally {
    await session.release();
  }
}

const mean = (v: readonly number[]): number => v.reduce((a, b) => a + b, 0) / v.length;
function median(v: readonly number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
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
