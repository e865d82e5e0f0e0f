import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { decodePngGray8 } from '../../src/render/mask-encoding.js';
import { toModelInput } from '../../src/preprocess/preprocess.js';
import { TEST_CACHE } from '../helpers/daemon.js';
import { LRASPP } from '../helpers/onnx-build.js';
import { PHOTOS, REPO, runCli } from './run-cli.js';

const ENV = { EDGESIGHT__MODELS__CACHE_DIR: TEST_CACHE, EDGESIGHT_OFFLINE: '1' };
const VOC = readFileSync(path.join(REPO, 'models', 'labels', 'voc_labels.txt'), 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter(Boolean);

interface Line {
  file: string;
  width: number;
  height: number;
  mask_width: number;
  mask_height: number;
  classes: Record<string, number>;
  mask?: string;
}

/** The class map computed here, independently of the command's post-processing: LR-ASPP run directly, argmax by hand. */
async function referenceMap(file: string, width: number, height: number): Promise<{ map: Uint8Array; w: number; h: number }> {
  const data = readFileSync(file);
  const input = await toModelInput(
    { kind: 'encoded', id: 0, capturedAt: 0, capturedMono: 0, data, format: path.extname(file).slice(1), origin: file },
    { name: 'image', layout: 'NCHW', dtype: 'float32', width: null, height: null, color: 'RGB', scale: 1 / 127.5, offset: -1, resize: 'stretch' },
    width,
    height,
  );
  const s = await ort.InferenceSession.create(LRASPP, { intraOpNumThreads: 1 });
  const out = (await s.run({ image: new ort.Tensor('float32', input.data, [1, 3, height, width]) }))['logits']!;
  await s.release();
  const [, c, h, w] = out.dims as number[];
  const logits = out.data as Float32Array;
  const map = new Uint8Array(h! * w!);
  for (let i = 0; i < map.length; i++) {
    let best = 0;
    for (let k = 1; k < c!; k++) if (logits[k * map.length + i]! > logits[best * map.length + i]!) best = k;
    map[i] = best;
  }
  return { map, w: w!, h: h! };
}

describe('edgesight segment (child process, real LR-ASPP)', function () {
  this.timeout(120_000);
  const astronaut = path.join(PHOTOS, 'astronaut.png');

  it('astronaut (default config, the int8 segmenter): person is the dominant non-background class at 40×30; the PNG holds the map', async () => {
    const out = mkdtempSync(path.join(tmpdir(), 'edgesight-seg-'));
    const r = await runCli(['segment', astronaut, '--json', '--out-dir', out], ENV);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 1);
    const l = JSON.parse(lines[0]!) as Line;
    assert.equal(l.file, astronaut);
    assert.deepEqual([l.width, l.height, l.mask_width, l.mask_height], [512, 512, 40, 30]);
    const nonBg = Object.entries(l.classes).filter(([k]) => k !== 'background');
    assert.equal(nonBg[0]?.[0], 'person', JSON.stringify(l.classes));
    assert.ok(nonBg[0]![1] > 0.1, `person covers ${nonBg[0]![1]}`);
    const total = Object.values(l.classes).reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(total - 1) < 1e-3, `fractions add up to ${total}`);
    assert.equal(l.mask, path.join(out, 'astronaut.png'));
    const png = decodePngGray8(readFileSync(l.mask!)); // plain zlib reader: 8-bit grey, no palette
    assert.deepEqual([png.width, png.height], [40, 30]);
    // the JSON fractions are those of the PNG's class indices
    for (const [label, f] of Object.entries(l.classes)) {
      const share = png.data.filter((v) => v === VOC.indexOf(label)).length / png.data.length;
      assert.ok(Math.abs(share - f) < 1e-4, `${label}: ${f} in JSON, ${share} in the PNG`);
    }
  });

  it('fp32: the PNG pixels are exactly the argmax of the raw LR-ASPP logits (computed here independently)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'edgesight-seg-'));
    const cfg = path.join(dir, 'config.yaml');
    writeFileSync(cfg, 'models: { precision: fp32 }\n');
    const r = await runCli(['segment', astronaut, '--json', '--out-dir', dir, '--config', cfg], ENV);
    assert.equal(r.code, 0, r.stderr);
    const l = JSON.parse(r.stdout) as Line;
    const png = decodePngGray8(readFileSync(l.mask!));
    const ref = await referenceMap(astronaut, 320, 240);
    assert.deepEqual([ref.w, ref.h, png.width, png.height], [40, 30, 40, 30]);
    assert.ok(Buffer.from(png.data).equals(Buffer.from(ref.map)), 'PNG pixels == argmax class indices');
    const personShare = ref.map.filter((v) => v === VOC.indexOf('person')).length / ref.map.length;
    assert.ok(Math.abs(l.classes['person']! - personShare) < 1e-4);
  });

  it('follows segmentation.width/height from the config (and runs with segmentation.every: 0)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'edgesight-seg-'));
    const cfg = path.join(dir, 'config.yaml');
    writeFileSync(cfg, 'segmentation: { every: 0, width: 160, height: 128 }\n');
    const r = await runCli(['segment', astronaut, '--json', '--config', cfg], ENV);
    assert.equal(r.code, 0, r.stderr);
    const l = JSON.parse(r.stdout) as Line;
    assert.deepEqual([l.mask_width, l.mask_height], [20, 16]);
    assert.equal(l.mask, undefined, 'no PNG without --out-dir');
  });

  it('goes on past a bad image, names it, exits 1; refuses to overwrite an input image', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'edgesight-seg-'));
    const bad = path.join(dir, 'broken.jpg');
    writeFileSync(bad, 'not an image');
    const copy = path.join(dir, 'astronaut.png');
    copyFileSync(astronaut, copy);
    const r = await runCli(['segment', bad, path.join(PHOTOS, 'chelsea.png'), copy, '--json', '--out-dir', dir], ENV);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`${bad}: `));
    assert.match(r.stderr, /the mask would overwrite the input image .*astronaut\.png; choose another --out-dir/);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((x) => JSON.parse(x) as Line);
    assert.deepEqual(
      lines.map((x) => path.basename(x.file)),
      ['chelsea.png'],
    );
    assert.ok(readFileSync(copy).equals(readFileSync(astronaut)), 'the input image is untouched');
  });

  it('without an image: usage error 64', async () => {
    const r = await runCli(['segment', '--json'], ENV);
    assert.equal(r.code, 64);
    assert.match(r.stderr, /segment needs at least one IMAGE/);
  });
});
