import { ByteTracker, DEFAULT_BYTETRACK, type Track, type TrackerDetection } from '../tracking/bytetrack.js';
import { referencePoint, type Box } from '../tracking/box.js';
import { pointInPolygon, polygonCells, side, segmentsIntersect, type Point } from '../places/geometry.js';
import type { LineStore } from '../places/line-store.js';
import { vocClassOf } from '../postprocess/voc-coco.js';
import type { CrossedEvent, DetectionTrackInfo, ObjectEvent, ObjectsOptions, ObjectsOutput, StateChange, ZoneConfig } from './object-types.js';

export interface ObjectsFrame {
  /** ms since epoch (the frame's capture time) */
  at: number;
  /** detections at or above their label's threshold (the published ones) */
  detections: ReadonlyArray<{ label: string; score: number; box: Box }>;
  /** detections between tracking.low_score and the threshold: they only extend existing tracks */
  low?: ReadonlyArray<{ label: string; score: number; box: Box }>;
  segmentation?: { data: Uint8Array; width: number; height: number; classes: readonly string[] };
}

interface ObjectState {
  track: Track;
  published: boolean;
  /** zone → when the reference point entered it (continuously inside since) */
  inside: Map<string, number>;
  /** zones it counts in (inside for min_duration_s) */
  zones: string[];
  entered: string[];
  stationary: boolean;
  anchor: Point;
  anchorAt: number;
  lastEmitAt: number;
  lastEmitBox: Box;
  /** line → last non-zero side of the reference point and where it was */
  sides: Map<string, { side: number; point: Point }>;
  /** line → directions already counted for this object */
  crossed: Map<string, Set<'in' | 'out'>>;
}

interface ZoneState {
  occupied: boolean;
  counts: Map<string, number>;
  coverage: Map<string, number>;
  /** the last time coverage reached min_coverage */
  coverageAt: number;
  cells: { w: number; h: number; idx: Uint32Array } | null;
}

const r4 = (v: number): number => Math.round(v * 1e4) / 1e4;
const box4 = (b: Readonly<Box>): Box => [r4(clamp01(b[0])), r4(clamp01(b[1])), r4(clamp01(b[2])), r4(clamp01(b[3]))];
function clamp01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

/**
 * From per-frame boxes to objects in places: the tracker gives identities; this turns tracks into
 * per-object `new`/`update`/`end` events, per-label counts of published tracks, zone occupancy, counts and
 * mask coverage, and line crossings. State survives `applyConfig` (SIGHUP): tracks, counts and totals stay.
 */
export class ObjectsStage {
  private opts!: ObjectsOptions;
  private readonly tracker: ByteTracker;
  private readonly objects = new Map<number, ObjectState>();
  private readonly counts = new Map<string, number>();
  private readonly zones = new Map<string, ZoneState>();

  constructor(
    opts: ObjectsOptions,
    private readonly lineStore: LineStore,
  ) {
    this.tracker = new ByteTracker(trackerOptions(opts));
    this.applyConfig(opts);
  }

  get options(): ObjectsOptions {
    return this.opts;
  }

  /**
   * Take over a new config without losing tracks or counts. Returns the state changes it causes (a new
   * zone's zeros, a removed label's count) and the names of zones and lines that went away.
   */
  applyConfig(opts: ObjectsOptions): { state: StateChange[]; removedZones: string[]; removedLines: string[] } {
    const prev = this.opts;
    this.opts = { ...opts, labels: [...opts.labels] };
    this.tracker.setOptions(trackerOptions(opts));
    const state: StateChange[] = [];
    for (const l of opts.labels) {
      if (!this.counts.has(l)) {
        this.counts.set(l, 0);
        state.push({ kind: 'count', label: l, value: 0 });
      }
    }
    const removedZones = prev ? Object.keys(prev.zones).filter((z) => !(z in opts.zones)) : [];
    for (const z of removedZones) this.zones.delete(z);
    for (const [name, z] of Object.entries(opts.zones)) {
      const existing = this.zones.get(name);
      if (existing && JSON.stringify(prev?.zones[name]?.polygon) !== JSON.stringify(z.polygon)) existing.cells = null; // a moved zone recomputes its mask cells
      if (!existing) this.zones.set(name, { occupied: false, counts: new Map(), coverage: new Map(), coverageAt: -Infinity, cells: null });
    }
    const removedLines = prev ? Object.keys(prev.lines).filter((l) => !(l in opts.lines)) : [];
    this.lineStore.retain(Object.keys(opts.lines));
    for (const o of this.objects.values()) {
      for (const z of removedZones) o.inside.delete(z);
      for (const l of removedLines) {
        o.sides.delete(l);
        o.crossed.delete(l);
      }
    }
    return { state, removedZones, removedLines };
  }

  /** Every retained value as it is now (on connect and after a reload: never a reset to 0). */
  currentState(now: number): StateChange[] {
    const out: StateChange[] = [];
    for (const [label, value] of this.counts) out.push({ kind: 'count', label, value });
    for (const [zone, z] of this.zones) {
      out.push({ kind: 'zone-occupied', zone, value: z.occupied });
      for (const label of this.zoneLabels(this.opts.zones[zone]!)) out.push({ kind: 'zone-count', zone, label, value: z.counts.get(label) ?? 0 });
      for (const [cls, value] of z.coverage) out.push({ kind: 'zone-coverage', zone, cls, value });
    }
    for (const [line, cfg] of Object.entries(this.opts.lines)) {
      if (cfg.reset === 'daily') this.lineStore.rollover(line, now);
      const t = this.lineStore.get(line, now);
      out.push({ kind: 'line', line, direction: 'in', value: t.in }, { kind: 'line', line, direction: 'out', value: t.out });
    }
    return out;
  }

  /** Daily line resets at local midnight, also when no frame arrives. */
  tick(now: number): StateChange[] {
    const out: StateChange[] = [];
    let changed = false;
    for (const [line, cfg] of Object.entries(this.opts.lines)) {
      if (cfg.reset === 'daily' && this.lineStore.rollover(line, now)) {
        changed = true;
        out.push({ kind: 'line', line, direction: 'in', value: 0 }, { kind: 'line', line, direction: 'out', value: 0 });
      }
    }
    if (changed) this.lineStore.save();
    return out;
  }

  update(frame: ObjectsFrame): ObjectsOutput {
    const { at } = frame;
    const o = this.opts;
    const tracked = new Set(o.labels);
    const high = frame.detections.map((d) => ({ label: d.label, score: d.score, box: [...d.box] as Box }));
    const low = (frame.low ?? [])
      .filter((d) => tracked.has(d.label))
      .map((d): TrackerDetection => ({ label: d.label, score: d.score, box: [...d.box] as Box, low: true }));
    const input: TrackerDetection[] = [...high.filter((d) => tracked.has(d.label)), ...low];
    // where each published detection sits in the tracker's input (-1: an untracked label)
    let k = 0;
    const highIndex: number[] = high.map((d) => (tracked.has(d.label) ? k++ : -1));
    const res = this.tracker.update(input, at);
    const out: ObjectsOutput = { detections: [], events: [], state: this.tick(at) };

    for (const t of res.confirmed) {
      this.objects.set(t.key, {
        track: t,
        published: false,
        inside: new Map(),
        zones: [],
        entered: [],
        stationary: false,
        anchor: referencePoint(t.box),
        anchorAt: at,
        lastEmitAt: at,
        lastEmitBox: [...t.box],
        sides: new Map(),
        crossed: new Map(),
      });
    }
    for (const t of res.removed) {
      const s = this.objects.get(t.key);
      this.objects.delete(t.key);
      if (s?.published) {
        out.events.push(this.payload('end', s, t.lastSeen));
        this.bumpCount(t.label, -1, out.state);
      }
    }

    let linesChanged = false;
    for (const s of this.objects.values()) {
      const t = s.track;
      if (!t.seenNow) continue;
      const p = referencePoint(t.box);
      // stationary: the reference point stayed within the threshold of where it settled
      if (Math.hypot(p[0] - s.anchor[0], p[1] - s.anchor[1]) > o.tracking.stationary_threshold) {
        s.anchor = p;
        s.anchorAt = at;
      }
      const stationary = at - s.anchorAt >= o.tracking.stationary_after_s * 1000;
      // zones
      const zonesBefore = s.zones.join(',');
      for (const [name, z] of Object.entries(o.zones)) {
        const applies = this.zoneLabels(z).includes(t.label);
        if (applies && pointInPolygon(p, z.polygon)) {
          if (!s.inside.has(name)) s.inside.set(name, at);
        } else {
          s.inside.delete(name);
        }
      }
      s.zones = Object.keys(o.zones).filter((name) => {
        const since = s.inside.get(name);
        return since !== undefined && at - since >= o.zones[name]!.min_duration_s * 1000;
      });
      for (const z of s.zones) if (!s.entered.includes(z)) s.entered.push(z);
      // lines
      for (const [name, l] of Object.entries(o.lines)) {
        if (l.labels.length && !l.labels.includes(t.label)) continue;
        const sd = side(l.points[0], l.points[1], p);
        if (sd === 0) continue;
        const last = s.sides.get(name);
        s.sides.set(name, { side: sd, point: p });
        if (!last || last.side === sd || !segmentsIntersect(l.points[0], l.points[1], last.point, p)) continue;
        const direction = last.side < 0 ? 'in' : 'out';
        const done = s.crossed.get(name) ?? new Set();
        if (done.has(direction)) continue; // each direction once per object: jitter on the line does not inflate totals
        done.add(direction);
        s.crossed.set(name, done);
        if (l.reset === 'daily' && this.lineStore.rollover(name, at))
          out.state.push({ kind: 'line', line: name, direction: direction === 'in' ? 'out' : 'in', value: 0 });
        const totals = this.lineStore.get(name, at);
        totals[direction]++;
        linesChanged = true;
        out.state.push({ kind: 'line', line: name, direction, value: totals[direction] });
        const ev: CrossedEvent = {
          v: 2,
          type: 'crossed',
          id: t.id!,
          camera: o.camera,
          label: t.label,
          line: name,
          direction,
          time: Math.round(at),
          in: totals.in,
          out: totals.out,
        };
        out.events.push(ev);
      }
      // events
      if (!s.published) {
        if (at - t.firstSeen >= o.minDurationS * 1000) {
          s.published = true;
          s.stationary = stationary;
          s.lastEmitAt = at;
          s.lastEmitBox = [...t.box];
          out.events.push(this.payload('new', s, null));
          this.bumpCount(t.label, +1, out.state);
        }
        continue;
      }
      const changed = s.zones.join(',') !== zonesBefore || stationary !== s.stationary;
      s.stationary = stationary;
      const moved =
        Math.hypot(t.box[0] - s.lastEmitBox[0], t.box[1] - s.lastEmitBox[1], t.box[2] - s.lastEmitBox[2], t.box[3] - s.lastEmitBox[3]) >
        o.tracking.stationary_threshold;
      if (changed || (moved && at - s.lastEmitAt >= o.updateIntervalS * 1000)) {
        s.lastEmitAt = at;
        s.lastEmitBox = [...t.box];
        out.events.push(this.payload('update', s, null));
      }
    }
    if (linesChanged) this.lineStore.save();

    this.updateZones(at, frame.segmentation, out.state);
    out.detections = high.map((_, i): DetectionTrackInfo => {
      const k = highIndex[i]!;
      const tr = k >= 0 ? res.assigned[k] : null;
      const s = tr ? this.objects.get(tr.key) : undefined;
      return { track_id: tr?.id ?? null, zones: s ? [...s.zones] : [] };
    });
    return out;
  }

  /** Ends every published object (stop): `end` events and zeroed counts and zones. */
  endAll(at: number): ObjectsOutput {
    const out: ObjectsOutput = { detections: [], events: [], state: [] };
    for (const t of this.tracker.clear()) {
      const s = this.objects.get(t.key);
      if (s?.published) {
        out.events.push(this.payload('end', s, t.lastSeen));
        this.bumpCount(t.label, -1, out.state);
      }
    }
    this.objects.clear();
    this.updateZones(at, undefined, out.state);
    this.lineStore.save();
    return out;
  }

  /** Published objects now, for drawing (snapshot) and privacy boxes. */
  tracks(): Array<{ id: string; label: string; box: Box; seen: boolean }> {
    return [...this.objects.values()]
      .filter((s) => s.published || s.track.id)
      .map((s) => ({ id: s.track.id!, label: s.track.label, box: s.track.box, seen: s.track.seenNow }));
  }

  /** confirmed objects per label between their `new` and `end` */
  labelCounts(): ReadonlyMap<string, number> {
    return this.counts;
  }

  zoneOccupied(name: string): boolean {
    return this.zones.get(name)?.occupied ?? false;
  }

  lineTotals(name: string, now: number): { in: number; out: number } {
    const t = this.lineStore.get(name, now);
    return { in: t.in, out: t.out };
  }

  private zoneLabels(z: ZoneConfig): string[] {
    return z.labels.length ? z.labels : [...this.opts.labels];
  }

  private bumpCount(label: string, d: number, state: StateChange[]): void {
    const v = Math.max(0, (this.counts.get(label) ?? 0) + d);
    this.counts.set(label, v);
    state.push({ kind: 'count', label, value: v });
  }

  private updateZones(at: number, seg: ObjectsFrame['segmentation'], state: StateChange[]): void {
    for (const [name, cfg] of Object.entries(this.opts.zones)) {
      const z = this.zones.get(name)!;
      const labels = this.zoneLabels(cfg);
      const counts = new Map<string, number>(labels.map((l) => [l, 0]));
      for (const s of this.objects.values())
        if (s.published && s.zones.includes(name) && counts.has(s.track.label)) counts.set(s.track.label, counts.get(s.track.label)! + 1);
      for (const [label, v] of counts) {
        if (z.counts.get(label) !== v) {
          z.counts.set(label, v);
          state.push({ kind: 'zone-count', zone: name, label, value: v });
        }
      }
      for (const label of [...z.counts.keys()]) if (!counts.has(label)) z.counts.delete(label);
      if (seg) {
        if (!z.cells || z.cells.w !== seg.width || z.cells.h !== seg.height)
          z.cells = { w: seg.width, h: seg.height, idx: polygonCells(cfg.polygon, seg.width, seg.height) };
        const classes = coverageClasses(labels, seg.classes);
        const hist = new Map<number, number>();
        for (const i of z.cells.idx) hist.set(seg.data[i]!, (hist.get(seg.data[i]!) ?? 0) + 1);
        const n = Math.max(1, z.cells.idx.length);
        for (const [ci, cls] of classes) {
          const v = Math.round(((hist.get(ci) ?? 0) / n) * 100) / 100;
          if (z.coverage.get(cls) !== v) {
            z.coverage.set(cls, v);
            state.push({ kind: 'zone-coverage', zone: name, cls, value: v });
          }
          if (cfg.min_coverage !== null && v >= cfg.min_coverage) z.coverageAt = at;
        }
      }
      const byBoxes = [...counts.values()].some((v) => v > 0);
      // coverage flickers from frame to frame: it holds `occupied` for end_after_s like a lost track does
      const byCoverage = cfg.min_coverage !== null && at - z.coverageAt <= this.opts.endAfterS * 1000;
      const occupied = byBoxes || byCoverage;
      if (occupied !== z.occupied) {
        z.occupied = occupied;
        state.push({ kind: 'zone-occupied', zone: name, value: occupied });
      }
    }
  }

  private payload(type: 'new' | 'update' | 'end', s: ObjectState, end: number | null): ObjectEvent {
    const t = s.track;
    const last = end ?? t.lastSeen;
    return {
      v: 2,
      type,
      id: t.id!,
      camera: this.opts.camera,
      label: t.label,
      start_time: Math.round(t.firstSeen),
      end_time: end === null ? null : Math.round(end),
      score: r4(t.score),
      box: box4(t.box),
      best_score: r4(t.bestScore),
      best_box: box4(t.bestBox),
      zones: type === 'end' ? [] : [...s.zones],
      entered_zones: [...s.entered],
      stationary: s.stationary,
      duration_s: Math.max(0, (last - t.firstSeen) / 1000),
    };
  }
}

/** Segmenter class index → name for the zone's labels that the segmenter knows (person → person, motorcycle → motorbike). */
export function coverageClasses(labels: readonly string[], classes: readonly string[]): Array<[number, string]> {
  const out: Array<[number, string]> = [];
  for (const l of labels) {
    const v = vocClassOf(l);
    const i = v === undefined ? -1 : classes.indexOf(v);
    if (i > 0) out.push([i, v!]);
  }
  return out;
}

/** The tracker's options from the config (also used by the tracking bench, so it measures what the daemon runs). */
export function trackerOptions(o: Pick<ObjectsOptions, 'camera' | 'tracking' | 'endAfterS'>): ConstructorParameters<typeof ByteTracker>[0] {
  return {
    camera: o.camera,
    minHits: o.tracking.min_hits,
    maxAgeMs: o.endAfterS * 1000,
    matchIou: o.tracking.match_iou,
    lowMatchIou: Math.max(o.tracking.match_iou, 0.4),
    lostBufferPerS: DEFAULT_BYTETRACK.lostBufferPerS,
    lostBufferMax: DEFAULT_BYTETRACK.lostBufferMax,
  };
}
