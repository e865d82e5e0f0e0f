import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LRASPP_FP32, REPO, TFLITE_DETECTOR } from '../helpers/paths.js';

const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');

/** `edgesight models …` as a real child process, offline, with no mirror: the package's own sources. */
function models(args: string[], env: Record<string, string> = {}): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, 'models', ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', HOME: os.tmpdir(), EDGESIGHT_OFFLINE: '1', EDGESIGHT__MODELS__PRECISION: 'fp32', ...env },
    timeout: 60_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

interface InfoJson {
  name: string | null;
  precision: string | null;
  params: number;
  macs: number;
  int8OpShare: number;
  int8MacShare: number;
  opCounts: Record<string, number>;
  outputs: Array<{ name: string; shape: number[] }>;
  paper: { params: number; madds: number | null } | null;
  verified: boolean;
  contract: { probe: { width: number; height: number }; outputs: Record<string, number[]> } | null;
}

describe('edgesight models (CLI)', function () {
  this.timeout(60_000);
  let tmp: string;
  let cache: string;
  before(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'es-models-cli-'));
    cache = path.join(tmp, 'cache');
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('fetch from the mirror prepares the float and faithful-QDQ detectors and the segmenter, with manifests', () => {
    const r = models(['fetch', '--cache', cache, '--precision', 'qdq-faithful']);
    assert.equal(r.code, 0, r.stderr);
    for (const f of ['ssdlite_mobilenet_v3_small_coco/fp32', 'ssdlite_mobilenet_v3_small_coco/qdq-faithful', 'lraspp_mobilenet_v3_small_voc/fp32']) {
      assert.ok(existsSync(path.join(cache, `${f}.json`)), `${f}.json`);
      assert.ok(existsSync(path.join(cache, `${f}.onnx`)), `${f}.onnx`);
    }
    assert.match(r.stderr, /no faithful QDQ form/, 'the ONNX-sourced segmenter is skipped, and says so');
    const m = JSON.parse(readFileSync(path.join(cache, 'ssdlite_mobilenet_v3_small_coco/qdq-faithful.json'), 'utf8')) as {
      precision: string;
      provenance: { source_sha256: string };
    };
    assert.equal(m.precision, 'qdq-faithful');
    assert.equal(m.provenance.source_sha256, '673978b17406e6b204ea8a0f2dac814f8b31ec1e9ddf13caa17362359a616fd2');
    // a second fetch reuses the verified models
    const again = models(['fetch', '--cache', cache]);
    assert.equal(again.code, 0, again.stderr);
    assert.doesNotMatch(again.stderr, /converting/);
  });

  it('list shows every prepared model as verified', () => {
    const r = models(['list', '--cache', cache, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as { models: Array<{ name: string; precision: string; status: string }>; not_prepared: string[] };
    assert.deepEqual(j.models.map((m) => `${m.name}/${m.precision}/${m.status}`).sort(), [
      'lraspp_mobilenet_v3_small_voc/fp32/verified',
      'ssdlite_mobilenet_v3_small_coco/fp32/verified',
      'ssdlite_mobilenet_v3_small_coco/qdq-faithful/verified',
    ]);
    assert.deepEqual(j.not_prepared, []);
    const table = models(['list', '--cache', cache]);
    assert.match(table.stdout, /ssdlite_mobilenet_v3_small_coco\s+qdq-faithful\s+detection\s+2\.4 MB\s+[0-9a-f]{12}\s+verified/);
  });

  it('info: ~1.8M params and MAdds next to the paper; the faithful QDQ runs its convs in int8', () => {
    const f = models(['info', 'ssdlite_mobilenet_v3_small_coco', '--cache', cache, '--json']);
    assert.equal(f.code, 0, f.stderr);
    const fp = JSON.parse(f.stdout) as InfoJson;
    assert.ok(fp.params > 1.7e6 && fp.params < 1.9e6, `params ${fp.params}`);
    assert.ok(fp.paper && fp.paper.madds !== null);
    assert.ok(Math.abs(fp.macs - fp.paper.madds) / fp.paper.madds < 0.05, `MAdds ${fp.macs} vs paper ${fp.paper.madds}`);
    assert.equal(fp.int8OpShare, 0);
    assert.ok(fp.verified);

    const q = JSON.parse(
      models(['info', 'ssdlite_mobilenet_v3_small_coco', '--precision', 'qdq-faithful', '--cache', cache, '--json', '--check']).stdout,
    ) as InfoJson;
    assert.equal(q.params, fp.params);
    assert.equal(q.macs, fp.macs);
    assert.equal(q.int8MacShare, 1);
    assert.ok((q.opCounts['QuantizeLinear'] ?? 0) > 100);
    assert.deepEqual(q.contract?.outputs, { class_predictions: [1, 2034, 91], box_encodings: [1, 2034, 4] });

    const table = models(['info', 'ssdlite_mobilenet_v3_small_coco', '--cache', cache]);
    assert.match(table.stdout, /params\s+1\.\d\d M\s+paper: 1\.77 M/);
    assert.match(table.stdout, /MAdds\s+0\.\d+ G at 320×320\s+paper: 0\.160 G/);
  });

  it('info on the segmenter analyses it at its probe size and a raw ONNX needs --size', () => {
    const s = JSON.parse(models(['info', 'lraspp_mobilenet_v3_small_voc', '--cache', cache, '--json']).stdout) as InfoJson;
    assert.deepEqual(
      s.outputs.map((o) => o.shape),
      [[1, 21, 40, 40]],
    );
    const raw = models(['info', LRASPP_FP32, '--cache', cache]);
    assert.equal(raw.code, 1);
    assert.match(raw.stderr, /symbolic.*--size WxH/s);
    const sized = JSON.parse(models(['info', LRASPP_FP32, '--size', '512x256', '--json']).stdout) as InfoJson;
    assert.deepEqual(sized.outputs[0]?.shape, [1, 21, 32, 64]);
    assert.equal(sized.verified, false, 'a bare ONNX has no manifest to verify against');
  });

  it('convert: a TFLite file to ONNX, then import registers it as a user detector', () => {
    const out = path.join(tmp, 'conv', 'det.onnx');
    const c = models(['convert', TFLITE_DETECTOR, '--out', out]);
    assert.equal(c.code, 0, c.stderr);
    const i = models(['import', out, '--name', 'my-detector', '--like', 'ssdlite_mobilenet_v3_small_coco', '--cache', cache]);
    assert.equal(i.code, 0, i.stderr);
    assert.match(i.stdout, /registered my-detector fp32 \(detection, 91 labels/);
    assert.match(i.stdout, /class_predictions \[1, 2034, 91\]/);
    // same conversion → same bytes as the catalogued fp32 model
    const a = JSON.parse(readFileSync(path.join(cache, 'my-detector/fp32.json'), 'utf8')) as { sha256: string; name: string };
    const b = JSON.parse(readFileSync(path.join(cache, 'ssdlite_mobilenet_v3_small_coco/fp32.json'), 'utf8')) as { sha256: string };
    assert.equal(a.name, 'my-detector');
    assert.equal(a.sha256, b.sha256);
    const dup = models(['import', out, '--name', 'my-detector', '--like', 'ssdlite_mobilenet_v3_small_coco', '--cache', cache]);
    assert.equal(dup.code, 1);
    assert.match(dup.stderr, /already exists; use --force/);
  });

  it('import a user segmenter with its own labels file, then reject bad ones with the reason', () => {
    const seg = LRASPP_FP32;
    const ok = models([
      'import',
      seg,
      '--name',
      'myseg',
      '--like',
      'lraspp_mobilenet_v3_small_voc',
      '--labels',
      path.join(REPO, 'models', 'labels', 'voc_labels.txt'),
      '--cache',
      cache,
    ]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /logits \[1, 21, 30, 40\]/);

    const labels3 = path.join(tmp, 'three.txt');
    writeFileSync(labels3, 'background\nperson\ncar\n');
    const bad = models(['import', seg, '--name', 'seg3', '--like', 'lraspp_mobilenet_v3_small_voc', '--labels', labels3, '--cache', cache]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /logits 'logits' at a 320×240 input has shape \[1, 21, 30, 40\], expected \[1, 3, 30, 40\]/);

    const stride = models(['import', seg, '--name', 'seg16', '--like', 'lraspp_mobilenet_v3_small_voc', '--output-stride', '16', '--cache', cache]);
    assert.equal(stride.code, 1);
    assert.match(stride.stderr, /expected \[1, 21, 15, 20\].*output stride 16/);

    const wrongTask = models(['import', seg, '--name', 'segdet', '--like', 'ssdlite_mobilenet_v3_small_coco', '--cache', cache]);
    assert.equal(wrongTask.code, 1);
    assert.match(wrongTask.stderr, /output 'class_predictions' does not exist \(the model's outputs: logits\)/);

    const junk = path.join(tmp, 'junk.onnx');
    writeFileSync(junk, Buffer.from('this is not an ONNX model at all, just text'));
    const j = models(['import', junk, '--name', 'junk', '--like', 'lraspp_mobilenet_v3_small_voc', '--cache', cache]);
    assert.equal(j.code, 1);
    assert.match(j.stderr, /ONNX Runtime cannot load .*junk\.onnx/);

    const noContract = models(['import', seg, '--name', 'nocontract', '--cache', cache]);
    assert.equal(noContract.code, 1);
    assert.match(noContract.stderr, /pass --like CATALOG_NAME .* or --manifest FILE/);

    const badName = models(['import', seg, '--name', '../escape', '--like', 'lraspp_mobilenet_v3_small_voc', '--cache', cache]);
    assert.equal(badName.code, 1);
    assert.match(badName.stderr, /--name '\.\.\/escape' must be/);
    for (const n of ['seg3', 'seg16', 'segdet', 'junk', 'nocontract']) assert.ok(!existsSync(path.join(cache, n)), `${n} left nothing in the cache`);
  });

  it('import with a full manifest template (bring your own model without --like)', () => {
    const tpl = JSON.parse(readFileSync(path.join(cache, 'lraspp_mobilenet_v3_small_voc/fp32.json'), 'utf8')) as Record<string, unknown>;
    delete tpl.file;
    delete tpl.sha256;
    delete tpl.bytes;
    tpl.name = 'ignored-by-name-flag';
    const tplPath = path.join(tmp, 'seg-template.json');
    writeFileSync(tplPath, JSON.stringify(tpl));
    const r = models(['import', LRASPP_FP32, '--manifest', tplPath, '--name', 'tplseg', '--cache', cache]);
    assert.equal(r.code, 0, r.stderr);
    const info = JSON.parse(models(['info', path.join(cache, 'tplseg/fp32.json'), '--json', '--check']).stdout) as InfoJson;
    assert.equal(info.name, 'tplseg');
    assert.ok(info.verified);
    assert.deepEqual(info.contract?.outputs, { logits: [1, 21, 30, 40] });
  });

  it('usage and availability errors are clear', () => {
    const unknown = models(['fetch', 'no_such_model', '--cache', cache]);
    assert.equal(unknown.code, 64);
    assert.match(unknown.stderr, /unknown model 'no_such_model'/);
    // both default models come from the package: offline, no mirror, an empty cache is enough
    const packaged = models(['fetch', 'lraspp_mobilenet_v3_small_voc', '--cache', path.join(tmp, 'empty-cache')], { EDGESIGHT_MODELS_MIRROR: '' });
    assert.equal(packaged.code, 0, packaged.stderr);
    const missingFrom = models(['fetch', '--from', path.join(tmp, 'nope'), '--cache', cache]);
    assert.equal(missingFrom.code, 64);
    assert.match(missingFrom.stderr, /--from .*nope: no such folder/);
    const sub = models(['frobnicate']);
    assert.equal(sub.code, 64);
    assert.match(sub.stderr, /unknown subcommand 'frobnicate'/);
  });
});
