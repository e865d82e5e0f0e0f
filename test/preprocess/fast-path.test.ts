import assert from 'node:assert/strict';
import path from 'node:path';
import sharp from 'sharp';
import type { RawFrame } from '../../src/capture/frame.js';
import { yuv420Layout } from '../../src/capture/raw-splitter.js';
import { hwcToNchw, toModelInput, yuv420ToNchw, yuv420ToRgb } from '../../src/preprocess/preprocess.js';
import { PHOTOS_DIR } from '../helpers/paths.js';

const SPEC = { name: 'image', width: 320, height: 320, scale: 1 / 127.5, offset: -1 } as never;

/** RGB24 → I420 with rpicam-vid's padded rows (BT.601 limited range, chroma averaged over 2×2). */
function rgbToI420(rgb: Buffer, w: number, h: number): { data: Buffer; stride: number } {
  const { stride } = yuv420Layout(w, h);
  const cs = stride / 2;
  const out = Buffer.alloc(stride * h + 2 * cs * (h / 2));
  const ySize = stride * h;
  const cSize = cs * (h / 2);
  const c = (v: number): number => Math.max(0, Math.min(255, Math.round(v)));
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = (y * w + x) * 3;
      out[y * stride + x] = c(16 + 0.257 * rgb[o]! + 0.504 * rgb[o + 1]! + 0.098 * rgb[o + 2]!);
    }
  }
  for (let y = 0; y < h / 2; y++) {
    for (let x = 0; x < w / 2; x++) {
      let r = 0,
        g = 0,
        b = 0;
      for (const [dx, dy] of [
        [0, 0],
        [1, 0],
        [0, 1],
        [1, 1],
      ] as const) {
        const o = ((2 * y + dy) * w + 2 * x + dx) * 3;
        r += rgb[o]!;
        g += rgb[o + 1]!;
        b += rgb[o + 2]!;
      }
      r /= 4;
      g /= 4;
      b /= 4;
      out[ySize + y * cs + x] = c(128 - 0.148 * r - 0.291 * g + 0.439 * b);
      out[ySize + cSize + y * cs + x] = c(128 + 0.439 * r - 0.368 * g - 0.071 * b);
    }
  }
  return { data: out, stride };
}

async function photoRgb(w: number, h: number): Promise<Buffer> {
  return sharp(path.join(PHOTOS_DIR, 'astronaut.png')).removeAlpha().resize(w, h, { fit: 'fill' }).raw().toBuffer();
}

function frame(data: Buffer, format: 'rgb24' | 'yuv420', w: number, h: number, stride: number): RawFrame {
  return { kind: 'raw', id: 1, capturedAt: Date.now(), capturedMono: performance.now(), data, format, width: w, height: h, stride } as RawFrame;
}

describe('preprocess fast path: raw frames already at the model size skip sharp', function () {
  this.timeout(60_000);

  it('yuv420 at 320×320 (a real photo): one pass equals the two-step yuv→rgb→table path, value for value', async () => {
    const { data, stride } = rgbToI420(await photoRgb(320, 320), 320, 320);
    const fused = yuv420ToNchw(data, 320, 320, stride, 1 / 127.5, -1);
    const twoStep = hwcToNchw(yuv420ToRgb(data, 320, 320, stride), 320, 320, 1 / 127.5, -1);
    assert.deepEqual(fused, twoStep);
    const viaPipeline = await toModelInput(frame(data, 'yuv420', 320, 320, stride), SPEC, 320, 320);
    assert.deepEqual(viaPipeline.data, twoStep);
    assert.deepEqual([viaPipeline.frameWidth, viaPipeline.frameHeight], [320, 320]);
  });

  it('yuv420 with padded rows (stride ≠ width) at the model size reads the right pixels', async () => {
    const w = 200,
      h = 120;
    const rgb = await photoRgb(w, h);
    const { data, stride } = rgbToI420(rgb, w, h);
    assert.notEqual(stride, w, 'the layout pads rows');
    const fused = yuv420ToNchw(data, w, h, stride, 1 / 127.5, -1);
    assert.deepEqual(fused, hwcToNchw(yuv420ToRgb(data, w, h, stride), w, h, 1 / 127.5, -1));
    // and the conversion is close to the photo itself (limited-range round trip: a few levels)
    let sum = 0;
    for (let i = 0; i < w * h; i++) sum += Math.abs((fused[i]! + 1) * 127.5 - rgb[i * 3]!);
    assert.ok(sum / (w * h) < 6, `red channel within 6 levels of the photo on average (chroma is subsampled), got ${sum / (w * h)}`);
  });

  it('the fixed-point yuv→rgb is within one level of the float BT.601 formula, for random bytes and the extremes', () => {
    const w = 320,
      h = 320,
      stride = 320;
    const data = Buffer.alloc((stride * h * 3) / 2);
    let seed = 7;
    for (let i = 0; i < data.length; i++) data[i] = (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
    // the corners of the cube: every extreme of Y, U and V together in the first chroma samples
    const ext = [0, 16, 128, 235, 240, 255];
    let k = 0;
    for (const y of ext)
      for (const u of ext)
        for (const v of ext) {
          data[2 * k] = y;
          data[stride * h + k] = u;
          data[stride * h + (stride / 2) * (h / 2) + k] = v;
          k++;
        }
    const rgb = yuv420ToRgb(data, w, h, stride);
    const c = (v: number): number => Math.max(0, Math.min(255, Math.round(v)));
    let worst = 0;
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        const Y = 1.164 * (data[y * stride + x]! - 16);
        const ci = (y >> 1) * (stride / 2) + (x >> 1);
        const U = data[stride * h + ci]! - 128;
        const V = data[stride * h + (stride / 2) * (h / 2) + ci]! - 128;
        const o = (y * w + x) * 3;
        worst = Math.max(
          worst,
          Math.abs(rgb[o]! - c(Y + 1.596 * V)),
          Math.abs(rgb[o + 1]! - c(Y - 0.392 * U - 0.813 * V)),
          Math.abs(rgb[o + 2]! - c(Y + 2.017 * U)),
        );
      }
    assert.ok(worst <= 1, `largest difference ${worst} levels`);
  });

  it('rgb24 at the model size gives exactly what sharp’s same-size pipeline gives', async () => {
    const rgb = await photoRgb(320, 320);
    const fast = await toModelInput(frame(rgb, 'rgb24', 320, 320, 320 * 3), SPEC, 320, 320);
    const viaSharp = await sharp(rgb, { raw: { width: 320, height: 320, channels: 3 } })
      .removeAlpha()
      .toColourspace('srgb')
      .resize(320, 320, { fit: 'fill', kernel: 'linear' })
      .raw()
      .toBuffer();
    assert.deepEqual(fast.data, hwcToNchw(viaSharp, 320, 320, 1 / 127.5, -1));
  });

  it('a raw frame of another size still goes through the resize', async () => {
    const rgb = await photoRgb(640, 480);
    const r = await toModelInput(frame(rgb, 'rgb24', 640, 480, 640 * 3), SPEC, 320, 320);
    assert.equal(r.data.length, 3 * 320 * 320);
    assert.deepEqual([r.frameWidth, r.frameHeight], [640, 480]);
  });
});
