import { configSchema } from './load.js';
import type { JsonSchema } from './schema.js';

/**
 * The configuration reference (docs/configuration.md), rendered from the schema so the two cannot drift apart
 * (a test compares the block in docs/configuration.md with this output).
 */
export function renderConfigReference(): string {
  const rows: string[] = ['| key | type | default | description |', '|---|---|---|---|'];
  walk(configSchema(), '', rows);
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

function walk(s: JsonSchema, prefix: string, rows: string[]): void {
  for (const [k, sub] of Object.entries(s.properties ?? {})) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (sub.type === 'object' && sub.properties && Object.keys(sub.properties).length) {
      rows.push(`| **\`${key}\`** | section | | ${sub.description ?? ''} |`);
      walk(sub, key, rows);
    } else if (sub.type === 'object' && typeof sub.additionalProperties === 'object') {
      rows.push(`| \`${key}\` | map | | ${sub.description ?? ''} |`);
      walk(sub.additionalProperties, `${key}.<name>`, rows);
    } else {
      const desc = (sub.description ?? '').replace(/\|/g, '\\|') + (sub.secret ? ' (secret: redacted when printed or published)' : '');
      rows.push(`| \`${key}\` | ${typeOf(sub)} | ${fmtDefault(sub)} | ${desc} |`);
    }
  }
}
