import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { catalogEntry } from '../../src/models/catalog.js';
import type { PrepareContext } from '../../src/models/store.js';
import { tfliteConverter } from '../../src/modeltools/runtime-entry.js';
import type { ModelManifest } from '../../src/models/manifest.js';
import { loadModel, prepareModel, staleReason, type Quantizer } from '../../src/models/store.js';
import { MODEL_SOURCES_DIR } from '../helpers/paths.js';

const DET = 'ssdlite_mobilenet_v3_small_coco';

describe('model versions: a cache prepared by an older edgesight is made again', function () {
  this.timeout(300_000);
  let cache: string;
  let logs: string[];
  let ctx: PrepareContext;
  before(() => {
    cache = mkdtempSync(path.join(os.tmpdir(), 'edgesight-model-version-'));
    logs = [];
    ctx = { converter: tfliteConverter, cacheDir: cache, mirrors: [MODEL_SOURCES_DIR], allowNetwork: false, log: (m) => logs.push(m) };
  });
  after(() => rmSync(cache, { recursive: true, force: true }));

  it('the fp32 detector records its version and the uncapped class logits', async () => {
    const m = (await loadModel(await prepareModel(DET, 'fp32', ctx))).manifest;
    assert.equal(m.provenance.model_version, catalogEntry(DET)!.version);
    assert.equal(m.provenance.class_logits?.upper_saturation, 'dropped');
    assert.ok(m.provenance.class_logits!.tensors.includes('concat_1'));
    assert.equal(staleReason(catalogEntry(DET)!, m), null);
  });

  it('a manifest of an older model version is re-prepared, not loaded', async () => {
    const mpath = path.join(cache, DET, 'fp32.json');
    const old = JSON.parse(readFileSync(mpath, 'utf8')) as ModelManifest;
    old.provenance.model_version = 1;
    delete old.provenance.class_logits;
    writeFileSync(mpath, JSON.stringify(old));
    assert.match(staleReason(catalogEntry(DET)!, old) ?? '', /model version 1, this edgesight makes version 2/);
    logs.length = 0;
    const m = (await loadModel(await prepareModel(DET, 'fp32', ctx))).manifest;
    assert.ok(
      logs.some((l) => /re-preparing ssdlite_mobilenet_v3_small_coco fp32: .*model version 1/.test(l)),
      logs.join('\n'),
    );
    assert.equal(m.provenance.model_version, 2);
    assert.equal(m.provenance.class_logits?.upper_saturation, 'dropped');
  });

  it('an int8 model made by another quantizer version is made again by a versioned quantizer', async () => {
    let made = 0;
    const stand = (version: number): Quantizer => {
      const q: Quantizer = async (fp32) => {
        made++;
        return { onnx: readFileSync(fp32.file), provenance: { quantizer_version: version } };
      };
      q.version = version;
      return q;
    };
    await prepareModel(DET, 'int8', ctx, stand(1));
    await prepareModel(DET, 'int8', ctx, stand(1));
    assert.equal(made, 1, 'the same version is reused');
    await prepareModel(DET, 'int8', ctx, stand(2));
    assert.equal(made, 2, 'another version makes it again');
    const m = (await loadModel(path.join(cache, DET, 'int8.json'))).manifest;
    assert.equal((m.provenance.quantization as { quantizer_version: number }).quantizer_version, 2);
  });
});
