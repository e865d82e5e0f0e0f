/**
 * Class-index masks on the wire. Two encodings, both decodable without this code base:
 *  - `png`: an 8-bit greyscale PNG (colour type 0, no palette, no gamma) whose pixel values ARE the class
 *    indices, sent base64 in `data`. Any PNG reader returns the map.
 *  - `rle`: `data` is a JSON array `[class, run, class, run, …]` over the map in row-major order; the runs
 *    add up to width×height. Tiny for the blobby maps a segmenter produces, and trivially decoded.
 */
import sharp from 'sharp';
import { inflateSync, crc32 } from 'node:zlib';

export type MaskEncoding = 'png' | 'rle';

export type EncodedMaskData = { encoding: 'png'; data: string } | { encoding: 'rle'; data: number[] };

/** The `<camera>/mask` payload (schema: src/mqtt/schemas/mask.schema.json). */
export type MaskPayload = {
  v: 2;
  camera: string;
  frame_id: number;
  captured_at: number;
  published_at: number;
  /** mask size (the map in `data`) */
  width: number;
  height: number;
  /** size of the camera frame the mask covers, to scale it back */
  frame_width: number;
  frame_height: number;
  /** class names by index: `classes[map[i]]` */
  classes: string[];
} & EncodedMaskData;

export class MaskError extends Error {
  override name = 'MaskError';
}

function checkDims(what: string, w: number, h: number): void {
  if (!Number.isInteger(w) || !Number.isInteger(h) || w < 1 || h < 1) {
    throw new MaskError(`${what}: width and height must be positive integers, got ${w}×${h}`);
  }
}

function checkMap(what: string, map: Uint8Array, w: number, h: number): void {
  checkDims(what, w, h);
  if (!(map instanceof Uint8Array)) throw new MaskError(`${what}: map must be a Uint8Array`);
  if (map.length !== w * h) throw new MaskError(`${what}: map has ${map.length} values, expected ${w}×${h} = ${w * h}`);
}

/**
 * Nearest-neighbour resize sampling at pixel centres, so class indices are never blended into
 * indices of other classes (bilinear on a class map invents classes at boundaries).
 */
export function resizeNearest(map: Uint8Array, w: number, h: number, W: number, H: number): Uint8Array {
  checkMap('resizeNearest', map, w, h);
  checkDims('resizeNearest target', W, H);
  if (w === W && h === H) return map.slice();
  const out = new Uint8Array(W * H);
  const xs = new Uint32Array(W);
  for (let x = 0; x < W; x++) xs[x] = Math.min(w - 1, Math.floor(((x + 0.5) * w) / W));
  for (let y = 0; y < H; y++) {
    const sy = Math.min(h - 1, Math.floor(((y + 0.5) * h) / H));
    const srcRow = sy * w;
    const dstRow = y * W;
    for (let x = 0; x < W; x++) out[dstRow + x] = map[srcRow + xs[x]!]!;
  }
  return out;
}

export function rleEncode(map: Uint8Array): number[] {
  const out: number[] = [];
  if (map.length === 0) return out;
  let cls = map[0]!;
  let run = 0;
  for (let i = 0; i < map.length; i++) {
    const c = map[i]!;
    if (c === cls) {
      run++;
    } else {
      out.push(cls, run);
      cls = c;
      run = 1;
    }
  }
  out.push(cls, run);
  return out;
}

export function rleDecode(rle: readonly unknown[], w: number, h: number): Uint8Array {
  checkDims('rle', w, h);
  if (!Array.isArray(rle)) throw new MaskError('rle: data must be an array');
  if (rle.length % 2 !== 0) throw new MaskError(`rle: data must hold [class, run] pairs, got an odd length ${rle.length}`);
  const out = new Uint8Array(w * h);
  let pos = 0;
  for (let i = 0; i < rle.length; i += 2) {
    const cls = rle[i];
    const run = rle[i + 1];
    if (!Number.isInteger(cls) || (cls as number) < 0 || (cls as number) > 255)
      throw new MaskError(`rle: class at index ${i} must be an integer 0..255, got ${JSON.stringify(cls)}`);
    if (!Number.isInteger(run) || (run as number) < 1)
      throw new MaskError(`rle: run at index ${i + 1} must be a positive integer, got ${JSON.stringify(run)}`);
    if (pos + (run as number) > out.length) throw new MaskError(`rle: runs exceed ${w}×${h} = ${out.length} pixels`);
    out.fill(cls as number, pos, pos + (run as number));
    pos += run as number;
  }
  if (pos !== out.length) throw new MaskError(`rle: runs add up to ${pos} pixels, expected ${w}×${h} = ${out.length}`);
  return out;
}

export async function encodeMask(map: Uint8Array, w: number, h: number, encoding: MaskEncoding): Promise<EncodedMaskData> {
  checkMap('encodeMask', map, w, h);
  if (encoding === 'rle') return { encoding, data: rleEncode(map) };
  if (encoding !== 'png') throw new MaskError(`encodeMask: unknown encoding ${JSON.stringify(encoding)} (expected "png" or "rle")`);
  // Without toColourspace('b-w') sharp widens a 1-channel raw input to an RGB PNG; 'b-w' keeps colour type 0
  // at 8 bits, and no gAMA/iCCP/sRGB chunk is written, so readers return the stored values untouched.
  const png = await sharp(Buffer.from(map.buffer, map.byteOffset, map.length), { raw: { width: w, height: h, channels: 1 } })
    .toColourspace('b-w')
    .png({ compressionLevel: 9, palette: false })
    .toBuffer();
  return { encoding, data: png.toString('base64') };
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * Minimal reader for exactly what encodeMask writes (8-bit greyscale, non-interlaced), in plain node:zlib,
 * so tests check the bytes independently of sharp and clients get a reference with no native dependency.
 */
export function decodePngGray8(png: Buffer): { width: number; height: number; data: Uint8Array } {
  if (png.length < 8 || !png.subarray(0, 8).equals(PNG_SIGNATURE)) throw new MaskError('png: not a PNG (bad signature)');
  let off = 8;
  let width = 0;
  let height = 0;
  const idat: Buffer[] = [];
  let sawEnd = false;
  while (off + 12 <= png.length) {
    const len = png.readUInt32BE(off);
    const type = png.toString('latin1', off + 4, off + 8);
    if (off + 12 + len > png.length) throw new MaskError(`png: chunk ${type} runs past the end of the data`);
    const body = png.subarray(off + 8, off + 8 + len);
    if (crc32(png.subarray(off + 4, off + 8 + len)) !== png.readUInt32BE(off + 8 + len)) throw new MaskError(`png: CRC mismatch in chunk ${type}`);
    if (type === 'IHDR') {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      const [depth, colourType, , , interlace] = [body[8], body[9], body[10], body[11], body[12]];
      if (depth !== 8 || colourType !== 0)
        throw new MaskError(`png: expected 8-bit greyscale (depth 8, colour type 0), got depth ${depth}, colour type ${colourType}`);
      if (interlace !== 0) throw new MaskError('png: interlaced PNGs are not used for masks');
    } else if (type === 'IDAT') {
      idat.push(body);
    } else if (type === 'IEND') {
      sawEnd = true;
      break;
    }
    off += 12 + len;
  }
  if (width === 0 || height === 0) throw new MaskError('png: missing IHDR');
  if (!sawEnd) throw new MaskError('png: missing IEND (truncated?)');
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width + 1;
  if (raw.length !== stride * height) throw new MaskError(`png: image data holds ${raw.length} bytes, expected ${stride * height}`);
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * stride]!;
    const src = y * stride + 1;
    const dst = y * width;
    for (let x = 0; x < width; x++) {
      const a = x > 0 ? out[dst + x - 1]! : 0;
      const b = y > 0 ? out[dst - width + x]! : 0;
      const c = x > 0 && y > 0 ? out[dst - width + x - 1]! : 0;
      const v = raw[src + x]!;
      let pred: number;
      switch (filter) {
        case 0:
          pred = 0;
          break;
        case 1:
          pred = a;
          break;
        case 2:
          pred = b;
          break;
        case 3:
          pred = (a + b) >> 1;
          break;
        case 4: {
          const p = a + b - c;
          const pa = Math.abs(p - a);
          const pb = Math.abs(p - b);
          const pc = Math.abs(p - c);
          pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
          break;
        }
        default:
          throw new MaskError(`png: unknown filter type ${filter} on row ${y}`);
      }
      out[dst + x] = (v + pred) & 0xff;
    }
  }
  return { width, height, data: out };
}

/** Decodes a mask payload (or just its encoding fields) back to a row-major class map of width×height. */
export function decodeMask(payload: { width: number; height: number; encoding: string; data: unknown }): Uint8Array {
  const { width, height, encoding, data } = payload;
  checkDims('decodeMask', width, height);
  if (encoding === 'rle') {
    if (!Array.isArray(data)) throw new MaskError('decodeMask: rle data must be a JSON array');
    return rleDecode(data, width, height);
  }
  if (encoding === 'png') {
    if (typeof data !== 'string') throw new MaskError('decodeMask: png data must be a base64 string');
    const img = decodePngGray8(Buffer.from(data, 'base64'));
    if (img.width !== width || img.height !== height)
      throw new MaskError(`decodeMask: PNG is ${img.width}×${img.height} but the payload says ${width}×${height}`);
    return img.data;
  }
  throw new MaskError(`decodeMask: unknown encoding ${JSON.stringify(encoding)} (expected "png" or "rle")`);
}

/**
 * True when `next` differs from `prev` in more than `minChangedFraction` of its pixels (0 → any change).
 * A different size, or no previous mask, always counts as a change.
 */
export function maskChanged(prev: Uint8Array | null | undefined, next: Uint8Array, minChangedFraction = 0): boolean {
  if (!(minChangedFraction >= 0 && minChangedFraction < 1))
    throw new MaskError(`maskChanged: minChangedFraction must be in [0, 1), got ${minChangedFraction}`);
  if (!prev || prev.length !== next.length) return true;
  const limit = Math.floor(minChangedFraction * next.length);
  let diff = 0;
  for (let i = 0; i < next.length; i++) {
    if (prev[i] !== next[i] && ++diff > limit) return true;
  }
  return false;
}

export interface MaskCadenceOptions {
  /** publish every Nth segmentation result (1 = all) */
  every: number;
  /** publish only when the mask changed by more than minChangedFraction since the last published one */
  onChange: boolean;
  minChangedFraction?: number;
}

/** Decides which segmentation results get published (`masks.every`, `masks.on_change`). */
export class MaskCadence {
  private seen = 0;
  private last: Uint8Array | null = null;
  skipped = 0;

  constructor(private readonly opts: MaskCadenceOptions) {
    if (!Number.isInteger(opts.every) || opts.every < 1) throw new MaskError(`masks.every must be a positive integer, got ${opts.every}`);
    maskChanged(null, new Uint8Array(0), opts.minChangedFraction ?? 0); // validates the fraction up front
  }

  /** Call once per segmentation result with the map as it would be published (already resized). */
  shouldPublish(map: Uint8Array): boolean {
    const n = this.seen++;
    let ok = n % this.opts.every === 0;
    if (ok && this.opts.onChange) ok = maskChanged(this.last, map, this.opts.minChangedFraction ?? 0);
    if (ok) this.last = map.slice();
    else this.skipped++;
    return ok;
  }
}

export interface MaskPayloadInput {
  camera: string;
  frameId: number;
  capturedAt: number;
  publishedAt: number;
  map: Uint8Array;
  width: number;
  height: number;
  frameWidth: number;
  frameHeight: number;
  classes: readonly string[];
  encoding: MaskEncoding;
}

export async function buildMaskPayload(i: MaskPayloadInput): Promise<MaskPayload> {
  checkMap('buildMaskPayload', i.map, i.width, i.height);
  if (i.classes.length === 0 || i.classes.length > 256)
    throw new MaskError(`buildMaskPayload: classes must list 1..256 names, got ${i.classes.length}`);
  let top = 0;
  for (let k = 0; k < i.map.length; k++) if (i.map[k]! > top) top = i.map[k]!;
  if (top >= i.classes.length)
    throw new MaskError(`buildMaskPayload: map holds class index ${top} but only ${i.classes.length} class names were given`);
  const enc = await encodeMask(i.map, i.width, i.height, i.encoding);
  return {
    v: 2,
    camera: i.camera,
    frame_id: i.frameId,
    captured_at: Math.round(i.capturedAt),
    published_at: Math.round(i.publishedAt),
    width: i.width,
    height: i.height,
    frame_width: i.frameWidth,
    frame_height: i.frameHeight,
    classes: [...i.classes],
    ...enc,
  };
}
