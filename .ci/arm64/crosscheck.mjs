// After the smoke ran under every CPU model: the CPU models must agree bit for bit on the int8
// outputs. Integer kernels are exact, so a difference between e.g. the A76 `sdot` path and the A72
// NEON path is a kernel bug, whatever x64 says. Runs on the host node.
//
//   node crosscheck.mjs <out dir> <cpu> <cpu>...
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const [dir, ...cpus] = process.argv.slice(2);
if (!dir || cpus.length < 2) throw new Error('usage: node crosscheck.mjs <out dir> <cpu> <cpu>...');
const failures = [];
const line = (ok, what) => {
  process.stdout.write(`  ${ok ? 'ok   ' : 'FAIL '} ${what}\n`);
  if (!ok) failures.push(what);
};

for (const act of ['int8', 'uint8']) {
  for (const part of ['scores', 'boxes']) {
    const files = cpus.map((c) => readFileSync(join(dir, `qdq-detector-${act}.${c}.${part}.f32`)));
    const same = files.every((f) => f.equals(files[0]));
    line(same, `QDQ detector ${act} ${part}: ${cpus.join(' = ')}${same ? '' : ' DIFFER'}`);
  }
}
const smoke = cpus.map((c) => JSON.parse(readFileSync(join(dir, `smoke-${c}.json`), 'utf8')).checks);
for (const act of ['int8', 'uint8']) {
  const shas = smoke.map((c) => c['int8 QDQ conv/depthwise/pointwise']?.[act]?.codesSha);
  const same = shas[0] !== undefined && shas.every((s) => s === shas[0]);
  line(same, `QDQ conv block ${act} codes: ${cpus.join(' = ')}${same ? '' : ` DIFFER (${shas.join(', ')})`}`);
}
process.exitCode = failures.length ? 1 : 0;
