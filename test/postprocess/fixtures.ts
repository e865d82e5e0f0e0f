import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { catalogEntry, loadCatalogLabels, type CatalogEntry } from '../../src/models/catalog.js';
import type { DetectionSpec } from '../../src/models/manifest.js';
import type { Detection } from '../../src/postprocess/detections.js';
import { GOLDEN_DIR, TFLITE_DETECTOR } from '../helpers/paths.js';

export { TFLITE_DETECTOR };
export const FIXTURES = GOLDEN_DIR;
/** the photos whose golden fixtures are complete (input, scores, boxes, detections) */
export const FIXTURE_NAMES = ['astronaut', '000000000790'] as const;

export function readF32(file: string): Float32Array {
  const b = file.endsWith('.gz') ? gunzipSync(readFileSync(file)) : readFileSync(file);
  if (b.length % 4) throw new Error(`${file}: ${b.length} bytes is not a whole number of float32`);
  const out = new Float32Array(b.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = b.readFloatLE(i * 4);
  return out;
}

export interface RefObject {
  label: string;
  class_id: number;
  score: number;
  box: [number, number, number, number];
}

export interface RefDetections {
  file: string;
  width: number;
  height: number;
  score_threshold: number;
  nms_iou: number;
  objects: RefObject[];
}

export function fixture(name: string): { scores: Float32Array; boxes: Float32Array; input: Float32Array; ref: RefDetections } {
  const p = (s: string) => path.join(FIXTURES, `${name}.${s}`);
  return {
    scores: readF32(p('class_predictions.f32')),
    boxes: readF32(p('box_encodings.f32')),
    input: readF32(p('input_nchw.f32.gz')),
    ref: JSON.parse(readFileSync(p('detections.json'), 'utf8')) as RefDetections,
  };
}

export function detectorEntry(): { entry: CatalogEntry; spec: DetectionSpec; labels: string[] } {
  const entry = catalogEntry('ssdlite_mobilenet_v3_small_coco');
  if (!entry?.detection) throw new Error('the catalog has no ssdlite_mobilenet_v3_small_coco detector');
  return { entry, spec: entry.detection, labels: loadCatalogLabels(entry) };
}

/** Same labels, count and order as the reference; scores and box corners within 0.01. */
export function assertMatchesReference(got: Detection[], want: RefObject[], what: string): void {
  const show = (xs: Array<{ label: string; score: number }>) => xs.map((o) => `${o.label} ${o.score.toFixed(4)}`).join(', ');
  assert.deepEqual(
    got.map((d) => [d.label, d.class_id]),
    want.map((o) => [o.label, o.class_id]),
    `${what}: labels in order\n got: ${show(got)}\nwant: ${show(want)}`,
  );
  got.forEach((d, i) => {
    const w = want[i]!;
    assert.ok(Math.abs(d.score - w.score) <= 0.01, `${what} #${i} ${d.label}: score ${d.score} vs ${w.score}`);
    d.box.forEach((v, k) => assert.ok(Math.abs(v - w.box[k]!) <= 0.01, `${what} #${i} ${d.label}: box ${d.box.join(',')} vs ${w.box.join(',')}`));
  });
}
