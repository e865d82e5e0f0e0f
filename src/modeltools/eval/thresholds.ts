import { cocoIou, type GroundTruth, type ScoredBox } from './coco.js';

/**
 * Precision and recall per score threshold and category: what a user gets by setting `min_score` to that
 * value. A detection is a true positive when it matches a not-yet-matched ground-truth box of its
 * category at IoU ≥ `iou` (greedy, highest score first, as COCO matches); a detection matching only a
 * crowd box is ignored (neither true nor false). Recall counts non-crowd ground truth.
 */
export interface ThresholdRow {
  categoryId: number;
  threshold: number;
  /** detections scoring ≥ the threshold (crowd-only matches excluded) */
  detections: number;
  truePositives: number;
  groundTruth: number;
  /** null when nothing scores ≥ the threshold */
  precision: number | null;
  /** null when the category has no ground truth */
  recall: number | null;
}

export const DEFAULT_SCORE_THRESHOLDS = [0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8];

interface Outcome {
  score: number;
  tp: boolean;
}

export function thresholdTable(
  gt: GroundTruth[],
  dt: ScoredBox[],
  opts: { thresholds?: number[]; iou?: number; categories?: number[] } = {},
): ThresholdRow[] {
  const thresholds = opts.thresholds ?? DEFAULT_SCORE_THRESHOLDS;
  const iouMin = opts.iou ?? 0.5;
  const cats = opts.categories ?? [...new Set([...gt.map((g) => g.categoryId), ...dt.map((d) => d.categoryId)])].sort((a, b) => a - b);
  const key = (img: number, cat: number): string => `${img}:${cat}`;
  const gMap = new Map<string, GroundTruth[]>();
  const dMap = new Map<string, ScoredBox[]>();
  for (const g of gt) {
    const k = key(g.imageId, g.categoryId);
    (gMap.get(k) ?? gMap.set(k, []).get(k)!).push(g);
  }
  for (const d of dt) {
    const k = key(d.imageId, d.categoryId);
    (dMap.get(k) ?? dMap.set(k, []).get(k)!).push(d);
  }
  const images = [...new Set([...gt.map((g) => g.imageId), ...dt.map((d) => d.imageId)])];
  const rows: ThresholdRow[] = [];
  for (const c of cats) {
    const outcomes: Outcome[] = [];
    let numGt = 0;
    for (const img of images) {
      const gs = gMap.get(key(img, c)) ?? [];
      numGt += gs.filter((g) => !g.iscrowd).length;
      const ds = [...(dMap.get(key(img, c)) ?? [])].sort((a, b) => b.score - a.score);
      const used = new Array<boolean>(gs.length).fill(false);
      for (const d of ds) {
        let best = -1;
        let bestIou = iouMin;
        // a real (non-crowd) match first, as COCO prefers it
        for (let i = 0; i < gs.length; i++) {
          if (used[i] || gs[i]!.iscrowd) continue;
          const v = cocoIou(d.bbox, gs[i]!.bbox, false);
          if (v >= bestIou) {
            bestIou = v;
            best = i;
          }
        }
        if (best >= 0) {
          used[best] = true;
          outcomes.push({ score: d.score, tp: true });
          continue;
        }
        const crowd = gs.some((g) => g.iscrowd && cocoIou(d.bbox, g.bbox, true) >= iouMin);
        if (!crowd) outcomes.push({ score: d.score, tp: false });
      }
    }
    for (const t of thresholds) {
      const kept = outcomes.filter((o) => o.score >= t);
      const tp = kept.filter((o) => o.tp).length;
      rows.push({
        categoryId: c,
        threshold: t,
        detections: kept.length,
        truePositives: tp,
        groundTruth: numGt,
        precision: kept.length ? tp / kept.length : null,
        recall: numGt ? tp / numGt : null,
      });
    }
  }
  return rows;
}
