/**
 * A strict parser for the Prometheus text exposition format 0.0.4, written for the tests so the
 * exporter's output is checked by something independent of prom-client. It throws on anything the
 * format does not allow (with the line number), and checks the structural rules a scraper relies on:
 * TYPE before samples, one TYPE/HELP per family, contiguous families, unique series, counters ≥ 0,
 * histogram buckets cumulative with +Inf equal to _count and a _sum.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
  timestamp?: number;
}

export interface Family {
  name: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  help?: string;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** Prometheus parses values with Go's strconv.ParseFloat: NaN/Inf/Infinity in any case (prom-client writes `Nan`). */
const VALUE = /^(?:[+-]?(?:inf|infinity)|nan|[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)$/i;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

export class PromParseError extends Error {}

export function parsePrometheusText(text: string): Map<string, Family> {
  if (text.length > 0 && !text.endsWith('\n')) throw new PromParseError('exposition must end with a newline');
  const families = new Map<string, Family>();
  const closed = new Set<string>();
  const series = new Set<string>();
  let current: string | undefined;
  const lines = text.split('\n');
  lines.pop();

  const familyFor = (sampleName: string): string => {
    for (const suffix of ['_bucket', '_sum', '_count']) {
      if (sampleName.endsWith(suffix)) {
        const base = sampleName.slice(0, -suffix.length);
        const f = families.get(base);
        if (f && (f.type === 'histogram' || (f.type === 'summary' && suffix !== '_bucket'))) return base;
      }
    }
    return sampleName;
  };
  const enter = (name: string, ln: number): Family => {
    if (current !== name) {
      if (closed.has(name)) throw new PromParseError(`line ${ln}: samples of ${name} are not contiguous`);
      if (current !== undefined) closed.add(current);
      current = name;
    }
    let f = families.get(name);
    if (!f) {
      f = { name, type: 'untyped', samples: [] };
      families.set(name, f);
    }
    return f;
  };

  lines.forEach((line, i) => {
    const ln = i + 1;
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const m = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s+(.*))?$/.exec(line);
      if (!m) {
        if (/^#\s*(HELP|TYPE)\b/.test(line)) throw new PromParseError(`line ${ln}: malformed ${line}`);
        return; // a plain comment
      }
      const [, kw, name, rest] = m as unknown as [string, string, string, string | undefined];
      if (!NAME.test(name)) throw new PromParseError(`line ${ln}: invalid metric name ${JSON.stringify(name)}`);
      const f = enter(name, ln);
      if (kw === 'TYPE') {
        if (!rest || !TYPES.has(rest)) throw new PromParseError(`line ${ln}: invalid type ${JSON.stringify(rest)}`);
        if (f.samples.length) throw new PromParseError(`line ${ln}: TYPE for ${name} after its samples`);
        if ((f as Family & { typed?: boolean }).typed) throw new PromParseError(`line ${ln}: second TYPE for ${name}`);
        (f as Family & { typed?: boolean }).typed = true;
        f.type = rest as Family['type'];
      } else {
        if (f.help !== undefined) throw new PromParseError(`line ${ln}: second HELP for ${name}`);
        f.help = unescapeText(rest ?? '', false, ln);
      }
      return;
    }
    const s = parseSample(line, ln);
    const f = enter(familyFor(s.name), ln);
    const key = s.name + JSON.stringify(Object.entries(s.labels).sort());
    if (series.has(key)) throw new PromParseError(`line ${ln}: duplicate series ${key}`);
    series.add(key);
    if (f.type === 'counter' && !(s.value >= 0)) throw new PromParseError(`line ${ln}: counter ${s.name} is ${s.value}`);
    if (f.type === 'counter' && s.name !== f.name) throw new PromParseError(`line ${ln}: sample ${s.name} in counter family ${f.name}`);
    f.samples.push(s);
  });

  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f);
  for (const f of families.values()) delete (f as Family & { typed?: boolean }).typed;
  return families;
}

function parseSample(line: string, ln: number): Sample {
  let i = 0;
  while (i < line.length && /[a-zA-Z0-9_:]/.test(line[i]!)) i++;
  const name = line.slice(0, i);
  if (!NAME.test(name)) throw new PromParseError(`line ${ln}: invalid metric name in ${JSON.stringify(line)}`);
  const labels: Record<string, string> = {};
  if (line[i] === '{') {
    i++;
    for (;;) {
      if (line[i] === '}') {
        i++;
        break;
      }
      let j = i;
      while (j < line.length && /[a-zA-Z0-9_]/.test(line[j]!)) j++;
      const label = line.slice(i, j);
      if (!LABEL.test(label)) throw new PromParseError(`line ${ln}: invalid label name at column ${i + 1}`);
      if (line[j] !== '=' || line[j + 1] !== '"') throw new PromParseError(`line ${ln}: expected ="…" after label ${label}`);
      j += 2;
      let raw = '';
      for (;;) {
        const c = line[j];
        if (c === undefined) throw new PromParseError(`line ${ln}: unterminated label value for ${label}`);
        if (c === '"') break;
        if (c === '\\') {
          raw += c + (line[j + 1] ?? '');
          j += 2;
          continue;
        }
        raw += c;
        j++;
      }
      if (label in labels) throw new PromParseError(`line ${ln}: duplicate label ${label}`);
      labels[label] = unescapeText(raw, true, ln);
      i = j + 1;
      if (line[i] === ',') i++;
      else if (line[i] !== '}') throw new PromParseError(`line ${ln}: expected , or } after label ${label}`);
    }
  }
  const rest = line.slice(i);
  const m = /^[ \t]+(\S+)(?:[ \t]+(-?\d+))?$/.exec(rest);
  if (!m) throw new PromParseError(`line ${ln}: expected " <value> [timestamp]" after ${name}, got ${JSON.stringify(rest)}`);
  if (!VALUE.test(m[1]!)) throw new PromParseError(`line ${ln}: invalid value ${JSON.stringify(m[1])}`);
  const v = m[1]!;
  const value = /inf/i.test(v) ? (v.startsWith('-') ? -Infinity : Infinity) : /nan/i.test(v) ? NaN : Number(v);
  return m[2] === undefined ? { name, labels, value } : { name, labels, value, timestamp: Number(m[2]) };
}

function unescapeText(s: string, quoted: boolean, ln: number): string {
  return s.replace(/\\(.?)/g, (_, c: string) => {
    if (c === '\\') return '\\';
    if (c === 'n') return '\n';
    if (c === '"' && quoted) return '"';
    throw new PromParseError(`line ${ln}: invalid escape \\${c}`);
  });
}

function checkHistogram(f: Family): void {
  const groups = new Map<string, { buckets: [number, number][]; sum?: number; count?: number }>();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    const g = groups.get(key) ?? { buckets: [] };
    groups.set(key, g);
    if (s.name === `${f.name}_bucket`) {
      if (le === undefined) throw new PromParseError(`${f.name}_bucket without le`);
      const bound = le === '+Inf' ? Infinity : Number(le);
      if (Number.isNaN(bound)) throw new PromParseError(`${f.name}: le ${JSON.stringify(le)} is not a number`);
      g.buckets.push([bound, s.value]);
    } else if (s.name === `${f.name}_sum`) g.sum = s.value;
    else if (s.name === `${f.name}_count`) g.count = s.value;
    else throw new PromParseError(`sample ${s.name} in histogram ${f.name}`);
  }
  for (const [key, g] of groups) {
    g.buckets.sort((a, b) => a[0] - b[0]);
    for (let k = 1; k < g.buckets.length; k++) {
      if (g.buckets[k]![1] < g.buckets[k - 1]![1]) throw new PromParseError(`${f.name}${key}: buckets not cumulative at le=${g.buckets[k]![0]}`);
    }
    const inf = g.buckets.at(-1);
    if (!inf || inf[0] !== Infinity) throw new PromParseError(`${f.name}${key}: no +Inf bucket`);
    if (g.count === undefined || g.sum === undefined) throw new PromParseError(`${f.name}${key}: missing _count or _sum`);
    if (inf[1] !== g.count) throw new PromParseError(`${f.name}${key}: +Inf bucket ${inf[1]} ≠ _count ${g.count}`);
  }
}

/** The value of one series, or undefined. */
export function sampleValue(families: Map<string, Family>, sampleName: string, labels: Record<string, string> = {}): number | undefined {
  for (const f of families.values()) {
    for (const s of f.samples) {
      if (s.name !== sampleName) continue;
      const keys = Object.keys(labels);
      if (keys.length === Object.keys(s.labels).length && keys.every((k) => s.labels[k] === labels[k])) return s.value;
    }
  }
  return undefined;
}
