// The product's segmenter (e.g. the prepared int8 LR-ASPP) at 320×240 on two fixture inputs; argmax
// masks at 1/8 are written as JSON, and with --ref compared with the x64 masks (agreement ≥ 97% of
// cells per photo). Stands in for `edgesight segment` until the CLI has it.
//
//   node seg.mjs --model <onnx> --out <json> [--ref <x64 json>] [--label <text>]
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: { model: { type: 'string' }, out: { type: 'string' }, ref: { type: 'string' }, label: { type: 'string', default: 'segmenter' } },
});
if (!args.model || !args.out) throw new Error('usage: node seg.mjs --model <onnx> --out <json> [--ref <json>]');
const SHARED = process.env.EDGESIGHT_SHARED ?? resolve('../../shared');
const FIX = join(SHARED, 'models/reference/fixtures');
const AGREEMENT = 0.97;
const ort = createRequire(import.meta.url)('onnxruntime-node');

const s = await ort.InferenceSession.create(args.model, { intraOpNumThreads: 1, interOpNumThreads: 1, logSeverityLevel: 3 });
const masks = {};
for (const photo of ['astronaut', 'messi5']) {
  // The fixture's exact [1,3,320,320] input (RGB/127.5 − 1), first 240 rows: the same bits everywhere.
  const b = readFileSync(join(FIX, `${photo}.input_nchw.f32`));
  const full = new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  const crop = new Float32Array(3 * 240 * 320);
  for (let c = 0; c < 3; c++) crop.set(full.subarray(c * 320 * 320, c * 320 * 320 + 240 * 320), c * 240 * 320);
  const out = await s.run({ [s.inputNames[0]]: new ort.Tensor('float32', crop, [1, 3, 240, 320]) });
  const t = out[s.outputNames[0]],
    [, C, h, w] = t.dims;
  if (h !== 30 || w !== 40) throw new Error(`${photo}: logits ${t.dims.join('×')}, want N×C×30×40`);
  const mask = new Uint8Array(h * w);
  for (let p = 0; p < h * w; p++) {
    let best = 0;
    for (let c = 1; c < C; c++) if (t.data[c * h * w + p] > t.data[best * h * w + p]) best = c;
    mask[p] = best;
  }
  masks[photo] = Buffer.from(mask).toString('base64');
}
await s.release();
writeFileSync(args.out, JSON.stringify({ arch: process.arch, qemuCpu: process.env.QEMU_CPU ?? null, masks }));
if (args.ref) {
  const ref = JSON.parse(readFileSync(args.ref, 'utf8')).masks;
  const parts = [],
    bad = [];
  for (const [photo, m] of Object.entries(masks)) {
    const a = Buffer.from(m, 'base64'),
      x = Buffer.from(ref[photo], 'base64');
    const agree = a.reduce((n, v, i) => n + (v === x[i]), 0) / a.length;
    parts.push(`${photo} ${(agree * 100).toFixed(2)}%`);
    if (agree < AGREEMENT) bad.push(photo);
  }
  const line = `${args.label}: mask agreement with x64 ${parts.join(', ')} (≥ ${AGREEMENT * 100}% required)`;
  process.stdout.write(bad.length ? `  FAIL  ${line}\n` : `  ok    ${line}\n`);
  process.exitCode = bad.length ? 1 : 0;
}
