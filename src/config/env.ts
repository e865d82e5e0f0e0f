import type { JsonSchema } from './schema.js';
import type { ConfigProblem } from './errors.js';

/** `EDGESIGHT__MQTT__URL` → ['mqtt','url']. Single-underscore names (EDGESIGHT_CONFIG, …) are reserved settings. */
export const ENV_PREFIX = 'EDGESIGHT__';

export interface EnvOverride {
  name: string;
  path: string[];
  value: unknown;
}

export function schemaAt(schema: JsonSchema, path: string[]): JsonSchema | undefined {
  let node: JsonSchema | undefined = schema;
  for (const seg of path) {
    if (!node) return undefined;
    if (node.properties && seg in node.properties) node = node.properties[seg];
    else if (node.additionalProperties && typeof node.additionalProperties === 'object') node = node.additionalProperties;
    else return undefined;
  }
  return node;
}

function types(s: JsonSchema): string[] {
  return s.type === undefined ? [] : Array.isArray(s.type) ? s.type : [s.type];
}

/** Convert an env string by the schema's type; values that do not convert stay strings so validation names them. */
export function convertEnvValue(raw: string, s: JsonSchema): unknown {
  const t = types(s);
  if (t.includes('null') && (raw === '' || raw.toLowerCase() === 'null')) return null;
  if (t.includes('boolean')) {
    const v = raw.trim().toLowerCase();
    if (['true', '1', 'yes', 'on'].includes(v)) return true;
    if (['false', '0', 'no', 'off'].includes(v)) return false;
  }
  if (t.includes('integer') || t.includes('number')) {
    const n = Number(raw);
    if (raw.trim() !== '' && Number.isFinite(n)) return n;
  }
  if (t.includes('array')) {
    const v = raw.trim();
    if (v.startsWith('[')) {
      try {
        return JSON.parse(v) as unknown;
      } catch {
        return raw;
      }
    }
    return v === '' ? [] : v.split(',').map((x) => x.trim());
  }
  if (t.includes('object') && raw.trim().startsWith('{')) {
    try {
      return JSON.parse(raw) as unknown;
    } catch {
      return raw;
    }
  }
  return raw;
}

export function collectEnvOverrides(env: NodeJS.ProcessEnv, schema: JsonSchema, problems: ConfigProblem[]): EnvOverride[] {
  const out: EnvOverride[] = [];
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || raw === undefined) continue;
    const path = name
      .slice(ENV_PREFIX.length)
      .split('__')
      .map((s) => s.toLowerCase());
    const s = schemaAt(schema, path);
    if (!s || path.some((p) => p === '')) {
      problems.push({ path: path.join('.'), source: `env ${name}`, message: 'unknown config key' });
      continue;
    }
    out.push({ name, path, value: convertEnvValue(raw, s) });
  }
  return out;
}

export function applyOverrides(target: Record<string, unknown>, overrides: EnvOverride[]): void {
  for (const o of overrides) {
    let node: Record<string, unknown> = target;
    for (const seg of o.path.slice(0, -1)) {
      const next = node[seg];
      if (typeof next !== 'object' || next === null || Array.isArray(next)) node[seg] = {};
      node = node[seg] as Record<string, unknown>;
    }
    node[o.path[o.path.length - 1]!] = o.value;
  }
}
