import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { REPO } from '../helpers/paths.js';

/** Validates a `/api/status` body against src/live/status.schema.json; returns the problems (none = valid). */
export function statusValidator(): (v: unknown) => string[] {
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  const validate = ajv.compile(JSON.parse(readFileSync(path.join(REPO, 'src', 'live', 'status.schema.json'), 'utf8')) as object);
  return (v) => (validate(v) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || '(root)'} ${e.message ?? e.keyword}`));
}
