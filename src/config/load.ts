import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { LineCounter, parseDocument, isMap, isScalar, isSeq, type Document, type Node as YamlNode } from 'yaml';
import { buildSchema, type JsonSchema } from './schema.js';
import { ConfigError, type ConfigProblem } from './errors.js';
import { applyOverrides, collectEnvOverrides, type EnvOverride } from './env.js';
import type { Config, LoadedConfig } from './types.js';
import { crossFieldProblems } from './cross-checks.js';
import type { ModelVocabulary } from './label-checks.js';
import { libcameraOptionsSchema, ffmpegOptionsSchema } from '../capture/config.js';

let cachedSchema: JsonSchema | undefined;
export function configSchema(): JsonSchema {
  cachedSchema ??= buildSchema({ libcamera: libcameraOptionsSchema as unknown as JsonSchema, ffmpeg: ffmpegOptionsSchema as unknown as JsonSchema });
  return cachedSchema;
}

let cachedValidate: ReturnType<Ajv['compile']> | undefined;
function validator(): ReturnType<Ajv['compile']> {
  if (!cachedValidate) {
    // strict: an unknown keyword in the schema is an error, not a silently ignored rule (numbers keep the range message for .inf)
    const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true, strictNumbers: false, allowUnionTypes: true, verbose: true });
    for (const keyword of ['secret', 'requiresRestart', 'reconnects']) ajv.addKeyword({ keyword, schemaType: 'boolean' });
    cachedValidate = ajv.compile(configSchema());
  }
  return cachedValidate;
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  hostname?: string;
  /**
   * The configured models' label lists, for the label cross-checks. Given by the caller (the CLI gives
   * the models layer's resolver) because the config layer does not read models; absent = not checked.
   */
  vocabulary?: (config: Config, dir: string, env: NodeJS.ProcessEnv) => ModelVocabulary;
}

/** Resolve which file to load: --config, then EDGESIGHT_CONFIG, then none (defaults + env only). */
export function resolveConfigPath(cliPath: string | undefined, env: NodeJS.ProcessEnv = process.env): string | null {
  return cliPath ?? env.EDGESIGHT_CONFIG ?? null;
}

export function loadConfigFile(file: string | null, opts: LoadOptions = {}): LoadedConfig {
  if (file === null) return parseConfigText('', null, opts);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ConfigError(file, [{ path: '', message: `cannot read the config file (${code ?? String(e)})` }]);
  }
  return parseConfigText(text, file, opts);
}

export function parseConfigText(text: string, file: string | null, opts: LoadOptions = {}): LoadedConfig {
  const env = opts.env ?? process.env;
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const problems: ConfigProblem[] = [];
  for (const err of doc.errors) {
    const at = pathAt(doc, err.pos[0]);
    const line = lc.linePos(err.pos[0]).line;
    if (err.code === 'MULTIPLE_DOCS') {
      problems.push({ path: '', line, message: 'the config must be one YAML document; found another after a `---` line' });
    } else if (err.code === 'DUPLICATE_KEY' && at.length) {
      const first = keyNode(doc, at.slice(0, -1), at[at.length - 1]!);
      const firstLine = first?.range ? lc.linePos(first.range[0]).line : undefined;
      problems.push({
        path: at.join('.'),
        line,
        message: `duplicate key '${at[at.length - 1]}'${firstLine && firstLine !== line ? ` (first set on line ${firstLine})` : ''}`,
      });
    } else {
      // a broken document parses into guesses below the section, so only the section is named
      problems.push({ path: at.slice(0, 1).join('.'), line, message: `YAML syntax: ${err.message.split('\n')[0]}` });
    }
  }
  if (problems.length) throw new ConfigError(file, problems);

  const raw: unknown = doc.toJS() ?? {};
  if (typeof raw !== 'object' || Array.isArray(raw) || raw === null) {
    throw new ConfigError(file, [{ path: '', line: 1, message: 'the config must be a mapping of sections (device:, camera:, …)' }]);
  }
  const data = raw as Record<string, unknown>;
  dropEmptySections(data, configSchema());
  const overrides = collectEnvOverrides(env, configSchema(), problems);
  applyOverrides(data, overrides);

  const validate = validator();
  if (!validate(data)) {
    for (const e of validate.errors ?? []) {
      // a bad map key is reported by its own error; the propertyNames wrapper only repeats the whole map
      if (e.keyword !== 'propertyNames') problems.push(describe(e, doc, lc, overrides));
    }
  }
  if (problems.length) throw new ConfigError(file, byLine(dedupe(problems)));

  const config = data as unknown as Config;
  const dir = file ? path.dirname(path.resolve(file)) : process.cwd();
  const isSet = (p: string): boolean =>
    doc.hasIn(p.split('.')) || overrides.some((o) => p === o.path.join('.') || p.startsWith(o.path.join('.') + '.'));
  const cross = crossFieldProblems(config, opts.vocabulary?.(config, dir, env), isSet, env).map((p) => {
    const ov = overrides.find((o) => p.path === o.path.join('.') || p.path.startsWith(o.path.join('.') + '.'));
    if (ov) return { ...p, source: `env ${ov.name}` };
    const segs = p.path.split('.');
    // a map key named in the path (a label-keyed map) is on its own line; else the value's line
    const offset = (keyNode(doc, segs.slice(0, -1), segs[segs.length - 1]!) ?? valueNode(doc, segs))?.range?.[0];
    return offset === undefined ? p : { ...p, line: lc.linePos(offset).line };
  });
  if (cross.length) throw new ConfigError(file, cross);
  config.device.id ??= sanitiseId(opts.hostname ?? os.hostname());
  config.device.name ??= config.device.id;
  return { config, file: file ? path.resolve(file) : null, dir };
}

/** `device:` with only commented-out children parses as null: treat an empty section as "all defaults". */
function dropEmptySections(node: Record<string, unknown>, schema: JsonSchema): void {
  for (const [k, v] of Object.entries(node)) {
    const sub = schema.properties?.[k];
    if (!sub || sub.type !== 'object') continue;
    if (v === null) delete node[k];
    else if (typeof v === 'object' && !Array.isArray(v)) dropEmptySections(v as Record<string, unknown>, sub);
  }
}

function sanitiseId(host: string): string {
  const id = host.replace(/[^A-Za-z0-9_-]/g, '_').replace(/^[^A-Za-z0-9]+/, '');
  return id || 'edgesight';
}

function dedupe(problems: ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const k = `${p.path}|${p.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** File problems in line order (ajv reports in schema order), environment problems after them. */
function byLine(problems: ConfigProblem[]): ConfigProblem[] {
  const rank = (p: ConfigProblem): number => (p.source ? Infinity : (p.line ?? 0));
  return problems
    .map((p, i) => ({ p, i }))
    .sort((a, b) => rank(a.p) - rank(b.p) || a.i - b.i)
    .map(({ p }) => p);
}

/** The key path of the innermost mapping entry whose key or value spans `offset` (to name where a YAML error is). */
function pathAt(doc: Document, offset: number): string[] {
  const out: string[] = [];
  let node: unknown = doc.contents;
  for (;;) {
    if (isMap(node)) {
      const pair = node.items.find((p) => {
        const k = isScalar(p.key) ? p.key.range : undefined;
        const v = (p.value as YamlNode | null)?.range;
        const start = k?.[0] ?? v?.[0];
        const end = v?.[2] ?? k?.[2];
        return start !== undefined && end !== undefined && offset >= start && offset <= end;
      });
      if (!pair || !isScalar(pair.key)) return out;
      out.push(String(pair.key.value));
      node = pair.value;
    } else if (isSeq(node)) {
      const i = node.items.findIndex((it) => {
        const r = (it as YamlNode | null)?.range;
        return r != null && offset >= r[0] && offset <= r[2];
      });
      if (i < 0) return out;
      out.push(String(i));
      node = node.items[i];
    } else {
      return out;
    }
  }
}

function pointerToPath(ptr: string): string[] {
  return ptr === ''
    ? []
    : ptr
        .slice(1)
        .split('/')
        .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function describe(e: ErrorObject, doc: Document, lc: LineCounter, overrides: EnvOverride[]): ConfigProblem {
  const segs = pointerToPath(e.instancePath);
  let keyPath = segs;
  let message: string;
  let lineNode: YamlNode | null | undefined;
  switch (e.keyword) {
    case 'additionalProperties': {
      const extra = String((e.params as { additionalProperty: string }).additionalProperty);
      keyPath = [...segs, extra];
      const allowed = Object.keys((e.parentSchema as JsonSchema | undefined)?.properties ?? {});
      message = `unknown key '${extra}'${allowed.length ? `; expected one of: ${allowed.join(', ')}` : ''}`;
      lineNode = keyNode(doc, segs, extra);
      break;
    }
    case 'type':
      message = `must be ${String((e.params as { type: string | string[] }).type).replace(',', ' or ')} (got ${show(e.data)})`;
      break;
    case 'enum':
      message = `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')} (got ${show(e.data)})`;
      break;
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum': {
      const p = e.params as { comparison: string; limit: number };
      message = `must be ${p.comparison} ${p.limit} (got ${show(e.data)})`;
      break;
    }
    case 'pattern':
      message = `has an invalid format (got ${show(e.data)}; must match ${(e.params as { pattern: string }).pattern})`;
      break;
    default:
      message = `${e.message ?? 'is invalid'} (got ${show(e.data)})`;
  }
  const pathStr = keyPath.join('.');
  const ov = overrides.find((o) => pathStr === o.path.join('.') || pathStr.startsWith(o.path.join('.') + '.'));
  if (ov) return { path: pathStr, source: `env ${ov.name}`, message };
  lineNode ??= valueNode(doc, segs);
  const offset = lineNode?.range?.[0];
  return { path: pathStr, line: offset === undefined ? undefined : lc.linePos(offset).line, message };
}

function show(v: unknown): string {
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v); // YAML .inf / .nan; JSON would say null
  const s = JSON.stringify(v);
  return s === undefined ? 'nothing' : s.length > 60 ? s.slice(0, 57) + '...' : s;
}

function valueNode(doc: Document, segs: string[]): YamlNode | null | undefined {
  for (let n = segs.length; n >= 0; n--) {
    const node = doc.getIn(segs.slice(0, n), true) as YamlNode | undefined;
    if (node && typeof node === 'object' && 'range' in node) return node;
    // a missing value: point at the key of its nearest existing parent
    if (n > 0) {
      const k = keyNode(doc, segs.slice(0, n - 1), segs[n - 1]!);
      if (k) return k;
    }
  }
  return undefined;
}

function keyNode(doc: Document, parent: string[], key: string): YamlNode | undefined {
  const map = parent.length ? doc.getIn(parent, true) : doc.contents;
  if (!isMap(map)) return undefined;
  for (const pair of map.items) {
    if (isScalar(pair.key) && String(pair.key.value) === key) return pair.key;
  }
  return undefined;
}
