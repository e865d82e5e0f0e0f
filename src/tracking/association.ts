/**
 * Greedy IoU matching: pairs are taken best-first while their IoU reaches `minIou`. With predicted boxes
 * this equals the Hungarian assignment in all but contrived scenes and costs O(T×D·log(T×D)).
 * Only pairs of the same label are considered.
 */
export interface Pair {
  track: number;
  det: number;
  iou: number;
}

export function greedyMatch(
  tracks: readonly number[],
  dets: readonly number[],
  similarity: (track: number, det: number) => number,
  minIou: number,
): { pairs: Pair[]; unmatchedTracks: number[]; unmatchedDets: number[] } {
  const cand: Pair[] = [];
  for (const t of tracks) {
    for (const d of dets) {
      const s = similarity(t, d);
      if (s >= minIou && s > 0) cand.push({ track: t, det: d, iou: s });
    }
  }
  // ties: the lower track then detection index, so results do not depend on sort stability
  cand.sort((a, b) => b.iou - a.iou || a.track - b.track || a.det - b.det);
  const usedT = new Set<number>();
  const usedD = new Set<number>();
  const pairs: Pair[] = [];
  for (const c of cand) {
    if (usedT.has(c.track) || usedD.has(c.det)) continue;
    usedT.add(c.track);
    usedD.add(c.det);
    pairs.push(c);
  }
  return { pairs, unmatchedTracks: tracks.filter((t) => !usedT.has(t)), unmatchedDets: dets.filter((d) => !usedD.has(d)) };
}
