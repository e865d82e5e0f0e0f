import type { MachineInfo } from './machine.js';
import type { HopComparison, PairedLatency, ThroughputResult } from './inference.js';
import type { PipelineRunResult, RssSample, StageStats } from './pipeline-run.js';
import type { Stage } from '../metrics/timing.js';

/** Bump when a key is renamed or removed (adding keys keeps the version). */
export const BENCH_SCHEMA = 'edgesight-bench/1';

export interface ModelEntry {
  available: boolean;
  reason: string | null;
  name: string | null;
  sha256: string | null;
  manifest: string | null;
}

export interface PipelineSection extends Omit<PipelineRunResult, 'samples' | 'rss' | 'stages'> {
  precision: 'fp32' | 'int8';
  segmentation_every: number;
  /** processed fps ÷ ceiling fps (detection-only run) */
  efficiency: number | null;
  stages: Partial<Record<Stage, StageStats>>;
  /** mean ms per stage and its share of their sum: where a frame's time goes */
  time_shares: Array<{ stage: Stage; mean_ms: number; share: number }>;
  mqtt_messages_received: number;
}

export interface BenchReport {
  schema: typeof BENCH_SCHEMA;
  created_at: string;
  edgesight_version: string;
  machine: MachineInfo;
  settings: {
    frames: number;
    warmup: number;
    width: number;
    height: number;
    frames_dir: string;
    distinct_frames: number;
    jpeg_bytes_mean: number;
    core: number;
    cpus_allowed_list: string;
    threads: number;
    source_fps: number;
    segmentation_every: number;
    segmentation_width: number;
    segmentation_height: number;
    precisions_requested: Array<'fp32' | 'int8'>;
    pipeline_precision: 'fp32' | 'int8';
    soak_frames: number | null;
  };
  models: Record<'detector' | 'segmenter', Record<'fp32' | 'int8', ModelEntry>>;
  /** in_thread: session.run on the main thread with the worker's settings, pinned to the worker's core for the measurement */
  ceiling: { worker: ThroughputResult; in_thread: ThroughputResult & { pinned_core: number | null } };
  /** worker vs main-thread session.run in alternating rounds, and the hop alone (transfer + round trip, no session.run) */
  worker_hop: HopComparison;
  pipeline: PipelineSection;
  /** detection only from a camera's raw path: rpicam-vid yuv420 at the model size (efficiency against ceiling runs around it) */
  pipeline_raw:
    | { available: false; reason: string }
    | (PipelineSection & { available: true; program: string; codec: 'yuv420'; width: number; height: number; ceiling_fps: number });
  pipeline_segmentation: PipelineSection | null;
  /** detection only, pairs of runs without and with one live-view viewer, interleaved (null: --viewer-pairs 0) */
  live_view: null | {
    live_fps: number;
    frames_per_run: number;
    pairs: LiveViewPair[];
    /** median over the pairs of fps with the viewer ÷ fps without (target ≥ 0.95) */
    ratio: number;
    ratio_min: number;
    ratio_max: number;
    /** median absolute deviation of the pairwise ratios */
    ratio_mad: number;
    /** medians over the pairs */
    fps_no_viewer: number;
    fps_with_viewer: number;
    /** max ÷ min − 1 of the no-viewer runs: how much the machine alone moves the figure */
    no_viewer_spread: number;
    frames_encoded: number;
    /** JPEGs encoded in the runs without a viewer (must be 0: nothing is encoded for nobody) */
    frames_encoded_without_viewer: number;
    parts_received: number;
    bytes_received: number;
  };
  precision_ratio: Record<'detector' | 'segmenter', (PairedLatency & { available: true }) | { available: false; reason: string }>;
  memory: {
    rss_start_mb: number;
    rss_models_loaded_mb: number;
    rss_after_frames_mb: number;
    frames_before_rss_after: number;
    heap_used_after_mb: number;
    soak: null | {
      frames: number;
      seconds: number;
      fps: number;
      segmentation_every: number;
      samples: RssSample[];
      /** last sample − first sample */
      rss_growth_mb: number;
      rss_min_mb: number;
      rss_max_mb: number;
      /** least-squares slope over the samples: the trend, not the allocator's sample-to-sample wobble */
      rss_growth_mb_per_1000_frames: number;
      heap_growth_mb_per_1000_frames: number;
    };
  };
  /** 1/5/15-minute load average when the run ended */
  loadavg_end: number[];
  outputs: { json: string; markdown: string; chart: string };
}

/** One pair of the live-view measurement: the same run without (A) and with (B) one viewer. */
export interface LiveViewPair {
  /** which ran first */
  order: 'AB' | 'BA';
  fps_no_viewer: number;
  fps_with_viewer: number;
  ratio: number;
  frames_encoded: number;
  /** JPEGs encoded per second the viewer was connected (at most live_fps, plus the one at connect) */
  encodes_per_s: number;
}
