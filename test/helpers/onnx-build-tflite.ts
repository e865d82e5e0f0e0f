import { Builder } from 'flatbuffers';

/**
 * Writes a one-operator TFLite model with the flatbuffers Builder, field by field from schema.fbs, so the
 * tests can feed the reader a model with any operator code (e.g. one the converter does not support).
 * int8 input [1,h,w,c] (scale, zero point) → op → int8 output of the same shape.
 */
export function tinyTflite(opts: {
  builtinCode: number;
  shape?: number[];
  input?: { scale: number; zeroPoint: number };
  output?: { scale: number; zeroPoint: number };
}): Uint8Array {
  const shape = opts.shape ?? [1, 4, 4, 3];
  const inQ = opts.input ?? { scale: 1 / 16, zeroPoint: 0 };
  const outQ = opts.output ?? inQ;
  const b = new Builder(1024);
  const int32Vec = (vals: number[]): number => {
    b.startVector(4, vals.length, 4);
    for (let i = vals.length - 1; i >= 0; i--) b.addInt32(vals[i] as number);
    return b.endVector();
  };
  const quant = (q: { scale: number; zeroPoint: number }): number => {
    b.startVector(4, 1, 4);
    b.addFloat32(q.scale);
    const scale = b.endVector();
    b.startVector(8, 1, 8);
    b.addInt64(BigInt(q.zeroPoint));
    const zp = b.endVector();
    b.startObject(7);
    b.addFieldOffset(2, scale, 0);
    b.addFieldOffset(3, zp, 0);
    return b.endObject();
  };
  const tensor = (name: string, q: { scale: number; zeroPoint: number }): number => {
    const n = b.createString(name);
    const s = int32Vec(shape);
    const qo = quant(q);
    b.startObject(5);
    b.addFieldOffset(0, s, 0);
    b.addFieldInt8(1, 9, 0); // INT8
    b.addFieldInt32(2, 0, 0); // buffer 0 = empty
    b.addFieldOffset(3, n, 0);
    b.addFieldOffset(4, qo, 0);
    return b.endObject();
  };
  const t0 = tensor('input', inQ);
  const t1 = tensor('output', outQ);
  b.startVector(4, 2, 4);
  b.addOffset(t1);
  b.addOffset(t0);
  const tensors = b.endVector();
  const opIn = int32Vec([0]);
  const opOut = int32Vec([1]);
  b.startObject(3);
  b.addFieldInt32(0, 0, -1);
  b.addFieldOffset(1, opIn, 0);
  b.addFieldOffset(2, opOut, 0);
  const op = b.endObject();
  b.startVector(4, 1, 4);
  b.addOffset(op);
  const ops = b.endVector();
  const sgIn = int32Vec([0]);
  const sgOut = int32Vec([1]);
  const sgName = b.createString('main');
  b.startObject(5);
  b.addFieldOffset(0, tensors, 0);
  b.addFieldOffset(1, sgIn, 0);
  b.addFieldOffset(2, sgOut, 0);
  b.addFieldOffset(3, ops, 0);
  b.addFieldOffset(4, sgName, 0);
  const sg = b.endObject();
  b.startVector(4, 1, 4);
  b.addOffset(sg);
  const subgraphs = b.endVector();
  b.startObject(4);
  b.addFieldInt8(0, Math.min(opts.builtinCode, 127), 0);
  b.addFieldInt32(2, 1, 0);
  b.addFieldInt32(3, opts.builtinCode, 0);
  const code = b.endObject();
  b.startVector(4, 1, 4);
  b.addOffset(code);
  const codes = b.endVector();
  b.startObject(0);
  const buf0 = b.endObject();
  b.startVector(4, 1, 4);
  b.addOffset(buf0);
  const buffers = b.endVector();
  const desc = b.createString('edgesight test model');
  b.startObject(5);
  b.addFieldInt32(0, 3, 0);
  b.addFieldOffset(1, codes, 0);
  b.addFieldOffset(2, subgraphs, 0);
  b.addFieldOffset(3, desc, 0);
  b.addFieldOffset(4, buffers, 0);
  const model = b.endObject();
  b.finish(model, 'TFL3');
  return b.asUint8Array().slice();
}
