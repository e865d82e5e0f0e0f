import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ModelManifest } from '../../src/models/manifest.js';
import { activationTypeFor } from '../../src/modeltools/quantize/manifest-quantizer.js';
import { preparedManifestPath } from '../../src/models/prepared.js';
import { CLI, Collector, REPO, stopChild } from '../helpers/daemon.js';

/**
 * `npm start` (the demo config) with an EMPTY model cache and no network loads the int8 models shipped in
 * models/prepared/ and publishes detections and masks. The same command as `npm start` runs, with only
 * the cache dir and the embedded broker's port overridden.
 */
describe('e2e: npm start on a clean cache → the shipped int8 models', function () {
  this.timeout(300_000);
  let cache: string;
  let out = '';
  let child: ReturnType<typeof spawn> | null = null;
  let sub: Collector | null = null;

  before(() => {
    cache = mkdtempSync(path.join(tmpdir(), 'edgesight-start-cache-'));
  });
  after(async () => {
    await sub?.close();
    await stopChild(child);
    rmSync(cache, { recursive: true, force: true });
  });

  it('loads the shipped int8 detector and segmenter without quantizing, then publishes detections and masks', async () => {
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('EDGESIGHT')) env[k] = v;
    Object.assign(env, {
      EDGESIGHT__MODELS__CACHE_DIR: cache,
      EDGESIGHT__MQTT__EMBEDDED_BROKER__PORT: '0',
      EDGESIGHT__LOGGING__PRETTY: 'false',
      EDGESIGHT_OFFLINE: '1', // the package alone must be enough
    });
    child = spawn(process.execPath, [CLI, 'run', '--config', path.join(REPO, 'config', 'demo.yaml')], {
      cwd: REPO,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));

    // the embedded broker's URL, from the daemon's log line
    const url = await new Promise<string>((resolve, reject) => {
      const t = setInterval(() => {
        for (const line of out.split('\n')) {
          if (!line.includes('EMBEDDED broker')) continue;
          clearInterval(t);
          resolve((JSON.parse(line) as { url: string }).url);
          return;
        }
      }, 200);
      void exited.then((code) => {
        clearInterval(t);
        reject(new Error(`the daemon exited (${code}) before starting its broker:\n${out}`));
      });
    });
    sub = await Collector.connect(url, ['edgesight/demo/#']);
    const det = await sub
      .waitFor(
        (t, p) => t === 'edgesight/demo/demo/detections' && (JSON.parse(p.toString()) as { objects: unknown[] }).objects.length > 0,
        120_000,
        'detections with objects',
      )
      .catch((e: Error) => {
        throw new Error(`${e.message}\ndaemon output:\n${out}`);
      });
    assert.ok(det.payload.length > 0);
    await sub
      .waitFor((t) => t === 'edgesight/demo/demo/mask', 120_000, 'a mask')
      .catch((e: Error) => {
        throw new Error(`${e.message}\ndaemon output:\n${out}`);
      });

    // the shipped int8 models for this machine's activation type were loaded as they are: nothing was
    // quantized or converted, and nothing was written to the (empty) cache
    const act = activationTypeFor('auto');
    for (const name of ['ssdlite_mobilenet_v3_small_coco', 'lraspp_mobilenet_v3_small_voc']) {
      const manifestPath = preparedManifestPath(name, act);
      assert.ok(out.includes(`using the prepared int8 ${name} shipped with the package`), `${name}: not loaded from models/prepared:\n${out}`);
      const m = JSON.parse(readFileSync(manifestPath, 'utf8')) as ModelManifest;
      assert.equal(m.precision, 'int8');
      const q = m.provenance.quantization as { settings: { activation_type: string; calibration: string[] }; output_snr_db: Record<string, number> };
      assert.equal(q.settings.activation_type, act);
      assert.deepEqual(q.settings.calibration, ['<package>/models/calibration', '<package>/config/demo-photos']);
      assert.ok(
        Object.values(q.output_snr_db).every((v) => v > 5),
        `${name}: output SNR ${JSON.stringify(q.output_snr_db)}`,
      );
    }
    assert.ok(out.includes(`"detector":"${preparedManifestPath('ssdlite_mobilenet_v3_small_coco', act)}"`), out);
    assert.doesNotMatch(out, /quantiz(ing|ed) /);
    assert.doesNotMatch(out, /converting /);
    assert.deepEqual(readdirSync(cache), [], 'the cache stays empty');
  });
});
