import { iou, type Box } from './box.js';
import { BoxMotion } from './motion.js';
import { greedyMatch } from './association.js';

/**
 * Multi-object tracker in the ByteTrack scheme (Zhang et al. 2022), per label:
 *  1. every track's box is predicted to the frame's time (constant velocity);
 *  2. high-score detections are matched to confirmed and lost tracks by IoU;
 *  3. low-score detections (between `lowScore` and the label's threshold) are matched to the confirmed tracks
 *     still unmatched, so a person half hidden behind a table keeps the track instead of ending it;
 *  4. tentative tracks are matched to the remaining high-score detections; an unmatched tentative track is
 *     dropped at once (a one-frame false positive never gets an id);
 *  5. remaining high-score detections start tentative tracks, confirmed after `minHits` consecutive hits;
 *  6. a track unseen for `maxAgeMs` is removed.
 * Costs O(tracks × detections) per frame. Runs on the main thread after post-processing.
 */
export interface TrackerDetection {
  label: string;
  score: number;
  box: Box;
  /** true when the score is below the label's detection threshold (only used to extend confirmed tracks) */
  low?: boolean;
}

export interface ByteTrackOptions {
  camera: string;
  /** consecutive hits before a track is confirmed and gets an id */
  minHits: number;
  /** a track unseen this long is removed (ms) */
  maxAgeMs: number;
  /** IoU needed to match a high-score detection to a confirmed or lost track */
  matchIou: number;
  /** IoU needed for the low-score second pass (stricter: low scores are less reliable) */
  lowMatchIou: number;
  /**
   * Buffered IoU for lost tracks (Yang et al. 2023, C-BIoU): both boxes are grown by this fraction of their
   * width and height per second the track has been unseen (up to `lostBufferMax`), so a small, slow walker
   * whose box no longer overlaps its last one after a few missed frames is still found. 0 = plain IoU.
   */
  lostBufferPerS?: number;
  lostBufferMax?: number;
}

export const DEFAULT_BYTETRACK: Omit<ByteTrackOptions, 'camera'> = {
  minHits: 3,
  maxAgeMs: 3000,
  matchIou: 0.2,
  lowMatchIou: 0.4,
  lostBufferPerS: 2,
  lostBufferMax: 1.5,
};

export type TrackState = 'tentative' | 'tracked' | 'lost';

export interface Track {
  /** internal key, unique for the tracker's life */
  readonly key: number;
  /** `<camera>-<start_ms>-<n>`, set once confirmed; null while tentative */
  id: string | null;
  readonly label: string;
  state: TrackState;
  /** latest observed box (a lost track keeps its last observation) */
  box: Box;
  score: number;
  bestBox: Box;
  bestScore: number;
  hits: number;
  /** ms since epoch of the first detection */
  readonly firstSeen: number;
  lastSeen: number;
  /** matched in the latest frame */
  seenNow: boolean;
  readonly motion: BoxMotion;
}

export interface TrackerUpdate {
  /** per input detection: the track it belongs to (null: not tracked, e.g. an unmatched low-score one) */
  assigned: Array<Track | null>;
  /** tracks that became confirmed in this frame */
  confirmed: Track[];
  /** confirmed tracks removed in this frame (unseen for maxAgeMs) */
  removed: Track[];
}

export class TrackerError extends Error {
  override name = 'TrackerError';
}

export class ByteTracker {
  private tracks: Track[] = [];
  private nextKey = 1;
  private nextN = 1;
  private lastAt = -Infinity;
  opts: ByteTrackOptions;

  constructor(opts: ByteTrackOptions) {
    this.opts = checkOptions(opts);
  }

  /** Live change (SIGHUP): thresholds apply from the next frame; existing tracks are kept. */
  setOptions(opts: ByteTrackOptions): void {
    this.opts = checkOptions(opts);
  }

  /** Tracks alive now (tentative ones included). */
  all(): readonly Track[] {
    return this.tracks;
  }

  /** Confirmed tracks (tracked or lost). */
  confirmed(): Track[] {
    return this.tracks.filter((t) => t.id !== null);
  }

  update(dets: readonly TrackerDetection[], at: number): TrackerUpdate {
    if (!Number.isFinite(at)) throw new TrackerError(`frame time must be a finite number of ms, got ${String(at)}`);
    at = Math.max(at, this.lastAt); // a wall-clock step back is treated as simultaneous
    this.lastAt = at;
    const o = this.opts;
    const assigned: Array<Track | null> = dets.map(() => null);
    const confirmed: Track[] = [];
    for (const t of this.tracks) t.seenNow = false;

    const predicted = this.tracks.map((t) => t.motion.predict(at));
    const buffer = this.tracks.map((t) =>
      t.state === 'lost' ? Math.min(o.lostBufferMax ?? 0, ((o.lostBufferPerS ?? 0) * (at - t.lastSeen)) / 1000) : 0,
    );
    const sim = (ti: number, di: number): number => {
      if (this.tracks[ti]!.label !== dets[di]!.label) return 0;
      const b = buffer[ti]!;
      if (b === 0) return iou(predicted[ti]!, dets[di]!.box);
      // a grown small box sits inside any big one: a lost walker must not be re-found on a box over a group
      // (compared with its last observed size: the predicted size drifts with a jittery size velocity)
      if (!similarSize(this.tracks[ti]!.box, dets[di]!.box)) return 0;
      return iou(grow(predicted[ti]!, b), grow(dets[di]!.box, b));
    };
    const idx = (pred: (t: Track) => boolean): number[] => this.tracks.flatMap((t, i) => (pred(t) ? [i] : []));
    const high = dets.flatMap((d, i) => (d.low ? [] : [i]));
    const low = dets.flatMap((d, i) => (d.low ? [i] : []));

    const apply = (ti: number, di: number): void => {
      const t = this.tracks[ti]!;
      const d = dets[di]!;
      t.motion.correct(d.box, at);
      t.box = [...d.box];
      t.score = d.score;
      t.lastSeen = at;
      t.seenNow = true;
      t.hits++;
      if (d.score > t.bestScore) {
        t.bestScore = d.score;
        t.bestBox = [...d.box];
      }
      if (t.state === 'lost') t.state = 'tracked';
      assigned[di] = t;
    };

    // 1: high-score detections ↔ confirmed tracks seen in the previous frame, then ↔ lost ones (their
    // buffered IoU must not take a detection from a track that is still being followed)
    const firstTracked = greedyMatch(
      idx((t) => t.state === 'tracked'),
      high,
      sim,
      o.matchIou,
    );
    const firstLost = greedyMatch(
      idx((t) => t.state === 'lost'),
      firstTracked.unmatchedDets,
      sim,
      o.matchIou,
    );
    const first = {
      pairs: [...firstTracked.pairs, ...firstLost.pairs],
      unmatchedTracks: [...firstTracked.unmatchedTracks, ...firstLost.unmatchedTracks],
      unmatchedDets: firstLost.unmatchedDets,
    };
    for (const p of first.pairs) apply(p.track, p.det);
    // 2: low-score detections ↔ confirmed tracks seen in the previous frame's state (not lost)
    const remainingTracked = first.unmatchedTracks.filter((i) => this.tracks[i]!.state === 'tracked');
    const second = greedyMatch(remainingTracked, low, sim, o.lowMatchIou);
    for (const p of second.pairs) apply(p.track, p.det);
    // 3: tentative tracks ↔ the rest of the high-score detections
    const third = greedyMatch(
      idx((t) => t.state === 'tentative'),
      first.unmatchedDets,
      sim,
      o.matchIou,
    );
    for (const p of third.pairs) {
      apply(p.track, p.det);
      const t = this.tracks[p.track]!;
      if (t.hits >= o.minHits) this.confirm(t, confirmed);
    }

    const removed: Track[] = [];
    const drop = new Set<Track>();
    for (const i of third.unmatchedTracks) drop.add(this.tracks[i]!); // a tentative track must hit every frame
    for (const t of this.tracks) {
      if (t.seenNow || drop.has(t)) continue;
      if (t.state === 'tracked') t.state = 'lost';
      if (at - t.lastSeen >= o.maxAgeMs) {
        drop.add(t);
        if (t.id !== null) removed.push(t);
      }
    }
    this.tracks = this.tracks.filter((t) => !drop.has(t));

    // 4: new tentative tracks from unmatched high-score detections
    for (const di of third.unmatchedDets) {
      const d = dets[di]!;
      const t: Track = {
        key: this.nextKey++,
        id: null,
        label: d.label,
        state: 'tentative',
        box: [...d.box],
        score: d.score,
        bestBox: [...d.box],
        bestScore: d.score,
        hits: 1,
        firstSeen: at,
        lastSeen: at,
        seenNow: true,
        motion: new BoxMotion(d.box, at),
      };
      this.tracks.push(t);
      assigned[di] = t;
      if (o.minHits <= 1) this.confirm(t, confirmed);
    }
    return { assigned, confirmed, removed };
  }

  /** Removes every track (stop): returns the confirmed ones so their events can be ended. */
  clear(): Track[] {
    const out = this.confirmed();
    this.tracks = [];
    return out;
  }

  private confirm(t: Track, out: Track[]): void {
    t.state = 'tracked';
    t.id = `${this.opts.camera}-${Math.round(t.firstSeen)}-${this.nextN++}`;
    out.push(t);
  }
}

/** Width and height each within a factor of 2. */
function similarSize(a: Readonly<Box>, b: Readonly<Box>): boolean {
  const within = (x: number, y: number): boolean => x <= 2 * y && y <= 2 * x;
  return within(a[2] - a[0], b[2] - b[0]) && within(a[3] - a[1], b[3] - b[1]);
}

/** The box grown by `f` of its width and height on every side. */
function grow(b: Readonly<Box>, f: number): Box {
  const dw = (b[2] - b[0]) * f;
  const dh = (b[3] - b[1]) * f;
  return [b[0] - dw, b[1] - dh, b[2] + dw, b[3] + dh];
}

function checkOptions(o: ByteTrackOptions): ByteTrackOptions {
  if (typeof o.camera !== 'string' || o.camera === '') throw new TrackerError('camera must be a non-empty string');
  if (!Number.isInteger(o.minHits) || o.minHits < 1) throw new TrackerError(`min_hits must be an integer >= 1, got ${String(o.minHits)}`);
  if (!(o.maxAgeMs >= 0)) throw new TrackerError(`max age must be >= 0 ms, got ${String(o.maxAgeMs)}`);
  for (const k of ['matchIou', 'lowMatchIou'] as const)
    if (!(o[k] > 0 && o[k] <= 1)) throw new TrackerError(`${k} must be in (0, 1], got ${String(o[k])}`);
  return { ...o };
}
