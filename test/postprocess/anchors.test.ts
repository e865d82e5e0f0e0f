import assert from 'node:assert/strict';
import path from 'node:path';
import { generateSsdAnchors, SSDLITE_320_ANCHORS } from '../../src/postprocess/anchors.js';
import { FIXTURES, readF32 } from './fixtures.js';

describe('postprocess: SSD anchors', () => {
  it('SSDLite 320 anchors equal the reference [2034,4] (yc, xc, h, w) within 1e-6', () => {
    const want = readF32(path.join(FIXTURES, 'anchors_ycxchw.f32'));
    const got = generateSsdAnchors(SSDLITE_320_ANCHORS);
    assert.equal(want.length, 2034 * 4);
    assert.equal(got.length, want.length);
    let worst = 0;
    let at = -1;
    for (let i = 0; i < got.length; i++) {
      const d = Math.abs(got[i]! - want[i]!);
      if (d > worst) [worst, at] = [d, i];
    }
    assert.ok(worst <= 1e-6, `max abs diff ${worst} at anchor ${Math.floor(at / 4)} component ${at % 4}`);
  });

  it('the first cell has the reduced lowest-layer boxes: (0.1, ar 1), (0.2, ar 2), (0.2, ar 0.5)', () => {
    const a = generateSsdAnchors(SSDLITE_320_ANCHORS);
    const row = (i: number) => Array.from(a.subarray(i * 4, i * 4 + 4));
    const close = (x: number[], y: number[]) => x.every((v, i) => Math.abs(v - y[i]!) < 1e-6);
    assert.ok(close(row(0), [0.025, 0.025, 0.1, 0.1]), String(row(0)));
    assert.ok(close(row(1), [0.025, 0.025, 0.2 / Math.SQRT2, 0.2 * Math.SQRT2]), String(row(1)));
    assert.ok(close(row(2), [0.025, 0.025, 0.2 * Math.SQRT2, 0.2 / Math.SQRT2]), String(row(2)));
    // the last anchor: the 1×1 map's interpolated square anchor, scale sqrt(0.95·1.0)
    assert.ok(close(row(2033), [0.5, 0.5, Math.sqrt(0.95), Math.sqrt(0.95)]), String(row(2033)));
  });

  it('a single-layer spec uses min_scale', () => {
    const a = generateSsdAnchors({
      ...SSDLITE_320_ANCHORS,
      feature_maps: [2],
      aspect_ratios: [1],
      reduce_boxes_in_lowest_layer: false,
      interpolated_scale_aspect_ratio: 0,
    });
    assert.deepEqual(
      Array.from(a),
      [0.25, 0.25, 0.2, 0.2, 0.25, 0.75, 0.2, 0.2, 0.75, 0.25, 0.2, 0.2, 0.75, 0.75, 0.2, 0.2].map((v) => Math.fround(v)),
    );
  });
});
