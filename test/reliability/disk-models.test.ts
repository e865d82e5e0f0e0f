import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, readdir, truncate, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { prepareModel } from '../../src/models/store.js';
import { tfliteConverter } from '../../src/modeltools/runtime-entry.js';
import { CLI, spawnCollected, startDaemon, TEST_CACHE, writeConfig, type DaemonProc } from '../helpers/daemon.js';
import { useBroker } from '../helpers/e2e.js';
import { MODEL_SOURCES_DIR } from '../helpers/paths.js';
import { daemonYaml, faultEnv, freePort, recordFigures, waitForOutput } from './util.js';

const DET = 'ssdlite_mobilenet_v3_small_coco';

/** fp32 for these tests: made from the shipped source in seconds (int8 would re-run the quantizer) */
const FP32 = 'models: { precision: fp32 }';

const sha256 = async (f: string): Promise<string> =>
  createHash('sha256')
    .update(await readFile(f))
    .digest('hex');

async function seededCache(): Promise<{ dir: string; onnx: string; manifest: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'edgesight-cache-'));
  await cp(path.join(TEST_CACHE, DET), path.join(dir, DET), { recursive: true });
  const manifest = path.join(dir, DET, 'fp32.json');
  const m = JSON.parse(await readFile(manifest, 'utf8')) as { file: string };
  return { dir, onnx: path.join(dir, DET, m.file), manifest };
}

const canUnshare = (): boolean => process.getuid?.() === 0 && spawnSync('unshare', ['--mount', 'true']).status === 0;

/** `sh -c script` in a private mount namespace, its output collected like a daemon's */
const unshared = (script: string, env: NodeJS.ProcessEnv): DaemonProc =>
  spawnCollected('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script], env);

describe('reliability: model cache and disk faults', function () {
  this.timeout(300_000);
  let daemon: DaemonProc | null = null;
  const mq = useBroker(() => daemon);
  before(async () => {
    // the fp32 detector in the shared test cache: the seed every case copies
    await prepareModel(DET, 'fp32', {
      converter: tfliteConverter,
      cacheDir: TEST_CACHE,
      mirrors: [MODEL_SOURCES_DIR],
      allowNetwork: false,
      log: () => undefined,
    });
  });

  it('a tampered model in the cache (sha256 mismatch) is refused by name, re-made from the shipped source, and the good one is loaded', async () => {
    const c = await seededCache();
    const bytes = await readFile(c.onnx);
    bytes[bytes.length >> 1] ^= 0xff; // same size, different content
    await writeFile(c.onnx, bytes);
    const bad = await sha256(c.onnx);
    const http = await freePort();
    daemon = startDaemon(
      await writeConfig(daemonYaml({ id: 'tamper', url: mq.broker.url, httpPort: http, extra: `${FP32}` }).replace('models:', 'models:')),
      faultEnv({ EDGESIGHT__MODELS__CACHE_DIR: c.dir }),
    );
    const t0 = performance.now();
    const refused = await waitForOutput(daemon, /.*in the cache is refused.*/, 120_000);
    assert.match(refused, new RegExp(`${DET}.*sha256`), 'names the model and the checksum');
    assert.ok(refused.includes(c.onnx), 'names the file');
    await waitForOutput(daemon, /edgesight running/, 120_000);
    recordFigures('tampered model', { remade_and_running_ms: Math.round(performance.now() - t0) });
    // what is in the cache now verifies against its manifest, and is not the tampered file
    const m = JSON.parse(await readFile(c.manifest, 'utf8')) as { file: string; sha256: string };
    const now = await sha256(path.join(path.dirname(c.manifest), m.file));
    assert.equal(now, m.sha256, 'the re-made file matches its manifest');
    assert.notEqual(now, bad, 'the tampered bytes are gone');
  });

  it('a truncated model with no source to re-make it from (a model registered by its manifest): exit 66 naming it, never loaded', async () => {
    // the catalogued models always have their source in the package; a user's model has only its manifest
    const c = await seededCache();
    const own = await mkdtemp(path.join(tmpdir(), 'edgesight-own-model-'));
    const m = JSON.parse(await readFile(c.manifest, 'utf8')) as { file: string };
    await cp(c.onnx, path.join(own, m.file));
    await writeFile(path.join(own, 'detector.json'), JSON.stringify(m));
    await truncate(path.join(own, m.file), 1000);
    const env = faultEnv({ EDGESIGHT__MODELS__CACHE_DIR: c.dir, EDGESIGHT_OFFLINE: '1' });
    const extra = `models: { precision: fp32, detector: ${JSON.stringify(path.join(own, 'detector.json'))} }`;
    daemon = startDaemon(await writeConfig(daemonYaml({ id: 'trunc', url: mq.broker.url, httpPort: await freePort(), extra })), env);
    const exit = await daemon.exited;
    const out = daemon.output();
    assert.equal(exit.code, 66, out.slice(-3000));
    assert.match(out, /model file .* is 1000 bytes but its manifest says/);
    assert.doesNotMatch(out, /models loaded|edgesight running/);
  });

  it('cache directory full (a small tmpfs in a private mount namespace): a clear error and exit 66; once space is back, the half-written file is never loaded and the model is made again', async function () {
    if (!canUnshare()) {
      console.log('      skipped: needs root and unshare --mount');
      this.skip();
    }
    const cache = await mkdtemp(path.join(tmpdir(), 'edgesight-fullcache-'));
    const cfg = await writeConfig(daemonYaml({ id: 'full', url: mq.broker.url, httpPort: await freePort(), extra: FP32 }));
    // 3 MiB: room for the 2.4 MB source, not for the converted model
    const script = `mount -t tmpfs -o size=3m tmpfs "$C" || exit 90
"$NODE" "$CLI" run --config "$CFG"; echo "run1_exit=$?"
ls -a "$C/${DET}" 2>/dev/null | tr '\\n' ' '; echo
mount -o remount,size=64m "$C" || exit 91
exec "$NODE" "$CLI" run --config "$CFG"`;
    daemon = unshared(script, { ...faultEnv({ EDGESIGHT__MODELS__CACHE_DIR: cache }), C: cache, NODE: process.execPath, CLI, CFG: cfg });
    const { child } = daemon;
    const out = daemon.output;
    const exited = daemon.exited.then((e) => e.code);
    await waitForOutput(daemon, /run1_exit=\d+/, 120_000);
    assert.match(out(), /run1_exit=66/, out().slice(-3000));
    assert.match(out(), /ENOSPC \(the disk is full\)/);
    await waitForOutput(daemon, /edgesight running/, 120_000);
    const run2 = out().slice(out().indexOf('run1_exit'));
    assert.match(run2, /not prepared yet: preparing it|refused/, 'the second run makes the model instead of loading a half-written one');
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    recordFigures('disk full', { first_run_exit: 66 });
  });

  it('read-only cache: prepared models still load and the daemon runs; an empty read-only cache is a clear error and exit 66', async function () {
    if (!canUnshare()) {
      console.log('      skipped: needs root and unshare --mount');
      this.skip();
    }
    const c = await seededCache();
    const emptyDir = await mkdtemp(path.join(tmpdir(), 'edgesight-rocache-'));
    await mkdir(path.join(emptyDir, 'x'));
    const cfg = await writeConfig(daemonYaml({ id: 'ro', url: mq.broker.url, httpPort: await freePort(), extra: FP32 }));
    const script = `mount --bind "$C" "$C" && mount -o remount,bind,ro "$C" || exit 90
mount --bind "$E" "$E" && mount -o remount,bind,ro "$E" || exit 90
EDGESIGHT__MODELS__CACHE_DIR="$E" "$NODE" "$CLI" run --config "$CFG"; echo "empty_exit=$?"
EDGESIGHT__MODELS__CACHE_DIR="$C" exec "$NODE" "$CLI" run --config "$CFG"`;
    daemon = unshared(script, { ...faultEnv(), C: c.dir, E: emptyDir, NODE: process.execPath, CLI, CFG: cfg });
    const { child } = daemon;
    const out = daemon.output;
    const exited = daemon.exited.then((e) => e.code);
    await waitForOutput(daemon, /empty_exit=\d+/, 120_000);
    assert.match(out(), /empty_exit=66/, out().slice(-3000));
    assert.match(out(), /EROFS \(the file system is read-only\)/);
    await waitForOutput(daemon, /edgesight running/, 120_000);
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.deepEqual(
      (await readdir(path.join(c.dir, DET))).filter((f) => f.endsWith('.part')),
      [],
    );
  });
});
