import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Frame } from '../../capture/frame.js';
import { createSession, ort } from '../../inference/session.js';
import { SsdDecoder, type Detection } from '../../postprocess/detections.js';
import { argmaxClassMap } from '../../postprocess/segmentation.js';
import { toModelInput } from '../../preprocess/preprocess.js';
import type { DetectionSpec, InputSpec } from '../../models/manifest.js';
import { evaluateCoco, type EvalResult, type ScoredBox } from './coco.js';
import { toCocoDetection, type CocoDataset } from './dataset.js';

/** A model file plus what is needed to feed it and read it (the manifest's fields). */
export interface EvalModel {
  file: string;
  input: InputSpec;
  labels: string[];
  detection?: DetectionSpec;
  segmentation?: { outputs: { logits: string } };
}

async function fileFrame(file: string, id: number): Promise<Frame> {
  return {
    kind: 'encoded',
    id,
    capturedAt: Date.now(),
    capturedMono: performance.now(),
    data: await readFile(file),
    format: path.extname(file).slice(1),
    origin: file,
  };
}

export interface DetectorEval {
  result: EvalResult;
  /** detections per image id at the evaluation threshold */
  detections: Map<number, Detection[]>;
}

/** Runs a detector over a COCO dataset and scores it (low threshold, as mAP wants the whole ranking). */
export async function evaluateDetector(
  model: EvalModel,
  ds: CocoDataset,
  opts: { scoreThreshold?: number; threads?: number } = {},
): Promise<DetectorEval> {
  if (!model.detection) throw new Error(`${model.file}: not a detection model (no detection spec)`);
  const spec = model.detection;
  const w = model.input.width;
  const h = model.input.height;
  if (!w || !h) throw new Error(`${model.file}: the detector needs a fixed input size`);
  const session = await createSession(model.file, { threads: opts.threads ?? 1, spinning: false });
  const decoder = new SsdDecoder(spec, model.labels);
  const all: ScoredBox[] = [];
  const detections = new Map<number, Detection[]>();
  try {
    for (const im of ds.images) {
      const x = await toModelInput(await fileFrame(im.file, im.id), model.input, w, h);
      const r = await session.run({ [model.input.name]: new ort.Tensor('float32', x.data, [1, 3, h, w]) });
      const scores = r[spec.outputs.scores]?.data as Float32Array | undefined;
      const boxes = r[spec.outputs.boxes]?.data as Float32Array | undefined;
      if (!scores || !boxes) throw new Error(`${model.file}: outputs ${spec.outputs.scores}/${spec.outputs.boxes} missing`);
      const dets = decoder.decode(scores, boxes, { scoreThreshold: opts.scoreThreshold ?? 0.01, nmsIou: 0.6, maxDetections: 100 });
      detections.set(im.id, dets);
      for (const d of dets) all.push(toCocoDetection(im.id, im.width, im.height, d));
    }
  } finally {
    await session.release();
  }
  return { result: evaluateCoco(ds.groundTruth, all), detections };
}

/** Detections of one image file (for the "still finds X" checks). */
export async function detectFile(model: EvalModel, file: string, scoreThreshold: number): Promise<Detection[]> {
  if (!model.detection) throw new Error(`${model.file}: not a detection model`);
  const w = model.input.width!;
  const h = model.input.height!;
  const session = await createSession(model.file, { threads: 1, spinning: false });
  try {
    const x = await toModelInput(await fileFrame(file, 0), model.input, w, h);
    const r = await session.run({ [model.input.name]: new ort.Tensor('float32', x.data, [1, 3, h, w]) });
    return new SsdDecoder(model.detection, model.labels).decode(
      r[model.detection.outputs.scores]!.data as Float32Array,
      r[model.detection.outputs.boxes]!.data as Float32Array,
      {
        scoreThreshold,
        nmsIou: 0.6,
        maxDetections: 100,
      },
    );
  } finally {
    await session.release();
  }
}

export interface SegAgreement {
  /** share of 1/8-resolution cells where the two models' argmax agree */
  pixelAgreement: number;
  /** mean IoU of model B's class map against model A's, over classes present in either */
  miou: number;
  cells: number;
}

/** Compares two segmenters' argmax class maps on the same images (B judged against A). */
export async function segmentationAgreement(a: EvalModel, b: EvalModel, files: string[], width: number, height: number): Promise<SegAgreement> {
  const sa = await createSession(a.file, { threads: 1, spinning: false });
  const sb = await createSession(b.file, { threads: 1, spinning: false });
  const numClasses = a.labels.length;
  const inter = new Float64Array(numClasses);
  const union = new Float64Array(numClasses);
  let agree = 0;
  let cells = 0;
  try {
    for (let i = 0; i < files.length; i++) {
      const x = await toModelInput(await fileFrame(files[i], i), a.input, width, height);
      const maps = [];
      for (const [m, s] of [
        [a, sa],
        [b, sb],
      ] as const) {
        const out = (await s.run({ [m.input.name]: new ort.Tensor('float32', x.data, [1, 3, height, width]) }))[
          m.segmentation?.outputs.logits ?? 'logits'
        ];
        if (!out) throw new Error(`${m.file}: no logits output`);
        const [, c, oh, ow] = out.dims as number[];
        maps.push(argmaxClassMap(out.data as Float32Array, c, oh, ow, m.labels).data);
      }
      const [ma, mb] = maps;
      for (let k = 0; k < ma.length; k++) {
        cells++;
        if (ma[k] === mb[k]) {
          agree++;
          inter[ma[k]]++;
          union[ma[k]]++;
        } else {
          union[ma[k]]++;
          union[mb[k]]++;
        }
      }
    }
  } finally {
    await sa.release();
    await sb.release();
  }
  let sum = 0;
  let n = 0;
  for (let c = 0; c < numClasses; c++) {
    if (union[c] === 0) continue;
    sum += inter[c] / union[c];
    n++;
  }
  return { pixelAgreement: agree / cells, miou: n ? sum / n : 0, cells };
}

/**
 * Mean latency ratio B/A measured in interleaved rounds (A, B, A, B, …) on the same input, so machine
 * noise hits both models alike. Returns per-model medians and the ratio of medians.
 */
export async function latencyRatio(
  a: string,
  b: string,
  inputName: string,
  input: Float32Array,
  dims: number[],
  rounds = 30,
): Promise<{ aMs: number; bMs: number; ratio: number }> {
  const sa = await createSession(a, { threads: 1, spinning: false });
  const sb = await createSession(b, { threads: 1, spinning: false });
  const t = new ort.Tensor('float32', input, dims);
  const ta: number[] = [];
  const tb: number[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      await sa.run({ [inputName]: t });
      await sb.run({ [inputName]: t });
    }
    for (let i = 0; i < rounds; i++) {
      for (const [s, acc] of (i % 2 === 0
        ? [
            [sa, ta],
            [sb, tb],
          ]
        : [
            [sb, tb],
            [sa, ta],
          ]) as Array<[ort.InferenceSession, number[]]>) {
        const t0 = performance.now();
        await s.run({ [inputName]: t });
        acc.push(performance.now() - t0);
      }
    }
  } finally {
    await sa.release();
    await sb.release();
  }
  const med = (xs: number[]): number => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)];
  return { aMs: med(ta), bMs: med(tb), ratio: med(tb) / med(ta) };
}
