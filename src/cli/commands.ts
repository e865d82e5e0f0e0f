/**
 * Every command and subcommand with its options: the one list that `--help`, option checking
 * (src/cli/dispatch.ts, via commander) and the handlers' own parsing (node:util parseArgs reads the same
 * option objects) all come from, so help and behaviour cannot drift apart. A command added here is also
 * picked up by the test that runs `--help` on every command.
 *
 * `help` is the option's line in --help, `dflt` the default shown there, `arg` the value's name.
 */
export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  arg?: string;
  help: string;
  dflt?: string;
}

export interface CommandSpec {
  /** "detect", "models fetch" */
  path: string;
  /** one line for the command list */
  summary: string;
  /** positional arguments as shown in the usage line, e.g. "IMAGE..."; absent = none accepted */
  args?: string;
  /** more text under the usage line */
  details?: string;
  options: Record<string, OptionSpec>;
  /** other names that run the same subcommand */
  aliases?: string[];
}

const CONFIG = { type: 'string', short: 'c', arg: 'PATH', help: 'config file', dflt: '$EDGESIGHT_CONFIG, else built-in defaults' } as const;

/** Options every `models` subcommand takes. */
export const COMMON_OPTIONS = {
  config: { type: 'string', short: 'c', arg: 'PATH', help: 'config file (models.cache_dir, models.mirror)', dflt: '$EDGESIGHT_CONFIG' },
  cache: {
    type: 'string',
    arg: 'DIR',
    help: 'model cache',
    dflt: 'models.cache_dir, $CACHE_DIRECTORY, $XDG_CACHE_HOME/edgesight, ~/.cache/edgesight',
  },
  from: {
    type: 'string',
    multiple: true,
    arg: 'DIR',
    help: 'local folder with model sources, searched before upstream (repeatable; also EDGESIGHT_MODELS_MIRROR)',
  },
  offline: { type: 'boolean', help: 'never download (also EDGESIGHT_OFFLINE=1)' },
} as const;

/** How to describe a model that is not in the catalog (models import, models convert FILE.tflite). */
export const IMPORT_OPTIONS = {
  name: { type: 'string', arg: 'NAME', help: 'name in the cache', dflt: 'the file name' },
  like: { type: 'string', arg: 'CATALOG_NAME', help: 'take the input/output contract of a catalogued model' },
  manifest: { type: 'string', arg: 'FILE', help: 'take the contract from a manifest JSON' },
  task: { type: 'string', arg: 'detection|segmentation', help: 'what the model does' },
  labels: { type: 'string', arg: 'FILE', help: 'labels file, one per line (class index order)' },
  precision: { type: 'string', arg: 'fp32|int8', help: 'precision the file holds', dflt: 'fp32' },
  'input-name': { type: 'string', arg: 'S', help: 'input tensor name' },
  width: { type: 'string', arg: 'N|dynamic', help: 'input width' },
  height: { type: 'string', arg: 'N|dynamic', help: 'input height' },
  'multiple-of': { type: 'string', arg: 'N', help: 'a dynamic input size must be a multiple of N' },
  scale: { type: 'string', arg: 'X', help: 'pixel scale (value = pixel × scale + offset)' },
  offset: { type: 'string', arg: 'X', help: 'pixel offset (negative: --offset=-1)' },
  scores: { type: 'string', arg: 'S', help: 'detector scores output name' },
  boxes: { type: 'string', arg: 'S', help: 'detector boxes output name' },
  logits: { type: 'string', arg: 'S', help: 'segmenter logits output name' },
  'output-stride': { type: 'string', arg: 'N', help: 'segmenter output stride' },
  license: { type: 'string', arg: 'S', help: 'licence recorded in the manifest' },
  notes: { type: 'string', arg: 'S', help: 'notes recorded in the manifest' },
  force: { type: 'boolean', help: 'replace a model already in the cache' },
} as const;

export const RUN = {
  path: 'run',
  summary: 'run the daemon (checks the config first; exit 78 if invalid)',
  details:
    'Camera → detection + segmentation → MQTT until SIGTERM/SIGINT; SIGHUP re-reads the config.\nA failure before READY exits at once with a status systemd understands (see Exit status below).',
  options: { config: CONFIG },
} as const satisfies CommandSpec;

export const CHECK_CONFIG = {
  path: 'check-config',
  summary: 'validate a config file: every problem with key path and line; exit 78',
  details: 'Checks the schema, the cross-key rules, and label/class names against the configured models.',
  options: {
    config: CONFIG,
    print: { type: 'boolean', help: 'print the effective config (defaults and environment applied, secrets redacted)' },
    reference: { type: 'boolean', help: 'print the configuration reference (every key, its default and meaning) as Markdown' },
  },
} as const satisfies CommandSpec;

export const DETECT = {
  path: 'detect',
  summary: 'detect objects in images with the configured detector',
  args: 'IMAGE...',
  options: {
    config: CONFIG,
    json: { type: 'boolean', help: 'one JSON line per image instead of a table' },
    'score-threshold': { type: 'string', arg: 'X', help: 'minimum score in [0, 1]', dflt: 'detection.score_threshold (0.4)' },
    'max-detections': { type: 'string', arg: 'N', help: 'cap on objects per image', dflt: 'detection.max_detections (100)' },
    tracked: { type: 'boolean', help: 'only the labels in objects.track (as the daemon publishes)' },
  },
} as const satisfies CommandSpec;

export const SEGMENT = {
  path: 'segment',
  summary: 'class map of each image with the configured segmenter',
  args: 'IMAGE...',
  details: 'With --out-dir, DIR/<name>.png holds the class indices as 8-bit grey pixels.',
  options: {
    config: CONFIG,
    json: { type: 'boolean', help: 'one JSON line per image instead of a summary' },
    'out-dir': { type: 'string', short: 'o', arg: 'DIR', help: 'write each class map as DIR/<name>.png' },
  },
} as const satisfies CommandSpec;

export const SNAPSHOT = {
  path: 'snapshot',
  summary: 'one camera frame with boxes and mask drawn, as a JPEG',
  details: "Runs the daemon's pipeline on one frame; the daemon must not hold the camera at the same time.",
  options: {
    config: CONFIG,
    out: { type: 'string', short: 'o', arg: 'FILE.jpg', help: 'where the JPEG goes (- for stdout); required' },
    skip: { type: 'string', arg: 'N', help: 'frames to discard while the camera settles', dflt: '0' },
    timeout: { type: 'string', arg: 'S', help: 'seconds to wait for a frame', dflt: '60' },
  },
} as const satisfies CommandSpec;

const DRY_RUN = { 'dry-run': { type: 'boolean', help: 'only show what would be done' } } as const;

export const SERVICE_INSTALL = {
  path: 'service install',
  summary: 'install the systemd unit, the system user and /etc/edgesight/config.yaml (as root)',
  options: DRY_RUN,
} as const satisfies CommandSpec;

export const SERVICE_UNINSTALL = {
  path: 'service uninstall',
  summary: 'stop and remove the systemd unit (keeps config, cache and user)',
  options: DRY_RUN,
} as const satisfies CommandSpec;

export const MODELS_FETCH = {
  path: 'models fetch',
  summary: 'fetch model sources (sha256-checked, resumable) and prepare them',
  args: '[NAME...]',
  details:
    'Sources are looked up in the cache, then --from / EDGESIGHT_MODELS_MIRROR folders, then the\nupstream URL. No NAME = the configured detector and segmenter.',
  options: {
    ...COMMON_OPTIONS,
    all: { type: 'boolean', help: 'every catalogued model' },
    precision: {
      type: 'string',
      arg: 'fp32|qdq-faithful|int8',
      help: 'qdq-faithful also makes the faithful QDQ form; int8 runs the quantizer',
      dflt: 'fp32',
    },
  },
} as const satisfies CommandSpec;

export const MODELS_CONVERT = {
  path: 'models convert',
  summary: 'TFLite → ONNX: a catalogued model into the cache, or any TFLite file',
  args: 'NAME | FILE.tflite',
  details: 'A FILE.tflite needs --out FILE.onnx, or --name N with --like CATALOG_NAME or --manifest FILE.',
  options: {
    ...COMMON_OPTIONS,
    ...IMPORT_OPTIONS,
    form: { type: 'string', arg: 'float|qdq', help: 'float graph, or the TFLite int8 parameters as QDQ', dflt: 'float' },
    out: { type: 'string', arg: 'FILE.onnx', help: 'write the ONNX file here instead of registering it' },
    'keep-score-cap': {
      type: 'boolean',
      help: 'keep the upper saturation of the class logits (the old graph, scores capped near 0.5; for comparison)',
    },
  },
} as const satisfies CommandSpec;

export const MODELS_EVAL = {
  path: 'models eval',
  summary: 'detector mAP and precision/recall per score threshold on a COCO-format folder',
  args: '[NAME | MANIFEST.json]',
  details:
    'Runs a detector (default: the configured one at models.precision) over a folder with instances.json and its\nimages; per score threshold, the precision and recall a `min_score` of that value gives (a detection counts\nwhen it overlaps an unmatched ground-truth box of its label at IoU ≥ --iou).',
  options: {
    ...COMMON_OPTIONS,
    precision: { type: 'string', arg: 'int8|fp32', help: 'which prepared variant of a catalogued model', dflt: 'models.precision' },
    data: { type: 'string', arg: 'DIR', help: 'folder with instances.json', dflt: '$EDGESIGHT_TEST_DATA/coco-train-sample' },
    labels: { type: 'string', arg: 'L1,L2', help: 'labels in the table (--json prints every label)', dflt: 'person,car' },
    thresholds: { type: 'string', arg: 'T1,T2', help: 'score thresholds', dflt: '0.3 … 0.8 in steps of 0.05' },
    iou: { type: 'string', arg: 'X', help: 'IoU for a match', dflt: '0.5' },
    json: { type: 'boolean', help: 'one JSON line per label and threshold, then one summary line' },
  },
} as const satisfies CommandSpec;

export const MODELS_IMPORT = {
  path: 'models import',
  summary: 'register your own ONNX model, or install a bundle made by export',
  args: 'FILE.onnx | BUNDLE.tar[.gz]',
  details: 'ONNX Runtime must load the model and its outputs must have the declared shapes.',
  options: { ...COMMON_OPTIONS, ...IMPORT_OPTIONS },
} as const satisfies CommandSpec;

export const MODELS_IMPORT_BUNDLE = {
  path: 'models import-bundle',
  summary: 'install a bundle made by export (every file sha256-checked first)',
  args: 'IN.tar[.gz]',
  options: { ...COMMON_OPTIONS, force: { type: 'boolean', help: 'replace models already in the cache' } },
} as const satisfies CommandSpec;

export const MODELS_EXPORT = {
  path: 'models export',
  aliases: ['export-bundle'],
  summary: 'write prepared models and manifests into one archive (to copy to a Pi)',
  args: 'OUT.tar[.gz] [NAME...]',
  options: {
    ...COMMON_OPTIONS,
    precision: { type: 'string', multiple: true, arg: 'P', help: 'fp32, int8 or qdq-faithful (repeatable)', dflt: 'all prepared' },
    gzip: { type: 'boolean', help: 'gzip the archive', dflt: 'by the .gz name' },
  },
} as const satisfies CommandSpec;

export const MODELS_LIST = {
  path: 'models list',
  summary: 'cache contents (verifies sha256; exit 1 if a model is corrupt)',
  options: {
    ...COMMON_OPTIONS,
    json: { type: 'boolean', help: 'JSON output' },
    'no-verify': { type: 'boolean', help: 'skip the sha256 check' },
  },
} as const satisfies CommandSpec;

export const MODELS_INFO = {
  path: 'models info',
  summary: 'inputs/outputs, op counts, int8 share, params and MAdds of a model',
  args: 'NAME | MANIFEST.json | FILE.onnx',
  options: {
    ...COMMON_OPTIONS,
    json: { type: 'boolean', help: 'JSON output' },
    precision: { type: 'string', arg: 'P', help: 'which prepared variant of NAME', dflt: 'models.precision' },
    size: { type: 'string', arg: 'WxH', help: 'input size for a model with a dynamic input', dflt: '320x240' },
    check: { type: 'boolean', help: 'also run it once and check the outputs against the manifest' },
  },
} as const satisfies CommandSpec;

export const MODELS_PREPARE = {
  path: 'models prepare',
  summary: "make the configured models ready as the daemon's start would, and say how long it took",
  details:
    'The shipped int8 models need no work; other models (fp32, custom, changed quantizer settings) are\nprepared into the cache, the quantizer running in a child process. `service install` runs this.',
  options: { config: CONFIG },
} as const satisfies CommandSpec;

export const MODELS_BUILD_PREPARED = {
  path: 'models build-prepared',
  summary: 're-make the int8 models shipped in models/prepared/ from models/sources/ (npm run models:build)',
  args: '[NAME...]',
  details:
    'Each catalogued model (or the NAMEs given) converted to fp32, then quantized with the default settings\n(its profile, the shipped calibration set) for uint8 activations (x86-64, Cortex-A72) and int8 activations\n(arm64 with the dot-product extension). Deterministic: an unchanged converter and quantizer rewrite the\nsame bytes. No mirror, no network.',
  options: { out: { type: 'string', arg: 'DIR', help: "write there instead of the package's models/prepared/", dflt: 'models/prepared' } },
} as const satisfies CommandSpec;

export const QUANTIZE_OPTIONS = {
  ...COMMON_OPTIONS,
  calib: {
    type: 'string',
    multiple: true,
    arg: 'DIR|GLOB|IMAGE|VIDEO',
    help: 'calibration images (repeatable; videos: every 10th frame, ≤ 50)',
    dflt: 'models.calibration, else models/calibration + config/demo-photos',
  },
  camera: { type: 'string', arg: 'N', help: 'also take N frames from the configured camera', dflt: 'models.calibration_frames' },
  method: {
    type: 'string',
    arg: 'minmax|percentile|mse|frames',
    help: "range method for the body (frames: the 90th percentile of the images' own extremes)",
    dflt: "the model's profile",
  },
  percentile: { type: 'string', arg: 'P', help: 'for --method percentile', dflt: '99.99' },
  activations: {
    type: 'string',
    arg: 'uint8|int8|auto',
    // what activationTypeFor picks: the int8 kernels pay off only with the dot-product extension
    help: 'activation type; auto = int8 on arm64 cores with dot-product instructions (asimddp: Pi 5 / Cortex-A76), uint8 elsewhere (x86-64, Pi 4 / Cortex-A72)',
    dflt: 'auto',
  },
  'keep-float': { type: 'string', multiple: true, arg: 'NAME', help: 'keep a tensor/node (glob *) in float (repeatable)' },
  size: { type: 'string', arg: 'WxH', help: 'calibration size for models with a dynamic input', dflt: '320x240' },
  report: { type: 'string', arg: 'FILE.json', help: 'write the per-layer error report as JSON' },
} as const;

export const MODELS_QUANTIZE = {
  path: 'models quantize',
  summary: 'static int8 quantization (QDQ) of an fp32 model, calibrated on images',
  args: 'NAME | MANIFEST.json',
  details:
    'Per-channel int8 conv weights, per-tensor 8-bit activations. Writes <cache>/<name>/int8.onnx +\nint8.json (provenance.quantization records the settings).',
  options: QUANTIZE_OPTIONS,
} as const satisfies CommandSpec;

export const BENCH = {
  path: 'bench',
  summary: 'benchmark: ceiling vs full pipeline (efficiency), per-stage latency, int8/fp32, memory',
  details:
    'Measures, in one run: the bare ONNX Runtime ceiling, the full pipeline from JPEG frames to MQTT\n(→ pipeline efficiency), per-stage latency percentiles, detection + segmentation every Nth frame,\nint8/fp32 speed per model, and memory. Writes bench.json, bench.md and latency.svg to --out.',
  options: {
    config: { ...CONFIG, help: 'config (models, cache, inference core/threads)', dflt: "$EDGESIGHT_CONFIG, else the package's config/demo.yaml" },
    frames: { type: 'string', arg: 'N', help: 'measured frames per run (≥ 10)', dflt: '300' },
    width: { type: 'string', arg: 'W', help: 'frame width of the JPEGs', dflt: '640' },
    height: { type: 'string', arg: 'H', help: 'frame height of the JPEGs', dflt: '480' },
    'frames-dir': { type: 'string', arg: 'DIR', help: 'photos the frames are made from', dflt: "the package's config/demo-photos" },
    out: { type: 'string', arg: 'DIR', help: 'where the report goes', dflt: 'bench-out' },
    precision: { type: 'string', arg: 'LIST', help: 'int8 and/or fp32, comma-separated; the first runs the pipeline', dflt: 'int8,fp32' },
    'segmentation-every': { type: 'string', arg: 'N', help: 'segmentation cadence of the second pipeline run (0 = skip it)', dflt: '5' },
    'viewer-pairs': {
      type: 'string',
      arg: 'N',
      help: 'live-view cost: pairs of --frames/2-frame runs without / with one viewer, interleaved (0 = skip)',
      dflt: '4',
    },
    'raw-camera': {
      type: 'string',
      arg: 'PATH',
      help: 'rpicam-vid-compatible program for the raw-path run (yuv420 at the model size; "none" = skip it)',
      dflt: "the repository's fake rpicam-vid (test/fixtures/bin), if present",
    },
    soak: { type: 'boolean', help: 'also run --soak-frames frames and report RSS growth' },
    'soak-frames': { type: 'string', arg: 'N', help: 'soak length (≥ 5000)', dflt: '5000' },
  },
} as const satisfies CommandSpec;

export const SOAK = {
  path: 'soak',
  summary: 'the real daemon at full rate into a real broker: resource slopes with confidence, counts reconciled',
  details:
    "Runs `edgesight run` as a child process from the files source into a real mosquitto for --frames frames,\nsampling RSS, heap, fds, threads and event-loop delay; reports least-squares slopes per 10 000 processed\nframes with 95 % confidence and reconciles the counters (frames captured = processed + skipped + corrupt +\nfailed; events published = received + dropped). Writes soak.json and soak.md to --out. The last two lines\nare rss_slope_mb_per_10k=<v>±<ci> and reconciled=true|false (exit 1 when not reconciled). The daemon runs\nwith the systemd unit's memory settings (its NODE_OPTIONS and MALLOC_* Environment= lines, read from\nsystemd/edgesight.service) unless --plain. Needs mosquitto (MOSQUITTO_BIN, /usr/sbin/mosquitto or on PATH).\nIt replaces `bench --soak`, which only trends RSS in the bench process (no daemon, broker or counts).",
  options: {
    config: { ...CONFIG, help: 'config whose models section the daemon uses', dflt: "$EDGESIGHT_CONFIG, else the package's config/demo.yaml" },
    frames: { type: 'string', arg: 'N', help: 'frames the source delivers (≥ 100)', dflt: '5000' },
    fps: { type: 'string', arg: 'F', help: 'source rate; with --pace fps, frames the pipeline cannot take are skipped and counted', dflt: '120' },
    pace: {
      type: 'string',
      arg: 'fps|pipeline',
      help: 'pipeline: the source also waits for the pipeline, so every frame is processed (camera.files.pace)',
      dflt: 'fps',
    },
    width: { type: 'string', arg: 'W', help: 'JPEG frame width', dflt: '640' },
    height: { type: 'string', arg: 'H', help: 'JPEG frame height', dflt: '480' },
    'frames-dir': { type: 'string', arg: 'DIR', help: 'photos the frames are made from', dflt: "the package's config/demo-photos" },
    'segmentation-every': { type: 'string', arg: 'N', help: 'segmentation cadence (0 = detection only)', dflt: '5' },
    'sample-s': { type: 'string', arg: 'S', help: 'seconds between samples', dflt: '5' },
    out: { type: 'string', arg: 'DIR', help: 'where the report goes', dflt: 'soak-out' },
    plain: { type: 'boolean', help: "run the daemon without the systemd unit's memory settings (to compare)" },
  },
} as const satisfies CommandSpec;

const FLEET_OPTIONS = {
  config: CONFIG,
  url: { type: 'string', arg: 'URL', help: 'broker URL', dflt: "mqtt.url, else the embedded broker's address" },
  base: { type: 'string', arg: 'TOPIC', help: 'base topic', dflt: 'mqtt.base_topic' },
  device: { type: 'string', arg: 'ID', help: 'one device', dflt: 'all' },
  json: { type: 'boolean', help: 'one JSON object per device per change (jq-friendly)' },
  once: { type: 'boolean', help: 'print the first full table (every device has reported stats, or is offline) and exit' },
  timeout: { type: 'string', arg: 'S', help: 'with --once: stop waiting after S seconds, print what is known, exit 1', dflt: '120' },
} as const;

export const FLEET = {
  path: 'fleet',
  summary: 'every device on the broker, one live row each: online/offline, model, fps, p99, temperature, counts, last error',
  details:
    'Reads <base>/+/availability, <base>/+/info, <base>/+/stats and <base>/+/+/objects/+ (what every daemon\npublishes): a table redrawn in place on a terminal (coloured), or with --json one JSON object per device\nper change. Broker URL, credentials, TLS files and base topic come from mqtt.*.',
  options: FLEET_OPTIONS,
} as const satisfies CommandSpec;

export const STATS = {
  path: 'stats',
  summary: 'the same as fleet, under its former name (JSON lines when piped)',
  options: FLEET_OPTIONS,
} as const satisfies CommandSpec;

/** Commands that only group subcommands. */
export const GROUPS: Record<string, string> = {
  service: 'install or remove the systemd service',
  models: 'prepare, register, inspect and move models',
};

/** Every runnable command, in the order --help lists them. */
export const COMMAND_SPECS: readonly CommandSpec[] = [
  RUN,
  CHECK_CONFIG,
  DETECT,
  SEGMENT,
  SNAPSHOT,
  SERVICE_INSTALL,
  SERVICE_UNINSTALL,
  MODELS_FETCH,
  MODELS_CONVERT,
  MODELS_IMPORT,
  MODELS_IMPORT_BUNDLE,
  MODELS_EXPORT,
  MODELS_LIST,
  MODELS_INFO,
  MODELS_PREPARE,
  MODELS_EVAL,
  MODELS_BUILD_PREPARED,
  MODELS_QUANTIZE,
  BENCH,
  SOAK,
  FLEET,
  STATS,
];

/** Environment variables the program reads, for the top-level help and the docs. */
export const ENVIRONMENT: ReadonlyArray<[string, string]> = [
  ['EDGESIGHT_CONFIG=PATH', 'config file when --config is not given'],
  ['EDGESIGHT__<SECTION>__<KEY>=VALUE', 'override a config key, e.g. EDGESIGHT__MQTT__URL=mqtt://broker:1883'],
  ['EDGESIGHT_MODELS_MIRROR=DIR[:DIR]', 'local folders with model sources, searched before upstream URLs'],
  ['EDGESIGHT_OFFLINE=1', 'never download models'],
  ['CACHE_DIRECTORY, XDG_CACHE_HOME', 'where prepared models are cached when models.cache_dir is unset'],
  ['NOTIFY_SOCKET, WATCHDOG_USEC', 'set by systemd: readiness and watchdog notifications'],
];
