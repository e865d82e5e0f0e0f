#!/usr/bin/env node
// The `Config` type is generated from the config JSON Schema, so the schema is the one place that says
// what a config holds. The output is checked in (src/config/config.generated.ts) and a test regenerates it
// and compares: a schema change without `npm run gen:types` fails the tests.
//
//   node scripts/gen-config-types.mjs           write src/config/config.generated.ts (needs a build: reads dist/)
//   node scripts/gen-config-types.mjs --check   exit 1 when the checked-in file differs from the schema's
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { compile } from 'json-schema-to-typescript';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const GENERATED = join(root, 'src', 'config', 'config.generated.ts');

/** Keys with no default that the loader always fills (device.id from the hostname). */
const LOADER_FILLS = new Set(['device.id']);
/** Option blocks whose TypeScript types live with their source (capture), named here instead of restated. */
const NAMED = { 'camera.libcamera': 'LibcameraOptions', 'camera.ffmpeg': 'FfmpegOptions' };

/** A copy of the schema as a loaded config is: a key with a default (or filled by the loader) is always there. */
function asLoaded(s, at = '') {
  const out = { ...s };
  if (NAMED[at]) return { tsType: NAMED[at], description: s.description };
  delete out.default; // a default would only be a comment; the value's presence is what `required` says
  delete out.examples;
  if (s.properties) {
    out.properties = {};
    const required = new Set(s.required ?? []);
    for (const [k, sub] of Object.entries(s.properties)) {
      const key = at ? `${at}.${k}` : k;
      if (sub.default !== undefined || LOADER_FILLS.has(key)) required.add(k);
      out.properties[k] = asLoaded(sub, key);
    }
    out.required = [...required];
  }
  if (s.additionalProperties && typeof s.additionalProperties === 'object')
    out.additionalProperties = asLoaded(s.additionalProperties, `${at}.<name>`);
  if (s.items && typeof s.items === 'object' && !Array.isArray(s.items)) out.items = asLoaded(s.items, `${at}[]`);
  return out;
}

export async function renderConfigTypes() {
  const { configSchema } = await import(pathToFileURL(join(root, 'dist', 'src', 'config', 'load.js')).href);
  const schema = { ...asLoaded(configSchema()), title: 'Config' };
  const body = await compile(schema, 'Config', {
    bannerComment: '',
    additionalProperties: false,
    strictIndexSignatures: false,
    unreachableDefinitions: false,
    format: true,
    style: { printWidth: 150, singleQuote: true },
  });
  return [
    '// Generated from the config JSON Schema (src/config/schema.ts) by `npm run gen:types`; do not edit.',
    '// A test regenerates it and fails when it differs.',
    "import type { FfmpegOptions, LibcameraOptions } from '../capture/config.js';",
    '',
    body.trimEnd(),
    '',
  ].join('\n');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const text = await renderConfigTypes();
  if (process.argv.includes('--check')) {
    const same = readFileSync(GENERATED, 'utf8') === text;
    if (!same) console.error(`${GENERATED} is stale: run npm run gen:types`);
    process.exit(same ? 0 : 1);
  }
  writeFileSync(GENERATED, text);
  console.log(`wrote ${GENERATED}`);
}
