// Generated from the config JSON Schema (src/config/schema.ts) by `npm run gen:types`; do not edit.
// A test regenerates it and fails when it differs.
import type { FfmpegOptions, LibcameraOptions } from '../capture/config.js';

/**
 * edgesight configuration
 */
export interface Config {
  /**
   * This box.
   */
  device: {
    /**
     * Device id used in MQTT topics (`<base>/<id>/…`). Default: the hostname, sanitised.
     */
    id: string;
    /**
     * Human-readable name (Home Assistant device name). Default: the id.
     */
    name?: string;
  };
  /**
   * The one camera this instance reads (several cameras = several instances).
   */
  camera: {
    /**
     * Camera name used in topics.
     */
    name: string;
    /**
     * `auto` = rpicam-vid/libcamera-vid if on PATH, else the first /dev/video* through ffmpeg, else an error.
     */
    source: 'auto' | 'libcamera' | 'ffmpeg' | 'files';
    /**
     * Capture width in pixels.
     */
    width: number;
    /**
     * Capture height in pixels.
     */
    height: number;
    /**
     * Frames per second asked of the camera (files: the playback rate).
     */
    fps: number;
    /**
     * No frame for this long → the capture process is killed and restarted.
     */
    stall_timeout_s: number;
    /**
     * rpicam-vid (libcamera-vid) options; names follow the rpicam-vid flags with - replaced by _
     */
    libcamera: LibcameraOptions;
    /**
     * ffmpeg input: USB webcam (/dev/videoN), RTSP/HTTP URL or video file
     */
    ffmpeg: FfmpegOptions;
    /**
     * Images from a directory or glob (demo, testing, calibration).
     */
    files: {
      /**
       * A directory or a glob (`*`, `?`) of JPEG/PNG files; relative paths are resolved against the config file.
       */
      path?: string;
      /**
       * Start again after the last image.
       */
      loop: boolean;
      /**
       * `fps`: one image every 1/camera.fps s, like a camera; images the pipeline cannot take are skipped (and counted). `pipeline`: also wait until the pipeline has taken the previous image into inference, so none is skipped (soaks, batch runs); camera.fps is then the upper bound.
       */
      pace: 'fps' | 'pipeline';
    };
  };
  /**
   * Which models to run. Models are loaded only through manifests.
   */
  models: {
    /**
     * Detector: a model name in the cache (`edgesight models list`) or a path to a manifest JSON.
     */
    detector: string;
    /**
     * Segmenter model name or manifest path; null = no segmentation.
     */
    segmenter: string | null;
    /**
     * Which prepared variant to load. int8 (8-bit weights and activations, QDQ) is made from fp32 on first use by the quantizer; fp32 is the float model.
     */
    precision: 'int8' | 'fp32';
    /**
     * Images the int8 quantizer calibrates on: folders, globs, images or videos (relative to the config file). Empty = the shipped set (models/calibration + config/demo-photos).
     */
    calibration: string[];
    /**
     * Also calibrate on this many frames from the configured camera (your own scene); 0 = none.
     */
    calibration_frames: number;
    /**
     * Where prepared models live. Default: $CACHE_DIRECTORY (systemd), else $XDG_CACHE_HOME/edgesight, else ~/.cache/edgesight.
     */
    cache_dir: string | null;
    /**
     * Local folders searched for model sources before the upstream URLs (relative to the config file; EDGESIGHT_MODELS_MIRROR adds more).
     */
    mirror: string[];
    /**
     * On start, fetch/convert/quantize configured models that are missing (from EDGESIGHT_MODELS_MIRROR or upstream).
     */
    auto_prepare: boolean;
  };
  /**
   * Detector post-processing.
   */
  detection: {
    /**
     * Minimum score. The default detector scores up to about 0.8; on COCO photos a person at 0.45 is right about half the time, at 0.6 four times in five (docs/detector-accuracy.md).
     */
    score_threshold: number;
    /**
     * Per-class non-maximum suppression IoU.
     */
    nms_iou: number;
    /**
     * Cap on objects per frame (after NMS).
     */
    max_detections: number;
  };
  /**
   * Which labels matter.
   */
  objects: {
    /**
     * Labels reported in detections, counts and events (detector label names).
     */
    track: string[];
    /**
     * Per-label overrides, e.g. `filters: { person: { min_score: 0.6 } }`.
     */
    filters: {
      /**
       * Filter for one label.
       */
      [k: string]: {
        /**
         * Minimum score for this label (overrides detection.score_threshold).
         */
        min_score?: number;
      };
    };
  };
  /**
   * The multi-object tracker (ByteTrack-style; runs on the main thread after post-processing).
   */
  tracking: {
    /**
     * Detections between this and the label threshold only extend existing tracks (a half-hidden person keeps its id).
     */
    low_score: number;
    /**
     * Consecutive frames before a track is confirmed and gets an id (a one-frame false positive never does).
     */
    min_hits: number;
    /**
     * IoU between a track's predicted box and a detection needed to match them.
     */
    match_iou: number;
    /**
     * An object whose reference point moves less than this (fraction of the frame) is still.
     */
    stationary_threshold: number;
    /**
     * Still this long → `stationary: true` in its events.
     */
    stationary_after_s: number;
  };
  /**
   * Named areas of the image: `zones: { driveway: { polygon: [[0.1, 0.6], [0.9, 0.6], [0.9, 1], [0.1, 1]] } }`. An object is in a zone when the bottom centre of its box is inside the polygon.
   */
  zones: {
    /**
     * One zone.
     */
    [k: string]: {
      /**
       * Corners [x, y], normalised 0..1 of the frame (y down); at least 3, edges must not cross.
       *
       * @minItems 3
       * @maxItems 64
       */
      polygon: [[number, number], [number, number], [number, number], ...[number, number][]];
      /**
       * Detector labels counted in this zone; empty = every label of objects.track.
       */
      labels: string[];
      /**
       * An object counts as in the zone after being inside this long.
       */
      min_duration_s: number;
      /**
       * With the segmenter on: the zone is also occupied while this fraction of its mask cells shows one of its labels' classes (crowds whose boxes merge); null = boxes only.
       */
      min_coverage: number | null;
    };
  };
  /**
   * Named counting lines: `lines: { door: { points: [[0.8, 0.3], [0.8, 1]] } }`. Crossing from the negative to the positive side of (p2 − p1) × (q − p1) (y down) counts `in`, the other way `out`.
   */
  lines: {
    /**
     * One line.
     */
    [k: string]: {
      /**
       * The segment [[x1, y1], [x2, y2]], normalised 0..1.
       *
       * @minItems 2
       * @maxItems 2
       */
      points: [[number, number], [number, number]];
      /**
       * Detector labels counted; empty = every label of objects.track.
       */
      labels: string[];
      /**
       * `daily`: the totals restart from 0 at local midnight.
       */
      reset: 'daily' | 'never';
    };
  };
  /**
   * Obscure people (or other segmenter classes) in every image that leaves the device.
   */
  privacy: {
    /**
     * Segmenter class names to obscure (e.g. [person]); empty = off.
     */
    classes: string[];
    /**
     * How the pixels are obscured.
     */
    mode: 'blur' | 'pixelate' | 'fill';
    /**
     * Grow the obscured region by this many frame pixels (the mask is coarse).
     */
    dilate_px: number;
    /**
     * Use the latest segmentation mask if it is at most this old; otherwise the tracked boxes of the matching detector labels.
     */
    max_mask_age_s: number;
  };
  /**
   * Where line totals are kept across restarts. Default: $STATE_DIRECTORY (systemd), else $XDG_STATE_HOME/edgesight, else ~/.local/state/edgesight.
   */
  state_dir: string | null;
  /**
   * Segmenter scheduling and input size.
   */
  segmentation: {
    /**
     * Segment every Nth frame the inference worker accepts; 0 = off.
     */
    every: number;
    /**
     * Segmenter input width (multiple of 16).
     */
    width: number;
    /**
     * Segmenter input height (multiple of 16).
     */
    height: number;
  };
  /**
   * The inference worker.
   */
  inference: {
    /**
     * CPU core the inference thread is pinned to; -1 = the last core.
     */
    core: number;
    /**
     * ONNX Runtime intra-op threads (all pinned; >1 needs that many cores starting at `core`).
     */
    threads: number;
    /**
     * Let ORT threads spin between runs (lower latency, burns the core).
     */
    spinning: boolean;
    /**
     * A run longer than this restarts the worker.
     */
    stall_timeout_s: number;
  };
  /**
   * Frame flow.
   */
  pipeline: {
    /**
     * Frames decoded and resized at once (sharp, off the pinned core). A frame arriving while all are busy is skipped; 2 helps a 4-core Pi keep up at high fps.
     */
    preprocess_concurrency: number;
  };
  /**
   * Low-resolution class masks published on MQTT.
   */
  masks: {
    /**
     * Publish masks.
     */
    enabled: boolean;
    /**
     * Mask width; null = the model output map (e.g. 40).
     */
    width: number | null;
    /**
     * Mask height; null = the model output map (e.g. 30).
     */
    height: number | null;
    /**
     * Publish every Nth segmentation.
     */
    every: number;
    /**
     * Only publish when the map changed.
     */
    on_change: boolean;
    /**
     * `png`: 8-bit PNG of class indices, base64; `rle`: [class, run, class, run, …] row-major.
     */
    encoding: 'png' | 'rle';
  };
  /**
   * The MQTT broker and topics.
   */
  mqtt: {
    /**
     * Broker URL (`mqtt://host:1883`, `mqtts://host:8883`). null = start an embedded broker on localhost (demo).
     */
    url: string | null;
    /**
     * Topic prefix.
     */
    base_topic: string;
    /**
     * MQTT client id; default `edgesight_<device.id>` (stable, unique per device).
     */
    client_id: string | null;
    /**
     * Username.
     */
    username: string | null;
    /**
     * Password (prefer password_file or EDGESIGHT__MQTT__PASSWORD).
     */
    password: string | null;
    /**
     * File holding the password.
     */
    password_file: string | null;
    /**
     * CA certificate file (PEM) for mqtts://.
     */
    ca: string | null;
    /**
     * Client certificate file (PEM).
     */
    cert: string | null;
    /**
     * Client key file (PEM).
     */
    key: string | null;
    /**
     * Verify the broker certificate.
     */
    reject_unauthorized: boolean;
    /**
     * MQTT protocol: 5 (MQTT 5) or 4 (3.1.1, for old brokers). The embedded broker always speaks 3.1.1.
     */
    protocol_version: 4 | 5;
    /**
     * Keepalive interval.
     */
    keepalive_s: number;
    /**
     * Cap of the reconnect backoff.
     */
    reconnect_max_s: number;
    /**
     * Outgoing messages kept while disconnected (streams drop oldest; retained state keeps the latest per topic).
     */
    queue_size: number;
    /**
     * QoS per topic class.
     */
    qos: {
      /**
       * Retained state (availability, info, counts).
       */
      state: 0 | 1 | 2;
      /**
       * Per-frame streams (detections, masks).
       */
      stream: 0 | 1 | 2;
    };
    /**
     * The per-frame detections topic.
     */
    detections: {
      /**
       * Publish per-frame detections.
       */
      enabled: boolean;
      /**
       * At most this many messages per second; 0 = every processed frame.
       */
      max_rate_hz: number;
      /**
       * Skip frames with no tracked object.
       */
      only_with_objects: boolean;
    };
    /**
     * Annotated JPEG snapshots.
     */
    snapshot: {
      /**
       * At most this many snapshots per second.
       */
      max_rate_hz: number;
      /**
       * JPEG quality.
       */
      quality: number;
    };
    /**
     * Object appear/disappear events.
     */
    events: {
      /**
       * A label must be seen this long before `new`.
       */
      min_duration_s: number;
      /**
       * A label must be gone this long before `end`.
       */
      end_after_s: number;
      /**
       * At most one `update` per label this often.
       */
      update_interval_s: number;
    };
    /**
     * Home Assistant MQTT discovery.
     */
    homeassistant: {
      /**
       * Publish discovery configs.
       */
      enabled: boolean;
      /**
       * Discovery prefix.
       */
      discovery_prefix: string;
    };
    /**
     * The embedded broker used when `url` is null.
     */
    embedded_broker: {
      /**
       * Bind address.
       */
      host: string;
      /**
       * Port (0 = any free port).
       */
      port: number;
    };
  };
  /**
   * Latency monitoring.
   */
  metrics: {
    /**
     * Period of the `stats` topic.
     */
    stats_interval_s: number;
    /**
     * Sliding window of the percentiles.
     */
    window_s: number;
    /**
     * Period of the summary log line; 0 = off.
     */
    log_interval_s: number;
    /**
     * HTTP server: Prometheus /metrics, /healthz and the live view (/, /stream.mjpeg, /api/status).
     */
    http: {
      /**
       * Serve /metrics, /healthz and the live view page.
       */
      enabled: boolean;
      /**
       * Bind address. Any address other than loopback needs a token (token_file or EDGESIGHT_HTTP_TOKEN).
       */
      bind: string;
      /**
       * Port.
       */
      port: number;
      /**
       * Most JPEG frames per second encoded for the live view; frames are encoded only while a viewer is connected.
       */
      live_fps: number;
      /**
       * Most simultaneous /stream.mjpeg viewers; more are answered 503.
       */
      max_viewers: number;
      /**
       * File holding the bearer token required on every path but /healthz (relative to the config file). EDGESIGHT_HTTP_TOKEN overrides it. Required for a non-loopback bind.
       */
      token_file: string | null;
    };
  };
  /**
   * Logs (JSON lines on stdout; pretty on a TTY).
   */
  logging: {
    /**
     * Log level.
     */
    level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
    /**
     * Human-readable logs; `auto` = only on a TTY.
     */
    pretty: true | false | 'auto';
    /**
     * Log a line per published detection message (the demo turns this on).
     */
    publish_frames: boolean;
  };
}
