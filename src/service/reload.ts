import type { Config } from '../config/types.js';

/**
 * Which config keys a running daemon can take over on SIGHUP. Everything else (camera, models,
 * inference, topics, metrics endpoint, device) is wired into processes, sockets and threads at start,
 * so a change there is reported as needing a restart and the running value is kept. mqtt.qos is one of
 * them: the publisher's queues are built with it.
 */
const LIVE_PREFIXES = [
  'detection.',
  'objects.',
  'tracking.',
  'zones',
  'lines',
  'privacy.',
  'segmentation.every',
  'masks.',
  'mqtt.detections.',
  'mqtt.snapshot.',
  'mqtt.events.',
  'logging.level',
  'logging.publish_frames',
];

/**
 * MQTT connection settings: applied by reconnecting with the new ones (a rotated password, a moved
 * broker, renewed certificates) — the pipeline keeps running and the outgoing queue is kept. Not when the
 * embedded broker is involved on either side: starting or stopping it needs a restart.
 */
const RECONNECT_KEYS = [
  'mqtt.url',
  'mqtt.client_id',
  'mqtt.username',
  'mqtt.password',
  'mqtt.password_file',
  'mqtt.ca',
  'mqtt.cert',
  'mqtt.key',
  'mqtt.reject_unauthorized',
  'mqtt.protocol_version',
  'mqtt.keepalive_s',
  'mqtt.reconnect_max_s',
];

export interface ReloadPlan {
  merged: Config;
  applied: string[];
  needsRestart: string[];
  /** connection keys among `applied`: the MQTT client must reconnect with the merged settings */
  reconnect: string[];
}

export interface RunningState {
  /** false when the daemon started without a segmenter: turning segmentation on needs one loaded (a restart) */
  segmenterLoaded: boolean;
}

export function planReload(current: Config, next: Config, running: RunningState = { segmenterLoaded: true }): ReloadPlan {
  const applied: string[] = [];
  const needsRestart: string[] = [];
  const reconnect: string[] = [];
  const merged = structuredClone(current);
  const embedded = !current.mqtt.url || !next.mqtt.url;
  for (const key of changedLeaves(current, next)) {
    const needsModel = key === 'segmentation.every' && !running.segmenterLoaded && next.segmentation.every > 0;
    const live = !needsModel && LIVE_PREFIXES.some((p) => key === p || key.startsWith(p));
    const conn = !embedded && RECONNECT_KEYS.includes(key);
    if (conn) reconnect.push(key);
    if (live || conn) {
      setPath(merged as unknown as Record<string, unknown>, key.split('.'), getPath(next as unknown as Record<string, unknown>, key.split('.')));
      applied.push(key);
    } else {
      needsRestart.push(key);
    }
  }
  return { merged, applied, needsRestart, reconnect };
}

function changedLeaves(a: unknown, b: unknown, prefix = ''): string[] {
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (isObj(a) && isObj(b) && !(prefix === 'objects.filters' || prefix === 'zones' || prefix === 'lines')) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].flatMap((k) => changedLeaves(a[k], b[k], prefix ? `${prefix}.${k}` : k));
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [prefix];
}

function getPath(o: Record<string, unknown>, p: string[]): unknown {
  return p.reduce<unknown>((n, k) => (n as Record<string, unknown> | undefined)?.[k], o);
}

function setPath(o: Record<string, unknown>, p: string[], v: unknown): void {
  let n = o;
  for (const k of p.slice(0, -1)) n = (n[k] ??= {}) as Record<string, unknown>;
  const last = p[p.length - 1]!;
  if (v === undefined) delete n[last];
  else n[last] = structuredClone(v);
}
