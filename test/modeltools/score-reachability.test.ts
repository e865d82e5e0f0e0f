import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { detectFile } from '../../src/modeltools/eval/evaluate.js';
import { evalModel } from '../../src/modeltools/eval/eval-models.js';
import type { PrepareContext } from '../../src/models/store.js';
import { tfliteConverter } from '../../src/modeltools/runtime-entry.js';
import { makeQuantizer } from '../../src/modeltools/quantize/manifest-quantizer.js';
import { loadModel, prepareModel, type LoadedModel } from '../../src/models/store.js';
import type { Detection } from '../../src/postprocess/detections.js';
import { TEST_CACHE } from '../helpers/daemon.js';
import { MODEL_SOURCES_DIR, PHOTOS_DIR, REPO } from '../helpers/paths.js';

const DET = 'ssdlite_mobilenet_v3_small_coco';

/** Every score threshold a document quotes: `score_threshold: X`, `min_score: X`, `--score-threshold X`. */
function quotedThresholds(text: string): number[] {
  const out: number[] = [];
  const re = /(?:score_threshold|min_score|score-threshold|min-score)["'`]?\s*[:=]?\s*["'`]?(\d*\.\d+|[01](?![\d.]))/g;
  for (const m of text.matchAll(re)) out.push(Number(m[1]));
  return out;
}

/** README.md, docs/*.md and config/*.yaml as they are in the tree when the test runs. */
function documents(): string[] {
  const files: string[] = [];
  if (existsSync(path.join(REPO, 'README.md'))) files.push(path.join(REPO, 'README.md'));
  for (const [dir, ext] of [
    ['docs', '.md'],
    ['config', '.yaml'],
  ] as const) {
    const d = path.join(REPO, dir);
    if (existsSync(d))
      files.push(
        ...readdirSync(d)
          .filter((f) => f.endsWith(ext))
          .sort()
          .map((f) => path.join(d, f)),
      );
  }
  return files;
}

describe('scores: the default int8 detector reaches the thresholds the docs quote', function () {
  this.timeout(600_000);
  let int8: LoadedModel;
  const dets = new Map<string, Detection[]>();

  before(async () => {
    // the default int8 model exactly as the product prepares it (catalog → fp32 conversion → default quantizer)
    const ctx: PrepareContext = {
      converter: tfliteConverter,
      cacheDir: TEST_CACHE,
      mirrors: [MODEL_SOURCES_DIR],
      allowNetwork: false,
      log: () => undefined,
    };
    int8 = await loadModel(await prepareModel(DET, 'int8', ctx, makeQuantizer()));
    for (const f of readdirSync(PHOTOS_DIR).sort()) dets.set(f, await detectFile(evalModel(int8), path.join(PHOTOS_DIR, f), 0.05));
  });

  it('the quoted-threshold scanner finds the forms the docs use', () => {
    assert.deepEqual(
      quotedThresholds('score_threshold: 0.45  # x\nfilters: { person: { min_score: 0.6 } }\n`--score-threshold 0.7` min_score=1'),
      [0.45, 0.6, 0.7, 1],
    );
    assert.deepEqual(quotedThresholds('detection.score_threshold is the default; 0.9 here is not a quote'), []);
  });

  it('the best person, cat and motorcycle on the shipped photos score above 0.55 (the old graph capped them at 0.5)', () => {
    for (const [photo, label] of [
      ['astronaut.png', 'person'],
      ['chelsea.png', 'cat'],
      ['motorcycle_left.png', 'motorcycle'],
    ] as const) {
      const best = Math.max(0, ...(dets.get(photo) ?? []).filter((d) => d.label === label).map((d) => d.score));
      console.log(`      ${photo}: best ${label} ${best.toFixed(3)}`);
      assert.ok(best > 0.55, `${photo}: best ${label} scores ${best}`);
    }
  });

  it('no two of the strongest detections tie at one score (ranking among them survives)', () => {
    const strong = [...dets.values()]
      .flat()
      .filter((d) => d.score > 0.5)
      .map((d) => d.score);
    assert.ok(strong.length >= 5, `only ${strong.length} detections above 0.5`);
    const ties = strong.length - new Set(strong).size;
    assert.ok(ties <= strong.length / 4, `${ties} of ${strong.length} detections above 0.5 share a score`);
  });

  it('every score threshold quoted in README.md, docs/*.md and config/*.yaml is reachable on the shipped photos', () => {
    const best = Math.max(...[...dets.values()].flat().map((d) => d.score));
    const quoted: Array<{ file: string; t: number }> = [];
    for (const f of documents()) for (const t of quotedThresholds(readFileSync(f, 'utf8'))) quoted.push({ file: path.relative(REPO, f), t });
    assert.ok(quoted.length > 0, 'no quoted thresholds found: the scanner or the docs changed');
    const unreachable = quoted.filter((q) => !(best > q.t));
    assert.deepEqual(unreachable, [], `the best detection on the shipped photos scores ${best.toFixed(3)}; these quoted thresholds can never fire`);
  });
});
