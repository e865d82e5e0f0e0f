import { iou, type Box } from '../tracking/box.js';

/** One frame of tracker output: the confirmed tracks matched in that frame, with the detection box they took. */
export interface TrackedFrame {
  frame: number;
  tracks: Array<{ id: string; box: Box }>;
}

export interface TrackJumps {
  /** consecutive matches of one track whose boxes do not overlap at all, or whose area changes more than 3× */
  jumps: number;
  /** tracks with at least one jump */
  tracksWithJumps: number;
}

/**
 * Id switches without ground truth: a walker at 10 fps moves a fraction of its width per frame, so when a
 * track's next matched box does not overlap its previous one (allowing for the frames in between), or its
 * area changes more than 3×, the track has jumped to another person or onto a box over a group.
 */
export function trackJumps(frames: readonly TrackedFrame[]): TrackJumps {
  const last = new Map<string, { frame: number; box: Box }>();
  const jumped = new Set<string>();
  let jumps = 0;
  for (const f of frames) {
    for (const t of f.tracks) {
      const p = last.get(t.id);
      last.set(t.id, { frame: f.frame, box: t.box });
      if (!p) continue;
      const gap = f.frame - p.frame;
      // grow the previous box by what a walker can cover in the gap (a third of its width per frame)
      const w = p.box[2] - p.box[0];
      const m = (w / 3) * gap;
      const grown: Box = [p.box[0] - m, p.box[1] - m, p.box[2] + m, p.box[3] + m];
      const area = (b: Box): number => Math.max(1e-9, (b[2] - b[0]) * (b[3] - b[1]));
      const ratio = area(t.box) / area(p.box);
      if (iou(grown, t.box) === 0 || ratio > 3 || ratio < 1 / 3) {
        jumps++;
        jumped.add(t.id);
      }
    }
  }
  return { jumps, tracksWithJumps: jumped.size };
}

export interface TrackLengths {
  tracks: number;
  /** frames from first to last match, per track */
  min: number;
  p25: number;
  median: number;
  p75: number;
  max: number;
  /** tracks matched in fewer than 10 frames (1 s at 10 fps): mostly fragments or false positives */
  short: number;
}

/** Length distribution of every confirmed track in the output (the whole clip, no ground truth needed). */
export function trackLengths(frames: readonly TrackedFrame[]): TrackLengths {
  const span = new Map<string, [number, number]>();
  for (const f of frames) {
    for (const t of f.tracks) {
      const s = span.get(t.id);
      if (s) s[1] = f.frame;
      else span.set(t.id, [f.frame, f.frame]);
    }
  }
  const lens = [...span.values()].map(([a, b]) => b - a + 1).sort((a, b) => a - b);
  const q = (p: number): number => (lens.length ? lens[Math.min(lens.length - 1, Math.floor(p * lens.length))]! : 0);
  return {
    tracks: lens.length,
    min: lens[0] ?? 0,
    p25: q(0.25),
    median: q(0.5),
    p75: q(0.75),
    max: lens[lens.length - 1] ?? 0,
    short: lens.filter((l) => l < 10).length,
  };
}
