import { configSchema } from './load.js';
import type { JsonSchema } from './schema.js';
import type { Config } from './types.js';

/** A deep copy with every `secret: true` value (and credentials inside URLs) replaced by "***". */
export function redactConfig(cfg: Config): Record<string, unknown> {
  return walk(cfg, configSchema()) as Record<string, unknown>;
}

function walk(value: unknown, schema: JsonSchema | undefined): unknown {
  if (schema?.secret && value !== null && value !== undefined) return '***';
  if (typeof value === 'string') return redactUrlCredentials(value);
  if (Array.isArray(value)) return value.map((v) => walk(v, schema?.items));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const sub = schema?.properties?.[k] ?? (typeof schema?.additionalProperties === 'object' ? schema.additionalProperties : undefined);
      out[k] = walk(v, sub);
    }
    return out;
  }
  return value;
}

/**
 * `scheme://user:pass@host` → `scheme://***@host`. A password may hold an unescaped '/' or '@', so once
 * there is an '@' before the first '/', everything up to the last '@' goes (over-redacting is the safe side).
 */
export function redactUrlCredentials(s: string): string {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i.exec(s);
  if (!m) return s;
  return m[1] + '***@' + s.slice(s.lastIndexOf('@') + 1);
}
