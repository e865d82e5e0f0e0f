/**
 * Privacy masking: the one function every image leaving the device goes through (the snapshot topic,
 * `edgesight snapshot`, any later image output). The pixels of the configured segmenter classes are
 * obscured using the latest segmentation mask when it is fresh enough — upsampled to the frame and
 * dilated, since the mask is 1/8 of the input — together with the tracked boxes of the matching detector
 * labels; with no fresh mask, the boxes alone.
 * When neither is available the caller gets no image: an unmasked frame is never returned.
 */
import sharp from 'sharp';
import { resizeNearest } from '../render/mask-encoding.js';
import { cocoLabelOf } from '../postprocess/voc-coco.js';

export interface RgbImage {
  /** packed RGB24, rows of width*3 bytes */
  data: Buffer;
  width: number;
  height: number;
}

export interface PrivacyOptions {
  /** segmenter class names; empty = privacy off */
  classes: readonly string[];
  mode: 'blur' | 'pixelate' | 'fill';
  dilate_px: number;
  max_mask_age_s: number;
}

export interface PrivacyMask {
  data: Uint8Array;
  width: number;
  height: number;
  classes: readonly string[];
  /** capture time of the frame it was computed from (ms since epoch) */
  at: number;
}

export interface PrivacyBox {
  /** detector label */
  label: string;
  /** normalised [x1, y1, x2, y2] */
  box: readonly [number, number, number, number];
}

export interface PrivacySources {
  /** the frame's capture time (ms since epoch) */
  at: number;
  mask: PrivacyMask | null;
  /** tracked boxes at this frame; null when no detection result belongs to this frame */
  boxes: readonly PrivacyBox[] | null;
}

export type PrivacyResult =
  | { image: RgbImage; method: 'off' | 'mask' | 'boxes' | 'mask+boxes'; obscuredFraction: number }
  | { image: null; reason: string };

export function privacyEnabled(opts: PrivacyOptions): boolean {
  return opts.classes.length > 0;
}

/** Decodes an encoded JPEG/PNG frame to packed RGB (alpha dropped). */
export async function decodeRgb(encoded: Buffer): Promise<RgbImage> {
  const { data, info } = await sharp(encoded, { failOn: 'error' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

/** Frame + latest mask / tracked boxes → the frame with the configured classes obscured (or no image). */
export async function obscureFrame(image: RgbImage, opts: PrivacyOptions, src: PrivacySources): Promise<PrivacyResult> {
  if (!privacyEnabled(opts)) return { image, method: 'off', obscuredFraction: 0 };
  const { width: w, height: h } = image;
  if (image.data.length !== w * h * 3) return { image: null, reason: `frame has ${image.data.length} bytes, expected ${w}×${h}×3` };
  let region: Uint8Array | null = null;
  let method: 'mask' | 'boxes' | 'mask+boxes' = 'mask';
  const m = src.mask;
  if (m && src.at - m.at <= opts.max_mask_age_s * 1000 && m.data.length === m.width * m.height) region = regionFromMask(m, opts.classes, w, h);
  if (src.boxes) {
    // the tracked boxes are added to a fresh mask too: a small segmenter misses parts of people, and an
    // obscured box costs less than a visible face
    const labels = opts.classes.map(cocoLabelOf);
    const boxes = regionFromBoxes(
      src.boxes.filter((b) => labels.includes(b.label)),
      w,
      h,
    );
    if (region) {
      for (let i = 0; i < region.length; i++) region[i]! |= boxes[i]!;
      method = 'mask+boxes';
    } else if (labels.every((l) => l !== undefined)) {
      region = boxes;
      method = 'boxes';
    } else {
      return {
        image: null,
        reason: `no fresh mask, and ${opts.classes.filter((c) => cocoLabelOf(c) === undefined).join(', ')} has no detector label`,
      };
    }
  }
  if (!region) {
    return {
      image: null,
      reason: m
        ? `the latest mask is ${((src.at - m.at) / 1000).toFixed(1)} s old (max_mask_age_s ${opts.max_mask_age_s}) and there are no tracked boxes for this frame`
        : 'no mask and no tracked boxes for this frame',
    };
  }
  if (opts.dilate_px > 0) region = dilate(region, w, h, opts.dilate_px);
  let n = 0;
  for (let i = 0; i < region.length; i++) n += region[i]!;
  if (n === 0) return { image, method, obscuredFraction: 0 };
  const cover = await coverImage(image, opts.mode);
  const out = Buffer.from(image.data);
  for (let i = 0, p = 0; i < region.length; i++, p += 3) {
    if (region[i]) {
      out[p] = cover[p]!;
      out[p + 1] = cover[p + 1]!;
      out[p + 2] = cover[p + 2]!;
    }
  }
  return { image: { data: out, width: w, height: h }, method, obscuredFraction: n / region.length };
}

/** 1 where the upsampled mask holds one of `classes`. */
export function regionFromMask(m: PrivacyMask, classes: readonly string[], w: number, h: number): Uint8Array {
  const lut = new Uint8Array(256);
  m.classes.forEach((c, i) => {
    if (classes.includes(c)) lut[i] = 1;
  });
  const up = resizeNearest(m.data, m.width, m.height, w, h);
  const out = new Uint8Array(w * h);
  for (let i = 0; i < out.length; i++) out[i] = lut[up[i]!]!;
  return out;
}

export function regionFromBoxes(boxes: readonly PrivacyBox[], w: number, h: number): Uint8Array {
  const out = new Uint8Array(w * h);
  for (const { box } of boxes) {
    const x1 = Math.max(0, Math.floor(box[0] * w));
    const y1 = Math.max(0, Math.floor(box[1] * h));
    const x2 = Math.min(w, Math.ceil(box[2] * w));
    const y2 = Math.min(h, Math.ceil(box[3] * h));
    for (let y = y1; y < y2; y++) out.fill(1, y * w + x1, y * w + x2);
  }
  return out;
}

/** Square dilation by `r` pixels: two sliding-window passes, O(w·h) whatever `r`. */
export function dilate(src: Uint8Array, w: number, h: number, r: number): Uint8Array {
  const tmp = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    const row = y * w;
    let count = 0;
    for (let x = 0; x < Math.min(w, r); x++) count += src[row + x]!;
    for (let x = 0; x < w; x++) {
      if (x + r < w) count += src[row + x + r]!;
      if (x - r - 1 >= 0) count -= src[row + x - r - 1]!;
      tmp[row + x] = count > 0 ? 1 : 0;
    }
  }
  const out = new Uint8Array(w * h);
  for (let x = 0; x < w; x++) {
    let count = 0;
    for (let y = 0; y < Math.min(h, r); y++) count += tmp[y * w + x]!;
    for (let y = 0; y < h; y++) {
      if (y + r < h) count += tmp[(y + r) * w + x]!;
      if (y - r - 1 >= 0) count -= tmp[(y - r - 1) * w + x]!;
      out[y * w + x] = count > 0 ? 1 : 0;
    }
  }
  return out;
}

/** The whole frame obscured in `mode`; the region's pixels are taken from it. */
async function coverImage(img: RgbImage, mode: PrivacyOptions['mode']): Promise<Buffer> {
  const { width: w, height: h } = img;
  const raw = { raw: { width: w, height: h, channels: 3 as const } };
  if (mode === 'fill') return Buffer.alloc(w * h * 3, 96);
  if (mode === 'blur') {
    // strong enough that a face at this frame size is not recognisable
    const sigma = Math.max(4, Math.min(w, h) / 40);
    return sharp(img.data, raw).blur(sigma).raw().toBuffer();
  }
  const block = Math.max(6, Math.round(Math.min(w, h) / 30));
  const small = await sharp(img.data, raw)
    .resize(Math.max(1, Math.ceil(w / block)), Math.max(1, Math.ceil(h / block)), { fit: 'fill' })
    .raw()
    .toBuffer();
  return sharp(small, { raw: { width: Math.max(1, Math.ceil(w / block)), height: Math.max(1, Math.ceil(h / block)), channels: 3 } })
    .resize(w, h, { fit: 'fill', kernel: 'nearest' })
    .raw()
    .toBuffer();
}
