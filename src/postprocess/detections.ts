import type { DetectionSpec } from './detection-spec.js';
import { generateSsdAnchors } from './anchors.js';

export interface Detection {
  label: string;
  class_id: number;
  score: number;
  /** normalised [x1, y1, x2, y2], clipped to [0, 1] */
  box: [number, number, number, number];
  /** the anchor the box came from (tie-breaking, debugging) */
  anchor: number;
}

export interface DetectionOptions {
  scoreThreshold: number;
  nmsIou: number;
  maxDetections: number;
  /** per class-index thresholds that override scoreThreshold (from objects.filters.<label>.min_score) */
  classThresholds?: Map<number, number>;
  /** when set, only these class indices are decoded (objects.track) — skipping the rest saves the NMS work */
  classes?: Set<number>;
}

/**
 * Decodes SSD outputs: Faster R-CNN box coder over the anchors, per-class threshold and greedy NMS
 * (score descending, ties broken by the lower anchor index — 8-bit scores can tie, and the graph with the
 * upstream score cap tied many at exactly 0.5, so the tie rule decides which box survives), then merges the classes by score (ties: class index, then anchor) and
 * caps the count.
 */
export class SsdDecoder {
  private readonly anchors: Float32Array;
  readonly numAnchors: number;

  constructor(
    private readonly spec: DetectionSpec,
    private readonly labels: string[],
    anchors?: Float32Array,
  ) {
    this.anchors = anchors ?? generateSsdAnchors(spec.anchors);
    this.numAnchors = this.anchors.length / 4;
    if (this.numAnchors !== spec.num_anchors) {
      throw new Error(`anchor generator made ${this.numAnchors} anchors but the manifest says ${spec.num_anchors}`);
    }
  }

  /** scores [numAnchors, numClasses], boxes [numAnchors, 4] = (ty, tx, th, tw) */
  decode(scores: Float32Array, boxes: Float32Array, opts: DetectionOptions): Detection[] {
    const n = this.numAnchors;
    const numClasses = scores.length / n;
    if (!Number.isInteger(numClasses) || boxes.length !== n * 4) {
      throw new Error(`output sizes do not fit ${n} anchors: scores ${scores.length}, boxes ${boxes.length}`);
    }
    const sigmoid = this.spec.score_activation === 'sigmoid';
    const bg = this.spec.background_class;
    const decoded = new Map<number, [number, number, number, number]>();
    const boxOf = (a: number): [number, number, number, number] => {
      let b = decoded.get(a);
      if (!b) {
        b = this.decodeBox(boxes, a);
        decoded.set(a, b);
      }
      return b;
    };
    const kept: Array<{ c: number; a: number; s: number }> = [];
    for (let c = 0; c < numClasses; c++) {
      if (c === bg) continue;
      if (opts.classes && !opts.classes.has(c)) continue;
      const thr = opts.classThresholds?.get(c) ?? opts.scoreThreshold;
      const cand: Array<{ a: number; s: number }> = [];
      for (let a = 0; a < n; a++) {
        let s = scores[a * numClasses + c]!;
        if (sigmoid) s = 1 / (1 + Math.exp(-s));
        if (s > thr || (s === thr && thr > 0)) cand.push({ a, s });
      }
      if (!cand.length) continue;
      cand.sort((p, q) => q.s - p.s || p.a - q.a);
      const survivors: number[] = [];
      for (const { a, s } of cand) {
        const b = boxOf(a);
        if (survivors.every((o) => iou(b, boxOf(o)) <= opts.nmsIou)) {
          survivors.push(a);
          kept.push({ c, a, s });
        }
      }
    }
    // across classes, equal scores go by class index, then anchor — the reference's order (a stable sort of the per-class lists)
    kept.sort((p, q) => q.s - p.s || p.c - q.c || p.a - q.a);
    return kept.slice(0, opts.maxDetections).map(({ c, a, s }) => ({
      label: this.labels[c] ?? String(c),
      class_id: c,
      score: s,
      box: boxOf(a),
      anchor: a,
    }));
  }

  private decodeBox(boxes: Float32Array, a: number): [number, number, number, number] {
    const [sy, sx, sh, sw] = this.spec.box_coder.scales;
    const ya = this.anchors[a * 4]!,
      xa = this.anchors[a * 4 + 1]!,
      ha = this.anchors[a * 4 + 2]!,
      wa = this.anchors[a * 4 + 3]!;
    const ty = boxes[a * 4]!,
      tx = boxes[a * 4 + 1]!,
      th = boxes[a * 4 + 2]!,
      tw = boxes[a * 4 + 3]!;
    const yc = (ty / sy) * ha + ya;
    const xc = (tx / sx) * wa + xa;
    const h = Math.exp(th / sh) * ha;
    const w = Math.exp(tw / sw) * wa;
    return [clip01(xc - w / 2), clip01(yc - h / 2), clip01(xc + w / 2), clip01(yc + h / 2)];
  }
}

const clip01 = (v: number): number => (v < 0 ? 0 : v > 1 ? 1 : v);

export function iou(a: readonly number[], b: readonly number[]): number {
  const ix = Math.max(0, Math.min(a[2]!, b[2]!) - Math.max(a[0]!, b[0]!));
  const iy = Math.max(0, Math.min(a[3]!, b[3]!) - Math.max(a[1]!, b[1]!));
  const inter = ix * iy;
  const union = (a[2]! - a[0]!) * (a[3]! - a[1]!) + (b[2]! - b[0]!) * (b[3]! - b[1]!) - inter;
  return union > 0 ? inter / union : 0;
}

/** Boxes in frame pixels, for people reading payloads and for drawing. */
export function toPixels(box: readonly number[], width: number, height: number): [number, number, number, number] {
  return [Math.round(box[0]! * width), Math.round(box[1]! * height), Math.round(box[2]! * width), Math.round(box[3]! * height)];
}
