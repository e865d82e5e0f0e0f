/** Plane geometry in normalised image coordinates (0..1, y down). */
export type Point = readonly [number, number];

/** Even-odd rule; a point exactly on an edge counts as inside for the lower/left edges only (no double counting). */
export function pointInPolygon(p: Point, poly: readonly Point[]): boolean {
  let inside = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i]!;
    const [xj, yj] = poly[j]!;
    if (yi > p[1] !== yj > p[1] && p[0] < ((xj - xi) * (p[1] - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** (b − a) × (c − a): > 0 when c is on the positive side of a→b (clockwise on screen, since y points down). */
export function cross(a: Point, b: Point, c: Point): number {
  return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]);
}

/** Proper or touching intersection of segments ab and cd. */
export function segmentsIntersect(a: Point, b: Point, c: Point, d: Point): boolean {
  const d1 = cross(c, d, a);
  const d2 = cross(c, d, b);
  const d3 = cross(a, b, c);
  const d4 = cross(a, b, d);
  if (((d1 > 0 && d2 < 0) || (d1 < 0 && d2 > 0)) && ((d3 > 0 && d4 < 0) || (d3 < 0 && d4 > 0))) return true;
  const on = (p: Point, q: Point, r: Point): boolean =>
    Math.min(p[0], q[0]) <= r[0] && r[0] <= Math.max(p[0], q[0]) && Math.min(p[1], q[1]) <= r[1] && r[1] <= Math.max(p[1], q[1]);
  return (d1 === 0 && on(c, d, a)) || (d2 === 0 && on(c, d, b)) || (d3 === 0 && on(a, b, c)) || (d4 === 0 && on(a, b, d));
}

/** The first pair of non-adjacent edges that cross, as edge indices (edge i runs from point i to i+1); null for a simple polygon. */
export function selfIntersection(poly: readonly Point[]): [number, number] | null {
  const n = poly.length;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      if (j === i + 1 || (i === 0 && j === n - 1)) continue; // neighbours share a corner
      if (segmentsIntersect(poly[i]!, poly[(i + 1) % n]!, poly[j]!, poly[(j + 1) % n]!)) return [i, j];
    }
  }
  return null;
}

export function polygonArea(poly: readonly Point[]): number {
  let a = 0;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) a += poly[j]![0] * poly[i]![1] - poly[i]![0] * poly[j]![1];
  return Math.abs(a) / 2;
}

/**
 * Which side of the line p1→p2 the point q is on, for crossing counts: the sign of (p2 − p1) × (q − p1).
 * Crossing from negative to positive is `in`, positive to negative is `out`.
 */
export function side(p1: Point, p2: Point, q: Point): number {
  return Math.sign(cross(p1, p2, q));
}

/**
 * The direction in which the move from→to crosses the segment p1p2, or null when it does not cross it.
 * A move that ends exactly on the line does not cross yet (it crosses when it leaves it on the other side).
 */
export function crossingDirection(p1: Point, p2: Point, from: Point, to: Point): 'in' | 'out' | null {
  const s0 = side(p1, p2, from);
  const s1 = side(p1, p2, to);
  if (s0 === 0 || s1 === 0 || s0 === s1) return null;
  if (!segmentsIntersect(p1, p2, from, to)) return null;
  return s0 < 0 ? 'in' : 'out';
}

/** Cells of a w×h grid whose centre lies in the polygon (for mask coverage). */
export function polygonCells(poly: readonly Point[], w: number, h: number): Uint32Array {
  const out: number[] = [];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) if (pointInPolygon([(x + 0.5) / w, (y + 0.5) / h], poly)) out.push(y * w + x);
  }
  return Uint32Array.from(out);
}
