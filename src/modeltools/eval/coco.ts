/**
 * COCO-style box evaluation, following pycocotools' COCOeval (iouType 'bbox'): per image and category,
 * detections sorted by score (stable) and capped at maxDets, greedy matching per IoU threshold, iscrowd
 * ground truth matched by intersection over the detection's area (and matchable many times, its matches
 * ignored), ground truth outside the area range ignored, and precision read at 101 recall points after
 * making it monotone. mAP = mean over the categories that have (non-ignored) ground truth.
 */

/** COCO box: [x, y, width, height] in pixels. */
export type CocoBox = [number, number, number, number];

export interface GroundTruth {
  imageId: number;
  categoryId: number;
  bbox: CocoBox;
  /** COCO's `area` (segmentation area); defaults to the box area */
  area?: number;
  iscrowd?: boolean;
}

export interface ScoredBox {
  imageId: number;
  categoryId: number;
  bbox: CocoBox;
  score: number;
}

export interface EvalOptions {
  /** IoU thresholds; default .50:.05:.95 */
  iouThresholds?: number[];
  /** [min, max) area range in pixels² for ground truth and unmatched detections; default all */
  areaRange?: [number, number];
  /** detections kept per image and category (highest scores); default 100 */
  maxDets?: number;
  /** evaluate only these categories; default: every category present in the ground truth */
  categories?: number[];
}

export interface CategoryResult {
  categoryId: number;
  /** non-ignored ground-truth boxes */
  numGt: number;
  numDt: number;
  /** AP averaged over the IoU thresholds; null = no ground truth (excluded from the mean) */
  ap: number | null;
  ap50: number | null;
  ap75: number | null;
  /** recall at the last detection, averaged over IoU thresholds */
  recall: number | null;
}

export interface EvalResult {
  /** mAP@[.5:.95] */
  map: number;
  ap50: number;
  ap75: number;
  perCategory: CategoryResult[];
  iouThresholds: number[];
}

export const COCO_IOU_THRESHOLDS = Array.from({ length: 10 }, (_, i) => Math.round((0.5 + 0.05 * i) * 100) / 100);
const REC_THRESHOLDS = Array.from({ length: 101 }, (_, i) => i / 100);
export const AREA_RANGES = { all: [0, 1e10], small: [0, 32 ** 2], medium: [32 ** 2, 96 ** 2], large: [96 ** 2, 1e10] } as const;

/** IoU as pycocotools computes it; a crowd ground truth uses the detection's area as the denominator. */
export function cocoIou(d: CocoBox, g: CocoBox, crowd: boolean): number {
  const iw = Math.min(d[0] + d[2], g[0] + g[2]) - Math.max(d[0], g[0]);
  const ih = Math.min(d[1] + d[3], g[1] + g[3]) - Math.max(d[1], g[1]);
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  const union = crowd ? d[2] * d[3] : d[2] * d[3] + g[2] * g[3] - inter;
  return union > 0 ? inter / union : 0;
}

interface ImageEval {
  /** scores of the kept detections, sorted descending */
  scores: number[];
  /** [threshold][detection] matched */
  matched: boolean[][];
  /** [threshold][detection] ignored */
  ignored: boolean[][];
  numGt: number;
}

function checkBox(b: CocoBox, what: string): void {
  if (!Array.isArray(b) || b.length !== 4 || b.some((v) => typeof v !== 'number' || !Number.isFinite(v))) {
    throw new Error(`${what}: bbox must be 4 finite numbers [x, y, w, h], got ${JSON.stringify(b)}`);
  }
  if (b[2] < 0 || b[3] < 0) throw new Error(`${what}: bbox width/height must be ≥ 0, got ${JSON.stringify(b)}`);
}

function evaluateImage(gts: GroundTruth[], dts: ScoredBox[], thresholds: number[], area: [number, number], maxDets: number): ImageEval {
  const gIgnore = gts.map((g) => {
    const a = g.area ?? g.bbox[2] * g.bbox[3];
    return Boolean(g.iscrowd) || a < area[0] || a > area[1];
  });
  // non-ignored ground truth first, as pycocotools sorts it (stable)
  const gOrder = gts.map((_, i) => i).sort((a, b) => Number(gIgnore[a]) - Number(gIgnore[b]));
  const g = gOrder.map((i) => gts[i]);
  const gIg = gOrder.map((i) => gIgnore[i]);
  const d = dts
    .map((x, i) => ({ x, i }))
    .sort((a, b) => b.x.score - a.x.score || a.i - b.i)
    .slice(0, maxDets)
    .map((e) => e.x);
  const ious = d.map((dd) => g.map((gg) => cocoIou(dd.bbox, gg.bbox, Boolean(gg.iscrowd))));
  const matched: boolean[][] = [];
  const ignored: boolean[][] = [];
  for (const t of thresholds) {
    const gMatched = new Array<boolean>(g.length).fill(false);
    const dm = new Array<boolean>(d.length).fill(false);
    const di = new Array<boolean>(d.length).fill(false);
    for (let di_ = 0; di_ < d.length; di_++) {
      let best = Math.min(t, 1 - 1e-10);
      let m = -1;
      for (let gi = 0; gi < g.length; gi++) {
        if (gMatched[gi] && !g[gi].iscrowd) continue;
        // once a real match exists, stop at the ignored ground truth (sorted last)
        if (m > -1 && !gIg[m] && gIg[gi]) break;
        if (ious[di_][gi] < best) continue;
        best = ious[di_][gi];
        m = gi;
      }
      if (m === -1) continue;
      gMatched[m] = true;
      dm[di_] = true;
      di[di_] = gIg[m];
    }
    // unmatched detections outside the area range are ignored
    for (let k = 0; k < d.length; k++) {
      if (dm[k]) continue;
      const a = d[k].bbox[2] * d[k].bbox[3];
      if (a < area[0] || a > area[1]) di[k] = true;
    }
    matched.push(dm);
    ignored.push(di);
  }
  return { scores: d.map((x) => x.score), matched, ignored, numGt: gIg.filter((x) => !x).length };
}

/** AP (101-point interpolated) and final recall for one category at one threshold index. */
function accumulate(evals: ImageEval[], t: number): { ap: number; recall: number } | null {
  const numGt = evals.reduce((s, e) => s + e.numGt, 0);
  if (numGt === 0) return null;
  const all: Array<{ s: number; tp: boolean; ig: boolean; order: number }> = [];
  let order = 0;
  for (const e of evals) {
    for (let k = 0; k < e.scores.length; k++) all.push({ s: e.scores[k], tp: e.matched[t][k], ig: e.ignored[t][k], order: order++ });
  }
  all.sort((a, b) => b.s - a.s || a.order - b.order);
  const prec: number[] = [];
  const rec: number[] = [];
  let tp = 0;
  let fp = 0;
  for (const x of all) {
    if (x.ig) continue;
    if (x.tp) tp++;
    else fp++;
    rec.push(tp / numGt);
    prec.push(tp / (tp + fp));
  }
  for (let i = prec.length - 1; i > 0; i--) if (prec[i] > prec[i - 1]) prec[i - 1] = prec[i];
  let sum = 0;
  let j = 0;
  for (const r of REC_THRESHOLDS) {
    // searchsorted(rec, r, 'left')
    while (j < rec.length && rec[j] < r) j++;
    if (j >= rec.length) break;
    sum += prec[j];
  }
  return { ap: sum / REC_THRESHOLDS.length, recall: rec.length ? rec[rec.length - 1] : 0 };
}

/** Evaluates detections against ground truth; every image with ground truth or detections counts. */
export function evaluateCoco(gt: GroundTruth[], dt: ScoredBox[], opts: EvalOptions = {}): EvalResult {
  const thresholds = opts.iouThresholds ?? COCO_IOU_THRESHOLDS;
  const area: [number, number] = opts.areaRange ?? [AREA_RANGES.all[0], AREA_RANGES.all[1]];
  const maxDets = opts.maxDets ?? 100;
  gt.forEach((g, i) => checkBox(g.bbox, `ground truth #${i} (image ${g.imageId})`));
  dt.forEach((d, i) => {
    checkBox(d.bbox, `detection #${i} (image ${d.imageId})`);
    if (!Number.isFinite(d.score)) throw new Error(`detection #${i} (image ${d.imageId}): score must be a finite number`);
  });
  const cats = opts.categories ?? [...new Set(gt.map((g) => g.categoryId))].sort((a, b) => a - b);
  const key = (img: number, cat: number): string => `${img}:${cat}`;
  const gMap = new Map<string, GroundTruth[]>();
  const dMap = new Map<string, ScoredBox[]>();
  for (const g of gt)
    (gMap.get(key(g.imageId, g.categoryId)) ?? gMap.set(key(g.imageId, g.categoryId), []).get(key(g.imageId, g.categoryId))!).push(g);
  for (const d of dt)
    (dMap.get(key(d.imageId, d.categoryId)) ?? dMap.set(key(d.imageId, d.categoryId), []).get(key(d.imageId, d.categoryId))!).push(d);
  const images = [...new Set([...gt.map((g) => g.imageId), ...dt.map((d) => d.imageId)])].sort((a, b) => a - b);
  const i50 = thresholds.findIndex((t) => Math.abs(t - 0.5) < 1e-9);
  const i75 = thresholds.findIndex((t) => Math.abs(t - 0.75) < 1e-9);

  const perCategory: CategoryResult[] = [];
  for (const c of cats) {
    const evals = images.map((img) => evaluateImage(gMap.get(key(img, c)) ?? [], dMap.get(key(img, c)) ?? [], thresholds, area, maxDets));
    const per = thresholds.map((_, t) => accumulate(evals, t));
    const numGt = evals.reduce((s, e) => s + e.numGt, 0);
    const numDt = evals.reduce((s, e) => s + e.scores.length, 0);
    const valid = per.filter((p): p is { ap: number; recall: number } => p !== null);
    perCategory.push({
      categoryId: c,
      numGt,
      numDt,
      ap: valid.length ? valid.reduce((s, p) => s + p.ap, 0) / valid.length : null,
      ap50: i50 >= 0 ? (per[i50]?.ap ?? null) : null,
      ap75: i75 >= 0 ? (per[i75]?.ap ?? null) : null,
      recall: valid.length ? valid.reduce((s, p) => s + p.recall, 0) / valid.length : null,
    });
  }
  const mean = (xs: Array<number | null>): number => {
    const v = xs.filter((x): x is number => x !== null);
    return v.length ? v.reduce((a, b) => a + b, 0) / v.length : 0;
  };
  return {
    map: mean(perCategory.map((p) => p.ap)),
    ap50: mean(perCategory.map((p) => p.ap50)),
    ap75: mean(perCategory.map((p) => p.ap75)),
    perCategory,
    iouThresholds: thresholds,
  };
}
