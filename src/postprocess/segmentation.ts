/**
 * LR-ASPP post-processing: argmax over the class axis at the model's own 1/8 output — the class map *is*
 * the low-resolution mask, so nothing is upsampled (MODELS.md: upsampling costs more than the network).
 */
export interface ClassMap {
  width: number;
  height: number;
  /** class index per cell, row-major */
  data: Uint8Array;
  classes: string[];
}

/** logits NCHW with N = 1: [C, H, W] */
export function argmaxClassMap(logits: Float32Array, numClasses: number, height: number, width: number, classes: string[]): ClassMap {
  const plane = height * width;
  if (logits.length !== numClasses * plane) throw new Error(`logits size ${logits.length} != ${numClasses}×${height}×${width}`);
  if (numClasses > 255) throw new Error(`${numClasses} classes do not fit an 8-bit class map`);
  const data = new Uint8Array(plane);
  for (let i = 0; i < plane; i++) {
    let best = 0;
    let bestV = logits[i]!;
    for (let c = 1; c < numClasses; c++) {
      const v = logits[c * plane + i]!;
      if (v > bestV) {
        bestV = v;
        best = c;
      }
    }
    data[i] = best;
  }
  return { width, height, data, classes };
}

/** Share of cells per class name (only classes that occur), largest first. */
export function classFractions(map: ClassMap): Record<string, number> {
  const counts = new Map<number, number>();
  for (const c of map.data) counts.set(c, (counts.get(c) ?? 0) + 1);
  const total = map.data.length;
  return Object.fromEntries(
    [...counts.entries()].sort((a, b) => b[1] - a[1]).map(([c, n]) => [map.classes[c] ?? String(c), Math.round((n / total) * 1e4) / 1e4]),
  );
}
