import { mergeMap, takeUntil, tap, type Observable, type Observable as Obs } from 'rxjs';
import type { Frame } from '../capture/frame.js';
import type { Config } from '../config/types.js';
import { InferenceBusyError, type InferenceEngine, type InferenceResult } from '../inference/engine.js';
import type { LoadedModel } from '../models/store.js';
import { fromPerfNow, nowMs, type FrameTimings } from '../metrics/timing.js';
import { SsdDecoder, type Detection } from '../postprocess/detections.js';
import { decodeTwoLevel } from './two-level.js';
import { argmaxClassMap, type ClassMap } from '../postprocess/segmentation.js';
import { CorruptFrameError, toModelInput, type ModelInput } from '../preprocess/preprocess.js';
import { dropIfBusy, latestWhileBusy } from './operators.js';

export interface FrameResult {
  frameId: number;
  /** ms since epoch */
  capturedAt: number;
  width: number;
  height: number;
  /** tracked labels only, after thresholds and NMS */
  detections: Detection[];
  /** tracked labels scoring between tracking.low_score and their threshold: they only extend existing tracks */
  lowDetections: Detection[];
  segmentation?: ClassMap;
  timings: FrameTimings;
  /** the source frame, kept for snapshots */
  frame: Frame;
}

export type PipelineEvent =
  | { type: 'captured' }
  | { type: 'skipped'; stage: 'preprocess' | 'inference' }
  | { type: 'corrupt'; reason: string }
  | { type: 'inference-error'; reason: string };

export interface PipelineDeps {
  engine: InferenceEngine;
  detector: LoadedModel;
  segmenter: LoadedModel | null;
  /** read on every frame so SIGHUP changes (thresholds, tracked labels, segmentation.every) apply live */
  config: () => Config;
  onEvent?: (ev: PipelineEvent) => void;
}

interface Prepared {
  frame: Frame;
  timings: FrameTimings;
  det: ModelInput;
  width: number;
  height: number;
}

/** a frame the worker has run, with the config it ran under (post-processing uses the same) */
interface Inferred {
  p: Prepared;
  r: InferenceResult;
  cfg: Config;
}

/**
 * frames → preprocess (sharp, off the pinned core) → inference worker → post-process → results.
 * Between stages: drop-if-busy with a one-frame mailbox, so preprocessing of frame N+1 overlaps
 * inference of frame N and nothing queues. Errors are caught per frame; the stream only ends with
 * its source or `stop$`.
 */
export function runPipeline(frames$: Obs<Frame>, deps: PipelineDeps, stop$: Obs<unknown>): Observable<FrameResult> {
  const emit = deps.onEvent ?? (() => undefined);
  const detSpec = deps.detector.manifest;
  const decoder = new SsdDecoder(detSpec.detection!, detSpec.labels);
  const inW = detSpec.input.width ?? 320;
  const inH = detSpec.input.height ?? 320;
  let accepted = 0;

  const preprocess = async (frame: Frame): Promise<Prepared> => {
    const received = nowMs();
    const timings: FrameTimings = { captured: fromPerfNow(frame.capturedMono), received };
    const det = await toModelInput(frame, detSpec.input, inW, inH);
    timings.preprocessed = nowMs();
    return { frame, timings, det, width: det.frameWidth, height: det.frameHeight };
  };

  const infer = async (p: Prepared): Promise<Inferred | null> => {
    // a paced source may read the next frame now: it is preprocessed while this one is inferred
    p.frame.release?.();
    const cfg = deps.config();
    const every = deps.segmenter ? cfg.segmentation.every : 0;
    const segDue = every > 0 && accepted % every === 0;
    let seg: ModelInput | undefined;
    if (segDue) seg = await toModelInput(p.frame, deps.segmenter!.manifest.input, cfg.segmentation.width, cfg.segmentation.height);
    let r: InferenceResult;
    try {
      r = await deps.engine.run(p.det.data, [1, 3, inH, inW], seg ? { data: seg.data, shape: [1, 3, seg.height, seg.width] } : undefined);
    } catch (e) {
      if (e instanceof InferenceBusyError) {
        emit({ type: 'skipped', stage: 'inference' });
        return null;
      }
      throw e;
    }
    accepted++;
    Object.assign(p.timings, { detStart: r.detStart, detEnd: r.detEnd, segStart: r.segStart, segEnd: r.segEnd });
    return { p, r, cfg };
  };

  // after the worker's busy stage: the worker already runs the next frame while this one is decoded
  const postprocess = ({ p, r, cfg }: Inferred): FrameResult => {
    const scores = r.det[detSpec.detection!.outputs.scores]!;
    const boxes = r.det[detSpec.detection!.outputs.boxes]!;
    const { detections, low: lowDetections } = decodeTwoLevel(decoder, scores.data as Float32Array, boxes.data as Float32Array, cfg, detSpec.labels);
    let segmentation: ClassMap | undefined;
    if (r.seg && deps.segmenter) {
      const logits = r.seg[deps.segmenter.manifest.segmentation!.outputs.logits]!;
      const [, c, h, w] = logits.dims as [number, number, number, number];
      segmentation = argmaxClassMap(logits.data, c, h, w, deps.segmenter.manifest.labels);
    }
    p.timings.postprocessed = nowMs();
    return {
      frameId: p.frame.id,
      capturedAt: p.frame.capturedAt,
      width: p.width,
      height: p.height,
      detections,
      lowDetections,
      segmentation,
      timings: p.timings,
      frame: p.frame,
    };
  };

  return frames$.pipe(
    takeUntil(stop$),
    tap(() => emit({ type: 'captured' })),
    dropIfBusy(preprocess, {
      concurrency: deps.config().pipeline.preprocess_concurrency,
      onDrop: (f) => (f.release?.(), emit({ type: 'skipped', stage: 'preprocess' })),
      onError: (e, f) => (
        f.release?.(), emit(e instanceof CorruptFrameError ? { type: 'corrupt', reason: e.message } : { type: 'corrupt', reason: String(e) })
      ),
    }),
    latestWhileBusy(infer, {
      onDrop: (p) => (p.frame.release?.(), emit({ type: 'skipped', stage: 'inference' })),
      onError: (e, p) => (p.frame.release?.(), emit({ type: 'inference-error', reason: (e as Error).message ?? String(e) })),
    }),
    mergeMap((x) => {
      try {
        return [postprocess(x)];
      } catch (e) {
        emit({ type: 'inference-error', reason: (e as Error).message ?? String(e) });
        return [];
      }
    }),
  );
}
