import assert from 'node:assert/strict';
import path from 'node:path';
import { AREA_RANGES, cocoIou, evaluateCoco, type GroundTruth, type ScoredBox } from '../../src/modeltools/eval/coco.js';
import { loadCocoInstances, toCocoDetection } from '../../src/modeltools/eval/dataset.js';
import { COCO_DIR, skipWithoutTestData } from '../helpers/paths.js';

const close = (a: number, b: number, eps = 1e-9): void => assert.ok(Math.abs(a - b) <= eps, `${a} != ${b}`);
const gt = (imageId: number, categoryId: number, bbox: [number, number, number, number], extra: Partial<GroundTruth> = {}): GroundTruth => ({
  imageId,
  categoryId,
  bbox,
  ...extra,
});
const dt = (imageId: number, categoryId: number, bbox: [number, number, number, number], score: number): ScoredBox => ({
  imageId,
  categoryId,
  bbox,
  score,
});

describe('COCO evaluator', () => {
  it('IoU: plain and crowd (intersection over the detection area)', () => {
    close(cocoIou([0, 0, 100, 100], [20, 0, 100, 100], false), 80 / 120);
    close(cocoIou([0, 0, 10, 10], [0, 0, 100, 100], true), 1);
    close(cocoIou([0, 0, 10, 10], [20, 20, 5, 5], false), 0);
  });

  it('perfect detections score 1.0 on every metric', () => {
    const g = [gt(1, 1, [10, 10, 50, 80]), gt(1, 2, [100, 50, 30, 30]), gt(2, 1, [0, 0, 200, 100])];
    const r = evaluateCoco(
      g,
      g.map((x, i) => dt(x.imageId, x.categoryId, x.bbox, 0.9 - i * 0.1)),
    );
    close(r.map, 1);
    close(r.ap50, 1);
    close(r.ap75, 1);
    assert.deepEqual(
      r.perCategory.map((c) => c.categoryId),
      [1, 2],
    );
  });

  it('a box shifted to IoU 2/3 matches at thresholds .50–.65 only: AP = 4/10, AP50 = 1, AP75 = 0', () => {
    const r = evaluateCoco([gt(1, 1, [0, 0, 100, 100])], [dt(1, 1, [20, 0, 100, 100], 0.5)]);
    close(r.map, 0.4);
    close(r.ap50, 1);
    close(r.ap75, 0);
  });

  it('a duplicate detection is a false positive and lowers precision after it', () => {
    const g = [gt(1, 1, [0, 0, 100, 100]), gt(2, 1, [0, 0, 100, 100])];
    const d = [dt(1, 1, [0, 0, 100, 100], 0.9), dt(1, 1, [0, 0, 100, 100], 0.8), dt(2, 1, [0, 0, 100, 100], 0.7)];
    // TP, FP, TP: precision 1 up to recall .5 (51 points), then 2/3 (50 points)
    close(evaluateCoco(g, d).map, (51 + 50 * (2 / 3)) / 101);
    // the same duplicate ranked last costs nothing: recall 1 is reached at precision 1
    const late = [dt(1, 1, [0, 0, 100, 100], 0.9), dt(1, 1, [0, 0, 100, 100], 0.1), dt(2, 1, [0, 0, 100, 100], 0.7)];
    close(evaluateCoco(g, late).map, 1);
  });

  it('missing detections cap recall: one of two found → AP = 51/101', () => {
    const r = evaluateCoco([gt(1, 1, [0, 0, 50, 50]), gt(1, 1, [100, 100, 50, 50])], [dt(1, 1, [0, 0, 50, 50], 0.8)]);
    close(r.map, 51 / 101);
    close(r.perCategory[0]!.recall!, 0.5);
  });

  it('detections on an iscrowd region are ignored, not false positives', () => {
    const g = [gt(1, 1, [0, 0, 50, 50]), gt(1, 1, [100, 100, 200, 200], { iscrowd: true })];
    const d = [dt(1, 1, [120, 120, 50, 50], 0.9), dt(1, 1, [130, 130, 40, 40], 0.8), dt(1, 1, [0, 0, 50, 50], 0.5)];
    close(evaluateCoco(g, d).map, 1);
    // the same boxes against a non-crowd ground truth: two false positives ranked first and a missed object
    const plain = evaluateCoco([g[0]!, gt(1, 1, [100, 100, 200, 200])], d);
    assert.ok(plain.map < 0.5, `map ${plain.map}`);
  });

  it('categories without ground truth are left out of the mean; ground truth without detections scores 0', () => {
    const r = evaluateCoco([gt(1, 1, [0, 0, 10, 10]), gt(1, 3, [0, 0, 10, 10])], [dt(1, 1, [0, 0, 10, 10], 0.9), dt(1, 7, [0, 0, 10, 10], 0.9)]);
    assert.deepEqual(
      r.perCategory.map((c) => [c.categoryId, c.ap]),
      [
        [1, 1],
        [3, 0],
      ],
    );
    close(r.map, 0.5);
    const withSeven = evaluateCoco([gt(1, 1, [0, 0, 10, 10])], [dt(1, 7, [0, 0, 10, 10], 0.9)], { categories: [1, 7] });
    assert.equal(withSeven.perCategory[1]!.ap, null);
    close(withSeven.map, 0);
  });

  it('area ranges: only objects of that size count; unmatched detections of another size are ignored', () => {
    const g = [gt(1, 1, [0, 0, 20, 20]), gt(1, 1, [100, 100, 200, 200])];
    const d = [dt(1, 1, [0, 0, 20, 20], 0.5), dt(1, 1, [300, 300, 150, 150], 0.9)];
    close(evaluateCoco(g, d, { areaRange: [AREA_RANGES.small[0], AREA_RANGES.small[1]] }).map, 1);
    const large = evaluateCoco(g, d, { areaRange: [AREA_RANGES.large[0], AREA_RANGES.large[1]] });
    close(large.map, 0, 1e-12);
  });

  it('maxDets keeps only the highest-scoring detections per image and category', () => {
    const g = [gt(1, 1, [0, 0, 10, 10]), gt(1, 1, [50, 50, 10, 10])];
    const d = [dt(1, 1, [0, 0, 10, 10], 0.9), dt(1, 1, [50, 50, 10, 10], 0.1)];
    close(evaluateCoco(g, d, { maxDets: 1 }).map, 51 / 101);
    close(evaluateCoco(g, d).map, 1);
  });

  it('refuses malformed boxes with a message naming the entry', () => {
    assert.throws(() => evaluateCoco([gt(1, 1, [0, 0, -1, 5])], []), /ground truth #0 \(image 1\).*width\/height/);
    assert.throws(() => evaluateCoco([], [dt(4, 1, [0, 0, 1, Number.NaN], 0.5)]), /detection #0 \(image 4\)/);
  });

  it('loads the 80-photo COCO sample, crowd regions included', function () {
    const dir = path.join(skipWithoutTestData(this, 'the 80-photo COCO sample'), 'coco-train-sample');
    const ds = loadCocoInstances(path.join(dir, 'instances.json'));
    assert.equal(ds.images.length, 80);
    assert.ok(ds.groundTruth.length > 500);
    assert.ok(ds.groundTruth.some((g) => g.iscrowd));
    assert.equal(path.dirname(ds.images[0]!.file), dir);
    const self = ds.groundTruth.filter((g) => !g.iscrowd).map((g) => dt(g.imageId, g.categoryId, g.bbox, 1));
    close(evaluateCoco(ds.groundTruth, self).map, 1);
  });

  it('loads the shipped 10-photo COCO subset and converts normalised detections to pixels', () => {
    const ds = loadCocoInstances(path.join(COCO_DIR, 'instances.json'));
    assert.equal(ds.images.length, 10);
    assert.equal(ds.groundTruth.length, 88);
    assert.equal(ds.categories.get(1), 'person');
    assert.equal(path.dirname(ds.images[0]!.file), COCO_DIR);
    // ground truth fed back as detections scores 1.0 (sanity of the real-data path)
    const self = ds.groundTruth.filter((g) => !g.iscrowd).map((g) => dt(g.imageId, g.categoryId, g.bbox, 1));
    close(evaluateCoco(ds.groundTruth, self).map, 1);
    const c = toCocoDetection(5, 640, 480, { class_id: 3, score: 0.7, box: [0.25, 0.5, 0.75, 1] });
    assert.deepEqual(c, { imageId: 5, categoryId: 3, score: 0.7, bbox: [160, 240, 320, 240] });
  });
});
