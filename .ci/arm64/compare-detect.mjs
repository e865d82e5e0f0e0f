// Compares `edgesight detect --json` output of an ARM run with the x64 run on the same photos and
// model files. Same labels: every detection scoring ≥ threshold + 0.05 on one side must have a
// detection of the same class on the other side (which, being reported, passed the threshold) with
// every box corner within BOX_TOL (normalised coordinates). Runs on the host node.
//
//   node compare-detect.mjs <x64.jsonl> <arm.jsonl> <threshold> <label>
import { readFileSync } from 'node:fs';

const BOX_TOL = 0.02;
const [x64File, armFile, thrArg, label] = process.argv.slice(2);
const thr = Number(thrArg);
if (!x64File || !armFile || !Number.isFinite(thr) || !label) {
  throw new Error('usage: node compare-detect.mjs <x64.jsonl> <arm.jsonl> <threshold> <label>');
}
const read = (f) => {
  const lines = readFileSync(f, 'utf8').split('\n').filter((l) => l.startsWith('{"file"'));
  if (!lines.length) throw new Error(`${f}: no detection lines`);
  return new Map(lines.map((l) => JSON.parse(l)).map((r) => [r.file, r.objects]));
};
const x64 = read(x64File), arm = read(armFile);

const problems = [];
let strong = 0, worstBox = 0;
const unmatched = (from, to, side) => {
  for (const o of from.filter((d) => d.score >= thr + 0.05)) {
    strong++;
    const cands = to.filter((d) => d.class_id === o.class_id)
      .map((d) => Math.max(...d.box.map((v, k) => Math.abs(v - o.box[k]))));
    const best = cands.length ? Math.min(...cands) : Infinity;
    if (best <= BOX_TOL) worstBox = Math.max(worstBox, best);
    else problems.push(`${side} ${o.label} ${o.score.toFixed(3)} [${o.box.join(',')}]: ` +
      (cands.length ? `nearest same-label box off by ${best.toFixed(3)}` : 'label missing on the other side'));
  }
};
for (const [file, xo] of x64) {
  const ao = arm.get(file);
  if (!ao) { problems.push(`${file}: no ARM result`); continue; }
  unmatched(xo, ao, `${file.split('/').pop()}: x64`);
  unmatched(ao, xo, `${file.split('/').pop()}: ARM`);
}
const counts = [...x64].map(([f, xo]) => `${f.split('/').pop()} ${xo.length}/${arm.get(f)?.length ?? '-'}`).join(', ');
if (problems.length) {
  process.stdout.write(`  FAIL  ${label}: ${problems.length} detections differ from x64 (box tolerance ${BOX_TOL}): ${problems.join('; ')}\n`);
  process.exitCode = 1;
} else {
  process.stdout.write(`  ok    ${label}: same labels as x64 for ${strong} detections ≥ ${(thr + 0.05).toFixed(2)}, ` +
    `box corners within ${worstBox.toFixed(4)} (tolerance ${BOX_TOL}); objects x64/ARM: ${counts}\n`);
}
