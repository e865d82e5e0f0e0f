import type { LibcameraOptions, FfmpegOptions } from '../capture/config.js';
import type { LineConfig, TrackingConfig, ZoneConfig } from '../objects/object-types.js';

/** The validated configuration, defaults merged. Keys mirror the YAML (snake_case). Kept in step with schema.ts by test/config. */
export interface Config {
  device: { id: string; name?: string };
  camera: {
    name: string;
    source: 'auto' | 'libcamera' | 'ffmpeg' | 'files';
    width: number;
    height: number;
    fps: number;
    stall_timeout_s: number;
    libcamera: LibcameraOptions;
    ffmpeg: FfmpegOptions;
    files: { path?: string; loop: boolean; pace: 'fps' | 'pipeline' };
  };
  models: {
    detector: string;
    segmenter: string | null;
    precision: 'int8' | 'fp32';
    calibration: string[];
    calibration_frames: number;
    cache_dir: string | null;
    mirror: string[];
    auto_prepare: boolean;
  };
  detection: { score_threshold: number; nms_iou: number; max_detections: number };
  objects: { track: string[]; filters: Record<string, { min_score?: number }> };
  tracking: TrackingConfig;
  zones: Record<string, ZoneConfig>;
  lines: Record<string, LineConfig>;
  privacy: { classes: string[]; mode: 'blur' | 'pixelate' | 'fill'; dilate_px: number; max_mask_age_s: number };
  state_dir: string | null;
  segmentation: { every: number; width: number; height: number };
  inference: { core: number; threads: number; spinning: boolean; stall_timeout_s: number };
  pipeline: { preprocess_concurrency: number };
  masks: { enabled: boolean; width: number | null; height: number | null; every: number; on_change: boolean; encoding: 'png' | 'rle' };
  mqtt: {
    url: string | null;
    base_topic: string;
    client_id: string | null;
    username: string | null;
    password: string | null;
    password_file: string | null;
    ca: string | null;
    cert: string | null;
    key: string | null;
    reject_unauthorized: boolean;
    protocol_version: 4 | 5;
    keepalive_s: number;
    reconnect_max_s: number;
    queue_size: number;
    qos: { state: 0 | 1 | 2; stream: 0 | 1 | 2 };
    detections: { enabled: boolean; max_rate_hz: number; only_with_objects: boolean };
    snapshot: { max_rate_hz: number; quality: number };
    events: { min_duration_s: number; end_after_s: number; update_interval_s: number };
    homeassistant: { enabled: boolean; discovery_prefix: string };
    embedded_broker: { host: string; port: number };
  };
  metrics: {
    stats_interval_s: number;
    window_s: number;
    log_interval_s: number;
    http: { enabled: boolean; bind: string; port: number; live_fps: number; max_viewers: number; token_file: string | null };
  };
  logging: { level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent'; pretty: boolean | 'auto'; publish_frames: boolean };
}

/** A loaded config plus where it came from (relative paths in it resolve against `dir`). */
export interface LoadedConfig {
  config: Config;
  file: string | null;
  dir: string;
}
