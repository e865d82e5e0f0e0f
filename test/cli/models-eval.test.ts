import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { thresholdTable } from '../../src/modeltools/eval/thresholds.js';
import { COCO_DIR, MODEL_SOURCES_DIR } from '../helpers/paths.js';
import { runCli } from './run-cli.js';

describe('precision/recall per score threshold', () => {
  it('counts matches at IoU ≥ 0.5, one per ground-truth box, crowd matches ignored', () => {
    const gt = [
      { imageId: 1, categoryId: 1, bbox: [0, 0, 10, 10] as [number, number, number, number] },
      { imageId: 1, categoryId: 1, bbox: [50, 50, 10, 10] as [number, number, number, number], iscrowd: true },
    ];
    const dt = [
      { imageId: 1, categoryId: 1, bbox: [0, 0, 10, 10] as [number, number, number, number], score: 0.9 },
      { imageId: 1, categoryId: 1, bbox: [1, 1, 10, 10] as [number, number, number, number], score: 0.7 }, // duplicate: false
      { imageId: 1, categoryId: 1, bbox: [50, 50, 10, 10] as [number, number, number, number], score: 0.6 }, // crowd: ignored
      { imageId: 1, categoryId: 1, bbox: [90, 90, 5, 5] as [number, number, number, number], score: 0.3 }, // nothing there
    ];
    const rows = thresholdTable(gt, dt, { thresholds: [0.2, 0.65, 0.8, 0.95] });
    assert.deepEqual(
      rows.map((r) => [r.threshold, r.detections, r.truePositives, r.precision, r.recall]),
      [
        [0.2, 3, 1, 1 / 3, 1],
        [0.65, 2, 1, 0.5, 1],
        [0.8, 1, 1, 1, 1],
        [0.95, 0, 0, null, 0],
      ],
    );
  });
});

describe('edgesight models eval (fp32 detector on the shipped 10-photo COCO subset)', function () {
  this.timeout(600_000);
  let cache: string;
  let env: Record<string, string>;
  before(() => {
    cache = mkdtempSync(path.join(os.tmpdir(), 'edgesight-eval-'));
    env = { EDGESIGHT__MODELS__CACHE_DIR: cache, EDGESIGHT_MODELS_MIRROR: MODEL_SOURCES_DIR, EDGESIGHT_OFFLINE: '1' };
  });
  after(() => rmSync(cache, { recursive: true, force: true }));

  it('--json: one line per label and threshold, then a summary with mAP and the highest score', async () => {
    const r = await runCli(['models', 'eval', '--precision', 'fp32', '--data', COCO_DIR, '--thresholds', '0.3,0.5,0.7', '--json'], env);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const summary = lines.pop()!.summary as { images: number; map: number; max_score: number; precision: string };
    assert.equal(summary.images, 10);
    assert.equal(summary.precision, 'fp32');
    assert.ok(summary.map > 0.05 && summary.map < 1, `mAP ${summary.map}`);
    assert.ok(summary.max_score > 0.5, `highest score ${summary.max_score}: scores are not capped at 0.5`);
    const instances = JSON.parse(readFileSync(path.join(COCO_DIR, 'instances.json'), 'utf8')) as {
      annotations: Array<{ category_id: number; iscrowd?: number }>;
    };
    const labels = new Set(lines.map((l) => l.label));
    assert.ok(labels.has('person'));
    assert.equal(lines.length, labels.size * 3, 'three thresholds per label');
    for (const l of lines)
      assert.deepEqual(Object.keys(l), ['label', 'class_id', 'threshold', 'precision', 'recall', 'detections', 'true_positives', 'ground_truth']);
    const person = lines.filter((l) => l.label === 'person');
    assert.equal(person[0]!.ground_truth, instances.annotations.filter((a) => a.category_id === 1 && !a.iscrowd).length);
    // a higher threshold keeps fewer detections
    assert.ok((person[0]!.detections as number) >= (person[2]!.detections as number));
  });

  it('prints a precision/recall table for person and car by default', async () => {
    const r = await runCli(['models', 'eval', '--precision', 'fp32', '--data', COCO_DIR], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^\| min_score \| person precision \| person recall \| car precision \| car recall \|$/m);
    assert.match(r.stdout, /^\| 0\.45 \| /m);
    assert.match(r.stdout, /mAP@\[\.5:\.95\] 0\.\d{4}/);
  });

  it('says what is wrong with bad input', async () => {
    const noData = await runCli(['models', 'eval', '--precision', 'fp32'], env);
    assert.notEqual(noData.code, 0);
    assert.match(noData.stderr, /pass --data DIR .*or set EDGESIGHT_TEST_DATA/);
    const badLabel = await runCli(['models', 'eval', '--precision', 'fp32', '--data', COCO_DIR, '--labels', 'unicorn'], env);
    assert.notEqual(badLabel.code, 0);
    assert.match(badLabel.stderr, /'unicorn' is not a label/);
    const badThr = await runCli(['models', 'eval', '--data', COCO_DIR, '--thresholds', '0.3,2'], env);
    assert.notEqual(badThr.code, 0);
    assert.match(badThr.stderr, /--thresholds must be comma-separated numbers in \[0, 1\]/);
  });
});
