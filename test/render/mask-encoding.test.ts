import assert from 'node:assert/strict';
import sharp from 'sharp';
import { pngWithFilters } from './png-filters.js';
import {
  resizeNearest,
  encodeMask,
  decodeMask,
  decodePngGray8,
  rleEncode,
  rleDecode,
  maskChanged,
  MaskCadence,
  buildMaskPayload,
} from '../../src/render/mask-encoding.js';

/** A blobby class map like a segmenter's: background with a rectangle of class 15 and a disc of class 7. */
function sceneMap(w: number, h: number): Uint8Array {
  const m = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (x >= w / 4 && x < w / 2 && y >= h / 3) m[y * w + x] = 15;
      if ((x - 0.75 * w) ** 2 + (y - 0.3 * h) ** 2 < (0.15 * w) ** 2) m[y * w + x] = 7;
    }
  }
  return m;
}

/** Deterministic pseudo-random map so the PNG filters see every kind of neighbourhood. */
function noiseMap(w: number, h: number, max: number, seed = 1): Uint8Array {
  const m = new Uint8Array(w * h);
  let s = seed;
  for (let i = 0; i < m.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    m[i] = (s >>> 16) % (max + 1);
  }
  return m;
}

describe('mqtt/mask-encoding', () => {
  describe('resizeNearest', () => {
    it('is the identity at the same size (as a copy)', () => {
      const m = sceneMap(40, 30);
      const r = resizeNearest(m, 40, 30, 40, 30);
      assert.deepEqual(r, m);
      assert.notEqual(r, m);
    });
    it('upsamples 2×2 to 4×4 by replicating each value', () => {
      const r = resizeNearest(Uint8Array.from([1, 2, 3, 4]), 2, 2, 4, 4);
      assert.deepEqual([...r], [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
    });
    it('downsamples by picking pixel-centre samples, never inventing classes', () => {
      const m = noiseMap(80, 60, 20);
      const r = resizeNearest(m, 80, 60, 40, 30);
      for (let y = 0; y < 30; y++) for (let x = 0; x < 40; x++) assert.equal(r[y * 40 + x], m[(2 * y + 1) * 80 + (2 * x + 1)]);
      const r2 = resizeNearest(m, 80, 60, 17, 11);
      const present = new Set(m);
      for (const v of r2) assert.ok(present.has(v));
    });
    it('rejects maps of the wrong length and bad sizes', () => {
      assert.throws(() => resizeNearest(new Uint8Array(5), 2, 2, 4, 4), /5 values, expected 2×2 = 4/);
      assert.throws(() => resizeNearest(new Uint8Array(4), 2, 2, 0, 4), /positive integers/);
    });
  });

  describe('rle', () => {
    it('encodes runs in row-major order and decodes back', () => {
      const m = Uint8Array.from([0, 0, 0, 5, 5, 0, 0, 0, 0, 0, 7, 7]);
      const rle = rleEncode(m);
      assert.deepEqual(rle, [0, 3, 5, 2, 0, 5, 7, 2]);
      assert.deepEqual(rleDecode(rle, 4, 3), m);
    });
    it('round-trips a segmenter-like map and is small for it', () => {
      const m = sceneMap(40, 30);
      const rle = rleEncode(m);
      assert.deepEqual(rleDecode(rle, 40, 30), m);
      assert.ok(rle.length < m.length / 4, `rle length ${rle.length}`);
    });
    it('rejects malformed data with the reason', () => {
      assert.throws(() => rleDecode([0, 3, 5], 2, 2), /odd length 3/);
      assert.throws(() => rleDecode([0, 3], 2, 2), /add up to 3 pixels, expected 2×2 = 4/);
      assert.throws(() => rleDecode([0, 5], 2, 2), /exceed/);
      assert.throws(() => rleDecode([256, 4], 2, 2), /0\.\.255/);
      assert.throws(() => rleDecode([1, 0, 1, 4], 2, 2), /positive integer/);
      assert.throws(() => rleDecode([1.5, 4], 2, 2), /integer/);
    });
  });

  describe('png', () => {
    it('writes an 8-bit greyscale PNG with no palette or gamma chunks', async () => {
      const enc = await encodeMask(sceneMap(40, 30), 40, 30, 'png');
      assert.equal(enc.encoding, 'png');
      const png = Buffer.from(enc.data as string, 'base64');
      const chunks: string[] = [];
      for (let off = 8; off < png.length; off += 12 + png.readUInt32BE(off)) chunks.push(png.toString('latin1', off + 4, off + 8));
      assert.equal(chunks[0], 'IHDR');
      assert.equal(png[8 + 8 + 8], 8, 'bit depth');
      assert.equal(png[8 + 8 + 9], 0, 'colour type 0 = greyscale');
      for (const c of ['PLTE', 'gAMA', 'iCCP', 'sRGB', 'cHRM', 'tRNS'])
        assert.ok(!chunks.includes(c), `unexpected ${c} chunk in ${chunks.join(',')}`);
    });
    for (const [name, map, w, h] of [
      ['scene 40×30', sceneMap(40, 30), 40, 30],
      ['noise over 0..255 at 33×7', noiseMap(33, 7, 255, 9), 33, 7],
      ['noise over VOC classes 64×48', noiseMap(64, 48, 20, 3), 64, 48],
      ['one pixel', Uint8Array.from([200]), 1, 1],
    ] as const) {
      it(`stores exact class values (${name}): our decoder and sharp's agree with the input`, async () => {
        const enc = await encodeMask(map, w, h, 'png');
        const png = Buffer.from(enc.data as string, 'base64');
        const ours = decodePngGray8(png);
        assert.equal(ours.width, w);
        assert.equal(ours.height, h);
        assert.deepEqual(ours.data, map);
        const { data, info } = await sharp(png).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
        assert.equal(info.width, w);
        assert.equal(info.height, h);
        assert.deepEqual(new Uint8Array(data), map);
        assert.deepEqual(decodeMask({ width: w, height: h, ...enc }), map);
      });
    }
    it('decodes PNGs using each of the five row filters, and sharp agrees', async () => {
      const map = noiseMap(50, 40, 255, 5);
      const png = pngWithFilters(map, 50, 40, (y) => (y % 5) as 0 | 1 | 2 | 3 | 4);
      assert.deepEqual(decodePngGray8(png).data, map);
      const { data } = await sharp(png).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
      assert.deepEqual(new Uint8Array(data), map, 'the hand-written PNG is valid for libpng too');
    });
    it('detects corruption and mismatched sizes', async () => {
      const enc = await encodeMask(sceneMap(40, 30), 40, 30, 'png');
      const png = Buffer.from(enc.data as string, 'base64');
      const bad = Buffer.from(png);
      bad[40] = bad[40]! ^ 0xff;
      assert.throws(() => decodePngGray8(bad), /CRC mismatch/);
      assert.throws(() => decodePngGray8(Buffer.from('nope')), /not a PNG/);
      assert.throws(() => decodePngGray8(png.subarray(0, png.length - 12)), /missing IEND/);
      assert.throws(() => decodeMask({ width: 20, height: 30, ...enc }), /PNG is 40×30 but the payload says 20×30/);
      const rgb = await sharp({ create: { width: 2, height: 2, channels: 3, background: '#f00' } })
        .png()
        .toBuffer();
      assert.throws(() => decodePngGray8(rgb), /expected 8-bit greyscale/);
    });
  });

  describe('decodeMask', () => {
    it('rejects unknown encodings and mistyped data', () => {
      assert.throws(() => decodeMask({ width: 1, height: 1, encoding: 'bmp', data: '' }), /unknown encoding "bmp"/);
      assert.throws(() => decodeMask({ width: 1, height: 1, encoding: 'rle', data: 'abc' }), /rle data must be a JSON array/);
      assert.throws(() => decodeMask({ width: 1, height: 1, encoding: 'png', data: [1] }), /base64 string/);
    });
    it('encodeMask rejects unknown encodings', async () => {
      await assert.rejects(encodeMask(new Uint8Array(1), 1, 1, 'jpeg' as 'png'), /unknown encoding "jpeg"/);
    });
  });

  describe('maskChanged', () => {
    it('counts differing pixels against the fraction', () => {
      const a = new Uint8Array(100);
      const b = a.slice();
      assert.equal(maskChanged(null, a), true);
      assert.equal(maskChanged(a, b), false);
      b[0] = 1;
      assert.equal(maskChanged(a, b), true, 'any change at fraction 0');
      assert.equal(maskChanged(a, b, 0.01), false, '1 of 100 is not more than 1%');
      b[1] = 1;
      assert.equal(maskChanged(a, b, 0.01), true);
      assert.equal(maskChanged(a, new Uint8Array(99), 0.5), true, 'size change');
      assert.throws(() => maskChanged(a, b, 1), /\[0, 1\)/);
      assert.throws(() => maskChanged(a, b, -0.1), /\[0, 1\)/);
    });
  });

  describe('MaskCadence', () => {
    it('publishes every Nth', () => {
      const c = new MaskCadence({ every: 3, onChange: false });
      const m = new Uint8Array(4);
      assert.deepEqual(
        [0, 1, 2, 3, 4, 5, 6].map(() => c.shouldPublish(m)),
        [true, false, false, true, false, false, true],
      );
      assert.equal(c.skipped, 4);
    });
    it('on change compares with the last published mask, not the last seen', () => {
      const c = new MaskCadence({ every: 1, onChange: true, minChangedFraction: 0.25 });
      const m0 = new Uint8Array(4);
      assert.equal(c.shouldPublish(m0), true);
      assert.equal(c.shouldPublish(Uint8Array.from([1, 0, 0, 0])), false, '1/4 is not more than 25%');
      // Drift accumulates against the published one until it crosses the threshold.
      assert.equal(c.shouldPublish(Uint8Array.from([1, 1, 0, 0])), true);
      assert.equal(c.shouldPublish(Uint8Array.from([1, 1, 0, 0])), false);
    });
    it('rejects bad settings', () => {
      assert.throws(() => new MaskCadence({ every: 0, onChange: false }), /masks.every must be a positive integer/);
      assert.throws(() => new MaskCadence({ every: 1, onChange: true, minChangedFraction: 2 }), /\[0, 1\)/);
    });
  });

  describe('buildMaskPayload', () => {
    it('refuses class indices beyond the class list', async () => {
      await assert.rejects(
        buildMaskPayload({
          camera: 'c',
          frameId: 1,
          capturedAt: 1,
          publishedAt: 2,
          map: Uint8Array.from([0, 21]),
          width: 2,
          height: 1,
          frameWidth: 640,
          frameHeight: 480,
          classes: ['background'],
          encoding: 'rle',
        }),
        /class index 21 but only 1 class names/,
      );
    });
  });
});
