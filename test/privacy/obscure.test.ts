import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import * as ort from 'onnxruntime-node';
import { decodeRgb, dilate, obscureFrame, type PrivacyMask, type RgbImage } from '../../src/privacy/obscure.js';
import { hwcToNchw } from '../../src/preprocess/preprocess.js';
import { argmaxClassMap } from '../../src/postprocess/segmentation.js';
import { GOLDEN_DIR, LRASPP_FP32, photo, REPO } from '../helpers/paths.js';
import path from 'node:path';

const VOC = readFileSync(path.join(REPO, 'models', 'labels', 'voc_labels.txt'), 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter(Boolean);

/** The real segmenter (the shipped fp32 LR-ASPP) on a photo: its class map. */
async function segment(file: string, session: ort.InferenceSession): Promise<PrivacyMask> {
  const w = 320;
  const h = 240;
  const { data } = await sharp(file).removeAlpha().resize(w, h, { fit: 'fill' }).raw().toBuffer({ resolveWithObject: true });
  const input = new ort.Tensor('float32', hwcToNchw(data, w, h, 1 / 127.5, -1), [1, 3, h, w]);
  const out = await session.run({ [session.inputNames[0]!]: input });
  const logits = out[session.outputNames[0]!]!;
  const [, c, mh, mw] = logits.dims as [number, number, number, number];
  const map = argmaxClassMap(logits.data as Float32Array, c, mh, mw, VOC);
  return { ...map, at: 1000 };
}

/** Mean squared Laplacian over the pixels where `sel` is 1: the image's high-frequency energy there. */
function hfEnergy(img: RgbImage, sel: Uint8Array): number {
  const { width: w, height: h, data } = img;
  let sum = 0;
  let n = 0;
  for (let y = 1; y < h - 1; y++) {
    for (let x = 1; x < w - 1; x++) {
      const i = y * w + x;
      if (!sel[i]) continue;
      for (let c = 0; c < 3; c++) {
        const p = (k: number): number => data[k * 3 + c]!;
        const lap = 4 * p(i) - p(i - 1) - p(i + 1) - p(i - w) - p(i + w);
        sum += lap * lap;
      }
      n++;
    }
  }
  return sum / Math.max(1, n * 3);
}

function personRegion(m: PrivacyMask, w: number, h: number): Uint8Array {
  const person = VOC.indexOf('person');
  const out = new Uint8Array(w * h);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) out[y * w + x] = m.data[Math.floor((y * m.height) / h) * m.width + Math.floor((x * m.width) / w)] === person ? 1 : 0;
  return out;
}

describe('privacy: the person is obscured in real photos, the rest is untouched', function () {
  this.timeout(120_000);
  let session: ort.InferenceSession;
  before(async () => {
    session = await ort.InferenceSession.create(LRASPP_FP32);
  });

  for (const [name, mode] of [
    ['astronaut.png', 'blur'],
    ['messi5.jpg', 'blur'],
    ['astronaut.png', 'fill'],
    ['messi5.jpg', 'pixelate'],
  ] as const) {
    it(`${name}, ${mode}, from the segmentation mask: high-frequency energy inside falls by a large factor, outside unchanged`, async () => {
      const img = await decodeRgb(readFileSync(photo(name)));
      const mask = await segment(photo(name), session);
      const region = personRegion(mask, img.width, img.height);
      const inside = region.reduce((a, b) => a + b, 0);
      assert.ok(inside > img.width * img.height * 0.05, `the segmenter finds a person in ${name} (${inside} px)`);
      const res = await obscureFrame(img, { classes: ['person'], mode, dilate_px: 8, max_mask_age_s: 1 }, { at: 1500, mask, boxes: null });
      assert.ok(res.image, 'an image');
      assert.equal(res.image === null ? '' : res.method, 'mask');
      const out = res.image!;
      const before = hfEnergy(img, region);
      const after = hfEnergy(out, region);
      console.log(
        `      ${name} ${mode}: HF energy in the person region ${before.toFixed(1)} → ${after.toFixed(1)} (÷${(before / Math.max(after, 1e-9)).toFixed(0)})`,
      );
      // pixelation keeps hard block edges (that is what it looks like), so it is held to a smaller factor
      const factor = mode === 'pixelate' ? 3 : 10;
      assert.ok(after * factor < before, `energy inside must fall by more than ${factor}×: ${before.toFixed(1)} → ${after.toFixed(1)}`);
      // outside the dilated region every pixel is byte-identical
      const grown = dilate(region, img.width, img.height, 8 + Math.ceil(img.width / mask.width));
      let changedOutside = 0;
      for (let i = 0; i < grown.length; i++) {
        if (grown[i]) continue;
        if (out.data[i * 3] !== img.data[i * 3] || out.data[i * 3 + 1] !== img.data[i * 3 + 1] || out.data[i * 3 + 2] !== img.data[i * 3 + 2])
          changedOutside++;
      }
      assert.equal(changedOutside, 0, 'pixels outside the (dilated) person region are unchanged');
    });
  }

  it('a stale mask falls back to the tracked person boxes (golden detections of astronaut.png)', async () => {
    const img = await decodeRgb(readFileSync(photo('astronaut.png')));
    const golden = JSON.parse(readFileSync(path.join(GOLDEN_DIR, 'astronaut.detections.json'), 'utf8')) as {
      objects: Array<{ label: string; box: [number, number, number, number] }>;
    };
    const boxes = golden.objects.filter((o) => o.label === 'person');
    assert.ok(boxes.length >= 1);
    const stale: PrivacyMask = { data: new Uint8Array(4), width: 2, height: 2, classes: VOC, at: 0 };
    const res = await obscureFrame(img, { classes: ['person'], mode: 'blur', dilate_px: 4, max_mask_age_s: 1 }, { at: 5000, mask: stale, boxes });
    assert.ok(res.image);
    assert.equal(res.image === null ? '' : res.method, 'boxes');
    const b = boxes[0]!.box;
    const region = new Uint8Array(img.width * img.height);
    for (let y = Math.ceil(b[1] * img.height) + 2; y < Math.floor(b[3] * img.height) - 2; y++)
      region.fill(1, y * img.width + Math.ceil(b[0] * img.width) + 2, y * img.width + Math.floor(b[2] * img.width) - 2);
    const before = hfEnergy(img, region);
    const after = hfEnergy(res.image!, region);
    assert.ok(after * 10 < before, `${before.toFixed(1)} → ${after.toFixed(1)}`);
  });

  it('neither a fresh mask nor tracked boxes: no image at all, with the reason', async () => {
    const img = await decodeRgb(readFileSync(photo('astronaut.png')));
    const stale: PrivacyMask = { data: new Uint8Array(4), width: 2, height: 2, classes: VOC, at: 0 };
    const res = await obscureFrame(
      img,
      { classes: ['person'], mode: 'blur', dilate_px: 4, max_mask_age_s: 1 },
      { at: 5000, mask: stale, boxes: null },
    );
    assert.equal(res.image, null);
    assert.match(res.image === null ? res.reason : '', /5\.0 s old/);
  });

  it('dilation grows a single pixel to a (2r+1)² square', () => {
    const src = new Uint8Array(11 * 11);
    src[5 * 11 + 5] = 1;
    assert.equal(
      dilate(src, 11, 11, 2).reduce((a, b) => a + b, 0),
      25,
    );
  });
});
