import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { GraphBuilder } from '../../src/modeltools/onnx/builder.js';
import { DataType } from '../../src/modeltools/onnx/graph.js';
import { saveOnnx } from '../../src/modeltools/onnx/io.js';

/**
 * A stand-in detector with the real detector's I/O (image [1,3,320,320] → class_predictions [1,2034,91],
 * box_encodings [1,2034,4]) whose behaviour the *input* controls, so one model covers every case:
 *  - pixel [0,0,0,0] = x0: the run multiplies a (baseRows + |x0|)×512 matrix by a 512×512 one `matmuls`
 *    times — cost grows linearly with |x0|, so a test makes one run slow and the next one fast;
 *  - pixel [0,0,0,1] = x1: used as an index into a 4-element table — x1 ≥ 4 or ≤ −5 makes ORT fail the run
 *    ("indices element out of data bounds"); real photos (values in [-1, 1]) never do.
 * Scores come out as 0.01 everywhere (no detections), boxes as 0.
 */
export interface FaultyModelOptions {
  /** rows always multiplied, whatever the input (a daemon-level slow model sets this high) */
  baseRows?: number;
  matmuls?: number;
}

export const CTRL_SLOW = 0; // flat index of x0
export const CTRL_FAIL = 1; // flat index of x1
/** read only by the test worker (crashing-worker.ts), not by the model */
export const CTRL_CRASH = 2;
export const CRASH_THROW = -777;
export const CRASH_EXIT = -778;
export const DET_SHAPE = [1, 3, 320, 320];

export function buildFaultyDetector(opts: FaultyModelOptions = {}): Buffer {
  const baseRows = opts.baseRows ?? 1;
  const matmuls = opts.matmuls ?? 24;
  const b = GraphBuilder.empty('edgesight_test_faulty_detector', 13);
  const x = b.input('image', DataType.FLOAT, [1, 3, 320, 320]);
  const flat = b.op('Reshape', [x, b.int64s('flat_shape', [-1])], 'flat');
  const x0 = b.op('Gather', [flat, b.int64s('i0', [CTRL_SLOW])], 'x0'); // [1]
  const x1 = b.op('Gather', [flat, b.int64s('i1', [CTRL_FAIL])], 'x1'); // [1]

  // slow branch: rows = baseRows + int(|x0|); Y = tanh(Y · A) repeated
  const rowsExtra = b.op('Cast', [b.op('Abs', [x0], 'abs_x0')], 'rows_extra', { to: DataType.INT64 });
  const rows = b.op('Add', [rowsExtra, b.int64s('base_rows', [baseRows])], 'rows');
  const shape = b.op('Concat', [rows, b.int64s('cols', [512])], 'y_shape', { axis: 0 });
  let y = b.op('Expand', [b.op('Tanh', [x0], 'tanh_x0'), shape], 'y0');
  const a = new Float32Array(512 * 512);
  for (let i = 0; i < a.length; i++) a[i] = Math.sin(i * 12.9898) * (1 / 16); // fixed pseudo-random, no RNG
  const A = b.initializer('A', DataType.FLOAT, [512, 512], a);
  for (let k = 0; k < matmuls; k++) y = b.op('Tanh', [b.op('MatMul', [y, A], `mm${k}`)], `y${k + 1}`);
  const slow = b.op('ReduceMean', [y], 'slow_mean', { keepdims: 0 }); // scalar

  // failing branch: table[int(x1)]
  const idx = b.op('Cast', [x1], 'x1_index', { to: DataType.INT64 });
  const table = b.initializer('table', DataType.FLOAT, [4], Float32Array.of(0, 0, 0, 0));
  const picked = b.op('ReduceSum', [b.op('Gather', [table, idx], 'picked')], 'picked_sum', { keepdims: 0 });

  // outputs depend on both branches (× 0) so neither is pruned
  const zero = b.op('Mul', [b.op('Add', [slow, picked], 'both'), b.scalarF32('zero', 0)], 'dep0');
  const score = b.op('Add', [zero, b.scalarF32('score', 0.01)], 'score');
  b.op('Expand', [score, b.int64s('scores_shape', [1, 2034, 91])], 'class_predictions', {}, { exactOutputs: true });
  b.op('Expand', [zero, b.int64s('boxes_shape', [1, 2034, 4])], 'box_encodings', {}, { exactOutputs: true });
  b.output('class_predictions', DataType.FLOAT, [1, 2034, 91]);
  b.output('box_encodings', DataType.FLOAT, [1, 2034, 4]);
  return saveOnnx(b.graph);
}

export function writeFaultyDetector(dir: string, opts: FaultyModelOptions = {}, name = 'faulty.onnx'): string {
  const file = path.join(dir, name);
  writeFileSync(file, buildFaultyDetector(opts));
  return file;
}

/** A detector input with the control pixels set. */
export function controlInput(slowRows: number, failIndex = 0): Float32Array {
  const t = new Float32Array(3 * 320 * 320);
  t[CTRL_SLOW] = slowRows;
  t[CTRL_FAIL] = failIndex;
  return t;
}
