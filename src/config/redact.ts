import { configSchema } from './load.js';
import type { JsonSchema } from './schema.js';
import type { Config } from './types.js';

/** A deep copy with every `secret: true` value (and credentials inside URLs) replaced by "***". */
export function redactConfig(cfg: Config): Record<string, unknown> {
  return walk(cfg, configSchema()) as Record<string, unknown>;
}

function walk(value: unknown, schema: JsonSchema | undefined): unknown {
  if (schema?.secret && value !== null && value !== undefined) return '***';
  if (typeof value === 'string') return value.replace(/(\w+:\/\/)[^@/\s]*:[^@/\s]*@/, '$1***@');
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
