import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { REPO } from './helpers/paths.js';

/** docs/architecture.md's folder table against the tree and the import rules the lint enforces. */
describe('docs/architecture.md: the folder table', () => {
  const doc = readFileSync(path.join(REPO, 'docs', 'architecture.md'), 'utf8');
  const rows = [...doc.matchAll(/^\| (\d+) \| `src\/([a-z]+)\/` \| (.+) \|$/gm)].map((m) => ({ layer: Number(m[1]), folder: m[2]!, job: m[3]! }));
  const { LAYERS } = createRequire(import.meta.url)(path.join(REPO, '.dependency-cruiser.cjs')) as { LAYERS: string[][] };

  it('lists every folder of src/ once, each with its job', () => {
    const folders = readdirSync(path.join(REPO, 'src'), { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .sort();
    assert.deepEqual(rows.map((r) => r.folder).sort(), folders);
    for (const r of rows) assert.ok(r.job.trim().length > 10, `src/${r.folder}/ has no job in the table`);
  });

  it('gives each folder the layer the import rules enforce', () => {
    const enforced = new Map(LAYERS.flatMap((layer, i) => layer.map((f) => [f, i] as const)));
    assert.deepEqual(new Map(rows.map((r) => [r.folder, r.layer])), enforced);
  });

  it('is linked from the README', () => {
    assert.match(readFileSync(path.join(REPO, 'README.md'), 'utf8'), /\]\(docs\/architecture\.md\)/);
  });
});
