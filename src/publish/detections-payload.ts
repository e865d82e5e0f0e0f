import type { FrameResult } from '../pipeline/pipeline.js';
import { toPixels } from '../postprocess/detections.js';

/** v2: objects carry `track_id` and `zones`; every payload carries `seq` (added when published). */
export const PAYLOAD_VERSION = 2;

const r4 = (v: number): number => Math.round(v * 1e4) / 1e4;

export interface DetectionsPayload {
  v: number;
  frame_id: number;
  captured_at: number;
  published_at: number;
  width: number;
  height: number;
  objects: Array<{ label: string; class_id: number; score: number; box: number[]; box_px: number[]; track_id: string | null; zones: string[] }>;
}

/** `tracks[i]` belongs to `r.detections[i]`; without it every object is untracked (track_id null). */
export function detectionsPayload(
  r: FrameResult,
  publishedAt: number,
  tracks?: ReadonlyArray<{ track_id: string | null; zones: string[] }>,
): DetectionsPayload {
  return {
    v: PAYLOAD_VERSION,
    frame_id: r.frameId,
    captured_at: r.capturedAt,
    published_at: publishedAt,
    width: r.width,
    height: r.height,
    objects: r.detections.map((d, i) => ({
      label: d.label,
      class_id: d.class_id,
      score: r4(d.score),
      box: d.box.map(r4),
      box_px: toPixels(d.box, r.width, r.height),
      track_id: tracks?.[i]?.track_id ?? null,
      zones: [...(tracks?.[i]?.zones ?? [])],
    })),
  };
}
