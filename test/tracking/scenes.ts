import type { Box } from '../../src/tracking/box.js';
import type { TrackerDetection, TrackerUpdate } from '../../src/tracking/bytetrack.js';

/** One ground-truth object's detection in a frame (null: not detected in that frame). */
export interface TruthDetection extends TrackerDetection {
  /** ground-truth object, or null for a false positive */
  truth: string | null;
}

export type Scene = TruthDetection[][];

export function box(cx: number, cy: number, w: number, h: number): Box {
  return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2];
}

/** A small deterministic jitter (detector boxes wobble by a few pixels). */
export function jitter(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32 - 0.5) * 0.01;
  };
}

/** Fisher–Yates with a fixed seed: detection order must not matter. */
export function shuffled<T>(a: T[], seed: number): T[] {
  const out = [...a];
  const r = jitter(seed);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor((r() / 0.01 + 0.5) * (i + 1)) % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

export interface SceneScore {
  /** times a ground-truth object's track id changed from one confirmed id to another */
  idSwitches: number;
  /** per ground-truth object: distinct confirmed ids it was given (1 is perfect) */
  idsPerObject: Map<string, number>;
  /** confirmed ids given to false positives */
  falsePositiveIds: number;
  /** all confirmed ids */
  confirmed: number;
}

/** Runs a scene at 10 fps through `update` and scores identity: switches and fragmentation. */
export function runScene(
  scene: Scene,
  update: (dets: TrackerDetection[], at: number) => TrackerUpdate,
  t0 = 1_700_000_000_000,
  stepMs = 100,
): SceneScore {
  const last = new Map<string, string>();
  const ids = new Map<string, Set<string>>();
  const all = new Set<string>();
  let idSwitches = 0;
  let falsePositiveIds = 0;
  scene.forEach((frame, i) => {
    const res = update(frame, t0 + i * stepMs);
    frame.forEach((d, k) => {
      const id = res.assigned[k]?.id ?? null;
      if (id === null) return;
      all.add(id);
      if (d.truth === null) {
        falsePositiveIds++;
        return;
      }
      const prev = last.get(d.truth);
      if (prev !== undefined && prev !== id) idSwitches++;
      last.set(d.truth, id);
      ids.set(d.truth, (ids.get(d.truth) ?? new Set()).add(id));
    });
  });
  return { idSwitches, idsPerObject: new Map([...ids].map(([k, v]) => [k, v.size])), falsePositiveIds, confirmed: all.size };
}
