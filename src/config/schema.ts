/**
 * The configuration schema: the single source for validation, defaults, env-override typing and the
 * config reference (docs/configuration.md). JSON Schema (not zod) because it is language-neutral: editors with the
 * YAML language server validate config.yaml against the same file, and it renders to docs without a
 * second description (zigbee2mqtt does the same). `description` fields are the docs.
 */
export type JsonSchema = {
  type?: string | string[];
  description?: string;
  default?: unknown;
  enum?: readonly unknown[];
  properties?: Record<string, JsonSchema>;
  patternProperties?: Record<string, JsonSchema>;
  additionalProperties?: boolean | JsonSchema;
  propertyNames?: JsonSchema;
  items?: JsonSchema;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  pattern?: string;
  uniqueItems?: boolean;
  required?: string[];
  secret?: boolean;
  /**
   * The running daemon cannot take this key (or, on a section, any key below it) over on SIGHUP: it is
   * wired into processes, sockets, threads or topics at start. A changed value is reported as needing a
   * restart and the running value is kept. Keys without it (here or on a section above) apply live.
   */
  requiresRestart?: boolean;
  /** An MQTT connection setting: applied on SIGHUP by reconnecting the client (not with the embedded broker). */
  reconnects?: boolean;
  [k: string]: unknown;
};

const ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_-]*$';

const obj = (description: string, properties: Record<string, JsonSchema>, extra: Partial<JsonSchema> = {}): JsonSchema => ({
  type: 'object',
  description,
  properties,
  additionalProperties: false,
  default: {},
  ...extra,
});

const POINT: JsonSchema = { type: 'array', minItems: 2, maxItems: 2, items: { type: 'number', minimum: 0, maximum: 1 }, description: '[x, y]' };

const COCO_DEFAULT_TRACK = ['person', 'bicycle', 'car', 'motorcycle', 'bus', 'truck', 'cat', 'dog'];

export const libcameraSchemaPlaceholder: JsonSchema = obj('Options passed to rpicam-vid (see Camera sources).', {});
export const ffmpegSchemaPlaceholder: JsonSchema = obj('Options of the ffmpeg source (see Camera sources).', {});

export function buildSchema(fragments: { libcamera?: JsonSchema; ffmpeg?: JsonSchema } = {}): JsonSchema {
  const root = obj('edgesight configuration', {
    device: obj(
      'This box.',
      {
        id: {
          type: 'string',
          pattern: ID_PATTERN,
          maxLength: 64,
          description: 'Device id used in MQTT topics (`<base>/<id>/…`). Default: the hostname, sanitised.',
        },
        name: { type: 'string', maxLength: 128, description: 'Human-readable name (Home Assistant device name). Default: the id.' },
      },
      { requiresRestart: true },
    ),
    camera: obj(
      'The one camera this instance reads (several cameras = several instances).',
      {
        name: { type: 'string', pattern: ID_PATTERN, maxLength: 64, default: 'camera', description: 'Camera name used in topics.' },
        source: {
          type: 'string',
          enum: ['auto', 'libcamera', 'ffmpeg', 'files'],
          default: 'auto',
          description: '`auto` = rpicam-vid/libcamera-vid if on PATH, else the first /dev/video* through ffmpeg, else an error.',
        },
        width: { type: 'integer', minimum: 16, maximum: 4096, default: 640, description: 'Capture width in pixels.' },
        height: { type: 'integer', minimum: 16, maximum: 4096, default: 480, description: 'Capture height in pixels.' },
        fps: {
          type: 'number',
          exclusiveMinimum: 0,
          maximum: 120,
          default: 10,
          description: 'Frames per second asked of the camera (files: the playback rate).',
        },
        stall_timeout_s: {
          type: 'number',
          exclusiveMinimum: 0,
          default: 10,
          description: 'No frame for this long → the capture process is killed and restarted.',
        },
        libcamera: fragments.libcamera ?? libcameraSchemaPlaceholder,
        ffmpeg: fragments.ffmpeg ?? ffmpegSchemaPlaceholder,
        files: obj('Images from a directory or glob (demo, testing, calibration).', {
          path: {
            type: 'string',
            minLength: 1,
            description: 'A directory or a glob (`*`, `?`) of JPEG/PNG files; relative paths are resolved against the config file.',
          },
          loop: { type: 'boolean', default: true, description: 'Start again after the last image.' },
          pace: {
            type: 'string',
            enum: ['fps', 'pipeline'],
            default: 'fps',
            description:
              '`fps`: one image every 1/camera.fps s, like a camera; images the pipeline cannot take are skipped (and counted). `pipeline`: also wait until the pipeline has taken the previous image into inference, so none is skipped (soaks, batch runs); camera.fps is then the upper bound.',
          },
        }),
      },
      { requiresRestart: true },
    ),
    models: obj(
      'Which models to run. Models are loaded only through manifests.',
      {
        detector: {
          type: 'string',
          minLength: 1,
          default: 'ssdlite_mobilenet_v3_small_coco',
          description: 'Detector: a model name in the cache (`edgesight models list`) or a path to a manifest JSON.',
        },
        segmenter: {
          type: ['string', 'null'],
          default: 'lraspp_mobilenet_v3_small_voc',
          description: 'Segmenter model name or manifest path; null = no segmentation.',
        },
        precision: {
          type: 'string',
          enum: ['int8', 'fp32'],
          default: 'int8',
          description:
            'Which prepared variant to load. int8 (8-bit weights and activations, QDQ) is made from fp32 on first use by the quantizer; fp32 is the float model.',
        },
        calibration: {
          type: 'array',
          items: { type: 'string', minLength: 1 },
          default: [],
          description:
            'Images the int8 quantizer calibrates on: folders, globs, images or videos (relative to the config file). Empty = the shipped set (models/calibration + config/demo-photos).',
        },
        calibration_frames: {
          type: 'integer',
          minimum: 0,
          maximum: 1000,
          default: 0,
          description: 'Also calibrate on this many frames from the configured camera (your own scene); 0 = none.',
        },
        cache_dir: {
          type: ['string', 'null'],
          default: null,
          description: 'Where prepared models live. Default: $CACHE_DIRECTORY (systemd), else $XDG_CACHE_HOME/edgesight, else ~/.cache/edgesight.',
        },
        mirror: {
          type: 'array',
          items: { type: 'string', minLength: 1 },
          default: [],
          description:
            'Local folders searched for model sources before the upstream URLs (relative to the config file; EDGESIGHT_MODELS_MIRROR adds more).',
        },
        auto_prepare: {
          type: 'boolean',
          default: true,
          description: 'On start, fetch/convert/quantize configured models that are missing (from EDGESIGHT_MODELS_MIRROR or upstream).',
        },
      },
      { requiresRestart: true },
    ),
    detection: obj('Detector post-processing.', {
      score_threshold: {
        type: 'number',
        minimum: 0,
        maximum: 1,
        default: 0.45,
        description:
          'Minimum score. The default detector scores up to about 0.8; on COCO photos a person at 0.45 is right about half the time, at 0.6 four times in five (docs/detector-accuracy.md).',
      },
      nms_iou: { type: 'number', minimum: 0, maximum: 1, default: 0.6, description: 'Per-class non-maximum suppression IoU.' },
      max_detections: { type: 'integer', minimum: 1, maximum: 1000, default: 100, description: 'Cap on objects per frame (after NMS).' },
    }),
    objects: obj('Which labels matter.', {
      track: {
        type: 'array',
        items: { type: 'string', minLength: 1 },
        uniqueItems: true,
        default: COCO_DEFAULT_TRACK,
        description: 'Labels reported in detections, counts and events (detector label names).',
      },
      filters: {
        type: 'object',
        default: {},
        description: 'Per-label overrides, e.g. `filters: { person: { min_score: 0.6 } }`.',
        propertyNames: { type: 'string', minLength: 1 },
        additionalProperties: obj('Filter for one label.', {
          min_score: { type: 'number', minimum: 0, maximum: 1, description: 'Minimum score for this label (overrides detection.score_threshold).' },
        }),
      },
    }),
    tracking: obj('The multi-object tracker (ByteTrack-style; runs on the main thread after post-processing).', {
      low_score: {
        type: 'number',
        minimum: 0,
        maximum: 1,
        default: 0.2,
        description: 'Detections between this and the label threshold only extend existing tracks (a half-hidden person keeps its id).',
      },
      min_hits: {
        type: 'integer',
        minimum: 1,
        maximum: 100,
        default: 3,
        description: 'Consecutive frames before a track is confirmed and gets an id (a one-frame false positive never does).',
      },
      match_iou: {
        type: 'number',
        exclusiveMinimum: 0,
        maximum: 1,
        default: 0.2,
        description: "IoU between a track's predicted box and a detection needed to match them.",
      },
      stationary_threshold: {
        type: 'number',
        minimum: 0,
        maximum: 1,
        default: 0.02,
        description: 'An object whose reference point moves less than this (fraction of the frame) is still.',
      },
      stationary_after_s: { type: 'number', minimum: 0, default: 10, description: 'Still this long → `stationary: true` in its events.' },
    }),
    zones: {
      type: 'object',
      default: {},
      description:
        'Named areas of the image: `zones: { driveway: { polygon: [[0.1, 0.6], [0.9, 0.6], [0.9, 1], [0.1, 1]] } }`. An object is in a zone when the bottom centre of its box is inside the polygon.',
      propertyNames: { type: 'string', pattern: ID_PATTERN, maxLength: 64 },
      additionalProperties: obj(
        'One zone.',
        {
          polygon: {
            type: 'array',
            minItems: 3,
            maxItems: 64,
            items: POINT,
            description: 'Corners [x, y], normalised 0..1 of the frame (y down); at least 3, edges must not cross.',
          },
          labels: {
            type: 'array',
            items: { type: 'string', minLength: 1 },
            uniqueItems: true,
            default: [],
            description: 'Detector labels counted in this zone; empty = every label of objects.track.',
          },
          min_duration_s: { type: 'number', minimum: 0, default: 0, description: 'An object counts as in the zone after being inside this long.' },
          min_coverage: {
            type: ['number', 'null'],
            minimum: 0,
            maximum: 1,
            default: null,
            description:
              "With the segmenter on: the zone is also occupied while this fraction of its mask cells shows one of its labels' classes (crowds whose boxes merge); null = boxes only.",
          },
        },
        { required: ['polygon'] },
      ),
    },
    lines: {
      type: 'object',
      default: {},
      description:
        'Named counting lines: `lines: { door: { points: [[0.8, 0.3], [0.8, 1]] } }`. Crossing from the negative to the positive side of (p2 − p1) × (q − p1) (y down) counts `in`, the other way `out`.',
      propertyNames: { type: 'string', pattern: ID_PATTERN, maxLength: 64 },
      additionalProperties: obj(
        'One line.',
        {
          points: { type: 'array', minItems: 2, maxItems: 2, items: POINT, description: 'The segment [[x1, y1], [x2, y2]], normalised 0..1.' },
          labels: {
            type: 'array',
            items: { type: 'string', minLength: 1 },
            uniqueItems: true,
            default: [],
            description: 'Detector labels counted; empty = every label of objects.track.',
          },
          reset: { type: 'string', enum: ['daily', 'never'], default: 'never', description: '`daily`: the totals restart from 0 at local midnight.' },
        },
        { required: ['points'] },
      ),
    },
    privacy: obj('Obscure people (or other segmenter classes) in every image that leaves the device.', {
      classes: {
        type: 'array',
        items: { type: 'string', minLength: 1 },
        uniqueItems: true,
        default: [],
        description: 'Segmenter class names to obscure (e.g. [person]); empty = off.',
      },
      mode: { type: 'string', enum: ['blur', 'pixelate', 'fill'], default: 'blur', description: 'How the pixels are obscured.' },
      dilate_px: {
        type: 'integer',
        minimum: 0,
        maximum: 200,
        default: 12,
        description: 'Grow the obscured region by this many frame pixels (the mask is coarse).',
      },
      max_mask_age_s: {
        type: 'number',
        minimum: 0,
        default: 1,
        description: 'Use the latest segmentation mask if it is at most this old; otherwise the tracked boxes of the matching detector labels.',
      },
    }),
    state_dir: {
      requiresRestart: true,
      type: ['string', 'null'],
      default: null,
      description:
        'Where line totals are kept across restarts. Default: $STATE_DIRECTORY (systemd), else $XDG_STATE_HOME/edgesight, else ~/.local/state/edgesight.',
    },
    segmentation: obj('Segmenter scheduling and input size.', {
      every: { type: 'integer', minimum: 0, default: 5, description: 'Segment every Nth frame the inference worker accepts; 0 = off.' },
      width: {
        requiresRestart: true,
        type: 'integer',
        minimum: 16,
        maximum: 2048,
        default: 320,
        description: 'Segmenter input width (multiple of 16).',
        multipleOf: 16,
      },
      height: {
        requiresRestart: true,
        type: 'integer',
        minimum: 16,
        maximum: 2048,
        default: 240,
        description: 'Segmenter input height (multiple of 16).',
        multipleOf: 16,
      },
    }),
    inference: obj(
      'The inference worker.',
      {
        core: { type: 'integer', minimum: -1, default: -1, description: 'CPU core the inference thread is pinned to; -1 = the last core.' },
        threads: {
          type: 'integer',
          minimum: 1,
          maximum: 64,
          default: 1,
          description: 'ONNX Runtime intra-op threads (all pinned; >1 needs that many cores starting at `core`).',
        },
        spinning: { type: 'boolean', default: false, description: 'Let ORT threads spin between runs (lower latency, burns the core).' },
        stall_timeout_s: { type: 'number', exclusiveMinimum: 0, default: 10, description: 'A run longer than this restarts the worker.' },
      },
      { requiresRestart: true },
    ),
    pipeline: obj(
      'Frame flow.',
      {
        preprocess_concurrency: {
          type: 'integer',
          minimum: 1,
          maximum: 8,
          default: 1,
          description:
            'Frames decoded and resized at once (sharp, off the pinned core). A frame arriving while all are busy is skipped; 2 helps a 4-core Pi keep up at high fps.',
        },
      },
      { requiresRestart: true },
    ),
    masks: obj('Low-resolution class masks published on MQTT.', {
      enabled: { type: 'boolean', default: true, description: 'Publish masks.' },
      width: {
        type: ['integer', 'null'],
        minimum: 1,
        maximum: 1024,
        default: null,
        description: 'Mask width; null = the model output map (e.g. 40).',
      },
      height: {
        type: ['integer', 'null'],
        minimum: 1,
        maximum: 1024,
        default: null,
        description: 'Mask height; null = the model output map (e.g. 30).',
      },
      every: { type: 'integer', minimum: 1, default: 1, description: 'Publish every Nth segmentation.' },
      on_change: { type: 'boolean', default: false, description: 'Only publish when the map changed.' },
      encoding: {
        type: 'string',
        enum: ['png', 'rle'],
        default: 'png',
        description: '`png`: 8-bit PNG of class indices, base64; `rle`: [class, run, class, run, …] row-major.',
      },
    }),
    mqtt: obj('The MQTT broker and topics.', {
      url: {
        reconnects: true,
        type: ['string', 'null'],
        default: null,
        pattern: '^(mqtts?|wss?|tcp|ssl)://',
        description: 'Broker URL (`mqtt://host:1883`, `mqtts://host:8883`). null = start an embedded broker on localhost (demo).',
      },
      base_topic: { requiresRestart: true, type: 'string', pattern: '^[^+#\\u0000]+$', default: 'edgesight', description: 'Topic prefix.' },
      client_id: {
        reconnects: true,
        type: ['string', 'null'],
        default: null,
        description: 'MQTT client id; default `edgesight_<device.id>` (stable, unique per device).',
      },
      username: { reconnects: true, type: ['string', 'null'], default: null, description: 'Username.' },
      password: {
        reconnects: true,
        type: ['string', 'null'],
        default: null,
        secret: true,
        description: 'Password (prefer password_file or EDGESIGHT__MQTT__PASSWORD).',
      },
      password_file: { reconnects: true, type: ['string', 'null'], default: null, description: 'File holding the password.' },
      ca: { reconnects: true, type: ['string', 'null'], default: null, description: 'CA certificate file (PEM) for mqtts://.' },
      cert: { reconnects: true, type: ['string', 'null'], default: null, description: 'Client certificate file (PEM).' },
      key: { reconnects: true, type: ['string', 'null'], default: null, description: 'Client key file (PEM).' },
      reject_unauthorized: { reconnects: true, type: 'boolean', default: true, description: 'Verify the broker certificate.' },
      protocol_version: {
        reconnects: true,
        type: 'integer',
        enum: [4, 5],
        default: 5,
        description: 'MQTT protocol: 5 (MQTT 5) or 4 (3.1.1, for old brokers). The embedded broker always speaks 3.1.1.',
      },
      keepalive_s: { reconnects: true, type: 'integer', minimum: 5, maximum: 3600, default: 30, description: 'Keepalive interval.' },
      reconnect_max_s: { reconnects: true, type: 'number', minimum: 0.5, maximum: 300, default: 5, description: 'Cap of the reconnect backoff.' },
      queue_size: {
        requiresRestart: true,
        type: 'integer',
        minimum: 1,
        maximum: 100000,
        default: 200,
        description: 'Outgoing messages kept while disconnected (streams drop oldest; retained state keeps the latest per topic).',
      },
      qos: obj(
        'QoS per topic class.',
        {
          state: { type: 'integer', enum: [0, 1, 2], default: 1, description: 'Retained state (availability, info, counts).' },
          stream: { type: 'integer', enum: [0, 1, 2], default: 0, description: 'Per-frame streams (detections, masks).' },
        },
        { requiresRestart: true },
      ),
      detections: obj('The per-frame detections topic.', {
        enabled: { type: 'boolean', default: true, description: 'Publish per-frame detections.' },
        max_rate_hz: { type: 'number', minimum: 0, default: 0, description: 'At most this many messages per second; 0 = every processed frame.' },
        only_with_objects: { type: 'boolean', default: false, description: 'Skip frames with no tracked object.' },
      }),
      snapshot: obj('Annotated JPEG snapshots.', {
        max_rate_hz: { type: 'number', minimum: 0, default: 1, description: 'At most this many snapshots per second.' },
        quality: { type: 'integer', minimum: 10, maximum: 100, default: 80, description: 'JPEG quality.' },
      }),
      events: obj('Object appear/disappear events.', {
        min_duration_s: { type: 'number', minimum: 0, default: 1, description: 'A label must be seen this long before `new`.' },
        end_after_s: { type: 'number', minimum: 0, default: 3, description: 'A label must be gone this long before `end`.' },
        update_interval_s: { type: 'number', minimum: 0, default: 5, description: 'At most one `update` per label this often.' },
      }),
      homeassistant: obj(
        'Home Assistant MQTT discovery.',
        {
          enabled: { type: 'boolean', default: false, description: 'Publish discovery configs.' },
          discovery_prefix: { type: 'string', pattern: '^[^+#\\u0000]+$', default: 'homeassistant', description: 'Discovery prefix.' },
        },
        { requiresRestart: true },
      ),
      embedded_broker: obj(
        'The embedded broker used when `url` is null.',
        {
          host: { type: 'string', default: '127.0.0.1', description: 'Bind address.' },
          port: { type: 'integer', minimum: 0, maximum: 65535, default: 1883, description: 'Port (0 = any free port).' },
        },
        { requiresRestart: true },
      ),
    }),
    metrics: obj(
      'Latency monitoring.',
      {
        stats_interval_s: { type: 'number', minimum: 5, default: 30, description: 'Period of the `stats` topic.' },
        window_s: { type: 'number', minimum: 5, default: 60, description: 'Sliding window of the percentiles.' },
        log_interval_s: { type: 'number', minimum: 0, default: 60, description: 'Period of the summary log line; 0 = off.' },
        http: obj('HTTP server: Prometheus /metrics, /healthz and the live view (/, /stream.mjpeg, /api/status).', {
          enabled: { type: 'boolean', default: false, description: 'Serve /metrics, /healthz and the live view page.' },
          bind: {
            type: 'string',
            minLength: 1,
            default: '127.0.0.1',
            description: 'Bind address. Any address other than loopback needs a token (token_file or EDGESIGHT_HTTP_TOKEN).',
          },
          port: { type: 'integer', minimum: 0, maximum: 65535, default: 9464, description: 'Port.' },
          live_fps: {
            type: 'number',
            exclusiveMinimum: 0,
            maximum: 30,
            default: 2,
            description: 'Most JPEG frames per second encoded for the live view; frames are encoded only while a viewer is connected.',
          },
          max_viewers: {
            type: 'integer',
            minimum: 1,
            maximum: 64,
            default: 4,
            description: 'Most simultaneous /stream.mjpeg viewers; more are answered 503.',
          },
          token_file: {
            type: ['string', 'null'],
            default: null,
            description:
              'File holding the bearer token required on every path but /healthz (relative to the config file). EDGESIGHT_HTTP_TOKEN overrides it. Required for a non-loopback bind.',
          },
        }),
      },
      { requiresRestart: true },
    ),
    logging: obj('Logs (JSON lines on stdout; pretty on a TTY).', {
      level: { type: 'string', enum: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], default: 'info', description: 'Log level.' },
      pretty: {
        requiresRestart: true,
        type: ['boolean', 'string'],
        enum: [true, false, 'auto'],
        default: 'auto',
        description: 'Human-readable logs; `auto` = only on a TTY.',
      },
      publish_frames: { type: 'boolean', default: false, description: 'Log a line per published detection message (the demo turns this on).' },
    }),
  });
  delete root.default; // a default at the root is never applied (ajv's strict mode says so)
  return root;
}
