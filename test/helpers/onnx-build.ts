import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import * as ort from 'onnxruntime-node';
import { convertTflite } from '../../src/modeltools/convert.js';
import { catalogEntry } from '../../src/models/catalog.js';
import { toModelInput } from '../../src/preprocess/preprocess.js';
import { COCO_DIR, GOLDEN_DIR, LRASPP_FP32, PHOTOS_DIR, TFLITE_DETECTOR } from './paths.js';

export { TFLITE_DETECTOR };
export const LRASPP = LRASPP_FP32;
export const FIXTURES = GOLDEN_DIR;
/** photos whose exact detector input and float outputs (scores and boxes) are in the golden fixtures */
export const FIXTURE_NAMES = ['astronaut', '000000000790'] as const;

export function readF32(file: string): Float32Array {
  const b = file.endsWith('.gz') ? gunzipSync(readFileSync(file)) : readFileSync(file);
  const out = new Float32Array(b.length / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}

/** The exact 1×3×320×320 input the golden outputs were computed from (stored gzipped). */
export function fixtureInput(name: string): Float32Array {
  return readF32(path.join(FIXTURES, `${name}.input_nchw.f32.gz`));
}

/**
 * The project's own float detector: the shipped TFLite converted by edgesight's converter, written once
 * per converter output into the temp folder (named by its sha256, so a changed converter gets a new file).
 */
export function convertedDetector(opts: { keepScoreCap?: boolean } = {}): string {
  // keepScoreCap: the old graph, whose outputs the golden fixtures hold (they come from the capped reference)
  const onnx = convertTflite(readFileSync(TFLITE_DETECTOR), { form: 'float', ...(opts.keepScoreCap ? { keepScoreCap: true } : {}) });
  const sha = createHash('sha256').update(onnx).digest('hex').slice(0, 16);
  const file = path.join(os.tmpdir(), `edgesight-test-detector-fp32-${sha}.onnx`);
  if (!existsSync(file)) {
    writeFileSync(`${file}.${process.pid}.part`, onnx);
    renameSync(`${file}.${process.pid}.part`, file);
  }
  return file;
}

/** One-thread session, as the daemon's pinned inference worker runs it. */
export function session(model: string | Uint8Array): Promise<ort.InferenceSession> {
  const opts: ort.InferenceSession.SessionOptions = { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential' };
  return typeof model === 'string' ? ort.InferenceSession.create(model, opts) : ort.InferenceSession.create(model, opts);
}

export async function runImage(s: ort.InferenceSession, input: Float32Array, dims = [1, 3, 320, 320]): Promise<Record<string, Float32Array>> {
  const r = await s.run({ image: new ort.Tensor('float32', input, dims) });
  const out: Record<string, Float32Array> = {};
  for (const [k, v] of Object.entries(r)) out[k] = v.data as Float32Array;
  return out;
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i] as number;
    mb += b[i] as number;
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const x = (a[i] as number) - ma;
    const y = (b[i] as number) - mb;
    sab += x * y;
    saa += x * x;
    sbb += y * y;
  }
  return sab / Math.sqrt(saa * sbb);
}

/** The five photos the golden detections cover, as files: four Debian photos and COCO 000000000790. */
export const FIVE_PHOTOS: ReadonlyArray<readonly [string, string]> = [
  ['astronaut', path.join(PHOTOS_DIR, 'astronaut.png')],
  ['chelsea', path.join(PHOTOS_DIR, 'chelsea.png')],
  ['messi5', path.join(PHOTOS_DIR, 'messi5.jpg')],
  ['motorcycle_left', path.join(PHOTOS_DIR, 'motorcycle_left.png')],
  ['000000000790', path.join(COCO_DIR, '000000000790.jpg')],
];

/** A photo as the detector's 1×3×320×320 input, through the product's own preprocessing. */
export async function photoInput(file: string): Promise<Float32Array> {
  const data = readFileSync(file);
  const spec = catalogEntry('ssdlite_mobilenet_v3_small_coco')!.input;
  const r = await toModelInput(
    { kind: 'encoded', id: 0, capturedAt: Date.now(), capturedMono: performance.now(), data, format: path.extname(file).slice(1), origin: file },
    spec,
    320,
    320,
  );
  return r.data;
}
