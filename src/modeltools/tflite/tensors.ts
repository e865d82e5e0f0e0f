import { TfliteFormatError } from './flat.js';
import type { TfliteQuantization, TfliteTensor } from './tflite-model.js';
import { TensorType, tensorTypeName } from './tflite-schema.js';

/** Integer range of a quantized TFLite tensor type. */
export function quantRange(type: number, where: string): [number, number] {
  switch (type) {
    case TensorType.INT8:
      return [-128, 127];
    case TensorType.UINT8:
      return [0, 255];
    case TensorType.INT16:
      return [-32768, 32767];
    case TensorType.INT32:
      return [-2147483648, 2147483647];
    default:
      throw new TfliteFormatError(`${where}: tensor type ${tensorTypeName(type)} is not a quantized integer type`);
  }
}

/** The raw constant values of a tensor as numbers (little-endian file data). */
export function rawValues(t: TfliteTensor): Float64Array {
  if (!t.data) throw new TfliteFormatError(`tensor ${t.index} (${t.name}) has no constant data`);
  const count = t.shape.reduce((a, b) => a * b, 1);
  const view = new DataView(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const size = bytesPer(t.type, t);
  if (t.data.byteLength !== count * size) {
    throw new TfliteFormatError(
      `tensor ${t.index} (${t.name}): ${t.data.byteLength} data bytes, shape ${JSON.stringify(t.shape)} of ${tensorTypeName(t.type)} needs ${count * size}`,
    );
  }
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    switch (t.type) {
      case TensorType.FLOAT32:
        out[i] = view.getFloat32(4 * i, true);
        break;
      case TensorType.INT8:
        out[i] = view.getInt8(i);
        break;
      case TensorType.UINT8:
        out[i] = view.getUint8(i);
        break;
      case TensorType.INT16:
        out[i] = view.getInt16(2 * i, true);
        break;
      case TensorType.INT32:
        out[i] = view.getInt32(4 * i, true);
        break;
      case TensorType.INT64:
        out[i] = Number(view.getBigInt64(8 * i, true));
        break;
    }
  }
  return out;
}

function bytesPer(type: number, t: TfliteTensor): number {
  switch (type) {
    case TensorType.FLOAT32:
    case TensorType.INT32:
      return 4;
    case TensorType.INT8:
    case TensorType.UINT8:
      return 1;
    case TensorType.INT16:
      return 2;
    case TensorType.INT64:
      return 8;
    default:
      throw new TfliteFormatError(`tensor ${t.index} (${t.name}): constant of type ${tensorTypeName(type)} is not supported`);
  }
}

/** Real values of a constant: (q − zero_point) · scale, per channel along quantized_dimension. */
export function dequantizeConst(t: TfliteTensor): Float32Array {
  const raw = rawValues(t);
  const q = t.quantization;
  const out = new Float32Array(raw.length);
  if (!q || t.type === TensorType.FLOAT32) {
    out.set(raw);
    return out;
  }
  const { axisSize, inner } = channelLayout(t, q);
  for (let i = 0; i < raw.length; i++) {
    const c = axisSize === 1 ? 0 : Math.floor(i / inner) % axisSize;
    out[i] = ((raw[i] as number) - (q.zeroPoint[c] as number)) * (q.scale[c] as number);
  }
  return out;
}

function channelLayout(t: TfliteTensor, q: TfliteQuantization): { axisSize: number; inner: number } {
  if (q.scale.length === 1) return { axisSize: 1, inner: 1 };
  const axis = q.quantizedDimension;
  if (axis < 0 || axis >= t.shape.length || t.shape[axis] !== q.scale.length) {
    throw new TfliteFormatError(
      `tensor ${t.index} (${t.name}): ${q.scale.length} per-channel scales do not match dimension ${axis} of shape ${JSON.stringify(t.shape)}`,
    );
  }
  return { axisSize: q.scale.length, inner: t.shape.slice(axis + 1).reduce((a, b) => a * b, 1) };
}

/**
 * Permutes a row-major array: output dimension i is input dimension perm[i]. Used for OHWI → OIHW weights
 * and NHWC → NCHW constants.
 */
export function permute<T extends { length: number; [i: number]: number }>(
  data: T,
  shape: number[],
  perm: number[],
  make: (n: number) => T,
): { data: T; shape: number[] } {
  const rank = shape.length;
  const outShape = perm.map((p) => shape[p] as number);
  const inStrides = new Array<number>(rank).fill(1);
  for (let i = rank - 2; i >= 0; i--) inStrides[i] = (inStrides[i + 1] as number) * (shape[i + 1] as number);
  const out = make(data.length);
  const idx = new Array<number>(rank).fill(0);
  for (let o = 0; o < data.length; o++) {
    let src = 0;
    for (let i = 0; i < rank; i++) src += (idx[i] as number) * (inStrides[perm[i] as number] as number);
    out[o] = data[src] as number;
    for (let i = rank - 1; i >= 0; i--) {
      idx[i] = (idx[i] as number) + 1;
      if ((idx[i] as number) < (outShape[i] as number)) break;
      idx[i] = 0;
    }
  }
  return { data: out, shape: outShape };
}

/** TFLite SAME padding: the extra pixel goes at the end (bottom/right), as TensorFlow does. */
export function samePads(inSize: number, kernel: number, stride: number, dilation: number): [number, number] {
  const out = Math.ceil(inSize / stride);
  const effective = (kernel - 1) * dilation + 1;
  const total = Math.max((out - 1) * stride + effective - inSize, 0);
  const begin = Math.floor(total / 2);
  return [begin, total - begin];
}
