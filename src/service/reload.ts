import type { Config } from '../config/types.js';

/**
 * Which config keys a running daemon can take over on SIGHUP. Everything else (camera, models,
 * inference, MQTT connection, metrics endpoint, device) is wired into processes, sockets and threads
 * at start, so a change there is reported as needing a restart and the running value is kept.
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
  'mqtt.qos.',
  'logging.level',
  'logging.publish_frames',
];

export interface ReloadPlan {
  merged: Config;
  applied: string[];
  needsRestart: string[];
}

export function planReload(current: Config, next: Config): ReloadPlan {
  const applied: string[] = [];
  const needsRestart: string[] = [];
  const merged = structuredClone(current);
  for (const key of changedLeaves(current, next)) {
    if (LIVE_PREFIXES.some((p) => key === p || key.startsWith(p))) {
      setPath(merged as unknown as Record<string, unknown>, key.split('.'), getPath(next as unknown as Record<string, unknown>, key.split('.')));
      applied.push(key);
    } else {
      needsRestart.push(key);
    }
  }
  return { merged, applied, needsRestart };
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
