import type { Config } from '../config/types.js';
import type { DetectionOptions } from '../postprocess/detections.js';

/**
 * Detection options from config: per-label thresholds (objects.filters.<label>.min_score) and the set
 * of tracked labels. `trackedOnly: false` decodes every class (the `detect` command's default).
 */
export function detectionOptions(
  cfg: Pick<Config, 'detection' | 'objects'>,
  labels: string[],
  trackedOnly: boolean,
): DetectionOptions & { unknownLabels: string[] } {
  const index = new Map<string, number>();
  labels.forEach((l, i) => {
    if (l !== 'n/a' && !index.has(l)) index.set(l, i);
  });
  const unknownLabels: string[] = [];
  const classThresholds = new Map<number, number>();
  for (const [label, f] of Object.entries(cfg.objects.filters)) {
    const i = index.get(label);
    if (i === undefined) unknownLabels.push(label);
    else if (f.min_score !== undefined) classThresholds.set(i, f.min_score);
  }
  let classes: Set<number> | undefined;
  if (trackedOnly) {
    classes = new Set();
    for (const label of cfg.objects.track) {
      const i = index.get(label);
      if (i === undefined) unknownLabels.push(label);
      else classes.add(i);
    }
  }
  return {
    scoreThreshold: cfg.detection.score_threshold,
    nmsIou: cfg.detection.nms_iou,
    maxDetections: cfg.detection.max_detections,
    classThresholds,
    classes,
    unknownLabels: [...new Set(unknownLabels)],
  };
}
