/**
 * The `<camera>/snapshot` image: the latest frame with boxes, labels and the segmentation mask drawn on it,
 * as a JPEG — what a person looks at in Home Assistant or Node-RED to see what the device sees.
 * Boxes and text are an SVG composited by sharp (librsvg); the mask is a Pascal VOC-coloured RGBA layer
 * (background transparent) scaled nearest-neighbour to the frame so class edges stay crisp.
 */
import sharp, { type Sharp, type Metadata, type OverlayOptions } from 'sharp';
import { resizeNearest } from './mask-encoding.js';

export type NormBox = readonly [number, number, number, number];

export interface RawRgbImage {
  /** packed RGB24, rows of width*3 bytes */
  data: Buffer;
  width: number;
  height: number;
}

export interface SnapshotDetection {
  /** the text drawn (label, track id) */
  label: string;
  /** what picks the colour; default the label */
  colourKey?: string;
  score: number;
  /** [x1, y1, x2, y2] normalised 0..1 */
  box: NormBox;
}

export interface SnapshotMask {
  map: Uint8Array;
  width: number;
  height: number;
  /** names by index; unused for drawing, kept so callers can pass a mask payload's fields straight in */
  classes?: readonly string[];
}

/** Zones and counting lines drawn on the snapshot (normalised coordinates). */
export interface SnapshotOverlays {
  zones: ReadonlyArray<{ name: string; polygon: ReadonlyArray<readonly [number, number]>; occupied: boolean }>;
  lines: ReadonlyArray<{ name: string; points: readonly [readonly [number, number], readonly [number, number]]; in: number; out: number }>;
}

export interface SnapshotInput {
  overlays?: SnapshotOverlays;
  /** an encoded JPEG/PNG frame, or raw RGB pixels */
  image: Buffer | RawRgbImage;
  detections: readonly SnapshotDetection[];
  mask?: SnapshotMask;
  /** JPEG quality 1..100 (default 80) */
  quality?: number;
  /** mask layer opacity 0..1 (default 0.45) */
  maskOpacity?: number;
}

export class SnapshotError extends Error {
  override name = 'SnapshotError';
}

/** Pascal VOC's colour map: class i's colour comes from spreading i's bits over the high bits of R, G, B. */
export function vocColor(index: number): [number, number, number] {
  let r = 0;
  let g = 0;
  let b = 0;
  let c = index;
  for (let j = 0; j < 8; j++) {
    r |= ((c >> 0) & 1) << (7 - j);
    g |= ((c >> 1) & 1) << (7 - j);
    b |= ((c >> 2) & 1) << (7 - j);
    c >>= 3;
  }
  return [r, g, b];
}

/** Bright, distinct box colours; a label keeps its colour across frames and devices. */
const BOX_COLOURS = ['#ff3b30', '#34c759', '#0a84ff', '#ffcc00', '#ff9500', '#af52de', '#5ac8fa', '#ff2d55', '#00e5ff', '#30d158'];

export function labelColour(label: string): string {
  let h = 2166136261;
  for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 16777619) >>> 0;
  return BOX_COLOURS[h % BOX_COLOURS.length]!;
}

function xmlEscape(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}

function clamp01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

export function boxesSvg(detections: readonly SnapshotDetection[], width: number, height: number): string {
  const stroke = Math.max(2, Math.round(Math.min(width, height) / 200));
  const font = Math.max(11, Math.round(height / 32));
  const parts: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`];
  detections.forEach((d, i) => {
    const b = d.box;
    if (!Array.isArray(b) || b.length !== 4 || !b.every((v) => typeof v === 'number' && Number.isFinite(v))) {
      throw new SnapshotError(`detection ${i} (${d.label}): box must be 4 finite normalised numbers [x1, y1, x2, y2]`);
    }
    if (b[0] > b[2] || b[1] > b[3]) throw new SnapshotError(`detection ${i} (${d.label}): box corners are not ordered: ${JSON.stringify(b)}`);
    const x1 = Math.round(clamp01(b[0]) * width);
    const y1 = Math.round(clamp01(b[1]) * height);
    const x2 = Math.round(clamp01(b[2]) * width);
    const y2 = Math.round(clamp01(b[3]) * height);
    const colour = labelColour(d.colourKey ?? d.label);
    const text = `${d.label} ${Math.round(d.score * 100)}%`;
    // Label above the box when there is room, else just inside its top edge.
    const th = font + 4;
    const ty = y1 - th >= 0 ? y1 - th : y1;
    const tw = Math.ceil(text.length * font * 0.62) + 6;
    const tx = Math.max(0, Math.min(x1, width - tw)); // keep the label inside the frame
    parts.push(
      `<rect x="${x1 + stroke / 2}" y="${y1 + stroke / 2}" width="${Math.max(0, x2 - x1 - stroke)}" height="${Math.max(0, y2 - y1 - stroke)}" fill="none" stroke="${colour}" stroke-width="${stroke}"/>`,
      `<rect x="${tx}" y="${ty}" width="${tw}" height="${th}" fill="${colour}" fill-opacity="0.85"/>`,
      `<text x="${tx + 3}" y="${ty + font}" font-family="DejaVu Sans, sans-serif" font-size="${font}" fill="#000">${xmlEscape(text)}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('');
}

/**
 * Zones as translucent polygons (green while occupied, amber while empty) and lines as white segments
 * with their totals; a small tick shows the `in` side (positive side of (p2 − p1) × (q − p1)).
 */
export function overlaysSvg(o: SnapshotOverlays, width: number, height: number): string {
  const font = Math.max(11, Math.round(height / 32));
  const stroke = Math.max(2, Math.round(Math.min(width, height) / 200));
  const px = (p: readonly [number, number]): string => `${(p[0] * width).toFixed(1)},${(p[1] * height).toFixed(1)}`;
  const parts: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`];
  const label = (x: number, y: number, text: string, bg: string): void => {
    const tw = Math.ceil(text.length * font * 0.62) + 6;
    const tx = Math.max(0, Math.min(x, width - tw));
    const ty = Math.max(0, Math.min(y, height - font - 4));
    parts.push(
      `<rect x="${tx}" y="${ty}" width="${tw}" height="${font + 4}" fill="${bg}" fill-opacity="0.85"/>`,
      `<text x="${tx + 3}" y="${ty + font}" font-family="DejaVu Sans, sans-serif" font-size="${font}" fill="#000">${xmlEscape(text)}</text>`,
    );
  };
  for (const z of o.zones) {
    const colour = z.occupied ? '#30d158' : '#ffcc00';
    parts.push(`<polygon points="${z.polygon.map(px).join(' ')}" fill="${colour}" fill-opacity="0.18" stroke="${colour}" stroke-width="${stroke}"/>`);
    const top = z.polygon.reduce((a, p) => (p[1] < a[1] ? p : a), z.polygon[0]!);
    label(Math.round(top[0] * width), Math.round(top[1] * height) - font - 6, `${z.name}${z.occupied ? ' (occupied)' : ''}`, colour);
  }
  for (const l of o.lines) {
    const [a, b] = l.points;
    const ax = a[0] * width,
      ay = a[1] * height,
      bx = b[0] * width,
      by = b[1] * height;
    parts.push(`<line x1="${ax}" y1="${ay}" x2="${bx}" y2="${by}" stroke="#ffffff" stroke-width="${stroke + 1}"/>`);
    // the positive side of (p2 − p1) × (q − p1) in y-down pixels is the direction (−dy, dx)
    const len = Math.hypot(bx - ax, by - ay) || 1;
    const nx = -(by - ay) / len,
      ny = (bx - ax) / len;
    const mx = (ax + bx) / 2,
      my = (ay + by) / 2,
      t = font * 1.5;
    parts.push(`<line x1="${mx}" y1="${my}" x2="${mx + nx * t}" y2="${my + ny * t}" stroke="#ffffff" stroke-width="${stroke + 1}"/>`);
    label(Math.round(mx + nx * t), Math.round(my + ny * t), `${l.name}: in ${l.in} / out ${l.out}`, '#ffffff');
  }
  parts.push('</svg>');
  return parts.join('');
}

/** RGBA layer of the frame's size: each non-background class in its VOC colour at `opacity`. */
export function maskLayer(mask: SnapshotMask, width: number, height: number, opacity: number): Buffer {
  const { map, width: w, height: h } = mask;
  const scaled = resizeNearest(map, w, h, width, height);
  const alpha = Math.round(opacity * 255);
  const lut = new Uint8Array(256 * 4);
  for (let c = 1; c < 256; c++) {
    const [r, g, b] = vocColor(c);
    lut.set([r, g, b, alpha], c * 4);
  }
  const out = Buffer.alloc(width * height * 4);
  for (let i = 0; i < scaled.length; i++) {
    const c = scaled[i]! * 4;
    out[i * 4] = lut[c]!;
    out[i * 4 + 1] = lut[c + 1]!;
    out[i * 4 + 2] = lut[c + 2]!;
    out[i * 4 + 3] = lut[c + 3]!;
  }
  return out;
}

export async function renderSnapshot(input: SnapshotInput): Promise<Buffer> {
  const quality = input.quality ?? 80;
  if (!Number.isInteger(quality) || quality < 1 || quality > 100)
    throw new SnapshotError(`snapshot quality must be an integer 1..100, got ${String(quality)}`);
  const opacity = input.maskOpacity ?? 0.45;
  if (!(opacity >= 0 && opacity <= 1)) throw new SnapshotError(`mask opacity must be in [0, 1], got ${String(opacity)}`);

  let base: Sharp;
  let width: number;
  let height: number;
  if (Buffer.isBuffer(input.image)) {
    base = sharp(input.image, { failOn: 'error' });
    let meta: Metadata;
    try {
      meta = await base.metadata();
    } catch (err) {
      throw new SnapshotError(`snapshot image cannot be decoded: ${(err as Error).message}`);
    }
    if (!meta.width || !meta.height) throw new SnapshotError('snapshot image has no dimensions');
    width = meta.width;
    height = meta.height;
    if (meta.hasAlpha) base = base.removeAlpha();
  } else {
    const { data, width: w, height: h } = input.image;
    if (!Number.isInteger(w) || !Number.isInteger(h) || w < 1 || h < 1)
      throw new SnapshotError(`raw snapshot image size must be positive integers, got ${w}×${h}`);
    if (data.length !== w * h * 3)
      throw new SnapshotError(`raw snapshot image has ${data.length} bytes, expected ${w}×${h}×3 = ${w * h * 3} (packed RGB24)`);
    base = sharp(data, { raw: { width: w, height: h, channels: 3 } });
    width = w;
    height = h;
  }

  const layers: OverlayOptions[] = [];
  if (input.mask) {
    const { map, width: mw, height: mh } = input.mask;
    if (!(map instanceof Uint8Array) || !Number.isInteger(mw) || !Number.isInteger(mh) || mw < 1 || mh < 1 || map.length !== mw * mh) {
      throw new SnapshotError(`snapshot mask must be a Uint8Array of width×height class indices, got ${map?.length} values for ${mw}×${mh}`);
    }
    if (opacity > 0) layers.push({ input: maskLayer(input.mask, width, height, opacity), raw: { width, height, channels: 4 } });
  }
  if (input.overlays && (input.overlays.zones.length || input.overlays.lines.length))
    layers.push({ input: Buffer.from(overlaysSvg(input.overlays, width, height)) });
  if (input.detections.length > 0) layers.push({ input: Buffer.from(boxesSvg(input.detections, width, height)) });

  try {
    // 4:4:4 keeps thin coloured box lines and label text their colour; snapshots are on request, size matters less.
    return await base.composite(layers).jpeg({ quality, chromaSubsampling: '4:4:4' }).toBuffer();
  } catch (err) {
    throw new SnapshotError(`snapshot rendering failed: ${(err as Error).message}`);
  }
}
