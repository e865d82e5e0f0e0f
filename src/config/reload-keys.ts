import type { JsonSchema } from './schema.js';

/**
 * How a running daemon takes a changed key over on SIGHUP, read from the schema (`requiresRestart`,
 * `reconnects`), so the schema is the one place that says it: `live` applies at once, `reconnect`
 * reconnects the MQTT client with it, `restart` keeps the running value and says a restart is needed.
 */
export type ReloadClass = 'live' | 'reconnect' | 'restart';

export interface ReloadKey {
  /** dotted path; a map (zones, lines, objects.filters) is one key */
  key: string;
  cls: ReloadClass;
}

/** Every key a config can change, as the reload compares them: leaves, and maps whole. */
export function reloadKeys(schema: JsonSchema): ReloadKey[] {
  const out: ReloadKey[] = [];
  const walk = (s: JsonSchema, prefix: string, restart: boolean): void => {
    const r = restart || s.requiresRestart === true;
    const props = Object.entries(s.properties ?? {});
    if (prefix && !props.length) {
      out.push({ key: prefix, cls: r ? 'restart' : s.reconnects === true ? 'reconnect' : 'live' });
      return;
    }
    for (const [k, sub] of props) walk(sub, prefix ? `${prefix}.${k}` : k, r);
  };
  walk(schema, '', false);
  return out;
}
