import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { PrepareContext } from '../../src/models/store.js';
import { tfliteConverter } from '../../src/modeltools/runtime-entry.js';
import { loadConfigFile } from '../../src/config/load.js';
import { configuredQuantizer } from '../../src/modeltools/quantize/configured-quantizer.js';
import { loadModel, prepareModel, type Quantizer } from '../../src/models/store.js';
import pino from 'pino';
import { CLI, writeConfig } from '../helpers/daemon.js';
import { PHOTOS_DIR, REPO } from '../helpers/paths.js';
import { configuredQuantSettings, loadConfiguredModels } from '../../src/service/configured-models.js';
import type { LoadedConfig } from '../../src/config/types.js';

const DET = 'ssdlite_mobilenet_v3_small_coco';

function run(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    c.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('int8 auto-prepare: concurrent processes, one cache', function () {
  this.timeout(300_000);
  let cache: string;
  beforeEach(() => {
    cache = mkdtempSync(path.join(tmpdir(), 'edgesight-int8-prepare-'));
  });
  afterEach(() => rmSync(cache, { recursive: true, force: true }));

  it('two `edgesight detect` started together, with calibration settings no shipped model has, quantize once (in a child process) and both detect the cat', async () => {
    // the street-scene frames alone: not the default set, so neither the shipped model nor an old cache fits
    const calib = `models: { precision: int8, calibration: [${path.join(REPO, 'models', 'calibration')}] }\n`;
    const cfg = await writeConfig(`${calib}segmentation: { every: 0 }\nlogging: { level: info, pretty: false }\n`);
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('EDGESIGHT')) env[k] = v;
    Object.assign(env, { EDGESIGHT__MODELS__CACHE_DIR: cache, EDGESIGHT_OFFLINE: '1' });
    const photo = path.join(PHOTOS_DIR, 'chelsea.png');
    const [a, b] = await Promise.all([
      run(['detect', '--config', cfg, '--json', photo], env),
      run(['detect', '--config', cfg, '--json', photo], env),
    ]);
    for (const r of [a, b]) assert.equal(r.code, 0, r.stderr);
    // integer kernels on one machine: the same int8 model gives the same detections in both
    assert.equal(a.stdout, b.stdout);
    assert.ok(
      (JSON.parse(a.stdout) as { objects: Array<{ label: string }> }).objects.some((o) => o.label === 'cat'),
      a.stdout,
    );
    // the child's own line (prepareModel's), once; each daemon-side process announced the child
    const quantized = (a.stderr + b.stderr).match(/quantizing ssdlite_mobilenet_v3_small_coco to int8 \(calibration\)/g) ?? [];
    assert.equal(quantized.length, 1, `quantized ${quantized.length} times:\n${a.stderr}\n---\n${b.stderr}`);
    assert.match(a.stderr + b.stderr, /quantizer process peak RSS \d+ MB/);
    assert.deepEqual(readdirSync(path.join(cache, DET)).sort(), ['fp32.json', 'fp32.onnx', 'int8.json', 'int8.onnx']);
    const made = (await loadModel(path.join(cache, DET, 'int8.json'))).manifest;
    assert.deepEqual((made.provenance.quantization as { settings: { calibration: string[] } }).settings.calibration, [
      '<package>/models/calibration',
    ]);

    // the default config: the cached model's settings differ, the shipped one fits → used as it is
    const plain = await writeConfig('models: { precision: int8 }\nsegmentation: { every: 0 }\nlogging: { level: info, pretty: false }\n');
    const d = await run(['detect', '--config', plain, '--json', photo], env);
    assert.equal(d.code, 0, d.stderr);
    assert.match(
      d.stderr,
      /the cached int8 ssdlite_mobilenet_v3_small_coco is not used: its quantizer settings differ from the configured ones \(calibration\)/,
    );
    assert.match(d.stderr, /using the prepared int8 ssdlite_mobilenet_v3_small_coco shipped with the package/);
    assert.doesNotMatch(d.stderr, /quantizing/);
    // and the first config again: the cached model fits, nothing is quantized
    const again = await run(['detect', '--config', cfg, '--json', photo], env);
    assert.equal(again.code, 0, again.stderr);
    assert.doesNotMatch(again.stderr, /quantizing|is not used/);
  });

  it('a lock left by a process that is gone is taken over, and the .part files are per writer', async () => {
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    const dir = path.join(cache, DET);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'int8.lock'), dead);
    const logs: string[] = [];
    const ctx: PrepareContext = { converter: tfliteConverter, cacheDir: cache, mirrors: [], allowNetwork: false, log: (m) => logs.push(m) };
    // a stand-in quantizer (the real one is covered above and in the gates): it only has to produce bytes
    const quantize: Quantizer = async (fp32) => ({ onnx: readFileSync(fp32.file), provenance: { stand_in: true } });
    const mpath = await prepareModel(DET, 'int8', ctx, quantize);
    assert.ok(
      logs.some((l) => l.includes(`stale prepare lock`) && l.includes(`process ${dead}`)),
      logs.join('\n'),
    );
    const m = (await loadModel(mpath)).manifest;
    assert.deepEqual(m.provenance.quantization, { stand_in: true });
    assert.deepEqual(readdirSync(dir).sort(), ['fp32.json', 'fp32.onnx', 'int8.json', 'int8.onnx']);
  });

  it('a cached int8 whose quantizer settings differ from the configured ones is made again', async () => {
    const logs: string[] = [];
    const log = pino({ level: 'info' }, { write: (l: string) => void logs.push(l) });
    let calls = 0;
    const made: string[] = [];
    const lcFor = async (dir: string): Promise<LoadedConfig> => {
      mkdirSync(path.join(cache, dir), { recursive: true });
      writeFileSync(path.join(cache, dir, 'x.png'), readFileSync(path.join(PHOTOS_DIR, 'coffee.png')));
      return loadConfigFile(
        await writeConfig(`models: { precision: int8, cache_dir: ${cache}, calibration: [${path.join(cache, dir)}] }\nsegmentation: { every: 0 }\n`),
        { env: {} },
      );
    };
    // a stand-in quantizer that records the settings it was asked for (the real one runs above)
    const standIn =
      (lc: LoadedConfig): Quantizer =>
      async (fp32) => {
        calls++;
        made.push(String(configuredQuantSettings(lc, fp32.manifest.name).calibration));
        return { onnx: readFileSync(fp32.file), provenance: { settings: configuredQuantSettings(lc, fp32.manifest.name) } };
      };
    const a = await lcFor('calib-a');
    await loadConfiguredModels(a, log, standIn(a));
    await loadConfiguredModels(a, log, standIn(a));
    assert.equal(calls, 1, 'same settings: the cached model is used');
    const b = await lcFor('calib-b');
    const got = await loadConfiguredModels(b, log, standIn(b));
    assert.equal(calls, 2, 'other calibration: made again');
    assert.match(made[1]!, /calib-b$/);
    assert.ok(
      logs.some((l) => l.includes('is not used: its quantizer settings differ from the configured ones (calibration)')),
      logs.join(''),
    );
    assert.deepEqual((got.detector.manifest.provenance.quantization as { settings: unknown }).settings, configuredQuantSettings(b, DET));
  });

  it('models.calibration (relative to the config file) replaces the shipped set; calibration_frames adds camera frames', async () => {
    const photos = PHOTOS_DIR;
    const cfgDir = mkdtempSync(path.join(tmpdir(), 'edgesight-calib-cfg-'));
    try {
      mkdirSync(path.join(cfgDir, 'mine'));
      for (const f of ['chelsea.png', 'coffee.png']) writeFileSync(path.join(cfgDir, 'mine', f), readFileSync(path.join(photos, f)));
      const file = path.join(cfgDir, 'edgesight.yaml');
      writeFileSync(
        file,
        `camera: { name: cam, source: files, fps: 50, files: { path: ${path.join(photos, 'astronaut.png')}, loop: true } }\nmodels: { calibration: [mine], calibration_frames: 3 }\n`,
      );
      const lc = loadConfigFile(file, { env: {} });
      const logs: string[] = [];
      const ctx: PrepareContext = { converter: tfliteConverter, cacheDir: cache, mirrors: [], allowNetwork: false, log: (m) => logs.push(m) };
      const q = await configuredQuantizer(lc)(await loadModel(await prepareModel('lraspp_mobilenet_v3_small_voc', 'fp32', ctx)), ctx);
      const cal = q.provenance.calibration as { images: number; camera_frames: number; sources: Record<string, number> };
      assert.equal(cal.images, 5);
      assert.equal(cal.camera_frames, 3);
      assert.deepEqual(cal.sources, { [path.join(cfgDir, 'mine')]: 2, 'frames extracted from the camera': 3 });
      assert.ok(q.onnx.length > 100_000);
    } finally {
      rmSync(cfgDir, { recursive: true, force: true });
    }
  });

  it('a calibration source that does not exist is named in the error', async () => {
    const lc = loadConfigFile(await writeConfig('models: { calibration: [no-such-folder] }\n'), { env: {} });
    const ctx: PrepareContext = { converter: tfliteConverter, cacheDir: cache, mirrors: [], allowNetwork: false, log: () => undefined };
    const fp32 = await loadModel(await prepareModel('lraspp_mobilenet_v3_small_voc', 'fp32', ctx));
    await assert.rejects(async () => configuredQuantizer(lc)(fp32, ctx), /calibration source .*no-such-folder does not exist/);
  });
});
