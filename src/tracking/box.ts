/** Normalised [x1, y1, x2, y2] boxes (0..1 of the frame, y down). */
export type Box = [number, number, number, number];

export function iou(a: Readonly<Box>, b: Readonly<Box>): number {
  const ix = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const iy = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  if (ix <= 0 || iy <= 0) return 0;
  const inter = ix * iy;
  const union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return union > 0 ? inter / union : 0;
}

/** The point that says where an object stands: the bottom centre of its box (the feet of a person). */
export function referencePoint(b: Readonly<Box>): [number, number] {
  return [(b[0] + b[2]) / 2, b[3]];
}

/** centre x, centre y, width, height */
export type Cxcywh = [number, number, number, number];

export function toCxcywh(b: Readonly<Box>): Cxcywh {
  return [(b[0] + b[2]) / 2, (b[1] + b[3]) / 2, b[2] - b[0], b[3] - b[1]];
}

export function fromCxcywh(s: Readonly<Cxcywh>): Box {
  const w = Math.max(0, s[2]);
  const h = Math.max(0, s[3]);
  return [s[0] - w / 2, s[1] - h / 2, s[0] + w / 2, s[1] + h / 2];
}
