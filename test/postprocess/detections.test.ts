import assert from 'node:assert/strict';
import { iou, SsdDecoder, toPixels, type DetectionOptions } from '../../src/postprocess/detections.js';
import type { DetectionSpec } from '../../src/models/manifest.js';
import { assertMatchesReference, detectorEntry, fixture, FIXTURE_NAMES } from './fixtures.js';

const ALL: Omit<DetectionOptions, 'scoreThreshold'> = { nmsIou: 0.6, maxDetections: 100_000 };

describe('postprocess: SsdDecoder against the reference fixtures', () => {
  const { spec, labels } = detectorEntry();
  const decoder = new SsdDecoder(spec, labels);

  for (const name of FIXTURE_NAMES) {
    it(`${name}: threshold 0.3, NMS 0.6, no cap, all classes → the reference detections`, () => {
      const f = fixture(name);
      assert.equal(f.ref.score_threshold, 0.3);
      assert.equal(f.ref.nms_iou, 0.6);
      const got = decoder.decode(f.scores, f.boxes, { ...ALL, scoreThreshold: 0.3 });
      assert.ok(f.ref.objects.length > 0, 'the reference has objects');
      assertMatchesReference(got, f.ref.objects, name);
      for (const d of got) {
        assert.ok(d.box[0] <= d.box[2] && d.box[1] <= d.box[3], `ordered corners ${d.box.join(',')}`);
        for (const v of d.box) assert.ok(v >= 0 && v <= 1, `normalised ${d.box.join(',')}`);
      }
    });
  }

  it('the fixtures do contain score ties (so the tie rule is exercised), and ties come out by class, then anchor', () => {
    let ties = 0;
    for (const name of FIXTURE_NAMES) {
      const f = fixture(name);
      const got = decoder.decode(f.scores, f.boxes, { ...ALL, scoreThreshold: 0.3 });
      for (let i = 1; i < got.length; i++) {
        assert.ok(got[i - 1]!.score >= got[i]!.score, 'score descending');
        const [p, q] = [got[i - 1]!, got[i]!];
        if (p.score === q.score) {
          ties++;
          assert.ok(
            p.class_id < q.class_id || (p.class_id === q.class_id && p.anchor < q.anchor),
            `${name}: tie at ${q.score} ordered by class, then anchor`,
          );
        }
      }
    }
    assert.ok(ties > 0, 'no tied scores in the decoded fixtures');
  });

  it('maxDetections keeps the first N of the full ordered list', () => {
    const f = fixture('000000000790');
    const full = decoder.decode(f.scores, f.boxes, { ...ALL, scoreThreshold: 0.3 });
    assert.ok(full.length >= 3, `need ≥3 detections, got ${full.length}`);
    const two = decoder.decode(f.scores, f.boxes, { ...ALL, scoreThreshold: 0.3, maxDetections: 2 });
    assert.deepEqual(two, full.slice(0, 2));
  });
});

/** A decoder over hand-placed anchors; zero encodings decode to the anchor box itself. */
function tiny(anchorsYxhw: number[][], numClasses: number, extra: Partial<DetectionSpec> = {}) {
  const spec: DetectionSpec = {
    outputs: { scores: 's', boxes: 'b' },
    num_anchors: anchorsYxhw.length,
    anchors: {
      type: 'ssd_anchor_generator',
      feature_maps: [1],
      min_scale: 0.2,
      max_scale: 0.9,
      aspect_ratios: [1],
      reduce_boxes_in_lowest_layer: false,
      interpolated_scale_aspect_ratio: 0,
    },
    box_coder: { type: 'faster_rcnn', scales: [10, 10, 5, 5] },
    score_activation: 'none',
    background_class: 0,
    ...extra,
  };
  const labels = ['background', ...Array.from({ length: numClasses - 1 }, (_, i) => `c${i + 1}`)];
  const decoder = new SsdDecoder(spec, labels, Float32Array.from(anchorsYxhw.flat()));
  const scores = new Float32Array(anchorsYxhw.length * numClasses);
  const boxes = new Float32Array(anchorsYxhw.length * 4);
  const set = (anchor: number, cls: number, s: number) => (scores[anchor * numClasses + cls] = s);
  return { decoder, scores, boxes, set };
}

const opts = (o: Partial<DetectionOptions> = {}): DetectionOptions => ({ scoreThreshold: 0.3, nmsIou: 0.6, maxDetections: 100, ...o });

describe('postprocess: SsdDecoder rules', () => {
  it('decodes the Faster R-CNN box coder (scales 10,10,5,5) and clips to [0,1]', () => {
    const t = tiny(
      [
        [0.5, 0.5, 0.2, 0.4],
        [0.1, 0.9, 0.4, 0.4],
      ],
      2,
    );
    t.set(0, 1, 0.9);
    t.set(1, 1, 0.8);
    // anchor 0: yc += 0.1·h·… ty = 10·(0.05/0.2) moves yc by 0.05; th = 5·ln 2 doubles h; tw = 0 keeps w
    t.boxes.set([10 * (0.05 / 0.2), 0, 5 * Math.LN2, 0], 0);
    const d = t.decoder.decode(t.scores, t.boxes, opts());
    const near = (a: number[], b: number[]) => a.every((v, i) => Math.abs(v - b[i]!) < 1e-6);
    assert.ok(near(d[0]!.box, [0.3, 0.35, 0.7, 0.75]), d[0]!.box.join(','));
    // anchor 1 sticks out of the top and right edges: clipped
    assert.ok(near(d[1]!.box, [0.7, 0, 1, 0.3]), d[1]!.box.join(','));
  });

  it('tie rule: of two overlapping boxes with equal scores, the lower anchor index wins', () => {
    for (const order of [
      [0, 1],
      [1, 0],
    ]) {
      // the same two boxes, once with the smaller at the lower index and once the other way round
      const boxes = [
        [0.5, 0.5, 0.4, 0.4],
        [0.5, 0.52, 0.4, 0.4],
      ];
      const t = tiny([boxes[order[0]!]!, boxes[order[1]!]!], 2);
      t.set(0, 1, 0.5);
      t.set(1, 1, 0.5);
      const d = t.decoder.decode(t.scores, t.boxes, opts());
      assert.equal(d.length, 1);
      assert.equal(d[0]!.anchor, 0, `order ${order.join(',')}`);
    }
  });

  it('a higher score beats a lower anchor index', () => {
    const t = tiny(
      [
        [0.5, 0.5, 0.4, 0.4],
        [0.5, 0.52, 0.4, 0.4],
      ],
      2,
    );
    t.set(0, 1, 0.5);
    t.set(1, 1, 0.5000001);
    assert.deepEqual(
      t.decoder.decode(t.scores, t.boxes, opts()).map((d) => d.anchor),
      [1],
    );
  });

  it('merged output: score descending, then class index, then anchor (the reference order)', () => {
    const t = tiny(
      [
        [0.2, 0.2, 0.2, 0.2],
        [0.7, 0.7, 0.2, 0.2],
      ],
      3,
    );
    t.set(1, 1, 0.5);
    t.set(0, 2, 0.5);
    t.set(0, 1, 0.5);
    t.set(1, 2, 0.6);
    const d = t.decoder.decode(t.scores, t.boxes, opts());
    assert.deepEqual(
      d.map((x) => `${x.anchor}/${x.label}`),
      ['1/c2', '0/c1', '1/c1', '0/c2'],
    );
  });

  it('NMS is per class: the same box for two classes survives twice', () => {
    const t = tiny([[0.5, 0.5, 0.4, 0.4]], 3);
    t.set(0, 1, 0.6);
    t.set(0, 2, 0.4);
    assert.deepEqual(
      t.decoder.decode(t.scores, t.boxes, opts()).map((d) => d.label),
      ['c1', 'c2'],
    );
  });

  it('IoU exactly at the threshold is kept; above it is suppressed', () => {
    // [0,0,1,1] and [0,0,0.5,1]: intersection 0.5, union 1 → IoU 0.5 exactly
    const t = tiny(
      [
        [0.5, 0.5, 1, 1],
        [0.5, 0.25, 1, 0.5],
      ],
      2,
    );
    t.set(0, 1, 0.6);
    t.set(1, 1, 0.5);
    assert.equal(iou([0, 0, 1, 1], [0, 0, 0.5, 1]), 0.5);
    assert.equal(t.decoder.decode(t.scores, t.boxes, opts({ nmsIou: 0.5 })).length, 2);
    assert.equal(t.decoder.decode(t.scores, t.boxes, opts({ nmsIou: 0.49 })).length, 1);
    assert.equal(t.decoder.decode(t.scores, t.boxes, opts({ nmsIou: 1 })).length, 2, 'IoU 1 disables suppression of distinct boxes');
  });

  it('suppression is against survivors only (a suppressed box suppresses nothing)', () => {
    // A overlaps B (IoU 1/3), B overlaps C (IoU 1/3), A and C are disjoint: with IoU 0.3, A kills B and C survives
    const t = tiny(
      [
        [0.5, 0.25, 1, 0.5],
        [0.5, 0.5, 1, 0.5],
        [0.5, 0.75, 1, 0.5],
      ],
      2,
    );
    t.set(0, 1, 0.6);
    t.set(1, 1, 0.55);
    t.set(2, 1, 0.5);
    assert.deepEqual(
      t.decoder.decode(t.scores, t.boxes, opts({ nmsIou: 0.3 })).map((d) => d.anchor),
      [0, 2],
    );
  });

  it('threshold: scores equal to a threshold are kept ("minimum score"), below are dropped; background never reported', () => {
    const t = tiny(
      [
        [0.2, 0.2, 0.1, 0.1],
        [0.8, 0.8, 0.1, 0.1],
      ],
      2,
    );
    t.set(0, 1, 0.5);
    t.set(1, 1, 0.4999);
    t.set(0, 0, 0.99);
    const d = t.decoder.decode(t.scores, t.boxes, opts({ scoreThreshold: 0.5 }));
    assert.deepEqual(
      d.map((x) => [x.anchor, x.label]),
      [[0, 'c1']],
    );
  });

  it('per-class thresholds override the global one in both directions', () => {
    const t = tiny(
      [
        [0.2, 0.2, 0.1, 0.1],
        [0.8, 0.8, 0.1, 0.1],
      ],
      3,
    );
    t.set(0, 1, 0.45);
    t.set(1, 2, 0.25);
    const d = t.decoder.decode(
      t.scores,
      t.boxes,
      opts({
        scoreThreshold: 0.3,
        classThresholds: new Map([
          [1, 0.5],
          [2, 0.2],
        ]),
      }),
    );
    assert.deepEqual(
      d.map((x) => x.label),
      ['c2'],
    );
  });

  it('classes restricts decoding to those class indices', () => {
    const t = tiny([[0.2, 0.2, 0.1, 0.1]], 4);
    t.set(0, 1, 0.5);
    t.set(0, 2, 0.6);
    t.set(0, 3, 0.7);
    assert.deepEqual(
      t.decoder.decode(t.scores, t.boxes, opts({ classes: new Set([1, 2]) })).map((x) => x.label),
      ['c2', 'c1'],
    );
    assert.deepEqual(t.decoder.decode(t.scores, t.boxes, opts({ classes: new Set() })), []);
  });

  it('maxDetections caps after the merge, keeping the best', () => {
    const anchors = Array.from({ length: 5 }, (_, i) => [0.1 + i * 0.2, 0.5, 0.1, 0.1]);
    const t = tiny(anchors, 2);
    [0.31, 0.9, 0.5, 0.7, 0.4].forEach((s, i) => t.set(i, 1, s));
    assert.deepEqual(
      t.decoder.decode(t.scores, t.boxes, opts({ maxDetections: 2 })).map((d) => d.anchor),
      [1, 3],
    );
    assert.equal(t.decoder.decode(t.scores, t.boxes, opts({ maxDetections: 1000 })).length, 5);
  });

  it('score_activation sigmoid applies the sigmoid to logits', () => {
    const t = tiny([[0.5, 0.5, 0.2, 0.2]], 2, { score_activation: 'sigmoid' });
    t.set(0, 1, 0);
    const d = t.decoder.decode(t.scores, t.boxes, opts({ scoreThreshold: 0.45 }));
    assert.equal(d.length, 1);
    assert.equal(d[0]!.score, 0.5);
    t.set(0, 1, -1);
    assert.equal(t.decoder.decode(t.scores, t.boxes, opts({ scoreThreshold: 0.45 })).length, 0);
  });

  it('refuses outputs that do not fit the anchors, and anchors that do not fit the manifest', () => {
    const t = tiny(
      [
        [0.5, 0.5, 0.2, 0.2],
        [0.5, 0.5, 0.2, 0.2],
      ],
      2,
    );
    assert.throws(() => t.decoder.decode(new Float32Array(5), t.boxes, opts()), /output sizes do not fit 2 anchors/);
    assert.throws(() => t.decoder.decode(t.scores, new Float32Array(4), opts()), /output sizes do not fit 2 anchors/);
    const { spec, labels } = detectorEntry();
    assert.throws(() => new SsdDecoder({ ...spec, num_anchors: 2000 }, labels), /made 2034 anchors but the manifest says 2000/);
  });
});

describe('postprocess: iou and toPixels', () => {
  it('iou edge cases', () => {
    assert.equal(iou([0.1, 0.1, 0.5, 0.5], [0.1, 0.1, 0.5, 0.5]), 1);
    assert.equal(iou([0, 0, 0.5, 0.5], [0.6, 0.6, 1, 1]), 0, 'disjoint');
    assert.equal(iou([0, 0, 0.5, 0.5], [0.5, 0, 1, 0.5]), 0, 'touching edges');
    assert.equal(iou([0, 0, 1, 1], [0.25, 0.25, 0.75, 0.75]), 0.25, 'contained');
    assert.equal(iou([0.3, 0.3, 0.3, 0.3], [0.3, 0.3, 0.3, 0.3]), 0, 'zero-area boxes');
    assert.equal(iou([0.3, 0.3, 0.3, 0.6], [0, 0, 1, 1]), 0, 'a line inside a box');
    assert.ok(Math.abs(iou([0, 0, 0.5, 1], [0.25, 0, 0.75, 1]) - 1 / 3) < 1e-12);
    assert.equal(iou([0, 0, 0.5, 1], [0.25, 0, 0.75, 1]), iou([0.25, 0, 0.75, 1], [0, 0, 0.5, 1]), 'symmetric');
  });

  it('toPixels rounds normalised corners to frame pixels', () => {
    assert.deepEqual(toPixels([0, 0.5, 0.2501, 1], 640, 480), [0, 240, 160, 480]);
  });
});
