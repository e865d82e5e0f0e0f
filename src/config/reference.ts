import { configSchema } from './load.js';
import type { JsonSchema } from './schema.js';
import { reloadKeys, type ReloadClass } from './reload-keys.js';

/**
 * The configuration reference (docs/configuration.md), rendered from the schema so the two cannot drift apart
 * (a test compares the block in docs/configuration.md with this output).
 */
export function renderConfigReference(): string {
  const rows: string[] = ['| key | type | default | on SIGHUP | description |', '|---|---|---|---|---|'];
  const schema = configSchema();
  walk(schema, '', rows, false, new Map(reloadKeys(schema).map((k) => [k.key, k.cls])));
  return rows.join('\n');
}

function typeOf(s: JsonSchema): string {
  if (s.enum) return s.enum.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(' \\| ');
  const t = Array.isArray(s.type) ? s.type.join(' \\| ') : (s.type ?? '');
  const range: string[] = [];
  if (s.minimum !== undefined) range.push(`≥ ${s.minimum}`);
  if (s.exclusiveMinimum !== undefined) range.push(`> ${s.exclusiveMinimum}`);
  if (s.maximum !== undefined) range.push(`≤ ${s.maximum}`);
  if (typeof s.multipleOf === 'number') range.push(`×${s.multipleOf}`);
  return range.length ? `${t} (${range.join(', ')})` : t;
}

function fmtDefault(s: JsonSchema): string {
  if (s.default === undefined) return '';
  if (s.type === 'object' && typeof s.default === 'object' && s.default !== null && !Object.keys(s.default).length) return '';
  const v = JSON.stringify(s.default);
  return '`' + v.replace(/\|/g, '\\|') + '`';
}

function walk(s: JsonSchema, prefix: string, rows: string[], restart: boolean, reload: ReadonlyMap<string, ReloadClass>, mapKey?: string): void {
  // what a SIGHUP does with a changed key: the reload plan's own reading of the schema; a map's entries change with the map
  const onReload = (key: string): string => reload.get(mapKey ?? key) ?? '';
  for (const [k, sub] of Object.entries(s.properties ?? {})) {
    const key = prefix ? `${prefix}.${k}` : k;
    const r = restart || sub.requiresRestart === true;
    if (sub.type === 'object' && sub.properties && Object.keys(sub.properties).length) {
      rows.push(`| **\`${key}\`** | section | | ${r ? 'restart' : ''} | ${sub.description ?? ''} |`);
      walk(sub, key, rows, r, reload, mapKey);
    } else if (sub.type === 'object' && typeof sub.additionalProperties === 'object') {
      // a map changes as a whole on reload: its entries' keys are not compared one by one
      rows.push(`| \`${key}\` | map | | ${onReload(key)} | ${sub.description ?? ''} |`);
      walk(sub.additionalProperties, `${key}.<name>`, rows, r, reload, mapKey ?? key);
    } else {
      const desc = (sub.description ?? '').replace(/\|/g, '\\|') + (sub.secret ? ' (secret: redacted when printed or published)' : '');
      rows.push(`| \`${key}\` | ${typeOf(sub)} | ${fmtDefault(sub)} | ${onReload(key)} | ${desc} |`);
    }
  }
}
