// The summary lines of `npm run bench:arm64`, one per CPU model (values in millions of instructions):
//   insn <cpu> detector ort=<M> xnnpack=<M|missing> ratio=<r>
//   insn <cpu> pipeline <raw|mjpeg> per_frame=<M> bare=<M> ratio=<r>
// from insn.json (ORT per inference), the xnnpack-ref result lines, and insn-pipeline.json.
//   insn-lines.mjs --insn <insn.json> [--xnnpack <file of measure.sh lines> | --xnnpack-missing <reason>]
//                  [--pipeline <insn-pipeline.json>]
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: { insn: { type: 'string' }, xnnpack: { type: 'string' }, 'xnnpack-missing': { type: 'string' }, pipeline: { type: 'string' } },
});
// The detector a board runs by default (`--activations auto`): int8 activations on cores with the
// dot-product instructions (Cortex-A76), uint8 elsewhere (Cortex-A72). The line names which one it is.
const DEFAULT_ACT = { 'cortex-a72': 'uint8', 'cortex-a53': 'uint8', 'cortex-a76': 'int8' };
const detectorCase = (cpu) => `detector int8, ${DEFAULT_ACT[cpu] ?? 'int8'} act (ours)`;
const M = (n) => (n / 1e6).toFixed(2);
const insn = JSON.parse(readFileSync(args.insn, 'utf8'));
const xnn = {};
if (args.xnnpack && existsSync(args.xnnpack)) {
  for (const l of readFileSync(args.xnnpack, 'utf8').split('\n')) {
    const m = /^xnnpack_insn_per_inference cpu=(\S+) .*value=(\d+)$/.exec(l);
    if (m) xnn[m[1]] = Number(m[2]);
  }
}
const out = [];
for (const [cpu, cases] of Object.entries(insn.perCpu)) {
  const ort = cases[detectorCase(cpu)]?.perInference;
  if (ort === undefined) continue;
  const ref = xnn[cpu];
  const x = ref ? M(ref) : `missing (${args['xnnpack-missing'] ?? `no xnnpack-ref result for ${cpu}`})`;
  out.push(`insn ${cpu} detector ort=${M(ort)} xnnpack=${x} ratio=${ref ? (ort / ref).toFixed(3) : 'missing'} act=${DEFAULT_ACT[cpu] ?? 'int8'}`);
}
{
  const p =
    args.pipeline && existsSync(args.pipeline)
      ? JSON.parse(readFileSync(args.pipeline, 'utf8'))
      : { perCpu: Object.fromEntries(Object.keys(insn.perCpu).map((c) => [c, {}])) };
  for (const [cpu, e] of Object.entries(p.perCpu ?? {})) {
    // bare = the detector the pipeline ran on that core (insn-pipeline.mjs records which one)
    const bare = insn.perCpu[cpu]?.[e.detectorCase ?? 'detector int8, int8 act (ours)']?.perInference;
    for (const [path, run] of [
      ['raw', 'pipeline raw yuv420 detection only'],
      ['mjpeg', 'pipeline detection only'],
    ]) {
      const r = e.runs?.[run];
      if (!r || bare === undefined) {
        out.push(
          `insn ${cpu} pipeline ${path} per_frame=missing bare=${bare === undefined ? 'missing' : M(bare)} ratio=missing (no '${run}' run in ${args.pipeline ?? 'insn-pipeline.json'}${args.pipeline && !existsSync(args.pipeline) ? ': file missing' : ''})`,
        );
        continue;
      }
      out.push(`insn ${cpu} pipeline ${path} per_frame=${M(r.perFrame)} bare=${M(bare)} ratio=${(r.perFrame / bare).toFixed(3)}`);
    }
  }
}
process.stdout.write(out.join('\n') + '\n');
