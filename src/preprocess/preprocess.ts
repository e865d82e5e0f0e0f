import sharp, { type Sharp, type OutputInfo } from 'sharp';
import type { Frame } from '../capture/frame.js';
import type { InputSpec } from './input-spec.js';

export class CorruptFrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CorruptFrameError';
  }
}

export interface ModelInput {
  /** NCHW float32, batch 1 */
  data: Float32Array;
  width: number;
  height: number;
}

// sharp runs on libuv's pool, i.e. off the pinned inference core's thread; one thread per call is
// enough and keeps two concurrent preprocesses from fighting over the two cores of a small board.
sharp.concurrency(1);
// No libvips operation cache: every frame is a new buffer, so nothing in it is ever reused, yet it would
// keep up to 50 MB of decoded images alive (a soak measured the daemon's RSS ~25 MB lower without it).
sharp.cache(false);

function frameToSharp(frame: Frame): Sharp {
  if (frame.kind === 'encoded') return sharp(frame.data, { failOn: 'error' });
  if (frame.format === 'rgb24') {
    return sharp(frame.data, { raw: { width: frame.width, height: frame.height, channels: 3 } });
  }
  return sharp(yuv420ToRgb(frame.data, frame.width, frame.height, frame.stride), { raw: { width: frame.width, height: frame.height, channels: 3 } });
}

/**
 * Decode + stretch-resize + normalise into the model's NCHW float input. Whole frame, no letterbox
 * (the detector was trained that way). Bilinear, the same kernel used for calibration.
 */
export async function toModelInput(
  frame: Frame,
  spec: InputSpec,
  width: number,
  height: number,
): Promise<ModelInput & { frameWidth: number; frameHeight: number }> {
  // Fast path: a raw frame that already has the model's size (the camera or ffmpeg scaled it) needs no
  // resize, so sharp is skipped and one typed-array loop writes the model input.
  if (frame.kind === 'raw' && frame.width === width && frame.height === height) {
    const data =
      frame.format === 'rgb24'
        ? hwcToNchw(frame.data, width, height, spec.scale, spec.offset)
        : yuv420ToNchw(frame.data, width, height, frame.stride, spec.scale, spec.offset);
    return { data, width, height, frameWidth: width, frameHeight: height };
  }
  let raw: { data: Buffer; info: OutputInfo };
  let frameWidth: number;
  let frameHeight: number;
  try {
    const img = frameToSharp(frame);
    const meta = frame.kind === 'encoded' ? await img.metadata() : { width: frame.width, height: frame.height };
    frameWidth = meta.width ?? 0;
    frameHeight = meta.height ?? 0;
    raw = await img
      .removeAlpha()
      .toColourspace('srgb')
      .resize(width, height, { fit: 'fill', kernel: 'linear' })
      .raw()
      .toBuffer({ resolveWithObject: true });
  } catch (e) {
    throw new CorruptFrameError(`frame ${frame.id}${frame.origin ? ` (${frame.origin})` : ''}: undecodable image (${(e as Error).message})`);
  }
  if (raw.info.channels !== 3) throw new CorruptFrameError(`frame ${frame.id}: expected 3 channels after decode, got ${raw.info.channels}`);
  return { data: hwcToNchw(raw.data, width, height, spec.scale, spec.offset), width, height, frameWidth, frameHeight };
}

export function hwcToNchw(rgb: Uint8Array, width: number, height: number, scale: number, offset: number): Float32Array {
  const plane = width * height;
  const out = new Float32Array(plane * 3);
  // a 256-entry table keeps the exact same float per byte value as the calibration path
  const lut = new Float32Array(256);
  for (let v = 0; v < 256; v++) lut[v] = v * scale + offset;
  for (let i = 0, p = 0; i < plane; i++, p += 3) {
    out[i] = lut[rgb[p]!]!;
    out[plane + i] = lut[rgb[p + 1]!]!;
    out[2 * plane + i] = lut[rgb[p + 2]!]!;
  }
  return out;
}

/**
 * I420 straight into the model's NCHW float input, in one pass: the same BT.601 integers as
 * yuv420ToRgb, then the same per-byte table as hwcToNchw, so the result equals the two-step path.
 * Red depends only on (Y, V) and blue only on (Y, U), so each is one lookup in a 64 K-entry table of
 * final floats (the same doubles the two-step path computes, clamped, rounded and mapped); green needs
 * all three, so its chroma terms come from tables once per pixel pair and the clamp is folded into the
 * output table. Every typed-array access costs tens of ARM instructions in V8, so fewer accesses per
 * pixel is what makes this cheaper.
 */
export function yuv420ToNchw(buf: Uint8Array, width: number, height: number, stride: number, scale: number, offset: number): Float32Array {
  const plane = width * height;
  const out = new Float32Array(plane * 3);
  const { y: yT, gu, gv, red, blue, out: o } = yuvTables(scale, offset);
  const cStride = stride / 2;
  const ySize = stride * height;
  const cSize = cStride * (height / 2);
  const g0 = plane,
    b0 = 2 * plane;
  for (let y = 0; y < height; y++) {
    const yRow = y * stride;
    const uRow = ySize + (y >> 1) * cStride;
    const vRow = uRow + cSize;
    let i = y * width;
    for (let x = 0; x < width; x += 2) {
      const u = buf[uRow + (x >> 1)]!,
        v = buf[vRow + (x >> 1)]!;
      const gU = gu[u]!,
        gV = gv[v]!;
      let Y = buf[yRow + x]!;
      out[i] = red[(Y << 8) | v]!;
      out[g0 + i] = o[Math.round(yT[Y]! - gU - gV) + OUT_BIAS]!;
      out[b0 + i] = blue[(Y << 8) | u]!;
      i++;
      if (x + 1 === width) break;
      Y = buf[yRow + x + 1]!;
      out[i] = red[(Y << 8) | v]!;
      out[g0 + i] = o[Math.round(yT[Y]! - gU - gV) + OUT_BIAS]!;
      out[b0 + i] = blue[(Y << 8) | u]!;
      i++;
    }
  }
  return out;
}

/** Rounded channel values reach −299…+554 (Y ∈ [−18.6, 278.2] plus a chroma term ≤ ±257); the table covers −512…767. */
const OUT_BIAS = 512;
const OUT_SIZE = 1280;

interface YuvTables {
  scale: number;
  offset: number;
  y: Float64Array;
  gu: Float64Array;
  gv: Float64Array;
  /** [Y << 8 | V] → the red input value; [Y << 8 | U] → the blue one */
  red: Float32Array;
  blue: Float32Array;
  /** lut[clamp(k − OUT_BIAS)]: clamping to 0…255 and then the byte → float table, in one lookup */
  out: Float32Array;
}
let lastTables: YuvTables | undefined;

function yuvTables(scale: number, offset: number): YuvTables {
  if (lastTables && lastTables.scale === scale && lastTables.offset === offset) return lastTables;
  const y = new Float64Array(256),
    gu = new Float64Array(256),
    gv = new Float64Array(256);
  for (let k = 0; k < 256; k++) {
    y[k] = 1.164 * (k - 16);
    gu[k] = 0.392 * (k - 128);
    gv[k] = 0.813 * (k - 128);
  }
  const out = new Float32Array(OUT_SIZE);
  for (let k = 0; k < OUT_SIZE; k++) {
    const v = k - OUT_BIAS;
    out[k] = Math.min(255, Math.max(0, v)) * scale + offset;
  }
  const red = new Float32Array(65536),
    blue = new Float32Array(65536);
  for (let Y = 0; Y < 256; Y++) {
    for (let c = 0; c < 256; c++) {
      red[(Y << 8) | c] = out[Math.round(y[Y]! + 1.596 * (c - 128)) + OUT_BIAS]!;
      blue[(Y << 8) | c] = out[Math.round(y[Y]! + 2.017 * (c - 128)) + OUT_BIAS]!;
    }
  }
  lastTables = { scale, offset, y, gu, gv, red, blue, out };
  return lastTables;
}

/** I420 with padded rows (rpicam-vid pads the stride to 64) → packed RGB24, BT.601 limited range. */
export function yuv420ToRgb(buf: Buffer, width: number, height: number, stride: number): Buffer {
  const out = Buffer.allocUnsafe(width * height * 3);
  const cStride = stride / 2;
  const ySize = stride * height;
  const cSize = cStride * (height / 2);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const Y = buf[y * stride + x]! - 16;
      const U = buf[ySize + (y >> 1) * cStride + (x >> 1)]! - 128;
      const V = buf[ySize + cSize + (y >> 1) * cStride + (x >> 1)]! - 128;
      const o = (y * width + x) * 3;
      out[o] = clamp(1.164 * Y + 1.596 * V);
      out[o + 1] = clamp(1.164 * Y - 0.392 * U - 0.813 * V);
      out[o + 2] = clamp(1.164 * Y + 2.017 * U);
    }
  }
  return out;
}

const clamp = (v: number): number => (v < 0 ? 0 : v > 255 ? 255 : Math.round(v));
