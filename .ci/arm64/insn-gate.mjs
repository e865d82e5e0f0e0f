// The ARM gate on the int8 models, checked on the counts this bench run just made (never on an older
// file): each of our int8 models executes fewer instructions per inference than its fp32 model, on every
// counted CPU. A model filtered out with --only is reported as not checked; an int8 model counted without
// its fp32 reference is an error (the comparison the run was meant to make is missing).
//   insn-gate.mjs <insn.json>
import { readFileSync } from 'node:fs';

const file = process.argv[2];
if (!file) throw new Error('usage: insn-gate.mjs <insn.json>');
const { perCpu } = JSON.parse(readFileSync(file, 'utf8'));
const PAIRS = [
  ['detector int8, int8 act (ours)', 'detector fp32 (ours, converted)'],
  ['detector int8, uint8 act (ours)', 'detector fp32 (ours, converted)'],
  ['segmenter int8, int8 act (ours) 320×240', 'segmenter fp32 320×240'],
  ['segmenter int8, uint8 act (ours) 320×240', 'segmenter fp32 320×240'],
];
const M = (n) => (n / 1e6).toFixed(1);
const failures = [];
for (const [cpu, cases] of Object.entries(perCpu)) {
  for (const [int8, fp32] of PAIRS) {
    const n = cases[int8]?.perInference;
    const ref = cases[fp32]?.perInference;
    if (n === undefined) {
      console.log(`insn-gate ${cpu} ${int8}: not counted in this run (--only), not checked`);
      continue;
    }
    if (ref === undefined) failures.push(`${cpu} ${int8}: counted without its fp32 reference '${fp32}'`);
    else if (n >= ref) failures.push(`${cpu} ${int8}: ${M(n)} M instructions ≥ fp32 ${M(ref)} M`);
    else console.log(`insn-gate ${cpu} ${int8}: ${M(n)} M < fp32 ${M(ref)} M (ratio ${(n / ref).toFixed(3)}) ok`);
  }
}
if (failures.length) {
  console.error(`insn-gate: int8 is not cheaper than fp32 on ARM:\n  ${failures.join('\n  ')}`);
  process.exit(1);
}
