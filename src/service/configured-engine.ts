import type { Config } from '../config/types.js';
import { InferenceEngine } from '../inference/engine.js';
import { resolveCore } from '../inference/affinity.js';
import type { ModelSpecForWorker } from '../inference/protocol.js';
import type { LoadedModel } from '../models/store.js';

/** Worker spec of the detector, with the output shapes its manifest implies (checked by a warm-up run). */
export function detectorSpec(m: LoadedModel): ModelSpecForWorker {
  const d = m.manifest.detection!;
  const w = m.manifest.input.width ?? 320;
  const h = m.manifest.input.height ?? 320;
  return {
    path: m.file,
    inputName: m.manifest.input.name,
    outputNames: [d.outputs.scores, d.outputs.boxes],
    probe: {
      inputShape: [1, 3, h, w],
      expect: { [d.outputs.scores]: [1, d.num_anchors, m.manifest.labels.length], [d.outputs.boxes]: [1, d.num_anchors, 4] },
    },
  };
}

export function segmenterSpec(m: LoadedModel, width: number, height: number): ModelSpecForWorker {
  const s = m.manifest.segmentation!;
  return {
    path: m.file,
    inputName: m.manifest.input.name,
    outputNames: [s.outputs.logits],
    probe: {
      inputShape: [1, 3, height, width],
      expect: { [s.outputs.logits]: [1, m.manifest.labels.length, Math.ceil(height / s.output_stride), Math.ceil(width / s.output_stride)] },
    },
  };
}

/** The inference engine for the configured models, as the daemon, `snapshot` and the benchmark run it. */
export function createEngine(
  models: { detector: LoadedModel; segmenter: LoadedModel | null },
  cfg: Config,
  opts: { spinning?: boolean } = {},
): { engine: InferenceEngine; core: number } {
  const core = resolveCore(cfg.inference.core);
  const engine = new InferenceEngine({
    init: {
      detector: detectorSpec(models.detector),
      segmenter: models.segmenter ? segmenterSpec(models.segmenter, cfg.segmentation.width, cfg.segmentation.height) : null,
      core,
      threads: cfg.inference.threads,
      spinning: opts.spinning ?? cfg.inference.spinning,
    },
    stallTimeoutMs: cfg.inference.stall_timeout_s * 1000,
  });
  return { engine, core };
}
