import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { renderSnapshot, vocColor, labelColour, boxesSvg, type SnapshotDetection } from '../../src/render/snapshot-image.js';
import { resizeNearest } from '../../src/render/mask-encoding.js';
import { validatePayload } from '../helpers/schema.js';
import { photo as photoFile, skipWithoutTestData, testData } from '../helpers/paths.js';

// the VOC mask of this photo is only in the larger evaluation data (EDGESIGHT_TEST_DATA)
const COCO = join(testData() ?? '', 'coco-train-sample');
const VOC_MASKS = join(testData() ?? '', 'voc-masks-train-sample');
const PHOTO = '000000535506'; // 480×640, a person in a kitchen
const PERSON = 15;

async function rgb(jpeg: Buffer): Promise<{ data: Buffer; width: number; height: number }> {
  const { data, info } = await sharp(jpeg).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  assert.equal(info.channels, 3);
  return { data, width: info.width, height: info.height };
}

/** The VOC mask PNG is palette-coded; sharp expands it to RGB, and the VOC colour map inverts back to indices. */
async function vocMask(id: string): Promise<{ map: Uint8Array; width: number; height: number }> {
  const img = await rgb(readFileSync(join(VOC_MASKS, `${id}.png`)));
  const byColour = new Map<number, number>();
  for (let c = 0; c < 256; c++) {
    const [r, g, b] = vocColor(c);
    byColour.set((r << 16) | (g << 8) | b, c);
  }
  const map = new Uint8Array(img.width * img.height);
  for (let i = 0; i < map.length; i++) {
    const c = byColour.get((img.data[i * 3]! << 16) | (img.data[i * 3 + 1]! << 8) | img.data[i * 3 + 2]!);
    if (c === undefined) throw new Error(`pixel ${i} of the mask is not a VOC palette colour`);
    map[i] = c === 255 ? 0 : c; // 255 = "ignore" in VOC
  }
  return { map, width: img.width, height: img.height };
}

function personBox(): SnapshotDetection {
  const j = JSON.parse(readFileSync(join(COCO, 'instances.json'), 'utf8')) as {
    images: Array<{ id: number; file_name: string; width: number; height: number }>;
    annotations: Array<{ image_id: number; category_id: number; bbox: [number, number, number, number]; area: number }>;
  };
  const im = j.images.find((i) => i.file_name === `${PHOTO}.jpg`)!;
  const a = j.annotations.filter((x) => x.image_id === im.id && x.category_id === 1).sort((p, q) => q.area - p.area)[0]!;
  const [x, y, w, h] = a.bbox;
  return { label: 'person', score: 0.91, box: [x / im.width, y / im.height, (x + w) / im.width, (y + h) / im.height] };
}

function meanAbsDiff(a: Buffer, b: Buffer, pixels: number[]): number {
  let s = 0;
  for (const p of pixels) for (let c = 0; c < 3; c++) s += Math.abs(a[p * 3 + c]! - b[p * 3 + c]!);
  return s / (pixels.length * 3);
}

describe('mqtt/snapshot', () => {
  it('vocColor is the Pascal VOC colour map', () => {
    assert.deepEqual(vocColor(0), [0, 0, 0]);
    assert.deepEqual(vocColor(1), [128, 0, 0]);
    assert.deepEqual(vocColor(15), [192, 128, 128]);
    assert.deepEqual(vocColor(20), [0, 64, 128]);
    assert.deepEqual(vocColor(255), [224, 224, 192]);
  });

  it('label colours are stable and text is XML-escaped', () => {
    assert.equal(labelColour('person'), labelColour('person'));
    const svg = boxesSvg([{ label: '<cat & "dog">', score: 0.5, box: [0, 0, 1, 1] }], 100, 100);
    assert.ok(svg.includes('&lt;cat &amp; &quot;dog&quot;&gt; 50%'), svg);
    assert.ok(!svg.includes('<cat'), svg);
  });

  describe('on a real photo with its VOC mask at the segmenter resolution (1/8)', () => {
    let photo: Buffer;
    let plain: { data: Buffer; width: number; height: number };
    let small: { map: Uint8Array; width: number; height: number };
    let full: Uint8Array;
    let det: SnapshotDetection;

    before(async function () {
      skipWithoutTestData(this, 'the snapshot overlay check on COCO 000000535506 with its VOC mask');
      det = personBox();
      photo = readFileSync(join(COCO, `${PHOTO}.jpg`));
      plain = await rgb(await renderSnapshot({ image: photo, detections: [], quality: 90 }));
      const m = await vocMask(PHOTO);
      small = { map: resizeNearest(m.map, m.width, m.height, m.width / 8, m.height / 8), width: m.width / 8, height: m.height / 8 };
      full = resizeNearest(small.map, small.width, small.height, plain.width, plain.height);
    });

    it('returns a valid JPEG of the frame size', async () => {
      const jpeg = await renderSnapshot({ image: photo, detections: [det], mask: small, quality: 90 });
      validatePayload('snapshot', jpeg);
      const meta = await sharp(jpeg).metadata();
      assert.equal(meta.format, 'jpeg');
      assert.equal(meta.width, 480);
      assert.equal(meta.height, 640);
    });

    it('tints mask pixels with their VOC colour and leaves background pixels alone', async () => {
      const out = await rgb(await renderSnapshot({ image: photo, detections: [], mask: small, quality: 90, maskOpacity: 0.5 }));
      const W = plain.width;
      // Interior pixels only (8 px from any class edge) so JPEG ringing at edges does not matter.
      const interior = (cls: number): number[] => {
        const px: number[] = [];
        for (let y = 8; y < plain.height - 8; y += 2) {
          for (let x = 8; x < W - 8; x += 2) {
            let ok = true;
            for (const [dx, dy] of [
              [0, 0],
              [-8, 0],
              [8, 0],
              [0, -8],
              [0, 8],
              [-8, -8],
              [8, 8],
              [-8, 8],
              [8, -8],
            ] as const)
              if (full[(y + dy) * W + x + dx] !== cls) ok = false;
            if (ok) px.push(y * W + x);
          }
        }
        return px;
      };
      const person = interior(PERSON);
      const background = interior(0);
      assert.ok(person.length > 1000 && background.length > 1000, `${person.length} person / ${background.length} background pixels`);
      const [pr, pg, pb] = vocColor(PERSON);
      const expected = Buffer.alloc(plain.data.length);
      for (const p of person) {
        expected[p * 3] = Math.round(0.5 * plain.data[p * 3]! + 0.5 * pr);
        expected[p * 3 + 1] = Math.round(0.5 * plain.data[p * 3 + 1]! + 0.5 * pg);
        expected[p * 3 + 2] = Math.round(0.5 * plain.data[p * 3 + 2]! + 0.5 * pb);
      }
      const moved = meanAbsDiff(out.data, plain.data, person);
      const fromBlend = meanAbsDiff(out.data, expected, person);
      const bg = meanAbsDiff(out.data, plain.data, background);
      assert.ok(moved > 20, `person pixels moved by ${moved.toFixed(1)} only`);
      assert.ok(fromBlend < 6, `person pixels are ${fromBlend.toFixed(1)} away from a 50% blend with the VOC person colour`);
      assert.ok(bg < 2, `background pixels changed by ${bg.toFixed(2)}`);
    });

    it('draws the box outline in the label colour where the box is, and nothing far from it', async () => {
      const out = await rgb(await renderSnapshot({ image: photo, detections: [det], quality: 90 }));
      const W = plain.width;
      const H = plain.height;
      const [x1, y1, x2, y2] = det.box.map((v, i) => Math.round(v * (i % 2 === 0 ? W : H)));
      const colour = labelColour('person');
      const target = [1, 3, 5].map((i) => parseInt(colour.slice(i, i + 2), 16));
      const edge: number[] = [];
      // The middle of the left and right edges (the label sits at the top), 1 px inside the outline.
      for (let y = y1! + 60; y < y2! - 20; y += 3) edge.push(y * W + x1! + 1, y * W + x2! - 2);
      let err = 0;
      for (const p of edge) for (let c = 0; c < 3; c++) err += Math.abs(out.data[p * 3 + c]! - target[c]!);
      err /= edge.length * 3;
      assert.ok(err < 25, `box edge pixels are ${err.toFixed(1)} away from ${colour}`);
      assert.ok(meanAbsDiff(out.data, plain.data, edge) > 40, 'edge pixels changed');
      const far: number[] = [];
      for (let y = 0; y < H; y += 3) for (let x = 0; x < W; x += 3) if (x < x1! - 16 || x > x2! + 16 || y > y2! + 16) far.push(y * W + x);
      assert.ok(meanAbsDiff(out.data, plain.data, far) < 1, 'pixels far from the box are untouched');
    });
  });

  it('accepts raw RGB frames and PNG frames', async () => {
    const width = 64;
    const height = 48;
    const data = Buffer.alloc(width * height * 3, 90);
    const fromRaw = await renderSnapshot({ image: { data, width, height }, detections: [{ label: 'cat', score: 0.7, box: [0.1, 0.1, 0.9, 0.9] }] });
    assert.deepEqual([(await sharp(fromRaw).metadata()).width, (await sharp(fromRaw).metadata()).height], [64, 48]);
    const png = readFileSync(photoFile('chelsea.png'));
    const meta = await sharp(png).metadata();
    const fromPng = await renderSnapshot({ image: png, detections: [], mask: { map: new Uint8Array(4).fill(8), width: 2, height: 2 } });
    const out = await sharp(fromPng).metadata();
    assert.deepEqual([out.format, out.width, out.height], ['jpeg', meta.width, meta.height]);
  });

  it('clamps boxes that stick out of the frame', async () => {
    const jpeg = await renderSnapshot({
      image: { data: Buffer.alloc(32 * 32 * 3), width: 32, height: 32 },
      detections: [{ label: 'dog', score: 1, box: [-0.2, -0.1, 1.3, 1.2] }],
    });
    assert.equal((await sharp(jpeg).metadata()).width, 32);
  });

  it('rejects bad input with a clear error', async () => {
    const raw = { data: Buffer.alloc(10), width: 4, height: 4 };
    await assert.rejects(renderSnapshot({ image: raw, detections: [] }), /10 bytes, expected 4×4×3 = 48/);
    await assert.rejects(renderSnapshot({ image: Buffer.from('not an image'), detections: [] }), /cannot be decoded/);
    const ok = { data: Buffer.alloc(48), width: 4, height: 4 };
    await assert.rejects(renderSnapshot({ image: ok, detections: [], quality: 0 }), /quality must be an integer 1..100/);
    await assert.rejects(renderSnapshot({ image: ok, detections: [], maskOpacity: 2 }), /opacity/);
    await assert.rejects(renderSnapshot({ image: ok, detections: [], mask: { map: new Uint8Array(3), width: 2, height: 2 } }), /3 values for 2×2/);
    await assert.rejects(renderSnapshot({ image: ok, detections: [{ label: 'x', score: 1, box: [0.5, 0, 0.1, 1] }] }), /corners are not ordered/);
    await assert.rejects(renderSnapshot({ image: ok, detections: [{ label: 'x', score: 1, box: [0, 0, Number.NaN, 1] }] }), /4 finite/);
  });
});
