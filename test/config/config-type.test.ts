import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO } from '../cli/run-cli.js';

/** `Config` is generated from the schema; the checked-in file must be what the schema generates today. */
describe('config: the Config type is the one the schema generates', function () {
  this.timeout(60_000);

  it('src/config/config.generated.ts equals a fresh generation (run `npm run gen:types` after a schema change)', async () => {
    const gen = (await import(pathToFileURL(path.join(REPO, 'scripts', 'gen-config-types.mjs')).href)) as {
      renderConfigTypes: () => Promise<string>;
      GENERATED: string;
    };
    const fresh = await gen.renderConfigTypes();
    assert.match(fresh, /export interface Config \{/);
    assert.equal(readFileSync(gen.GENERATED, 'utf8'), fresh, `${gen.GENERATED} is stale: run npm run gen:types`);
  });

  it('the generation follows the schema: a key with a default is required, one without is optional', async () => {
    const text = readFileSync(path.join(REPO, 'src', 'config', 'config.generated.ts'), 'utf8');
    assert.match(text, /\n {4}fps: number;/);
    assert.match(text, /\n {6}path\?: string;/, 'camera.files.path has no default');
    assert.match(text, /\n {4}id: string;/, 'device.id is filled by the loader');
  });
});
