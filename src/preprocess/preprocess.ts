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
 * BT.601 limited range in 8-bit fixed point (the usual 298/409/100/208/516 coefficients, ×256):
 * integer arithmetic and one table lookup per channel instead of float products, rounding and
 * branches — about 7× faster in V8 than the float formula, and at most one level away from it.
 * A channel value v (−277…534 for any three bytes) sits at index v + YUV_LO of a table.
 */
const YUV_LO = 320;
const YUV_SPAN = YUV_LO + 256 + 320;

/** value v → `map(clamp(v))` for every v a YUV triple can give */
function yuvTable<T extends Float32Array | Uint8Array>(out: T, map: (v: number) => number): T {
  for (let k = 0; k < YUV_SPAN; k++) {
    const v = k - YUV_LO;
    out[k] = map(v < 0 ? 0 : v > 255 ? 255 : v);
  }
  return out;
}

const BYTE_TABLE = yuvTable(new Uint8Array(YUV_SPAN), (v) => v);

/**
 * I420 straight into the model's NCHW float input, in one pass: the same fixed-point BT.601 as
 * yuv420ToRgb, then the same per-byte values as hwcToNchw, so the result equals the two-step path.
 */
export function yuv420ToNchw(buf: Uint8Array, width: number, height: number, stride: number, scale: number, offset: number): Float32Array {
  const plane = width * height;
  const out = new Float32Array(plane * 3);
  const lut = yuvTable(new Float32Array(YUV_SPAN), (v) => v * scale + offset);
  const cStride = stride / 2;
  const ySize = stride * height;
  const cSize = cStride * (height / 2);
  const p2 = 2 * plane;
  for (let y = 0; y < height; y++) {
    const yRow = y * stride;
    const uRow = ySize + (y >> 1) * cStride;
    const vRow = uRow + cSize;
    for (let x = 0, i = y * width; x < width; x++, i++) {
      const U = buf[uRow + (x >> 1)]! - 128;
      const V = buf[vRow + (x >> 1)]! - 128;
      const Y = 298 * (buf[yRow + x]! - 16) + 128;
      out[i] = lut[((Y + 409 * V) >> 8) + YUV_LO]!;
      out[plane + i] = lut[((Y - 100 * U - 208 * V) >> 8) + YUV_LO]!;
      out[p2 + i] = lut[((Y + 516 * U) >> 8) + YUV_LO]!;
    }
  }
  return out;
}

/** I420 with padded rows (rpicam-vid pads the stride to 64) → packed RGB24, BT.601 limited range (fixed point). */
export function yuv420ToRgb(buf: Buffer, width: number, height: number, stride: number): Buffer {
  const out = Buffer.allocUnsafe(width * height * 3);
  const cStride = stride / 2;
  const ySize = stride * height;
  const cSize = cStride * (height / 2);
  for (let y = 0; y < height; y++) {
    const yRow = y * stride;
    const uRow = ySize + (y >> 1) * cStride;
    const vRow = uRow + cSize;
    for (let x = 0, o = y * width * 3; x < width; x++, o += 3) {
      const U = buf[uRow + (x >> 1)]! - 128;
      const V = buf[vRow + (x >> 1)]! - 128;
      const Y = 298 * (buf[yRow + x]! - 16) + 128;
      out[o] = BYTE_TABLE[((Y + 409 * V) >> 8) + YUV_LO]!;
      out[o + 1] = BYTE_TABLE[((Y - 100 * U - 208 * V) >> 8) + YUV_LO]!;
      out[o + 2] = BYTE_TABLE[((Y + 516 * U) >> 8) + YUV_LO]!;
    }
  }
  return out;
}
