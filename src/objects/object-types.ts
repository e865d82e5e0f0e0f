import type { Box } from '../tracking/box.js';

/** `zones.<name>` of the config: a polygon in normalised image coordinates (0..1, y down). */
export interface ZoneConfig {
  polygon: Array<[number, number]>;
  /** detector labels counted in the zone; empty = every tracked label */
  labels: string[];
  /** an object counts as in the zone after its reference point has been inside this long */
  min_duration_s: number;
  /** with the segmenter on: occupied also when a zone class covers at least this fraction; null = boxes only */
  min_coverage: number | null;
}

/** `lines.<name>` of the config: a segment; crossing it from its negative to its positive side is `in`. */
export interface LineConfig {
  points: [[number, number], [number, number]];
  labels: string[];
  reset: 'daily' | 'never';
}

export interface TrackingConfig {
  low_score: number;
  min_hits: number;
  match_iou: number;
  stationary_threshold: number;
  stationary_after_s: number;
}

export interface ObjectsOptions {
  camera: string;
  /** objects.track: the labels counted (retained count per label) */
  labels: readonly string[];
  minDurationS: number;
  endAfterS: number;
  updateIntervalS: number;
  tracking: TrackingConfig;
  zones: Readonly<Record<string, ZoneConfig>>;
  lines: Readonly<Record<string, LineConfig>>;
  /** segmenter classes by index, when there is a segmenter (for zone coverage) */
  segmenterClasses: readonly string[] | null;
}

export type ObjectEventType = 'new' | 'update' | 'end';

/** `<camera>/events` payload of one tracked object (schema: src/mqtt/schemas/events.schema.json); `seq` is added when published. */
export interface ObjectEvent {
  v: 2;
  type: ObjectEventType;
  id: string;
  camera: string;
  label: string;
  start_time: number;
  end_time: number | null;
  score: number;
  box: Box;
  best_score: number;
  best_box: Box;
  zones: string[];
  entered_zones: string[];
  stationary: boolean;
  duration_s: number;
}

/** `<camera>/events` payload when a track's reference point crosses a line. */
export interface CrossedEvent {
  v: 2;
  type: 'crossed';
  id: string;
  camera: string;
  label: string;
  line: string;
  direction: 'in' | 'out';
  time: number;
  in: number;
  out: number;
}

/** A retained state topic's new value. */
export type StateChange =
  | { kind: 'count'; label: string; value: number }
  | { kind: 'zone-occupied'; zone: string; value: boolean }
  | { kind: 'zone-count'; zone: string; label: string; value: number }
  | { kind: 'zone-coverage'; zone: string; cls: string; value: number }
  | { kind: 'line'; line: string; direction: 'in' | 'out'; value: number };

export interface DetectionTrackInfo {
  track_id: string | null;
  zones: string[];
}

export interface ObjectsOutput {
  /** per input detection (same order): its confirmed track id and the zones it is in */
  detections: DetectionTrackInfo[];
  events: Array<ObjectEvent | CrossedEvent>;
  state: StateChange[];
}
