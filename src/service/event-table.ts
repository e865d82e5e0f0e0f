import type { Logger } from '../logging/logger.js';
import type { SourceEvent } from '../capture/frame.js';
import type { EngineEvent } from '../inference/engine.js';
import type { PipelineEvent } from '../pipeline/pipeline.js';
import type { MessageClass } from '../mqtt/client.js';
import type { CounterName } from '../metrics/stats-schema.js';
import type { ServiceState } from '../systemd/sdnotify-status.js';

/**
 * Every event the daemon's parts report, by origin and kind. The MQTT ones are the connection
 * component's reading of the client's events (an error already described and told once per change).
 */
export type DaemonEvent =
  | ({ origin: 'camera' } & SourceEvent)
  | ({ origin: 'engine' } & EngineEvent)
  | ({ origin: 'pipeline' } & PipelineEvent)
  | { origin: 'mqtt'; type: 'connected'; reconnect: boolean; url: string }
  | { origin: 'mqtt'; type: 'lost'; url: string }
  | { origin: 'mqtt'; type: 'error'; text: string; err: string; url: string }
  | { origin: 'mqtt'; type: 'drop'; cls: MessageClass | 'backpressure' };

export type EventKey = DaemonEvent extends infer E
  ? E extends { origin: infer O extends string; type: infer T extends string }
    ? `${O}:${T}`
    : never
  : never;
type EventOf<K extends EventKey> = Extract<
  DaemonEvent,
  { origin: K extends `${infer O}:${string}` ? O : never; type: K extends `${string}:${infer T}` ? T : never }
>;

type Level = 'debug' | 'info' | 'warn' | 'error';

/** What one kind of event does: counters, a log line, the last error in stats, the service state. */
export interface EventRule<E> {
  count?: readonly CounterName[] | ((ev: E) => readonly CounterName[]);
  log?: { level: Level; msg: string; fields?: (ev: E) => Record<string, unknown>; when?: (ev: E) => boolean };
  /**
   * Repeats (every frame, every retry) are logged once per 10 s under this key, the next line saying how
   * many were left out.
   */
  throttle?: string;
  /** the text recorded as the last error (stats, /api/status) */
  error?: (ev: E) => string;
  /** the service state this event leads to, given the current one; undefined = unchanged */
  health?: (ev: E, now: ServiceState) => { state: ServiceState; detail?: string } | undefined;
  /** ignored while the daemon stops: runs cut short by the stop are not failures */
  ignoreWhileStopping?: boolean;
}

const DROP_COUNTERS = {
  stream: 'mqtt_dropped_stream',
  event: 'mqtt_dropped_event',
  latest: 'mqtt_dropped_latest',
  none: 'mqtt_dropped_offline',
  backpressure: 'mqtt_dropped_backpressure',
} as const satisfies Record<MessageClass | 'backpressure', CounterName>;

/**
 * The one table. Its type lists every kind of every origin: a new event kind without a rule here does
 * not compile (the exhaustiveness check), and neither does a rule for a kind that does not exist.
 */
export const EVENT_TABLE: { readonly [K in EventKey]: EventRule<EventOf<K>> } = {
  'pipeline:captured': { count: ['frames_captured'] },
  'pipeline:skipped': { count: ['frames_skipped'] },
  'pipeline:corrupt': {
    count: ['frames_corrupt'],
    log: { level: 'warn', msg: 'corrupt frame skipped', fields: (ev) => ({ reason: ev.reason }) },
    throttle: 'corrupt',
    error: (ev) => `corrupt frame: ${ev.reason}`,
  },
  'pipeline:inference-error': {
    count: ['inference_errors'],
    error: (ev) => `inference failed: ${ev.reason}`,
    log: { level: 'error', msg: 'inference failed for a frame', fields: (ev) => ({ reason: ev.reason }) },
    throttle: 'inference',
    ignoreWhileStopping: true,
  },
  'camera:restart': {
    count: ['camera_restarts'],
    error: (ev) => `camera restart: ${ev.reason}`,
    log: { level: 'warn', msg: 'camera restart', fields: (ev) => ({ reason: ev.reason, attempt: ev.attempt, delay_ms: ev.delayMs }) },
  },
  'camera:stall': {
    count: ['camera_stalls'],
    error: (ev) => `camera stalled: no frame for ${ev.afterMs} ms`,
    log: { level: 'warn', msg: 'camera stalled', fields: (ev) => ({ after_ms: ev.afterMs }) },
  },
  // a frame the camera delivered but nobody can use: captured and corrupt, so the counts reconcile
  'camera:corrupt': {
    count: ['frames_captured', 'frames_corrupt'],
    log: { level: 'warn', msg: 'corrupt frame from camera', fields: (ev) => ({ reason: ev.reason }) },
    throttle: 'camera-corrupt',
  },
  'camera:missing': { health: () => ({ state: 'degraded', detail: 'camera not found, retrying' }) },
  'camera:started': {
    log: { level: 'info', msg: 'camera started', fields: (ev) => ({ detail: ev.detail }) },
    health: (_ev, now) => (now === 'degraded' ? { state: 'running' } : undefined),
  },
  'camera:stderr': { log: { level: 'debug', msg: 'camera stderr', fields: (ev) => ({ line: ev.line }) } },
  'engine:restart': {
    count: ['worker_restarts'],
    error: (ev) => `inference worker restarting: ${ev.reason}`,
    log: { level: 'error', msg: 'inference worker restarting', fields: (ev) => ({ attempt: ev.attempt, delay_ms: ev.delayMs, reason: ev.reason }) },
  },
  'engine:stall': { log: { level: 'error', msg: 'inference stalled: restarting the worker', fields: (ev) => ({ after_ms: ev.afterMs }) } },
  'engine:crash': { log: { level: 'error', msg: 'inference worker crashed', fields: (ev) => ({ reason: ev.message }) } },
  'engine:ready': {
    log: {
      level: 'info',
      msg: 'inference worker back',
      fields: (ev) => ({ restart: ev.restart, cpus_allowed_list: ev.affinity.allowed }),
      when: (ev) => ev.restart > 0,
    },
  },
  // counted by the pipeline as inference-error, with the frame it belongs to
  'engine:run-error': {},
  'engine:abandoned': { log: { level: 'debug', msg: 'a stalled inference thread is still inside ONNX Runtime', fields: (ev) => ({ tid: ev.tid }) } },
  'mqtt:connected': {
    count: (ev) => (ev.reconnect ? ['mqtt_reconnects'] : []),
    log: { level: 'info', msg: 'connected to MQTT broker', fields: (ev) => ({ url: ev.url, reconnect: ev.reconnect }) },
  },
  'mqtt:lost': {
    log: { level: 'warn', msg: 'MQTT connection lost; retrying with backoff', fields: (ev) => ({ url: ev.url }) },
    ignoreWhileStopping: true,
  },
  'mqtt:error': { error: (ev) => ev.text, log: { level: 'error', msg: '', fields: (ev) => ({ url: ev.url, err: ev.err }) } },
  'mqtt:drop': { count: (ev) => (ev.cls === 'backpressure' ? [DROP_COUNTERS[ev.cls]] : ['mqtt_queue_drops', DROP_COUNTERS[ev.cls]]) },
};

export interface EventSinks {
  log: Logger;
  inc: (c: CounterName) => void;
  noteError: (text: string) => void;
  state: () => ServiceState;
  setState: (state: ServiceState, detail?: string) => void;
  stopping: () => boolean;
}

/** Routes events through EVENT_TABLE; keeps the per-key throttle of repeated log lines. */
export class EventRouter {
  private readonly throttled = new Map<string, { last: number; suppressed: number }>();

  constructor(
    private readonly sinks: EventSinks,
    private readonly now: () => number = Date.now,
  ) {}

  route(ev: DaemonEvent): void {
    const rule = EVENT_TABLE[`${ev.origin}:${ev.type}` as EventKey] as EventRule<DaemonEvent>;
    if (rule.ignoreWhileStopping && this.sinks.stopping()) return;
    const counters = typeof rule.count === 'function' ? rule.count(ev) : (rule.count ?? []);
    for (const c of counters) this.sinks.inc(c);
    if (rule.error) this.sinks.noteError(rule.error(ev));
    const l = rule.log;
    if (l && (!l.when || l.when(ev))) {
      // an MQTT error's message is its description (which names the fix)
      const msg = ev.origin === 'mqtt' && ev.type === 'error' ? ev.text : l.msg;
      this.throttle(rule.throttle, (n) => this.sinks.log[l.level]({ ...(l.fields?.(ev) ?? {}), ...(n ? { similar_since_last: n } : {}) }, msg));
    }
    const h = rule.health?.(ev, this.sinks.state());
    if (h) this.sinks.setState(h.state, h.detail);
  }

  /** Logs now, or counts the line when one under the same key went out less than 10 s ago. */
  throttle(key: string | undefined, log: (suppressed: number) => void): void {
    if (key === undefined) return log(0);
    const now = this.now();
    const st = this.throttled.get(key);
    if (st && now - st.last < 10_000) {
      st.suppressed++;
      return;
    }
    log(st?.suppressed ?? 0);
    this.throttled.set(key, { last: now, suppressed: 0 });
  }
}
