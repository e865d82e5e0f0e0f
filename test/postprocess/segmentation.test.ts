import assert from 'node:assert/strict';
import { argmaxClassMap, classFractions } from '../../src/postprocess/segmentation.js';

/** logits [C,H,W] from per-cell class scores given as rows of [c0, c1, c2] */
function logits(cells: number[][], h: number, w: number): Float32Array {
  const c = cells[0]!.length;
  const out = new Float32Array(c * h * w);
  cells.forEach((scores, i) => scores.forEach((v, k) => (out[k * h * w + i] = v)));
  return out;
}

describe('postprocess: segmentation', () => {
  const classes = ['background', 'cat', 'person'];

  it('argmaxClassMap takes the best class per cell of a 2×3 map, row-major', () => {
    const l = logits(
      [
        [5, 1, 0],
        [0, 3, 1],
        [0, 1, 2],
        [-1, -2, -0.5],
        [0.1, 0.2, 0.3],
        [2, 2, 1],
      ],
      2,
      3,
    );
    const m = argmaxClassMap(l, 3, 2, 3, classes);
    assert.equal(m.width, 3);
    assert.equal(m.height, 2);
    assert.deepEqual(Array.from(m.data), [0, 1, 2, 2, 2, 0]);
    assert.equal(m.classes, classes);
  });

  it('ties go to the lower class index (background first)', () => {
    const m = argmaxClassMap(
      logits(
        [
          [1, 1, 1],
          [0, 4, 4],
        ],
        1,
        2,
      ),
      3,
      1,
      2,
      classes,
    );
    assert.deepEqual(Array.from(m.data), [0, 1]);
  });

  it('works on negative logits only and on a single class', () => {
    assert.deepEqual(Array.from(argmaxClassMap(logits([[-9, -3, -5]], 1, 1), 3, 1, 1, classes).data), [1]);
    assert.deepEqual(Array.from(argmaxClassMap(new Float32Array([7, -7]), 1, 1, 2, ['only']).data), [0, 0]);
  });

  it('refuses a logits size that does not fit, and more than 255 classes', () => {
    assert.throws(() => argmaxClassMap(new Float32Array(17), 3, 2, 3, classes), /logits size 17 != 3×2×3/);
    assert.throws(() => argmaxClassMap(new Float32Array(256), 256, 1, 1, []), /256 classes do not fit an 8-bit class map/);
  });

  it('classFractions: share of cells per class name, largest first, only classes present', () => {
    const data = Uint8Array.from([0, 0, 0, 2, 2, 1, 0, 2]);
    const f = classFractions({ width: 4, height: 2, data, classes });
    assert.deepEqual(Object.entries(f), [
      ['background', 0.5],
      ['person', 0.375],
      ['cat', 0.125],
    ]);
  });

  it('classFractions rounds to 4 decimals and names unknown indices by number', () => {
    const f = classFractions({ width: 3, height: 1, data: Uint8Array.from([0, 9, 9]), classes });
    assert.deepEqual(f, { '9': 0.6667, background: 0.3333 });
    assert.equal(Object.keys(f)[0], '9', 'largest first');
  });
});
