import { STAGES, STAGE_DEFINITIONS, type Stage } from './timing.js';

/**
 * The `<base>/<device>/stats` payload, version 2 (version 1 had no `seq`). Flat snake_case keys with the unit in the name so a
 * Home Assistant `value_template` is just `{{ value_json.end_to_end_ms_p99 }}`. `STATS_SCHEMA` below
 * is generated from the same lists and is the reference for every key (each has a description).
 */

/** Counters the daemon increments with `Metrics.inc`. */
export const COUNTERS = [
  'frames_captured',
  'frames_skipped',
  'frames_corrupt',
  'camera_restarts',
  'camera_stalls',
  'worker_restarts',
  'inference_errors',
  'mqtt_queue_drops',
  'mqtt_dropped_stream',
  'mqtt_dropped_event',
  'mqtt_dropped_latest',
  'mqtt_dropped_offline',
  'mqtt_dropped_backpressure',
  'mqtt_reconnects',
  'events_published',
  'commands_received',
  'commands_rejected',
  'commands_rate_limited',
  'images_withheld',
] as const;
export type CounterName = (typeof COUNTERS)[number];

/** Counters `Metrics.recordFrame` derives itself (so they cannot be double counted). */
export const DERIVED_COUNTERS = ['frames_processed', 'segmentations', 'timing_anomalies'] as const;
export type DerivedCounterName = (typeof DERIVED_COUNTERS)[number];
export type AnyCounterName = CounterName | DerivedCounterName;
export const ALL_COUNTERS: readonly AnyCounterName[] = [...COUNTERS, ...DERIVED_COUNTERS];

export const COUNTER_HELP: Readonly<Record<AnyCounterName, string>> = {
  frames_captured: 'frames delivered by the camera source',
  frames_skipped: 'frames dropped because the pipeline was busy (drop-if-busy)',
  frames_corrupt: 'frames the source or decoder rejected as corrupt',
  camera_restarts: 'camera source restarts',
  camera_stalls: 'camera stalls detected (no frame within the stall timeout)',
  worker_restarts: 'inference worker restarts',
  inference_errors: 'inference runs that failed',
  mqtt_queue_drops: 'messages dropped from the MQTT offline queue (all classes)',
  mqtt_dropped_stream: 'per-frame messages (detections, masks) dropped: offline queue full',
  mqtt_dropped_event: 'events dropped: event queue full during a long outage',
  mqtt_dropped_latest: 'retained-state topics dropped: more distinct topics queued than the queue keeps',
  mqtt_dropped_offline: 'unqueued messages (snapshots) not sent because the broker was unreachable',
  mqtt_dropped_backpressure: 'per-frame messages dropped because the broker was not acknowledging (in-flight window full)',
  events_published: 'object events handed to MQTT (published or queued)',
  commands_received: 'messages received on the command topics (snapshot/get, Home Assistant status)',
  commands_rejected: 'command messages refused as malformed or oversized',
  commands_rate_limited: 'command messages ignored over their rate limit',
  images_withheld: 'images not sent (snapshot topic, live view frames) because privacy is on and neither a fresh mask nor boxes could obscure them',
  mqtt_reconnects: 'MQTT reconnections',
  frames_processed: 'frames that went through inference and post-processing',
  segmentations: 'frames the segmenter ran on',
  timing_anomalies: 'stage durations not recorded because their stamps were out of order (a bug)',
};

export const PERCENTILES = ['p50', 'p90', 'p99', 'max'] as const;
type Pct = (typeof PERCENTILES)[number];

export const THROTTLE_FLAGS = [
  'under_voltage_now',
  'freq_capped_now',
  'throttled_now',
  'soft_temp_limit_now',
  'under_voltage_since_boot',
  'freq_capped_since_boot',
  'throttled_since_boot',
  'soft_temp_limit_since_boot',
] as const;
export type ThrottleFlag = (typeof THROTTLE_FLAGS)[number];

export type StageKeys = { [K in `${Stage}_ms_${Pct}`]: number | null } & { [K in `${Stage}_count`]: number };
export type CounterKeys = { [K in `${AnyCounterName}_total`]: number };
export type ThrottleKeys = { [K in ThrottleFlag]: boolean | null };

export type StatsPayload = {
  v: 2;
  device: string;
  /** ISO 8601 wall-clock time of the snapshot */
  ts: string;
  uptime_s: number;
  window_s: number;
  camera_fps: number;
  processed_fps: number;
  skipped_fps: number;
  event_loop_delay_ms_p50: number | null;
  event_loop_delay_ms_p99: number | null;
  event_loop_delay_ms_max: number | null;
  cpu_percent: number | null;
  rss_mb: number;
  heap_used_mb: number;
  soc_temp_c: number | null;
  throttled_raw: number | null;
  load_1: number | null;
  load_5: number | null;
  load_15: number | null;
  /** the most recent error the daemon reported (camera, inference, MQTT, publishing), null if none since start */
  last_error: string | null;
  /** ISO 8601 wall-clock time of last_error */
  last_error_at: string | null;
} & StageKeys &
  CounterKeys &
  ThrottleKeys;

type JsonSchemaProp = { type: string | string[]; description: string; minimum?: number; const?: number; pattern?: string; minLength?: number };

function buildSchema(): {
  $schema: string;
  $id: string;
  title: string;
  description: string;
  type: 'object';
  additionalProperties: false;
  required: string[];
  properties: Record<string, JsonSchemaProp>;
} {
  const props: Record<string, JsonSchemaProp> = {
    v: { type: 'integer', const: 2, description: 'payload version (2 since `seq` was added)' },
    seq: {
      type: 'integer',
      minimum: 1,
      description: 'per-topic counter, 1 for the first message after each start: a jump means messages were lost, a fall to 1 a restart',
    },
    device: { type: 'string', minLength: 1, description: 'device id (the <device> topic level)' },
    ts: {
      type: 'string',
      pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?Z$',
      description: 'wall-clock time of the snapshot, ISO 8601',
    },
    uptime_s: { type: 'number', minimum: 0, description: 'seconds since the metrics registry (daemon) started' },
    window_s: { type: 'number', minimum: 0, description: 'sliding window the rates and percentiles cover, seconds' },
    camera_fps: { type: 'number', minimum: 0, description: 'frames delivered by the camera per second over the window' },
    processed_fps: { type: 'number', minimum: 0, description: 'frames processed per second over the window' },
    skipped_fps: { type: 'number', minimum: 0, description: 'frames dropped as busy per second over the window' },
  };
  for (const s of STAGES) {
    for (const p of PERCENTILES) {
      props[`${s}_ms_${p}`] = {
        type: ['number', 'null'],
        minimum: 0,
        description: `${s} stage ${p} in ms over the window (null without samples): ${STAGE_DEFINITIONS[s]}`,
      };
    }
    props[`${s}_count`] = { type: 'integer', minimum: 0, description: `samples of the ${s} stage in the window` };
  }
  for (const c of ALL_COUNTERS) props[`${c}_total`] = { type: 'integer', minimum: 0, description: `${COUNTER_HELP[c]}, since start` };
  for (const p of ['p50', 'p99', 'max'] as const) {
    props[`event_loop_delay_ms_${p}`] = { type: ['number', 'null'], minimum: 0, description: `event-loop delay ${p} in ms over the window` };
  }
  props.cpu_percent = { type: ['number', 'null'], minimum: 0, description: 'process CPU over the window, % of one core (200 = two cores busy)' };
  props.rss_mb = { type: 'number', minimum: 0, description: 'resident set size, MiB' };
  props.heap_used_mb = { type: 'number', minimum: 0, description: 'V8 heap used, MiB' };
  props.soc_temp_c = { type: ['number', 'null'], description: 'SoC temperature, °C (null where /sys/class/thermal has none)' };
  props.throttled_raw = { type: ['integer', 'null'], minimum: 0, description: 'raw get_throttled bits (null off a Raspberry Pi)' };
  for (const f of THROTTLE_FLAGS) props[f] = { type: ['boolean', 'null'], description: `get_throttled flag ${f.replace(/_/g, ' ')}` };
  for (const l of ['1', '5', '15']) props[`load_${l}`] = { type: ['number', 'null'], minimum: 0, description: `${l}-minute load average` };
  props.last_error = {
    type: ['string', 'null'],
    description: 'the most recent error the daemon reported (camera, inference, MQTT, publishing), one line; null if none since start',
  };
  props.last_error_at = {
    type: ['string', 'null'],
    pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?Z$',
    description: 'wall-clock time of last_error, ISO 8601; null if none',
  };
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'urn:edgesight:mqtt:stats',
    title: '<base>/<device>/stats',
    description:
      'Periodic JSON (not retained, QoS 0), version 2. Flat snake_case keys, units in the names; percentiles and rates cover the last window_s seconds; *_total counters count since start. Generated from src/metrics/stats-schema.ts.',
    type: 'object',
    additionalProperties: false,
    // seq is stamped by the publisher (per topic), not part of the metrics snapshot itself
    required: Object.keys(props).filter((k) => k !== 'seq'),
    properties: props,
  };
}

export const STATS_SCHEMA = buildSchema();

/** `node dist/src/metrics/stats-schema.js` prints the schema (to refresh stats.schema.json). */
if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  process.stdout.write(JSON.stringify(STATS_SCHEMA, null, 2) + '\n');
}
