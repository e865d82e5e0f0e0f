// Where the ARM instructions of one int8 inference go: a per-node-group profile of a QDQ model,
// counted with the arm-insn qemu plugin. Three roles:
//
//   host node:   insn-nodes.mjs --prepare <model.onnx> --kind det|seg --out <dir>
//     Cuts the model into node groups at its quantized tensors (the outputs of QuantizeLinear, where
//     an int8 kernel's result lives): a group is everything between quantized tensors, i.e.
//     DequantizeLinear(s) → op(s) → QuantizeLinear. Each group becomes its own micro-model whose inputs
//     are the quantized tensors it reads, fed with the values the whole model produces on the fixture
//     input (captured here with the x64 onnxruntime). Writes <dir>/groups.json, the micro-models and
//     their inputs.
//   arm64 node under `qemu-aarch64 -plugin libinsn.so`:
//     insn-nodes.mjs --child --dir <dir> [--runs N] [--optimized <dir>]
//     Counts the whole model, an empty-run baseline (one Identity on one byte: what session.run costs
//     around any kernel) and every micro-model, between plugin marks. --optimized saves ORT's optimized
//     form of each micro-model, which tells what ORT made of the group on this CPU (QLinearConv, …).
//   host node:   insn-nodes.mjs --report <json out> --dir <dir> <cpu>=<log>...
//     Per group: ORT's kernels, int8 or float island, instructions per CPU (baseline subtracted);
//     summed per kind; the cross-check sum of parts vs whole.
//
// The cross-check cannot be exact: a micro-model hands its result back to JS (a copy), and ORT's
// channels-last rewrite of int8 convolutions on ARM adds a layout Transpose at each micro-model's edge
// that cancels out inside the whole graph. Both show up as parts summing to more than the whole; the
// report prints the difference and bench.sh fails it beyond the stated tolerance.
import { mkdirSync, readFileSync, writeFileSync, writeSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    prepare: { type: 'string' },
    kind: { type: 'string' },
    out: { type: 'string' },
    child: { type: 'boolean' },
    dir: { type: 'string' },
    runs: { type: 'string', default: '4' },
    optimized: { type: 'string' },
    report: { type: 'string' },
    tolerance: { type: 'string', default: '0.15' },
  },
});
const here = dirname(fileURLToPath(import.meta.url));
const SHARED = process.env.EDGESIGHT_SHARED ?? resolve(here, '../../../shared');
const FIX = join(SHARED, 'models/reference/fixtures');

/** The fixture input (astronaut, x/127.5−1, NCHW) at the size the model runs at in the product. */
function fixtureInput(kind) {
  const b = readFileSync(join(FIX, 'astronaut.input_nchw.f32'));
  const full = new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  if (kind === 'det') return { data: full, dims: [1, 3, 320, 320] };
  if (kind !== 'seg') throw new Error(`--kind must be det or seg, got '${kind}'`);
  const crop = new Float32Array(3 * 240 * 320);
  for (let c = 0; c < 3; c++) crop.set(full.subarray(c * 320 * 320, c * 320 * 320 + 240 * 320), c * 240 * 320);
  return { data: crop, dims: [1, 3, 240, 320] };
}

const DTYPE_CODE = { float32: 1, uint8: 2, int8: 3, int32: 6, int64: 7 };
const QDQ = new Set(['QuantizeLinear', 'DequantizeLinear']);

/** Union-find over node indices: two nodes share a group when a non-quantized tensor runs between them. */
function groupNodes(g) {
  const inits = new Set(g.initializers.map((t) => t.name));
  const producer = new Map();
  g.nodes.forEach((n, i) => n.outputs.forEach((o) => o && producer.set(o, i)));
  const quantized = new Set(g.nodes.filter((n) => n.opType === 'QuantizeLinear').map((n) => n.outputs[0]));
  const parent = g.nodes.map((_, i) => i);
  const find = (i) => (parent[i] === i ? i : (parent[i] = find(parent[i])));
  g.nodes.forEach((n, i) => {
    for (const t of n.inputs) {
      if (!t || inits.has(t) || quantized.has(t) || !producer.has(t)) continue;
      parent[find(i)] = find(producer.get(t));
    }
  });
  const groups = new Map();
  g.nodes.forEach((n, i) => {
    const r = find(i);
    if (!groups.has(r)) groups.set(r, []);
    groups.get(r).push(i);
  });
  return { groups: [...groups.values()], inits, quantized, producer };
}

/** A readable name for a group: the longest common '/'-prefix of its compute nodes' outputs. */
function groupName(g, idx) {
  const core = idx.filter((i) => !QDQ.has(g.nodes[i].opType));
  const names = (core.length ? core : idx).map((i) => g.nodes[i].outputs[0] ?? g.nodes[i].name);
  let parts = names[0].split('/');
  for (const n of names.slice(1)) {
    const p = n.split('/');
    let k = 0;
    while (k < parts.length && k < p.length && parts[k] === p[k]) k++;
    parts = parts.slice(0, k);
  }
  const s = parts.join('/') || names[0];
  return s.replace(/^FeatureExtractor\/MobilenetV3\//, '');
}

async function prepare() {
  const { loadOnnx, saveOnnx } = await import(resolve(here, '../../dist/src/modeltools/onnx/io.js'));
  const ort = createRequire(import.meta.url)('onnxruntime-node');
  const out = args.out ?? die('--out <dir> is required');
  mkdirSync(out, { recursive: true });
  const g = loadOnnx(args.prepare);
  if (g.inputs.length !== 1) die(`${args.prepare}: expected one graph input, got ${g.inputs.length}`);
  const input = fixtureInput(args.kind);
  const { groups, inits, quantized } = groupNodes(g);
  const graphOut = new Set(g.outputs.map((o) => o.name));
  const consumers = new Map();
  g.nodes.forEach((n, i) => n.inputs.forEach((t) => t && (consumers.get(t) ?? consumers.set(t, []).get(t)).push(i)));

  // Capture every tensor that crosses a group boundary (the quantized ones) on the fixture input.
  const zpType = new Map(
    g.nodes
      .filter((n) => n.opType === 'QuantizeLinear')
      .map((n) => {
        const zp = g.initializers.find((t) => t.name === n.inputs[2]);
        return [n.outputs[0], zp ? zp.dataType : 2];
      }),
  );
  const captureNames = [...quantized].filter((t) => !graphOut.has(t));
  const cap = { ...g, outputs: [...g.outputs, ...captureNames.map((name) => ({ name, elemType: zpType.get(name), shape: null }))] };
  const capFile = join(out, 'capture.onnx');
  writeFileSync(capFile, saveOnnx(cap));
  const s = await ort.InferenceSession.create(capFile, { graphOptimizationLevel: 'basic', logSeverityLevel: 3 });
  const feeds = { [g.inputs[0].name]: new ort.Tensor('float32', input.data, input.dims) };
  const values = await s.run(feeds);
  await s.release();
  writeFileSync(join(out, 'input.bin'), Buffer.from(input.data.buffer, input.data.byteOffset, input.data.byteLength));

  const manifest = {
    model: basename(args.prepare),
    kind: args.kind,
    input: { name: g.inputs[0].name, dims: input.dims, file: 'input.bin' },
    whole: 'whole.onnx',
    groups: [],
  };
  writeFileSync(join(out, 'whole.onnx'), readFileSync(args.prepare));
  const inDir = join(out, 'inputs');
  mkdirSync(inDir, { recursive: true });
  const saved = new Map();
  const saveValue = (name) => {
    if (saved.has(name)) return saved.get(name);
    const v = values[name];
    if (!v) die(`no captured value for ${name}`);
    const file = `inputs/t${saved.size}.bin`;
    writeFileSync(join(out, file), Buffer.from(v.data.buffer, v.data.byteOffset, v.data.byteLength));
    const info = { name, type: v.type, dims: [...v.dims], file };
    saved.set(name, info);
    return info;
  };
  groups.forEach((idx, gi) => {
    const nodes = idx.map((i) => g.nodes[i]);
    const produced = new Set(nodes.flatMap((n) => n.outputs));
    const inNames = [...new Set(nodes.flatMap((n) => n.inputs).filter((t) => t && !inits.has(t) && !produced.has(t)))];
    const outNames = [...produced].filter((t) => t && (graphOut.has(t) || (consumers.get(t) ?? []).some((c) => !idx.includes(c))));
    const initNames = new Set(nodes.flatMap((n) => n.inputs).filter((t) => inits.has(t)));
    const inputs = inNames.map((t) => (t === g.inputs[0].name ? { name: t, type: 'float32', dims: input.dims, file: 'input.bin' } : saveValue(t)));
    const vi = (t) => {
      const v = values[t];
      return { name: t, elemType: DTYPE_CODE[v.type], shape: [...v.dims] };
    };
    const micro = {
      ...g,
      name: `group${gi}`,
      nodes,
      initializers: g.initializers.filter((t) => initNames.has(t.name)),
      inputs: inputs.map((i) => ({ name: i.name, elemType: DTYPE_CODE[i.type], shape: i.dims })),
      outputs: outNames.map(vi),
      valueInfo: [],
    };
    const file = `g${String(gi).padStart(3, '0')}.onnx`;
    writeFileSync(join(out, file), saveOnnx(micro));
    const ops = nodes.map((n) => n.opType).filter((o) => !QDQ.has(o));
    manifest.groups.push({
      id: gi,
      file,
      name: groupName(g, idx),
      ops,
      dq: nodes.filter((n) => n.opType === 'DequantizeLinear' && !n.inputs.every((t) => inits.has(t) || !t)).length,
      q: nodes.filter((n) => n.opType === 'QuantizeLinear').length,
      inputs,
      outputs: outNames,
    });
  });
  const baseline = {
    ...g,
    name: 'baseline',
    nodes: [{ name: 'id', opType: 'Identity', domain: '', inputs: ['x'], outputs: ['y'], attributes: {} }],
    initializers: [],
    inputs: [{ name: 'x', elemType: 2, shape: [1] }],
    outputs: [{ name: 'y', elemType: 2, shape: [1] }],
    valueInfo: [],
  };
  writeFileSync(join(out, 'baseline.onnx'), saveOnnx(baseline));
  writeFileSync(join(out, 'groups.json'), JSON.stringify(manifest, null, 1));
  process.stderr.write(`insn-nodes: ${manifest.groups.length} groups from ${g.nodes.length} nodes → ${out}\n`);
}

function mark(label) {
  writeSync(2, `@@MARK ${label}\n`);
  try {
    writeSync(987, ''); // seen by the plugin's syscall hook; fails with EBADF, which is expected
  } catch {}
}

async function child() {
  if (process.arch !== 'arm64') die(`--child must run on the arm64 node (this is ${process.arch})`);
  const ort = createRequire(import.meta.url)('onnxruntime-node');
  const dir = args.dir ?? die('--dir is required');
  const runs = Number(args.runs);
  const m = JSON.parse(readFileSync(join(dir, 'groups.json'), 'utf8'));
  const load = (i) => {
    const b = readFileSync(join(dir, i.file));
    const T = { float32: Float32Array, uint8: Uint8Array, int8: Int8Array, int32: Int32Array }[i.type ?? 'float32'];
    const data = new T(b.buffer, b.byteOffset, b.byteLength / T.BYTES_PER_ELEMENT);
    return new ort.Tensor(i.type ?? 'float32', data, i.dims);
  };
  // Each count is the minimum over `runs` windows of one run: a garbage collection or a timer landing
  // inside a window adds up to ~1 M instructions to a group that costs 0.1 M, so the quietest window is
  // the one that measures the kernels. (Run the node with --single-threaded-gc: V8's concurrent GC
  // threads would otherwise keep working inside later windows, and the plugin counts every thread.)
  const count = async (label, file, feeds) => {
    const s = await ort.InferenceSession.create(file, { intraOpNumThreads: 1, interOpNumThreads: 1, logSeverityLevel: 3 });
    for (let i = 0; i < 3; i++) await s.run(feeds); // first runs pack weights, allocate and JIT the JS
    for (let w = 0; w < runs; w++) {
      mark(`${label}#${w}|start|1`);
      await s.run(feeds);
      mark(`${label}#${w}|end|1`);
    }
    await s.release();
  };
  // ORT's optimized form of a model (not counted): which kernels it chose on this CPU.
  const optimize = async (file, to) => {
    const s = await ort.InferenceSession.create(file, {
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      logSeverityLevel: 3,
      optimizedModelFilePath: to,
    });
    await s.release();
    return loadOnnx(to);
  };
  const { loadOnnx, saveOnnx } = await import(resolve(here, '../dist/src/modeltools/onnx/io.js'));
  const opt = args.optimized ?? join(dir, 'opt');
  mkdirSync(opt, { recursive: true });
  const input = { [m.input.name]: load({ ...m.input, type: 'float32' }) };
  const baseFeeds = { x: new ort.Tensor('uint8', new Uint8Array(1), [1]) };
  await count('whole', join(dir, m.whole), input);
  await optimize(join(dir, m.whole), join(opt, 'whole.onnx'));
  // Baseline: one session.run around a kernel that does nothing (an Identity on one byte), counted at
  // the start, the middle and the end; the report takes the median.
  await count('baseline0', join(dir, 'baseline.onnx'), baseFeeds);
  // A layout Transpose that ORT puts at a micro-model's edge (channels-last int8 kernels on ARM) cancels
  // out inside the whole graph: each distinct one is counted alone and subtracted from its group.
  const edgeT = new Map();
  const TYPES = { 1: ['float32', Float32Array], 2: ['uint8', Uint8Array], 3: ['int8', Int8Array] };
  for (const [k, gr] of m.groups.entries()) {
    if (k === Math.floor(m.groups.length / 2)) await count('baseline1', join(dir, 'baseline.onnx'), baseFeeds);
    const feeds = Object.fromEntries(gr.inputs.map((i) => [i.name, load(i)]));
    await count(`g${gr.id}`, join(dir, gr.file), feeds);
    const og = await optimize(join(dir, gr.file), join(opt, gr.file));
    const ins = new Map(og.inputs.map((v) => [v.name, v])),
      outs = new Map(og.outputs.map((v) => [v.name, v]));
    const edges = [];
    for (const n of og.nodes.filter((x) => x.opType === 'Transpose')) {
      const perm = n.attributes.perm?.value;
      let v = null;
      if (ins.has(n.inputs[0])) v = ins.get(n.inputs[0]);
      else if (outs.has(n.outputs[0])) {
        const o = outs.get(n.outputs[0]),
          shape = [];
        perm.forEach((p, i) => (shape[p] = o.shape[i]));
        v = { elemType: o.elemType, shape };
      }
      if (!v || !perm || !TYPES[v.elemType] || !v.shape.every((d) => typeof d === 'number')) continue;
      if (gr.ops.includes('Transpose') && !ins.has(n.inputs[0]) && !outs.has(n.outputs[0])) continue;
      const key = `${TYPES[v.elemType][0]}[${v.shape}]perm${perm}`;
      edges.push(key);
      if (!edgeT.has(key)) {
        const id = `t${edgeT.size}`;
        const tm = {
          ...og,
          name: id,
          nodes: [{ name: 't', opType: 'Transpose', domain: '', inputs: ['x'], outputs: ['y'], attributes: { perm: { type: 'ints', value: perm } } }],
          initializers: [],
          inputs: [{ name: 'x', elemType: v.elemType, shape: v.shape }],
          outputs: [{ name: 'y', elemType: v.elemType, shape: perm.map((p) => v.shape[p]) }],
          valueInfo: [],
          opsetImports: [{ domain: '', version: 13 }],
        };
        const f = join(opt, `${id}.onnx`);
        writeFileSync(f, saveOnnx(tm));
        const [type, T] = TYPES[v.elemType];
        await count(`edge:${key}`, f, { x: new ort.Tensor(type, new T(v.shape.reduce((a, b) => a * b, 1)), v.shape) });
        edgeT.set(key, id);
      }
    }
    writeSync(2, `@@EDGES g${gr.id} ${JSON.stringify(edges)}\n`);
  }
  await count('baseline2', join(dir, 'baseline.onnx'), baseFeeds);
  await count('whole-again', join(dir, m.whole), input);
}

/** Parses a plugin log: "@@MARK name|start|N", then the "INSN total" line. */
function parseLog(text) {
  const lines = text.split('\n'),
    res = {};
  for (let i = 0; i < lines.length; i++) {
    const mm = /^@@MARK (.+)\|(start|end)\|(\d+)$/.exec(lines[i]);
    if (!mm) continue;
    const insn = lines.slice(i + 1).find((l) => /^INSN \d+$/.test(l) || l.startsWith('@@MARK'));
    if (!insn || !insn.startsWith('INSN ')) die(`no INSN count after mark '${lines[i]}' (is the plugin loaded?)`);
    const e = (res[mm[1]] ??= { runs: Number(mm[3]) });
    e[mm[2]] = Number(insn.slice(5));
  }
  for (const e of Object.values(res)) e.per = (e.end - e.start) / e.runs;
  // windows "label#w": the minimum over the windows
  for (const [k, e] of Object.entries(res)) {
    const mm = /^(.*)#(\d+)$/.exec(k);
    if (!mm) continue;
    const b = (res[mm[1]] ??= { per: Infinity, windows: [] });
    b.windows.push(e.per);
    b.per = Math.min(b.per, e.per);
    delete res[k];
  }
  res.edges = {};
  for (const l of lines) {
    const mm = /^@@EDGES (g\d+) (.*)$/.exec(l);
    if (mm) res.edges[mm[1]] = JSON.parse(mm[2]);
  }
  return res;
}

/** What ORT made of a micro-model: its optimized node types, or null when not saved. */
async function ortKernels(file) {
  if (!existsSync(file)) return null;
  const { loadOnnx } = await import(resolve(here, '../../dist/src/modeltools/onnx/io.js'));
  try {
    return loadOnnx(file).nodes.map((n) => (n.domain && n.domain !== 'ai.onnx' ? `${n.opType}` : n.opType));
  } catch (err) {
    return [`(unreadable: ${err.message})`];
  }
}

const FLOAT_COMPUTE = new Set([
  'Conv',
  'HardSigmoid',
  'HardSwish',
  'Mul',
  'Add',
  'Clip',
  'Sigmoid',
  'GlobalAveragePool',
  'AveragePool',
  'Relu',
  'Resize',
  'Div',
  'Sub',
  'MatMul',
  'Gemm',
  'Softmax',
  'Concat',
]);
/** int8 = ORT runs the group as integer kernels only; float island = a DequantizeLinear feeds a float op. */
function classify(kernels) {
  if (!kernels) return 'unknown';
  const floatOps = kernels.filter((k) => FLOAT_COMPUTE.has(k));
  if (floatOps.length === 0) return 'int8';
  return kernels.includes('DequantizeLinear') || kernels.includes('QuantizeLinear') ? 'float island' : 'float';
}

async function report() {
  const dir = args.dir ?? die('--dir is required');
  const m = JSON.parse(readFileSync(join(dir, 'groups.json'), 'utf8'));
  const tol = Number(args.tolerance);
  const perCpu = {};
  for (const p of positionals) {
    const [cpu, log, opt] = p.split('=');
    if (!cpu || !log) die(`expected <cpu>=<log>[=<optimized dir>], got '${p}'`);
    perCpu[cpu] = { counts: parseLog(readFileSync(log, 'utf8')), opt };
  }
  const cpus = Object.keys(perCpu);
  const M = (n) => (n / 1e6).toFixed(2);
  const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  const base = Object.fromEntries(cpus.map((c) => [c, median(['baseline0', 'baseline1', 'baseline2'].map((k) => perCpu[c].counts[k].per))]));
  const rows = [];
  for (const gr of m.groups) {
    const row = { id: gr.id, name: gr.name, ops: gr.ops, insn: {}, kernels: {}, kind: {} };
    for (const c of cpus) {
      const { counts, opt } = perCpu[c];
      const e = counts[`g${gr.id}`];
      if (!e) die(`${c}: no count for group ${gr.id} (${gr.name})`);
      const edges = (counts.edges[`g${gr.id}`] ?? []).map((k) => Math.max(0, counts[`edge:${k}`].per - base[c]));
      row.raw = { ...row.raw, [c]: e.per };
      row.edgeTranspose = { ...row.edgeTranspose, [c]: edges.reduce((a, b) => a + b, 0) };
      row.insn[c] = Math.max(0, e.per - base[c] - row.edgeTranspose[c]);
      row.kernels[c] = opt ? await ortKernels(join(opt, gr.file)) : null;
      row.kind[c] = classify(row.kernels[c]);
    }
    rows.push(row);
  }
  // Summary per kind of group: its compute ops and what ORT ran them as.
  const summary = {};
  for (const c of cpus) {
    const counts = perCpu[c].counts;
    // the whole model, counted first and last; the later count has the JS around session.run warm
    const first = counts.whole.per,
      whole = counts['whole-again'].per - base[c];
    const parts = rows.reduce((a, r) => a + r.insn[c], 0);
    const byKind = {};
    for (const r of rows) {
      const k = `${r.kind[c]}: ${[...new Set(r.ops)].join('+') || '(Q/DQ only)'}`;
      const b = (byKind[k] ??= { groups: 0, insn: 0, kernels: new Set() });
      b.groups++;
      b.insn += r.insn[c];
      for (const x of r.kernels[c] ?? []) b.kernels.add(x);
    }
    summary[c] = {
      whole,
      wholeFirst: first - base[c],
      baseline: base[c],
      edgeTransposes: rows.reduce((a, r) => a + r.edgeTranspose[c], 0),
      parts,
      partsOverWhole: parts / whole,
      byKind: Object.fromEntries(
        Object.entries(byKind)
          .sort((a, b) => b[1].insn - a[1].insn)
          .map(([k, v]) => [k, { groups: v.groups, insn: v.insn, kernels: [...v.kernels].sort() }]),
      ),
    };
  }
  const lines = [];
  for (const c of cpus) {
    const s = summary[c];
    lines.push(
      `nodes ${c} ${m.model}: whole=${M(s.whole)}M parts=${M(s.parts)}M parts/whole=${s.partsOverWhole.toFixed(3)} (${rows.length} groups; subtracted: session.run baseline ${(s.baseline / 1e3).toFixed(0)} k/run each, micro-model edge transposes ${M(s.edgeTransposes)}M in all)`,
    );
    for (const [k, v] of Object.entries(s.byKind)) {
      lines.push(`nodes ${c}   ${M(v.insn).padStart(7)}M ${String(v.groups).padStart(3)}× ${k}  [ORT: ${v.kernels.join(' ')}]`);
    }
  }
  process.stdout.write(lines.join('\n') + '\n');
  const top = (c) =>
    [...rows]
      .sort((a, b) => b.insn[c] - a.insn[c])
      .slice(0, 12)
      .map((r) => `  ${M(r.insn[c]).padStart(6)}M ${r.kind[c].padEnd(12)} ${r.name} (${r.ops.join('+')})`);
  for (const c of cpus) process.stdout.write(`nodes ${c} top groups:\n${top(c).join('\n')}\n`);
  writeFileSync(
    args.report,
    JSON.stringify(
      {
        created_at: new Date().toISOString(),
        model: m.model,
        method:
          'micro-model per node group (cut at QuantizeLinear outputs), qemu arm-insn plugin; subtracted per group: the median empty session.run and the layout transposes ORT adds at the micro-model edges',
        tolerance: tol,
        summary,
        groups: rows,
      },
      null,
      1,
    ),
  );
  const bad = cpus.filter((c) => Math.abs(summary[c].partsOverWhole - 1) > tol);
  if (bad.length) {
    process.stderr.write(`insn-nodes: sum of parts vs whole outside ±${tol * 100}% on ${bad.join(', ')}\n`);
    process.exitCode = 1;
  }
}

function die(msg) {
  process.stderr.write(`insn-nodes: ${msg}\n`);
  process.exit(2);
}

if (args.prepare) await prepare();
else if (args.child) await child();
else if (args.report) await report();
else
  die(
    'usage: --prepare <model> --kind det|seg --out <dir> | --child --dir <dir> [--runs N] [--optimized <dir>] | --report <json> --dir <dir> <cpu>=<log>[=<optimized dir>]...',
  );
