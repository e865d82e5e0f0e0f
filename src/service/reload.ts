import type { Config } from '../config/types.js';
import { configSchema } from '../config/load.js';
import { reloadKeys, type ReloadClass } from '../config/reload-keys.js';

/**
 * What a SIGHUP can take over is read from the config schema (`requiresRestart`, `reconnects`): keys
 * wired into processes, sockets, threads and topics at start (camera, models, inference, topics, the
 * metrics endpoint, device, mqtt.qos) keep their running value and are reported as needing a restart.
 * Connection settings are applied by reconnecting (a rotated password, a moved broker, renewed
 * certificates), except when the embedded broker is involved on either side: starting or stopping it
 * needs a restart.
 */
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

let classes: Map<string, ReloadClass> | undefined;
/** The reload class of each key the schema has, by dotted path. */
export function reloadClasses(): ReadonlyMap<string, ReloadClass> {
  classes ??= new Map(reloadKeys(configSchema()).map((k) => [k.key, k.cls]));
  return classes;
}

export function planReload(current: Config, next: Config, running: RunningState = { segmenterLoaded: true }): ReloadPlan {
  const applied: string[] = [];
  const needsRestart: string[] = [];
  const reconnect: string[] = [];
  const merged = structuredClone(current);
  const embedded = !current.mqtt.url || !next.mqtt.url;
  const cur = current as unknown as Record<string, unknown>;
  const nxt = next as unknown as Record<string, unknown>;
  for (const [key, cls] of reloadClasses()) {
    const p = key.split('.');
    if (JSON.stringify(getPath(cur, p)) === JSON.stringify(getPath(nxt, p))) continue;
    // a schedule for a model that is not loaded cannot start without loading it
    const needsModel = key === 'segmentation.every' && !running.segmenterLoaded && next.segmentation.every > 0;
    const live = cls === 'live' && !needsModel;
    const conn = cls === 'reconnect' && !embedded;
    if (conn) reconnect.push(key);
    if (live || conn) {
      setPath(merged as unknown as Record<string, unknown>, p, getPath(nxt, p));
      applied.push(key);
    } else {
      needsRestart.push(key);
    }
  }
  return { merged, applied, needsRestart, reconnect };
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
