import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';

export const SHARED = '/work/shared/models';
export const TFLITE_DETECTOR = path.join(SHARED, 'upstream/ssd_mobilenet_v3_small_coco_int8.tflite');
export const REFERENCE_DETECTOR = path.join(SHARED, 'reference/ssdlite_mobilenet_v3_small_320_coco_fp32.onnx');
export const LRASPP = path.join(SHARED, 'lraspp/lraspp_mobilenet_v3_small_voc_fp32.onnx');
export const FIXTURES = path.join(SHARED, 'reference/fixtures');
export const FIXTURE_NAMES = ['astronaut', 'chelsea', 'messi5', 'motorcycle_left', '000000000790'] as const;

export function readF32(file: string): Float32Array {
  const b = readFileSync(file);
  const out = new Float32Array(b.length / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}

export function fixtureInput(name: string): Float32Array {
  return readF32(path.join(FIXTURES, `${name}.input_nchw.f32`));
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
