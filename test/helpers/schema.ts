/**
 * Validates MQTT payloads against the JSON Schemas in src/mqtt/schemas (the published contract), plus the
 * few semantic rules a schema cannot say (box corners ordered, mask decodes to its classes, JPEG framing).
 * Throws one error listing every problem, so a failing test shows all of them at once.
 */
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ValidateFunction, ErrorObject } from 'ajv';
import type { TopicKind } from '../../src/mqtt/topics.js';
import { decodeMask } from '../../src/render/mask-encoding.js';

function findRepoRoot(): string {
  // Tests run from dist/test/helpers; schemas and fixtures stay in the source tree (they are not compiled).
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'src', 'mqtt', 'schemas'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the repository (src/mqtt/schemas) above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

export const REPO_ROOT = findRepoRoot();
export const SCHEMA_DIR = join(REPO_ROOT, 'src', 'mqtt', 'schemas');

const TEXT_KINDS = new Set<TopicKind>(['availability', 'objects', 'snapshot_get', 'zone_occupied', 'zone_count', 'zone_coverage', 'line_count']);

let validators: Map<string, ValidateFunction> | undefined;

/** All schema files by kind (file name minus `.schema.json`), compiled in strict mode. */
export function compileAllSchemas(): Map<string, ValidateFunction> {
  if (!validators) {
    const ajv = new Ajv2020({ strict: true, allErrors: true });
    const compiled = new Map<string, ValidateFunction>();
    for (const file of readdirSync(SCHEMA_DIR)
      .filter((f) => f.endsWith('.schema.json'))
      .sort()) {
      const kind = file.slice(0, -'.schema.json'.length);
      const schema = JSON.parse(readFileSync(join(SCHEMA_DIR, file), 'utf8')) as object;
      try {
        compiled.set(kind, ajv.compile(schema));
      } catch (err) {
        throw new Error(`schema ${file} does not compile in strict mode: ${(err as Error).message}`);
      }
    }
    validators = compiled;
  }
  return validators;
}

export function schemaJson(kind: TopicKind): Record<string, unknown> {
  return JSON.parse(readFileSync(join(SCHEMA_DIR, `${kind}.schema.json`), 'utf8')) as Record<string, unknown>;
}

function fmt(errors: ErrorObject[] | null | undefined): string[] {
  return (errors ?? []).map(
    (e) => `${e.instancePath || '(root)'} ${e.message ?? e.keyword}${e.params && Object.keys(e.params).length ? ' ' + JSON.stringify(e.params) : ''}`,
  );
}

/**
 * `payload` is what went over the wire (Buffer or string) or, for JSON topics, an already parsed object.
 * Returns the parsed value. Throws listing all errors.
 */
export function validatePayload(kind: TopicKind, payload: unknown): unknown {
  const validate = compileAllSchemas().get(kind);
  if (!validate) throw new Error(`no schema for topic kind ${JSON.stringify(kind)} in ${SCHEMA_DIR}`);
  const problems: string[] = [];
  let value: unknown = payload;

  if (kind === 'snapshot') {
    if (!Buffer.isBuffer(payload)) throw new Error(`snapshot payload must be a Buffer (binary JPEG), got ${typeof payload}`);
    if (payload.length < 4 || payload[0] !== 0xff || payload[1] !== 0xd8 || payload[2] !== 0xff)
      problems.push('does not start with the JPEG SOI marker FF D8 FF');
    if (payload.length < 4 || payload[payload.length - 2] !== 0xff || payload[payload.length - 1] !== 0xd9)
      problems.push('does not end with the JPEG EOI marker FF D9');
    if (problems.length) throw new Error(`invalid snapshot payload:\n  ${problems.join('\n  ')}`);
    return payload;
  }

  const text = Buffer.isBuffer(payload) ? payload.toString('utf8') : typeof payload === 'string' ? payload : undefined;
  if (TEXT_KINDS.has(kind)) {
    if (text === undefined) throw new Error(`${kind} payload must be text (Buffer or string), got ${typeof payload}`);
    value = text;
    if (kind === 'objects' || kind === 'zone_count' || kind === 'line_count') {
      if (!/^(0|[1-9][0-9]*)$/.test(text)) throw new Error(`invalid ${kind} payload: ${JSON.stringify(text)} is not a plain decimal integer`);
      value = Number(text);
    }
    if (kind === 'zone_coverage') {
      if (!/^(0|1|0\.[0-9]+)$/.test(text)) throw new Error(`invalid zone_coverage payload: ${JSON.stringify(text)} is not a plain decimal number`);
      value = Number(text);
    }
  } else if (text !== undefined) {
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new Error(`invalid ${kind} payload: not JSON (${(err as Error).message}): ${text.slice(0, 200)}`);
    }
  }

  if (!validate(value)) problems.push(...fmt(validate.errors));
  if (problems.length === 0) problems.push(...semanticProblems(kind, value));
  if (problems.length) throw new Error(`invalid ${kind} payload:\n  ${problems.join('\n  ')}\npayload: ${JSON.stringify(value).slice(0, 500)}`);
  return value;
}

function boxProblems(path: string, box: unknown): string[] {
  if (!Array.isArray(box) || box.length !== 4) return [];
  const [x1, y1, x2, y2] = box as number[];
  return x1! <= x2! && y1! <= y2! ? [] : [`${path} corners are not ordered (x1 <= x2, y1 <= y2): ${JSON.stringify(box)}`];
}

function semanticProblems(kind: TopicKind, value: unknown): string[] {
  const out: string[] = [];
  const o = value as Record<string, unknown>;
  if (kind === 'detections') {
    (o.objects as Array<Record<string, unknown>>).forEach((obj, i) => {
      out.push(...boxProblems(`/objects/${i}/box`, obj.box));
      if (obj.box_px) out.push(...boxProblems(`/objects/${i}/box_px`, obj.box_px));
    });
  } else if (kind === 'events') {
    if (o.type !== 'crossed') {
      out.push(...boxProblems('/box', o.box), ...boxProblems('/best_box', o.best_box));
      if (typeof o.end_time === 'number' && o.end_time < (o.start_time as number))
        out.push(`/end_time ${o.end_time} is before /start_time ${String(o.start_time)}`);
      if ((o.score as number) > (o.best_score as number)) out.push(`/score ${String(o.score)} exceeds /best_score ${String(o.best_score)}`);
      for (const z of o.zones as string[])
        if (!(o.entered_zones as string[]).includes(z)) out.push(`/zones has ${z}, which is missing from /entered_zones`);
    }
  } else if (kind === 'mask') {
    try {
      const map = decodeMask(o as { width: number; height: number; encoding: string; data: unknown });
      const classes = o.classes as string[];
      let top = 0;
      for (const c of map) if (c > top) top = c;
      if (top >= classes.length) out.push(`/data holds class index ${top} but /classes names only ${classes.length}`);
    } catch (err) {
      out.push(`/data does not decode: ${(err as Error).message}`);
    }
  }
  return out;
}
