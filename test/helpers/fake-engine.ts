import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { BehaviorSubject } from 'rxjs';
import type { InferenceResult } from '../../src/inference/engine.js';
import type { ModelManifest } from '../../src/models/manifest.js';
import { REPO } from './paths.js';

/**
 * A fake inference engine for in-process wiring tests (no ONNX Runtime, no worker thread): it answers
 * with detector outputs holding one person at a fixed anchor, scored by run, so detections are exact.
 */
export const DETECTOR = path.join(REPO, 'models', 'prepared', 'ssdlite_mobilenet_v3_small_coco', 'int8-s8.json');
export const manifest = JSON.parse(readFileSync(DETECTOR, 'utf8')) as ModelManifest;
export const spec = manifest.detection!;
export const PERSON = manifest.labels.indexOf('person');
export const ANCHOR = spec.num_anchors - 1;

/** Detector outputs with one person at ANCHOR (box = the anchor itself), score `score`. */
export function outputs(score: number): InferenceResult {
  const numClasses = manifest.labels.length;
  const scores = new Float32Array(spec.num_anchors * numClasses);
  scores[ANCHOR * numClasses + PERSON] = score;
  const boxes = new Float32Array(spec.num_anchors * 4);
  return {
    det: {
      [spec.outputs.scores]: { data: scores, dims: [1, spec.num_anchors, numClasses] },
      [spec.outputs.boxes]: { data: boxes, dims: [1, spec.num_anchors, 4] },
    },
    detStart: performance.now(),
    detEnd: performance.now(),
  };
}

export class FakeEngine extends EventEmitter {
  readonly runs$ = new BehaviorSubject(0);
  affinity = { tid: 1, allowed: '0', error: null };
  lastAnswerAt = performance.now();
  busy = false;
  constructor(private readonly score: (run: number) => number) {
    super();
  }
  async start(): Promise<typeof this.affinity> {
    return this.affinity;
  }
  async run(): Promise<InferenceResult> {
    const n = this.runs$.value;
    const r = outputs(this.score(n));
    this.runs$.next(n + 1);
    return r;
  }
  async ping(): Promise<boolean> {
    return true;
  }
  async stop(): Promise<{ stuckThreads: number[] }> {
    return { stuckThreads: [] };
  }
}
