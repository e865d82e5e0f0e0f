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

/** docs/architecture.md's sentence on the one entry into the model tooling against the import rules and the tree. */
describe('docs/architecture.md: the runtime and the model tooling', () => {
  const doc = readFileSync(path.join(REPO, 'docs', 'architecture.md'), 'utf8').replace(/\s+/g, ' ');
  interface Rule {
    name: string;
    from: { path: string };
    to: { path?: string; pathNot?: string };
  }
  const { forbidden } = createRequire(import.meta.url)(path.join(REPO, '.dependency-cruiser.cjs')) as { forbidden: Rule[] };
  const rule = (name: string): Rule => {
    const r = forbidden.find((f) => f.name === name);
    assert.ok(r, `.dependency-cruiser.cjs has no rule ${name}`);
    return r;
  };

  it('the model store may not import the tooling at all, and no file of src/models/ does', () => {
    const r = rule('model-store-not-to-tooling');
    assert.deepEqual([r.from.path, r.to.path, r.to.pathNot], ['^src/models/', '^src/modeltools/', undefined]);
    for (const f of readdirSync(path.join(REPO, 'src', 'models')).filter((n) => n.endsWith('.ts'))) {
      assert.doesNotMatch(
        readFileSync(path.join(REPO, 'src', 'models', f), 'utf8'),
        /from '\.\.\/modeltools\//,
        `src/models/${f} imports the tooling`,
      );
    }
    assert.match(doc, /The runtime model store \(`src\/models\/`\) never imports the model tooling/);
    assert.match(doc, /`TfliteConverter` in `src\/models\/converter\.ts`/);
    assert.match(readFileSync(path.join(REPO, 'src', 'models', 'converter.ts'), 'utf8'), /export interface TfliteConverter\b/);
  });

  it('names the one entry the import rules let the daemon wiring through', () => {
    const entry = rule('runtime-to-tooling-through-entry').to.pathNot;
    assert.equal(entry, '^src/modeltools/runtime-entry\\.ts$');
    assert.match(doc, /only through `src\/modeltools\/runtime-entry\.ts`/);
    assert.match(readFileSync(path.join(REPO, 'src', 'modeltools', 'runtime-entry.ts'), 'utf8'), /export \{ tfliteConverter \}/);
  });
});
