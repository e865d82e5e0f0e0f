// ARM cost in guest instructions per inference, counted by the arm-insn qemu plugin
// (/work/shared/tools/arm-insn). Two roles:
//
//   arm64 node under `qemu-aarch64 -plugin libinsn.so` (bench.sh does this):
//     insn.mjs --child --models <dir> [--ours <dir>] [--runs N]
//     Runs each model, marking before and after N timed inferences; the plugin prints the running
//     instruction total on stderr at each mark, right after the "@@MARK <label>" line written here.
//   host node:
//     insn.mjs --report <json out> <cpu>=<stderr log>...
//     Turns the logs into per-inference counts, prints a table and writes the JSON.
//
// Counts are deterministic to ~1–2% and follow the real ARM code paths; emulated time is never used.
import { readFileSync, writeFileSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    child: { type: 'boolean' },
    models: { type: 'string' },
    runs: { type: 'string', default: '3' },
    report: { type: 'string' },
    only: { type: 'string' },
    ours: { type: 'string' },
  },
});
const SHARED = process.env.EDGESIGHT_SHARED ?? resolve('../../shared');
const FIX = join(SHARED, 'models/reference/fixtures');

/** What is measured: name, model file, input builder. Inputs are fixed data, so counts repeat. */
function cases(modelsDir, oursDir) {
  const det = () => {
    const b = readFileSync(join(FIX, 'astronaut.input_nchw.f32'));
    return { image: [new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4), [1, 3, 320, 320]] };
  };
  const seg = () => {
    const full = det().image[0],
      crop = new Float32Array(3 * 240 * 320);
    for (let c = 0; c < 3; c++) crop.set(full.subarray(c * 320 * 320, c * 320 * 320 + 240 * 320), c * 240 * 320);
    return { image: [crop, [1, 3, 240, 320]] };
  };
  return [
    { name: 'detector fp32 (reference)', file: join(SHARED, 'models/reference/ssdlite_mobilenet_v3_small_320_coco_fp32.onnx'), input: det },
    { name: 'detector QDQ int8 act (faithful)', file: join(modelsDir, 'qdq-detector-int8.onnx'), input: det },
    { name: 'detector QDQ uint8 act (faithful)', file: join(modelsDir, 'qdq-detector-uint8.onnx'), input: det },
    { name: 'segmenter fp32 320×240', file: join(SHARED, 'models/lraspp/lraspp_mobilenet_v3_small_voc_fp32.onnx'), input: seg },
    // the product's own models (bench.sh makes them with `edgesight models quantize`, both activation types)
    ...(oursDir
      ? [
          { name: 'detector fp32 (ours, converted)', file: join(oursDir, 'detector-fp32.onnx'), input: det },
          { name: 'detector int8, uint8 act (ours)', file: join(oursDir, 'detector-int8-uint8.onnx'), input: det },
          { name: 'detector int8, int8 act (ours)', file: join(oursDir, 'detector-int8-int8.onnx'), input: det },
          { name: 'segmenter int8, uint8 act (ours) 320×240', file: join(oursDir, 'segmenter-int8-uint8.onnx'), input: seg },
          { name: 'segmenter int8, int8 act (ours) 320×240', file: join(oursDir, 'segmenter-int8-int8.onnx'), input: seg },
        ]
      : []),
  ];
}

function mark(label) {
  writeSync(2, `@@MARK ${label}\n`);
  try {
    writeSync(987, ''); // seen by the plugin's syscall hook; fails with EBADF, which is expected
  } catch {}
}

async function child() {
  if (process.arch !== 'arm64') throw new Error(`insn.mjs --child must run on the arm64 node (this is ${process.arch})`);
  const ort = createRequire(import.meta.url)('onnxruntime-node');
  const runs = Number(args.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer, got '${args.runs}'`);
  const only = args.only ? new RegExp(args.only) : null;
  for (const c of cases(args.models ?? '.', args.ours)) {
    if (only && !only.test(c.name)) continue;
    // One intra-op thread: the product pins inference to one core; the count covers all threads anyway.
    const s = await ort.InferenceSession.create(c.file, { intraOpNumThreads: 1, interOpNumThreads: 1, logSeverityLevel: 3 });
    const feeds = Object.fromEntries(Object.entries(c.input()).map(([k, [d, dims]]) => [k, new ort.Tensor('float32', d, dims)]));
    // Warm-up: first runs allocate, pack weights and JIT the JS around the call.
    for (let i = 0; i < 2; i++) await s.run(feeds);
    mark(`${c.name}|start|${runs}`);
    for (let i = 0; i < runs; i++) await s.run(feeds);
    mark(`${c.name}|end|${runs}`);
    await s.release();
  }
}

/** Parses a plugin log: "@@MARK name|start|N", then "INSN total" lines. */
export function parseLog(text) {
  const lines = text.split('\n'),
    res = {};
  for (let i = 0; i < lines.length; i++) {
    const m = /^@@MARK (.+)\|(start|end)\|(\d+)$/.exec(lines[i]);
    if (!m) continue;
    const insn = lines.slice(i + 1).find((l) => /^INSN \d+$/.test(l) || l.startsWith('@@MARK'));
    if (!insn || !insn.startsWith('INSN ')) throw new Error(`no INSN count after mark '${lines[i]}' (is the plugin loaded?)`);
    const e = (res[m[1]] ??= { runs: Number(m[3]) });
    e[m[2]] = Number(insn.slice(5));
  }
  for (const [k, e] of Object.entries(res)) {
    if (e.start === undefined || e.end === undefined) throw new Error(`incomplete marks for '${k}'`);
    e.perInference = (e.end - e.start) / e.runs;
  }
  return res;
}

// arm-insn README, measured with onnxruntime-node 1.30 (for comparison only).
const README = { 'detector fp32 (reference)': { 'cortex-a72': 170.3e6, 'cortex-a76': 170.5e6 } };

function report() {
  const perCpu = {};
  for (const p of positionals) {
    const [cpu, log] = p.split('=');
    if (!cpu || !log) throw new Error(`expected <cpu>=<log>, got '${p}'`);
    perCpu[cpu] = parseLog(readFileSync(log, 'utf8'));
  }
  const cpus = Object.keys(perCpu),
    names = [...new Set(cpus.flatMap((c) => Object.keys(perCpu[c])))];
  const M = (n) => (n === undefined ? '—' : `${(n / 1e6).toFixed(1)} M`);
  const rows = names.map((n) => {
    const cells = cpus.map((c) => perCpu[c][n]?.perInference);
    const ref = README[n];
    const note = ref ? `arm-insn README: ${cpus.map((c) => M(ref[c])).join(' / ')}` : '';
    return `| ${n} | ${cells.map(M).join(' | ')} | ${note} |`;
  });
  const table = [`| guest instructions per inference | ${cpus.join(' | ')} | note |`, `|---|${cpus.map(() => '---|').join('')}---|`, ...rows].join(
    '\n',
  );
  process.stdout.write(table + '\n');
  const json = {
    created_at: new Date().toISOString(),
    unit: 'guest instructions per inference (qemu-user + arm-insn plugin; not time)',
    ort: 'onnxruntime-node (arm64)',
    perCpu,
    readme: README,
  };
  writeFileSync(args.report, JSON.stringify(json, null, 1));
  // issue 4/11 gate: the product's int8 models must cost fewer ARM instructions than fp32 on every CPU model
  const gates = [
    ['detector int8, uint8 act (ours)', 'detector fp32 (ours, converted)'],
    ['detector int8, int8 act (ours)', 'detector fp32 (ours, converted)'],
    ['segmenter int8, uint8 act (ours) 320×240', 'segmenter fp32 320×240'],
    ['segmenter int8, int8 act (ours) 320×240', 'segmenter fp32 320×240'],
  ];
  const failed = [];
  for (const c of cpus) {
    for (const [q, f] of gates) {
      const a = perCpu[c][q]?.perInference,
        b = perCpu[c][f]?.perInference;
      if (a === undefined || b === undefined) continue; // not counted in this run (--only)
      if (!(a < b)) failed.push(`${c}: ${q} ${M(a)} ≥ ${f} ${M(b)}`);
    }
  }
  if (failed.length) {
    process.stderr.write(`int8 is not cheaper than fp32 on ARM:\n  ${failed.join('\n  ')}\n`);
    process.exitCode = 1;
  }
}

if (args.child) await child();
else if (args.report) report();
else throw new Error('usage: insn.mjs --child --models <dir> [--ours <dir>] [--runs N] | --report <json> <cpu>=<log>...');
