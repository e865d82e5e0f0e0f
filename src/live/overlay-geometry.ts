/**
 * Zones and lines to draw over the live view, read from the config when it has them
 * (`zones.<name>.polygon`, `lines.<name>.points`, points normalised 0..1). Read generically and
 * tolerantly: this view only draws them, so a shape it cannot draw is left out, never an error here
 * (the config schema that defines them validates them).
 */
export type Point = [number, number];

export interface OverlayGeometry {
  zones: Record<string, { polygon: Point[] }>;
  lines: Record<string, { points: Point[] }>;
}

export function overlayGeometry(config: unknown): OverlayGeometry {
  const out: OverlayGeometry = { zones: {}, lines: {} };
  if (!isObject(config)) return out;
  if (isObject(config.zones)) {
    for (const [name, z] of Object.entries(config.zones)) {
      const polygon = isObject(z) ? points(z.polygon) : null;
      if (polygon && polygon.length >= 3) out.zones[name] = { polygon };
    }
  }
  if (isObject(config.lines)) {
    for (const [name, l] of Object.entries(config.lines)) {
      const pts = isObject(l) ? points(l.points) : null;
      if (pts && pts.length >= 2) out.lines[name] = { points: pts };
    }
  }
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function points(v: unknown): Point[] | null {
  if (!Array.isArray(v) || v.length > 1000) return null;
  const out: Point[] = [];
  for (const p of v) {
    const xy = Array.isArray(p) ? p : isObject(p) ? [p.x, p.y] : null;
    if (!xy || xy.length !== 2) return null;
    const [x, y] = xy as unknown[];
    if (typeof x !== 'number' || typeof y !== 'number' || !(x >= 0 && x <= 1 && y >= 0 && y <= 1)) return null;
    out.push([x, y]);
  }
  return out;
}
