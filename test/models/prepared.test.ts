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

const sha = (f: string): string => createHash('sha256').update(readFileSync(f)).digest('hex');

/**
 * The int8 models in models/prepared/ are what `npm run models:build` makes from models/sources/. The
 * check re-runs that build (same code, default settings) into a temp folder and compares the ONNX files
 * byte for byte and the manifests field for field. Quantization is deterministic on one machine (same
 * float kernels, same calibration order); the committed files were built on x86-64, so on another
 * architecture the float calibration sums may round differently and the bytes differ — there the
 * comparison is reported as skipped, not passed.
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
        // the ONNX bytes: same graph, same weights, same scales and zero points
        assert.equal(b.sha256, want.sha256, `${b.name} ${b.activation}: rebuilt ${b.sha256}, committed ${want.sha256} (run npm run models:build and commit)`);
        assert.equal(sha(path.join(path.dirname(committed), want.file)), b.sha256);
        // and the manifest, field for field (it holds nothing time- or machine-dependent)
        assert.deepEqual(JSON.parse(readFileSync(b.manifest, 'utf8')), want);
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
