/**
 * Turns per-frame detections into the two low-traffic MQTT views people actually automate on:
 * a retained count per tracked label (`<camera>/objects/<label>`) and `new`/`update`/`end` events.
 *
 * Hysteresis, in time (an injectable clock, or the frame's capture time), so behaviour does not change with
 * the frame rate:
 *  - the published count rises to k once at least k objects of the label were detected in every frame for
 *    `minDurationS` (a one-frame false positive never becomes an event);
 *  - it falls to k once no frame in the last `endAfterS` had more than k (a one-frame miss never ends one).
 * `new` fires when the count leaves 0, `end` when it returns to 0, `update` when it changes in between, at
 * most once per `updateIntervalS` (a pending change is sent as soon as the interval allows).
 * Labels are matched by name; this is label-level tracking, not per-object identity.
 */
import { labelSlug } from './topics.js';

export type Box = readonly [number, number, number, number];

export interface TrackedDetection {
  label: string;
  score: number;
  /** normalised [x1, y1, x2, y2] */
  box: Box;
}

export interface TrackerOptions {
  camera: string;
  /** labels to track; others are ignored. Omitted: every label seen is tracked. */
  labels?: readonly string[];
  minDurationS: number;
  endAfterS: number;
  updateIntervalS: number;
  /** ms since epoch; used when update() is not given the frame's time */
  now?: () => number;
}

export interface CountChange {
  label: string;
  count: number;
  previous: number;
}

export type EventType = 'new' | 'update' | 'end';

/** The `<camera>/events` payload (schema: src/mqtt/schemas/events.schema.json). */
export interface TrackerEvent {
  v: 1;
  type: EventType;
  id: string;
  camera: string;
  label: string;
  start_time: number;
  end_time: number | null;
  count: number;
  max_count: number;
  max_score: number;
  top_score_box: [number, number, number, number];
  duration_s?: number;
}

export interface TrackerOutput {
  counts: CountChange[];
  events: TrackerEvent[];
}

interface Sample {
  t: number;
  counts: Map<string, number>;
}

interface LabelState {
  published: number;
  /** first frame of the current unbroken run with the label present; null while absent */
  runStart: number | null;
  lastSeen: number;
  bestScore: number;
  bestBox: Box;
  /** set while an event is open */
  event: { id: string; start: number; maxCount: number; lastEmittedCount: number; lastEmitAt: number } | null;
}

export class TrackerError extends Error {
  override name = 'TrackerError';
}

function checkSeconds(name: string, v: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new TrackerError(`${name} must be a finite number of seconds >= 0, got ${String(v)}`);
  return v * 1000;
}

export class ObjectTracker {
  readonly camera: string;
  private readonly tracked: ReadonlySet<string> | null;
  private readonly minMs: number;
  private readonly endMs: number;
  private readonly updateMs: number;
  private readonly now: () => number;
  private readonly history: Sample[] = [];
  private readonly states = new Map<string, LabelState>();
  private lastAt = -Infinity;
  /** frames whose time was earlier than the previous frame's (wall-clock step back); they are treated as simultaneous */
  clockBackwards = 0;

  constructor(opts: TrackerOptions) {
    if (typeof opts.camera !== 'string' || opts.camera.length === 0) throw new TrackerError('camera must be a non-empty string');
    this.camera = opts.camera;
    this.minMs = checkSeconds('events.min_duration_s', opts.minDurationS);
    this.endMs = checkSeconds('events.end_after_s', opts.endAfterS);
    this.updateMs = checkSeconds('events.update_interval_s', opts.updateIntervalS);
    this.now = opts.now ?? Date.now;
    if (opts.labels) {
      for (const l of opts.labels) if (typeof l !== 'string' || l.length === 0) throw new TrackerError(`tracked labels must be non-empty strings, got ${JSON.stringify(l)}`);
      const slugs = new Map<string, string>();
      for (const l of opts.labels) {
        const s = labelSlug(l);
        const other = slugs.get(s);
        if (other !== undefined && other !== l) throw new TrackerError(`tracked labels ${JSON.stringify(other)} and ${JSON.stringify(l)} share the topic slug "${s}"`);
        slugs.set(s, l);
      }
      this.tracked = new Set(opts.labels);
    } else {
      this.tracked = null;
    }
  }

  /**
   * The counts to publish (retained) at start-up, so a stale retained value from a previous run is replaced:
   * every configured label at 0. Empty when tracking all labels (nothing is known yet).
   */
  initialCounts(): CountChange[] {
    return this.tracked ? [...this.tracked].map((label) => ({ label, count: 0, previous: 0 })) : [];
  }

  /** Published count per label (configured labels always present). */
  counts(): Map<string, number> {
    const out = new Map<string, number>();
    if (this.tracked) for (const l of this.tracked) out.set(l, 0);
    for (const [l, s] of this.states) if (s.published > 0 || out.has(l)) out.set(l, s.published);
    return out;
  }

  /** Labels with an open event. */
  active(): string[] {
    return [...this.states].filter(([, s]) => s.event).map(([l]) => l);
  }

  /** Feed one processed frame: every detection of it (untracked labels are ignored). `at` is ms since epoch. */
  update(detections: readonly TrackedDetection[], at: number = this.now()): TrackerOutput {
    if (typeof at !== 'number' || !Number.isFinite(at)) throw new TrackerError(`frame time must be a finite number of ms, got ${String(at)}`);
    if (at < this.lastAt) {
      this.clockBackwards++;
      at = this.lastAt;
    }
    this.lastAt = at;

    const counts = new Map<string, number>();
    const best = new Map<string, TrackedDetection>();
    detections.forEach((d, i) => {
      checkDetection(d, i);
      if (this.tracked && !this.tracked.has(d.label)) return;
      counts.set(d.label, (counts.get(d.label) ?? 0) + 1);
      const b = best.get(d.label);
      if (!b || d.score > b.score) best.set(d.label, d);
    });

    this.history.push({ t: at, counts });
    const keep = at - Math.max(this.minMs, this.endMs);
    while (this.history.length >= 2 && this.history[1]!.t <= keep) this.history.shift();

    const out: TrackerOutput = { counts: [], events: [] };
    const labels = new Set<string>([...counts.keys(), ...this.states.keys()]);
    for (const label of labels) {
      const raw = counts.get(label) ?? 0;
      let st = this.states.get(label);
      if (!st) {
        st = { published: 0, runStart: null, lastSeen: at, bestScore: -1, bestBox: [0, 0, 0, 0], event: null };
        this.states.set(label, st);
      }
      if (raw > 0) {
        if (st.runStart === null) st.runStart = at;
        st.lastSeen = at;
        const b = best.get(label)!;
        if (b.score > st.bestScore) {
          st.bestScore = b.score;
          st.bestBox = b.box;
        }
      } else {
        st.runStart = null;
        if (!st.event) st.bestScore = -1; // a pending run that broke before `new` leaves nothing behind
      }

      const up = this.sustained(label, at - this.minMs);
      const down = this.recentMax(label, at - this.endMs);
      const prev = st.published;
      const next = up > prev ? up : down < prev ? down : prev;
      if (next !== prev) {
        st.published = next;
        out.counts.push({ label, count: next, previous: prev });
      }
      this.emitEvents(label, st, prev, next, at, out.events);
      if (!st.event && st.published === 0 && st.runStart === null && !this.tracked) this.states.delete(label);
    }
    return out;
  }

  /** Closes every open event and zeroes every count, e.g. when the camera stops or the daemon shuts down. */
  endAll(at: number = this.now()): TrackerOutput {
    const out: TrackerOutput = { counts: [], events: [] };
    for (const [label, st] of this.states) {
      if (st.published > 0) out.counts.push({ label, count: 0, previous: st.published });
      if (st.event) out.events.push(this.endEvent(label, st));
    }
    this.states.clear();
    this.history.length = 0;
    this.lastAt = Math.max(this.lastAt, at);
    return out;
  }

  private emitEvents(label: string, st: LabelState, prev: number, next: number, at: number, events: TrackerEvent[]): void {
    if (prev === 0 && next > 0) {
      const start = st.runStart ?? at;
      st.event = { id: `${this.camera}-${labelSlug(label)}-${start}`, start, maxCount: next, lastEmittedCount: next, lastEmitAt: at };
      events.push(this.payload('new', label, st, null));
      return;
    }
    if (!st.event) return;
    if (next === 0) {
      events.push(this.endEvent(label, st));
      st.bestScore = -1;
      return;
    }
    st.event.maxCount = Math.max(st.event.maxCount, next);
    if (next !== st.event.lastEmittedCount && at - st.event.lastEmitAt >= this.updateMs) {
      st.event.lastEmittedCount = next;
      st.event.lastEmitAt = at;
      events.push(this.payload('update', label, st, null));
    }
  }

  private endEvent(label: string, st: LabelState): TrackerEvent {
    const ev = this.payload('end', label, st, st.lastSeen);
    st.event = null;
    return ev;
  }

  private payload(type: EventType, label: string, st: LabelState, end: number | null): TrackerEvent {
    const e = st.event!;
    const ev: TrackerEvent = {
      v: 1,
      type,
      id: e.id,
      camera: this.camera,
      label,
      start_time: Math.round(e.start),
      end_time: end === null ? null : Math.round(end),
      count: type === 'end' ? 0 : st.published,
      max_count: e.maxCount,
      max_score: Math.max(0, st.bestScore),
      top_score_box: [st.bestBox[0], st.bestBox[1], st.bestBox[2], st.bestBox[3]],
    };
    if (end !== null) ev.duration_s = Math.max(0, (end - e.start) / 1000);
    return ev;
  }

  /** Lowest count over [cut, now] (counting the frame in effect at `cut`); 0 without a frame that old. */
  private sustained(label: string, cut: number): number {
    let min = Infinity;
    for (let i = this.history.length - 1; i >= 0; i--) {
      const s = this.history[i]!;
      min = Math.min(min, s.counts.get(label) ?? 0);
      if (s.t <= cut) return min;
    }
    return 0;
  }

  /** Highest count over [cut, now] (counting the frame in effect at `cut`). */
  private recentMax(label: string, cut: number): number {
    let max = 0;
    for (let i = this.history.length - 1; i >= 0; i--) {
      const s = this.history[i]!;
      max = Math.max(max, s.counts.get(label) ?? 0);
      if (s.t <= cut) break;
    }
    return max;
  }
}

function checkDetection(d: TrackedDetection, i: number): void {
  if (!d || typeof d.label !== 'string' || d.label.length === 0) throw new TrackerError(`detection ${i}: label must be a non-empty string`);
  if (typeof d.score !== 'number' || !(d.score >= 0 && d.score <= 1)) throw new TrackerError(`detection ${i} (${d.label}): score must be in [0, 1], got ${String(d.score)}`);
  if (!Array.isArray(d.box) || d.box.length !== 4 || !d.box.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    throw new TrackerError(`detection ${i} (${d.label}): box must be 4 finite numbers [x1, y1, x2, y2]`);
  }
}
