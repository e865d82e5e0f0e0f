import type { Config } from '../config/types.js';
import type { Detection, SsdDecoder } from '../postprocess/detections.js';
import { detectionOptions } from './detection-options.js';

/**
 * Decodes once down to the tracker's low score (one NMS over both levels, so a low box never duplicates a
 * published one), then splits: `detections` keep their label thresholds (the published ones), `low` are the
 * tracked labels between tracking.low_score and the threshold, which only extend existing tracks.
 */
export function decodeTwoLevel(
  decoder: SsdDecoder,
  scores: Float32Array,
  boxes: Float32Array,
  cfg: Pick<Config, 'detection' | 'objects' | 'tracking'>,
  labels: string[],
): { detections: Detection[]; low: Detection[] } {
  const opts = detectionOptions(cfg, labels, true);
  const low = cfg.tracking.low_score;
  const all = decoder.decode(scores, boxes, {
    ...opts,
    scoreThreshold: Math.min(opts.scoreThreshold, low),
    classThresholds: new Map([...(opts.classThresholds ?? new Map<number, number>())].map(([k, v]) => [k, Math.min(v, low)])),
  });
  const threshold = (d: Detection): number => opts.classThresholds?.get(d.class_id) ?? opts.scoreThreshold;
  return { detections: all.filter((d) => d.score >= threshold(d)), low: all.filter((d) => d.score < threshold(d)) };
}
