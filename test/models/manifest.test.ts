import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { catalogEntry } from '../../src/models/catalog.js';
import { checkContract } from '../../src/modeltools/model-import.js';
import { checkManifestShape, ModelError, readManifest, type ModelManifest } from '../../src/models/manifest.js';
import { baseManifest, loadModel, writeModel } from '../../src/models/store.js';
import { convertedDetector } from '../helpers/onnx-build.js';
import { LRASPP_FP32, photo } from '../helpers/paths.js';

const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');
const SEG = LRASPP_FP32;
/** the project's own float detector (the shipped TFLite, converted) */
const DET = convertedDetector();
const PHOTO = photo('astronaut.png');

function cli(args: string[], env: Record<string, string>): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], {
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH ?? '',
      HOME: os.tmpdir(),
      EDGESIGHT_OFFLINE: '1',
      EDGESIGHT_MODELS_MIRROR: '',
      EDGESIGHT__MODELS__PRECISION: 'fp32',
      ...env,
    },
    timeout: 60_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe('model manifests', function () {
  this.timeout(60_000);
  let tmp: string;
  before(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'es-manifest-'));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('round-trips: what writeModel writes, readManifest reads back field for field', async () => {
    const entry = catalogEntry('ssdlite_mobilenet_v3_small_coco')!;
    const base = baseManifest(entry, 'fp32');
    const mpath = await writeModel(path.join(tmp, 'rt'), base, DET);
    const back = await readManifest(mpath);
    assert.deepEqual(
      { ...back, file: undefined, sha256: undefined, bytes: undefined },
      { ...base, file: undefined, sha256: undefined, bytes: undefined },
    );
    assert.equal(back.file, 'fp32.onnx');
    assert.equal(back.bytes, readFileSync(DET).length);
    assert.equal(back.labels.length, 91);
    assert.equal(back.labels[1], 'person');
    // JSON text → object → JSON text is stable (no lossy fields such as undefined or NaN)
    const text = readFileSync(mpath, 'utf8');
    assert.equal(JSON.stringify(JSON.parse(text), null, 2) + '\n', text);
    const loaded = await loadModel(mpath, 'detection');
    assert.equal(loaded.file, path.join(tmp, 'rt', 'fp32.onnx'));
  });

  it('a malformed manifest lists every problem', async () => {
    const p = path.join(tmp, 'bad.json');
    writeFileSync(
      p,
      JSON.stringify({ manifest_version: 9, name: '', task: 'classify', precision: 'fp16', file: 'x.onnx', sha256: 'ABC', input: {}, labels: [1] }),
    );
    await assert.rejects(readManifest(p), (e: Error) => {
      assert.ok(e instanceof ModelError);
      for (const s of [
        'manifest_version must be 1',
        'name must be',
        "task must be 'detection'",
        "precision must be 'fp32'",
        'sha256 must be 64',
        'input.name',
        'labels must be',
      ]) {
        assert.ok(e.message.includes(s), `missing '${s}' in ${e.message}`);
      }
      return true;
    });
    writeFileSync(p, '{ "manifest_version": 1, ');
    await assert.rejects(readManifest(p), /bad\.json is not valid JSON/);
    assert.throws(
      () =>
        checkManifestShape(
          {
            manifest_version: 1,
            name: 'x',
            task: 'detection',
            precision: 'fp32',
            file: 'a',
            sha256: 'a'.repeat(64),
            input: { name: 'i' },
            labels: [],
          },
          'here',
        ),
      /needs a `detection` section/,
    );
  });

  describe('a corrupt, truncated or swapped model file is refused', () => {
    let cache: string;
    let onnx: string;
    let mpath: string;
    const pristine = readFileSync(DET);
    before(async () => {
      cache = path.join(tmp, 'cache');
      mpath = await writeModel(
        path.join(cache, 'ssdlite_mobilenet_v3_small_coco'),
        baseManifest(catalogEntry('ssdlite_mobilenet_v3_small_coco')!, 'fp32'),
        DET,
      );
      onnx = path.join(cache, 'ssdlite_mobilenet_v3_small_coco', 'fp32.onnx');
    });
    afterEach(() => writeFileSync(onnx, pristine));

    const detect = (): ReturnType<typeof cli> =>
      cli(['detect', '--json', PHOTO], {
        EDGESIGHT__MODELS__CACHE_DIR: cache,
        EDGESIGHT__MODELS__AUTO_PREPARE: 'false',
        EDGESIGHT__LOGGING__LEVEL: 'warn',
      });

    it('the intact model detects (the control for the cases below)', () => {
      const r = detect();
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /"label":"person"/);
    });

    it('corrupt (one byte flipped): sha256 mismatch, in the loader, the daemon path and `models list`', async () => {
      const b = Buffer.from(pristine);
      b[b.length - 100] ^= 0xff;
      writeFileSync(onnx, b);
      await assert.rejects(loadModel(mpath), /has sha256 [0-9a-f]{64} but its manifest pins [0-9a-f]{64}: corrupt or replaced/);
      const r = detect();
      assert.equal(r.code, 1);
      assert.match(r.stderr, /fp32\.onnx has sha256 .* corrupt or replaced; re-fetch it/);
      assert.doesNotMatch(r.stdout, /person/);
      const l = cli(['models', 'list', '--cache', cache], {});
      assert.equal(l.code, 1);
      assert.match(
        l.stdout,
        /ssdlite_mobilenet_v3_small_coco\s+fp32\s+detection\s+7\.2 MB\s+[0-9a-f]{12}\s+error\n\s+model file .* corrupt or replaced/,
      );
    });

    it('truncated: size mismatch named', async () => {
      truncateSync(onnx, 1000);
      await assert.rejects(loadModel(mpath), /is 1000 bytes but its manifest says \d+: truncated or replaced/);
      const r = cli(['models', 'info', 'ssdlite_mobilenet_v3_small_coco', '--cache', cache], {});
      assert.equal(r.code, 1);
      assert.match(r.stderr, /is 1000 bytes but its manifest says/);
    });

    it('missing: named with the fix', async () => {
      rmSync(onnx);
      await assert.rejects(loadModel(mpath), /fp32\.onnx \(named by .*fp32\.json\) does not exist; run `edgesight models fetch`/);
    });

    it('a detection manifest used as the segmenter is refused by task', async () => {
      await assert.rejects(loadModel(mpath, 'segmentation'), /is a detection model, but it is configured as the segmenter/);
    });
  });

  it('mismatched shapes: a file whose checksum matches but whose outputs do not fit the manifest is refused', async () => {
    // the segmenter's file registered under the detector's manifest contract, sha256 updated to match
    const dir = path.join(tmp, 'swapped');
    const mpath = await writeModel(dir, baseManifest(catalogEntry('ssdlite_mobilenet_v3_small_coco')!, 'fp32'), SEG);
    const loaded = await loadModel(mpath);
    await assert.rejects(
      checkContract(loaded.manifest, loaded.file),
      /does not match its manifest:\n {2}- output 'class_predictions' does not exist/,
    );

    // right names, wrong class count: the detector with a 3-label manifest
    const det = await loadModel(
      await writeModel(
        path.join(tmp, 'three'),
        { ...baseManifest(catalogEntry('ssdlite_mobilenet_v3_small_coco')!, 'fp32'), labels: ['background', 'person', 'car'] },
        DET,
      ),
    );
    await assert.rejects(
      checkContract(det.manifest, det.file),
      /scores 'class_predictions' has shape \[1, 2034, 91\], expected \[1, 2034 anchors, 3 labels\]/,
    );

    // a wrong anchor count
    const m: ModelManifest = { ...det.manifest, labels: baseManifest(catalogEntry('ssdlite_mobilenet_v3_small_coco')!, 'fp32').labels };
    m.detection = { ...m.detection!, anchors: { ...m.detection!.anchors, feature_maps: [20, 10, 5, 3, 2] } };
    await assert.rejects(checkContract(m, det.file), /the anchor spec generates 2028 anchors but num_anchors is 2034/);

    const seg = await loadModel(await writeModel(path.join(tmp, 'seg'), baseManifest(catalogEntry('lraspp_mobilenet_v3_small_voc')!, 'fp32'), SEG));
    const ok = await checkContract(seg.manifest, seg.file);
    assert.deepEqual(ok.outputs, { logits: [1, 21, 30, 40] });
  });
});
