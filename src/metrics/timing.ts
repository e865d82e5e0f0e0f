/**
 * Per-frame timestamps and the stage durations derived from them.
 *
 * The clock: every stamp is **monotonic milliseconds from `nowMs()`** (process.hrtime, i.e.
 * CLOCK_MONOTONIC as float ms). Why not `Date.now()` or `performance.timeOrigin + performance.now()`:
 * - A Pi has no RTC; NTP steps the wall clock minutes after boot, which would turn latencies negative
 *   or huge. hrtime never jumps.
 * - `performance.timeOrigin` is a wall-clock snapshot taken when each thread starts, so
 *   `timeOrigin + now()` in the inference worker differs from the main thread's by any wall-clock step
 *   that happened between the two starts (a worker restarted after NTP sync). `process.hrtime` reads
 *   the same OS clock in every thread, so worker stamps (`detStart`…`segEnd`) compare directly with
 *   main-thread stamps.
 * Sources stamp `Frame.capturedMono` with `performance.now()`; convert it with `fromPerfNow()`.
 */

/** Monotonic ms on the process-wide clock shared by all threads. Microsecond resolution. */
export function nowMs(): number {
  return Number(process.hrtime.bigint() / 1000n) / 1000;
}

let perfOffset: number | undefined;

/**
 * Converts a `performance.now()` value taken **in this thread** to the `nowMs()` clock.
 * The offset is measured once per thread; its error is the µs between the two clock reads.
 */
export function fromPerfNow(perfNowMs: number): number {
  if (perfOffset === undefined) perfOffset = nowMs() - performance.now();
  return perfNowMs + perfOffset;
}

/** All stamps in ms on the `nowMs()` clock. Optional stamps are absent when the stage did not run. */
export interface FrameTimings {
  /** when the source produced the frame (from `Frame.capturedMono` via `fromPerfNow`) */
  captured: number;
  /** when the pipeline took the frame from the source */
  received: number;
  /** JPEG/PNG decoded (absent for raw frames) */
  decoded?: number;
  /** model input tensor ready */
  preprocessed?: number;
  /** inference worker started the detector (worker thread stamp) */
  detStart?: number;
  detEnd?: number;
  /** segmenter ran on this frame (every Nth frame only) */
  segStart?: number;
  segEnd?: number;
  /** detections / mask decoded on the main thread */
  postprocessed?: number;
  /** result handed to the MQTT client (absent when the per-frame topic was rate-limited) */
  published?: number;
}

/** Stage names, in pipeline order. `${stage}_ms_*` keys in the stats payload, `stage` label in Prometheus. */
export const STAGES = [
  'receive',
  'decode',
  'preprocess',
  'queue',
  'detector',
  'segmenter',
  'inference',
  'postprocess',
  'publish',
  'pipeline',
  'end_to_end',
] as const;
export type Stage = (typeof STAGES)[number];

/** How each stage's duration is derived; shown in docs/performance.md and used by `stageDurations`. */
export const STAGE_DEFINITIONS: Readonly<Record<Stage, string>> = {
  receive: 'received − captured (source → pipeline: pipe, MJPEG split, RxJS hand-off)',
  decode: 'decoded − received (JPEG/PNG decode; absent for raw frames)',
  preprocess: 'preprocessed − (decoded ?? received) (resize + tensor layout)',
  queue: 'first inference start − (preprocessed ?? decoded ?? received) (waiting for the worker, message passing)',
  detector: 'detEnd − detStart',
  segmenter: 'segEnd − segStart (only frames the segmenter ran on)',
  inference: 'last inference end − first inference start (both models as the worker ran them)',
  postprocess: 'postprocessed − last inference end (box decode + NMS, mask argmax/resize)',
  publish: 'published − (postprocessed ?? last inference end) (payload encoding, MQTT client hand-off)',
  pipeline: 'postprocessed − captured (capture → result ready, every processed frame)',
  end_to_end: 'published − captured (capture → publish, frames whose result was published)',
};

export type StageDurations = Partial<Record<Stage, number>>;

export interface DerivedTimings {
  durations: StageDurations;
  /** stages whose derived duration came out negative or non-finite: a stamping bug, never recorded */
  anomalies: Stage[];
}

/** Derives every stage duration the stamps allow. Pure; never throws. */
export function stageDurations(t: FrameTimings): DerivedTimings {
  const out: StageDurations = {};
  const anomalies: Stage[] = [];
  const put = (stage: Stage, end: number | undefined, start: number | undefined): void => {
    if (end === undefined || start === undefined) return;
    const d = end - start;
    if (!Number.isFinite(d) || d < 0) anomalies.push(stage);
    else out[stage] = d;
  };

  const hasDet = t.detStart !== undefined && t.detEnd !== undefined;
  const hasSeg = t.segStart !== undefined && t.segEnd !== undefined;
  const starts = [hasDet ? t.detStart : undefined, hasSeg ? t.segStart : undefined].filter(isNum);
  const ends = [hasDet ? t.detEnd : undefined, hasSeg ? t.segEnd : undefined].filter(isNum);
  const infStart = starts.length ? Math.min(...starts) : undefined;
  const infEnd = ends.length ? Math.max(...ends) : undefined;

  put('receive', t.received, t.captured);
  put('decode', t.decoded, t.received);
  put('preprocess', t.preprocessed, t.decoded ?? t.received);
  put('queue', infStart, t.preprocessed ?? t.decoded ?? t.received);
  if (hasDet) put('detector', t.detEnd, t.detStart);
  if (hasSeg) put('segmenter', t.segEnd, t.segStart);
  put('inference', infEnd, infStart);
  put('postprocess', t.postprocessed, infEnd);
  put('publish', t.published, t.postprocessed ?? infEnd);
  put('pipeline', t.postprocessed, t.captured);
  put('end_to_end', t.published, t.captured);
  return { durations: out, anomalies };
}

function isNum(x: number | undefined): x is number {
  return x !== undefined;
}
