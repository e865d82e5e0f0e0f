import type { Config } from '../config/types.js';
import type { Metrics } from '../metrics/registry.js';
import { STAGES, type Stage } from '../metrics/timing.js';
import { resizeNearest } from '../render/mask-encoding.js';
import type { LatencyHistory, LatencyHistoryJson } from './latency-history.js';
import type { LiveFeed } from './live-feed.js';
import { overlayGeometry, type OverlayGeometry } from './overlay-geometry.js';

/** Masks larger than this (cells per side) are sampled down for the page: it only tints the picture. */
const MAX_MASK_SIDE = 160;

export interface ModelSummary {
  name: string;
  precision: string;
}

/** What the daemon knows that the live view shows; functions so every request reads the current state. */
export interface StatusSources {
  version: string;
  config: () => Config;
  metrics: Metrics;
  feed: LiveFeed;
  history: LatencyHistory;
  state: () => { state: string; detail: string | null };
  models: () => { detector: ModelSummary; segmenter: (ModelSummary & { classes: string[] }) | null };
  /** the cores the inference thread may run on (its pin), null before it started */
  inferenceCores: () => string | null;
  counts: () => Record<string, number>;
}

export interface StatusDetection {
  label: string;
  score: number;
  box: [number, number, number, number];
  track_id?: number | string | null;
}

/** `GET /api/status`, version 1: see src/live/status.schema.json (the reference for every key). */
export interface LiveStatus {
  v: 1;
  device: string;
  device_name: string;
  version: string;
  ts: string;
  uptime_s: number;
  state: string;
  state_detail: string | null;
  camera: { name: string; source: string; width: number; height: number; fps: number };
  models: ReturnType<StatusSources['models']>;
  inference: { core: number; cpus_allowed_list: string | null; threads: number };
  live: { fps: number; viewers: number; max_viewers: number; encoded_frames: number };
  fps: { camera: number; processed: number; skipped: number };
  counts: Record<string, number>;
  latency: { window_s: number; now: Record<Stage, { p50: number | null; p99: number | null; count: number }>; history: LatencyHistoryJson };
  board: { soc_temp_c: number | null; throttled: Record<string, boolean> | null; cpu_percent: number | null; rss_mb: number; load_1: number | null };
  last_error: { message: string; at: string } | null;
  frame: null | {
    id: number;
    captured_at: number;
    width: number;
    height: number;
    detections: StatusDetection[];
    mask: null | { frame_id: number; width: number; height: number; classes: string[]; data: string };
  };
  zones: OverlayGeometry['zones'];
  lines: OverlayGeometry['lines'];
}

export function buildStatus(s: StatusSources, now = Date.now()): LiveStatus {
  const c = s.config();
  const m = s.metrics;
  const snap = m.snapshot();
  const st = s.state();
  const latencyNow = {} as LiveStatus['latency']['now'];
  for (const stage of STAGES) {
    const w = m.stage(stage);
    latencyNow[stage] = { p50: r2(w.p50), p99: r2(w.p99), count: w.count };
  }
  const b = m.board();
  const r = s.feed.latestResult();
  const mask = s.feed.latestMask();
  const err = m.latestError();
  const fps = m.fps();
  return {
    v: 1,
    device: c.device.id,
    device_name: c.device.name ?? c.device.id,
    version: s.version,
    ts: new Date(now).toISOString(),
    uptime_s: snap.uptime_s,
    state: st.state,
    state_detail: st.detail,
    camera: { name: c.camera.name, source: c.camera.source, width: c.camera.width, height: c.camera.height, fps: c.camera.fps },
    models: s.models(),
    inference: { core: c.inference.core, cpus_allowed_list: s.inferenceCores(), threads: c.inference.threads },
    live: { fps: s.feed.fps, viewers: s.feed.viewerCount, max_viewers: s.feed.maxViewers, encoded_frames: s.feed.encoded },
    fps: { camera: round(fps.camera, 2), processed: round(fps.processed, 2), skipped: round(fps.skipped, 2) },
    counts: s.counts(),
    latency: { window_s: m.windowS, now: latencyNow, history: s.history.toJSON() },
    board: {
      soc_temp_c: b?.soc_temp_c ?? null,
      throttled: b?.throttled ? Object.fromEntries(Object.entries(b.throttled).filter(([k, v]) => k !== 'raw' && typeof v === 'boolean')) : null,
      cpu_percent: snap.cpu_percent,
      rss_mb: snap.rss_mb,
      load_1: b?.load_1 ?? null,
    },
    last_error: err ? { message: err.message, at: new Date(err.at).toISOString() } : null,
    frame: r
      ? {
          id: r.frameId,
          captured_at: r.capturedAt,
          width: r.width,
          height: r.height,
          detections: r.detections.map((d) => {
            const out: StatusDetection = { label: d.label, score: round(d.score, 4), box: d.box.map((x) => round(x, 4)) as StatusDetection['box'] };
            // tracking, where the pipeline provides it, adds an id per object (null until confirmed)
            const tid = (d as { track_id?: unknown }).track_id;
            if (typeof tid === 'number' || typeof tid === 'string' || tid === null) out.track_id = tid;
            return out;
          }),
          mask: mask ? maskJson(mask.map, mask.frameId) : null,
        }
      : null,
    ...overlayGeometry(c),
  };
}

function maskJson(
  map: { width: number; height: number; data: Uint8Array; classes: string[] },
  frameId: number,
): NonNullable<NonNullable<LiveStatus['frame']>['mask']> {
  let { width, height, data } = map;
  if (width > MAX_MASK_SIDE || height > MAX_MASK_SIDE) {
    const k = MAX_MASK_SIDE / Math.max(width, height);
    const w = Math.max(1, Math.round(width * k));
    const h = Math.max(1, Math.round(height * k));
    data = resizeNearest(data, width, height, w, h);
    width = w;
    height = h;
  }
  return {
    frame_id: frameId,
    width,
    height,
    classes: map.classes,
    data: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64'),
  };
}

function round(x: number, d: number): number {
  const f = 10 ** d;
  return Math.round(x * f) / f;
}

function r2(x: number | null): number | null {
  return x === null ? null : round(x, 2);
}
