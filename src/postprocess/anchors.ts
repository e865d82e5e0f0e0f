import type { SsdAnchorSpec } from './detection-spec.js';

/**
 * TF Object Detection API `ssd_anchor_generator` anchors as [yc, xc, h, w] rows (normalised), ordered
 * row, column, anchor — the order the SSD heads emit their predictions in.
 */
export function generateSsdAnchors(spec: SsdAnchorSpec): Float32Array {
  const layers = spec.feature_maps.length;
  const scales = Array.from({ length: layers }, (_, k) =>
    layers === 1 ? spec.min_scale : spec.min_scale + ((spec.max_scale - spec.min_scale) * k) / (layers - 1),
  );
  scales.push(1.0);
  const perLayer: Array<Array<[number, number]>> = [];
  for (let k = 0; k < layers; k++) {
    const boxes: Array<[number, number]> = [];
    if (k === 0 && spec.reduce_boxes_in_lowest_layer) {
      boxes.push([0.1, 1.0], [scales[0]!, 2.0], [scales[0]!, 0.5]);
    } else {
      for (const ar of spec.aspect_ratios) boxes.push([scales[k]!, ar]);
      if (spec.interpolated_scale_aspect_ratio > 0) {
        boxes.push([Math.sqrt(scales[k]! * scales[k + 1]!), spec.interpolated_scale_aspect_ratio]);
      }
    }
    perLayer.push(boxes);
  }
  const total = spec.feature_maps.reduce((n, f, k) => n + f * f * perLayer[k]!.length, 0);
  const out = new Float32Array(total * 4);
  let i = 0;
  spec.feature_maps.forEach((f, k) => {
    for (let y = 0; y < f; y++) {
      for (let x = 0; x < f; x++) {
        for (const [s, ar] of perLayer[k]!) {
          const r = Math.sqrt(ar);
          out[i++] = (y + 0.5) / f;
          out[i++] = (x + 0.5) / f;
          out[i++] = s / r;
          out[i++] = s * r;
        }
      }
    }
  });
  return out;
}

/** The anchors of the shipped SSDLite-MobileNetV3-Small 320 (MODELS.md). */
export const SSDLITE_320_ANCHORS: SsdAnchorSpec = {
  type: 'ssd_anchor_generator',
  feature_maps: [20, 10, 5, 3, 2, 1],
  min_scale: 0.2,
  max_scale: 0.95,
  aspect_ratios: [1.0, 2.0, 0.5, 3.0, 1 / 3],
  reduce_boxes_in_lowest_layer: true,
  interpolated_scale_aspect_ratio: 1.0,
};
