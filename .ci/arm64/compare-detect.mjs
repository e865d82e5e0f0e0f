// Compares `edgesight detect --json` output of an ARM run with the x64 run on the same photos and
// model files. Same labels: every detection scoring ≥ threshold + 0.05 on one side must have a
// detection of the same class on the other side (which, being reported, passed the threshold) whose
// box overlaps it with IoU ≥ IOU_MIN — the PASCAL VOC / AP50 rule for "the same object". int8 kernels
// round differently on ARM and x86 (see README), which moves boxes by a few quantization steps and can
// change which of two overlapping boxes survives NMS in a crowd: corner distances are reported, not
// gated. Runs on the host node.
//
//   node compare-detect.mjs <x64.jsonl> <arm.jsonl> <threshold> <label>
import { readFileSync } from 'node:fs';

const IOU_MIN = 0.5;
const [x64File, armFile, thrArg, label] = process.argv.slice(2);
const thr = Number(thrArg);
if (!x64File || !armFile || !Number.isFinite(thr) || !label) {
  throw new Error('usage: node compare-detect.mjs <x64.jsonl> <arm.jsonl> <threshold> <label>');
}
const read = (f) => {
  const lines = readFileSync(f, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{"file"'));
  if (!lines.length) throw new Error(`${f}: no detection lines`);
  return new Map(lines.map((l) => JSON.parse(l)).map((r) => [r.file, r.objects]));
};
const x64 = read(x64File),
  arm = read(armFile);

/** Boxes are [x1, y1, x2, y2], normalised. */
export function iou(p, q) {
  const ix = Math.max(0, Math.min(p[2], q[2]) - Math.max(p[0], q[0]));
  const iy = Math.max(0, Math.min(p[3], q[3]) - Math.max(p[1], q[1]));
  const inter = ix * iy,
    union = (p[2] - p[0]) * (p[3] - p[1]) + (q[2] - q[0]) * (q[3] - q[1]) - inter;
  return union > 0 ? inter / union : 0;
}

const problems = [];
let strong = 0,
  worstIou = 1,
  worstCorner = 0;
const match = (from, to, side) => {
  for (const o of from.filter((d) => d.score >= thr + 0.05)) {
    strong++;
    const best = to
      .filter((d) => d.class_id === o.class_id)
      .map((d) => ({ iou: iou(o.box, d.box), corner: Math.max(...d.box.map((v, k) => Math.abs(v - o.box[k]))) }))
      .sort((a, b) => b.iou - a.iou)[0];
    if (best && best.iou >= IOU_MIN) {
      worstIou = Math.min(worstIou, best.iou);
      worstCorner = Math.max(worstCorner, best.corner);
    } else {
      problems.push(
        `${side} ${o.label} ${o.score.toFixed(3)} [${o.box.join(',')}]: ` +
          (best ? `best same-label IoU ${best.iou.toFixed(2)}` : 'label missing on the other side'),
      );
    }
  }
};
for (const [file, xo] of x64) {
  const ao = arm.get(file);
  if (!ao) {
    problems.push(`${file}: no ARM result`);
    continue;
  }
  match(xo, ao, `${file.split('/').pop()}: x64`);
  match(ao, xo, `${file.split('/').pop()}: ARM`);
}
const counts = [...x64].map(([f, xo]) => `${f.split('/').pop()} ${xo.length}/${arm.get(f)?.length ?? '-'}`).join(', ');
if (problems.length) {
  process.stdout.write(
    `  FAIL  ${label}: ${problems.length} detections ≥ ${(thr + 0.05).toFixed(2)} without a same-label match ` +
      `(IoU ≥ ${IOU_MIN}) on the other side: ${problems.join('; ')}\n`,
  );
  process.exitCode = 1;
} else {
  process.stdout.write(
    `  ok    ${label}: ${strong} detections ≥ ${(thr + 0.05).toFixed(2)} matched by label with IoU ≥ ${IOU_MIN} ` +
      `(worst IoU ${worstIou.toFixed(2)}, corners moved ≤ ${worstCorner.toFixed(3)}); objects x64/ARM: ${counts}\n`,
  );
}
