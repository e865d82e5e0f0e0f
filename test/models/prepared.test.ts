import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CATALOG } from '../../src/models/catalog.js';
import { loadModel } from '../../src/models/store.js';
import { preparedDir, preparedManifestPath } from '../../src/models/prepared.js';
import { buildPrepared, PREPARED_ACTIVATIONS, PREPARED_MAX_BYTES } from '../../src/modeltools/quantize/build-prepared.js';
import { quantSettings } from '../../src/modeltools/quantize/settings.js';
import { shippedCalibrationSources } from '../../src/modeltools/quantize/defaults.js';
import type { ModelManifest } from '../../src/models/manifest.js';
import { loadOnnx } from '../../src/modeltools/onnx/io.js';

const sha = (f: string): string => createHash('sha256').update(readFileSync(f)).digest('hex');

/**
 * The int8 models in models/prepared/ are what `npm run models:build` makes from models/sources/. The
 * check re-runs that build (same code, default settings) into a temp folder and compares the ONNX files
 * byte for byte and the manifests field for field. Quantization is deterministic on one machine (same
 * float kernels, same calibration order), but ONNX Runtime's float kernels differ between x86 CPUs (AVX2
 * vs AVX-512 sum in another order), so a calibration range may differ in its last bits. When the bytes
 * differ, the check falls back to an equivalence it can still fail: the same graph, every integer tensor
 * (weights, zero points) identical, int32 biases within 1 and every float scale within 1e-5 relative. On another
 * architecture the comparison is reported as skipped, not passed.
 */
describe('shipped prepared int8 models', function () {
  this.timeout(900_000);

  it('every catalogued model ships for both activation types, ≤ 8 MiB, pinned by its manifest', async () => {
    for (const e of CATALOG) {
      for (const act of PREPARED_ACTIVATIONS) {
        const mpath = preparedManifestPath(e.name, act);
        const m = await loadModel(mpath, e.task); // verifies size and sha256
        assert.equal(m.manifest.precision, 'int8');
        assert.ok(statSync(m.file).size <= PREPARED_MAX_BYTES, `${m.file}: ${statSync(m.file).size} bytes`);
        assert.equal(m.manifest.provenance.source_sha256, e.source.sha256, 'made from the pinned source');
        const q = m.manifest.provenance.quantization as { settings: unknown; activation_type: string };
        assert.equal(q.activation_type, act);
        // the default settings, as the daemon computes them for a default config on a machine of that type
        assert.deepEqual(q.settings, quantSettings({ name: e.name, activationType: act, calibration: shippedCalibrationSources() }));
      }
    }
    assert.deepEqual(readdirSync(preparedDir()).sort(), CATALOG.map((e) => e.name).sort(), 'nothing else in models/prepared');
  });

  it('re-quantizing from the float models with the default settings reproduces the committed files', async function () {
    if (process.arch !== 'x64') {
      console.log(`      skipped: the committed prepared models were built on x86-64; this is ${process.arch}`);
      this.skip();
    }
    const out = mkdtempSync(path.join(os.tmpdir(), 'edgesight-prepared-'));
    try {
      const built = await buildPrepared({ outDir: out });
      assert.equal(built.length, CATALOG.length * PREPARED_ACTIVATIONS.length);
      for (const b of built) {
        const committed = preparedManifestPath(b.name, b.activation);
        const want = JSON.parse(readFileSync(committed, 'utf8')) as ModelManifest;
        const committedOnnx = path.join(path.dirname(committed), want.file);
        const got = JSON.parse(readFileSync(b.manifest, 'utf8')) as ModelManifest;
        if (b.sha256 !== want.sha256) {
          const why = equivalenceFailure(path.join(path.dirname(b.manifest), got.file), committedOnnx);
          assert.equal(
            why,
            null,
            `${b.name} ${b.activation}: rebuilt ${b.sha256}, committed ${want.sha256}: ${why} (run npm run models:build and commit)`,
          );
          console.log(`      ${b.name} ${b.activation}: bytes differ only by float rounding of calibration scales on this CPU (equivalent)`);
          got.sha256 = want.sha256;
        } else {
          assert.equal(sha(committedOnnx), b.sha256);
        }
        // and the manifest, field for field, but for the output SNR: it is measured by running the int8
        // model, and int8 kernels differ between CPUs (x86 without VNNI saturates u8×s8 products)
        const snr = (m: ModelManifest): unknown => (m.provenance.quantization as Record<string, unknown>).output_snr_db;
        console.log(`      ${b.name} ${b.activation}: output SNR here ${JSON.stringify(snr(got))} dB, committed ${JSON.stringify(snr(want))} dB`);
        for (const m of [got, want]) delete (m.provenance.quantization as Record<string, unknown>).output_snr_db;
        assert.deepEqual(got, want);
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});

/** Null when two quantized models are the same graph with identical 8-bit tensors, biases within 1, scales within 1e-5. */
function equivalenceFailure(rebuiltFile: string, committedFile: string): string | null {
  const a = loadOnnx(readFileSync(rebuiltFile));
  const c = loadOnnx(readFileSync(committedFile));
  const nodes = (g: typeof a): string => JSON.stringify(g.nodes.map((n) => [n.opType, n.inputs, n.outputs]));
  if (nodes(a) !== nodes(c)) return 'the graphs differ';
  const want = new Map(c.initializers.map((t) => [t.name, t]));
  if (a.initializers.length !== want.size) return `initializer count ${a.initializers.length} vs ${want.size}`;
  for (const t of a.initializers) {
    const u = want.get(t.name);
    if (!u || u.dataType !== t.dataType || u.data.length !== t.data.length) return `initializer ${t.name} differs in type or shape`;
    for (let i = 0; i < t.data.length; i++) {
      const x = Number(t.data[i]);
      const y = Number(u.data[i]);
      if (x === y) continue;
      const float = t.dataType === 1 || t.dataType === 11; // FLOAT, DOUBLE
      // an int32 bias is round(bias / (input scale × weight scale)): a last-bit scale difference may move it by 1
      if (t.dataType === 6 && Math.abs(x - y) <= 1) continue;
      if (!float) return `integer tensor ${t.name}[${i}]: ${x} vs ${y}`;
      if (Math.abs(x - y) > 1e-5 * Math.max(Math.abs(x), Math.abs(y))) return `float tensor ${t.name}[${i}]: ${x} vs ${y}`;
    }
  }
  return null;
}
