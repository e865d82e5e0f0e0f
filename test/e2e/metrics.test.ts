import assert from 'node:assert/strict';
import { copyFile, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { catalogEntry } from '../../src/models/catalog.js';
import { sha256File } from '../../src/models/manifest.js';
import { baseManifest } from '../../src/models/store.js';
import { prepareFakeCamera, type FakeCamera } from '../capture/fake-camera.js';
import { runCli } from '../cli/run-cli.js';
import { testEnv, writeConfig, type DaemonProc } from '../helpers/daemon.js';
import { writeFaultyDetector } from '../inference/faulty-model.js';
import { parsePrometheusText, sampleValue, type Family } from '../metrics/prom-text-parser.js';
import { useE2e } from '../helpers/e2e.js';
import { photo } from '../helpers/paths.js';

type Stats = Record<string, unknown> & { v: number; device: string };

/**
 * Every counter, provoked in the real daemon (`edgesight run` as a child process, real mosquitto, real
 * models), seen moving on the stats topic AND on the Prometheus endpoint (parsed by the strict parser).
 * Two daemons cover everything: a files camera that is too fast, with a corrupt file and a broker
 * outage; and a fake rpicam-vid that stalls, with a detector too slow for inference.stall_timeout_s.
 */
describe('e2e: every metric moves, on the stats topic and on /metrics', function () {
  this.timeout(150_000);
  const e2e = useE2e({ topics: ['edgesight/+/stats'] });
  let daemon: DaemonProc | null = null;
  const temps: string[] = [];
  after(async () => {
    for (const d of temps) await rm(d, { recursive: true, force: true });
  });

  const tempDir = async (): Promise<string> => {
    const d = await mkdtemp(path.join(tmpdir(), 'edgesight-metrics-e2e-'));
    temps.push(d);
    return d;
  };

  /** The daemon logs the Prometheus port it bound (port 0 = any free one). */
  async function promPort(d: DaemonProc): Promise<number> {
    const deadline = Date.now() + 90_000;
    for (;;) {
      const m = /Prometheus metrics on http:\/\/127\.0\.0\.1:(\d+)\/metrics/.exec(d.output());
      if (m) return Number(m[1]);
      if (d.child.exitCode !== null) throw new Error(`daemon exited before serving /metrics:\n${d.output().slice(-3000)}`);
      if (Date.now() > deadline) throw new Error(`no 'Prometheus metrics on' log line:\n${d.output().slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async function scrape(port: number): Promise<Map<string, Family>> {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    return parsePrometheusText(await res.text());
  }

  const prom = (f: Map<string, Family>, name: string, labels: Record<string, string> = {}): number => {
    const v = sampleValue(f, name, labels);
    assert.notEqual(v, undefined, `${name}${JSON.stringify(labels)} missing from /metrics`);
    return v!;
  };

  /** The next stats message from `device` after index `from` that satisfies `pred`. */
  async function statsWhere(device: string, pred: (s: Stats) => boolean, what: string, timeoutMs = 60_000): Promise<Stats> {
    const topic = `edgesight/${device}/stats`;
    const m = await e2e.sub
      .waitFor((t, p) => t === topic && pred(JSON.parse(p.toString()) as Stats), timeoutMs, what)
      .catch((e: Error) => {
        throw new Error(`${e.message}\nlast stats: ${lastStats(device)}\ndaemon output (tail):\n${daemon?.output().slice(-4000)}`);
      });
    return JSON.parse(m.payload.toString()) as Stats;
  }
  const lastStats = (device: string): string => {
    const all = e2e.sub.messages.filter((m) => m.topic === `edgesight/${device}/stats`);
    return all.length ? all[all.length - 1]!.payload.toString() : '(none)';
  };
  const n = (s: Stats, k: string): number => {
    assert.equal(typeof s[k], 'number', `${k} in ${JSON.stringify(s)}`);
    return s[k] as number;
  };

  it('files camera too fast for detection+segmentation, a corrupt file, a broker outage: captured/processed/skipped/corrupt/segmentations/queue drops/reconnects', async () => {
    const frames = await tempDir();
    await copyFile(photo('messi5.jpg'), path.join(frames, 'a_messi5.jpg'));
    await copyFile(photo('astronaut.png'), path.join(frames, 'b_astronaut.png'));
    // not an image at all, named like one: the decoder must reject it as a corrupt frame
    await writeFile(path.join(frames, 'c_broken.jpg'), 'this is not a JPEG, only text with a .jpg name\n');
    const cfg = await writeConfig(`
device: { id: m_fast }
camera: { name: cam1, source: files, fps: 100, files: { path: ${frames}, loop: true } }
segmentation: { every: 1 }
mqtt: { url: ${e2e.broker.url}, reconnect_max_s: 1, queue_size: 5 }
metrics: { stats_interval_s: 5, log_interval_s: 0, http: { enabled: true, port: 0 } }
logging: { level: info, pretty: false }
`);
    daemon = e2e.run(cfg);
    const port = await promPort(daemon);
    // the stats CLI reads the daemon's own payload through the broker named in the same config
    const cli = runCli(['stats', '--config', cfg, '--device', 'm_fast', '--once', '--timeout', '60']);

    const first = await statsWhere(
      'm_fast',
      (s) => (s.frames_processed_total as number) > 0 && (s.frames_corrupt_total as number) > 0 && (s.frames_skipped_total as number) > 0,
      'stats with processed, skipped and corrupt frames',
    );
    const second = await statsWhere('m_fast', (s) => (s.uptime_s as number) > (first.uptime_s as number), 'the next stats message');
    for (const k of ['frames_captured_total', 'frames_processed_total', 'frames_skipped_total', 'segmentations_total']) {
      assert.ok(n(second, k) > n(first, k), `${k} moved: ${n(first, k)} → ${n(second, k)}`);
    }
    assert.ok(n(second, 'frames_corrupt_total') >= 1);
    assert.ok(n(second, 'processed_fps') > 0 && n(second, 'skipped_fps') > 0 && n(second, 'camera_fps') > 0);
    assert.equal(typeof second.detector_ms_p50, 'number');
    assert.equal(typeof second.segmenter_ms_p50, 'number');
    // controls: nothing provoked these, so they stay at zero
    for (const k of [
      'camera_restarts_total',
      'camera_stalls_total',
      'worker_restarts_total',
      'inference_errors_total',
      'mqtt_queue_drops_total',
      'mqtt_reconnects_total',
      'timing_anomalies_total',
    ]) {
      assert.equal(n(second, k), 0, `${k} in a healthy run`);
    }

    const p1 = await scrape(port);
    assert.ok(prom(p1, 'edgesight_frames_total', { result: 'processed' }) >= n(second, 'frames_processed_total'));
    assert.ok(prom(p1, 'edgesight_frames_total', { result: 'skipped' }) >= n(second, 'frames_skipped_total'));
    assert.ok(prom(p1, 'edgesight_frames_total', { result: 'corrupt' }) >= 1);
    assert.ok(prom(p1, 'edgesight_frames_captured_total') >= n(second, 'frames_captured_total'));
    assert.ok(prom(p1, 'edgesight_segmentations_total') >= n(second, 'segmentations_total'));
    assert.ok(prom(p1, 'edgesight_frame_stage_seconds_count', { stage: 'segmenter' }) > 0);
    assert.ok(prom(p1, 'edgesight_frames_per_second', { stream: 'skipped' }) > 0);
    assert.equal(prom(p1, 'edgesight_mqtt_queue_drops_total'), 0);
    assert.equal(prom(p1, 'edgesight_mqtt_reconnects_total'), 0);

    const c = await cli;
    assert.equal(c.code, 0, c.stderr);
    const line = JSON.parse(c.stdout.trim()) as Stats;
    assert.equal(line.device, 'm_fast');
    assert.equal(line.v, 1);

    // broker down for ~10 s: per-frame messages overflow the 5-message queue; then it comes back on the same port
    await e2e.broker.stop();
    await new Promise((r) => setTimeout(r, 10_000));
    await e2e.broker.start();
    const after = await statsWhere(
      'm_fast',
      (s) => (s.mqtt_reconnects_total as number) >= 1 && (s.mqtt_queue_drops_total as number) > 0,
      'stats after the broker came back, with reconnects and queue drops',
      40_000,
    );
    assert.ok(n(after, 'frames_processed_total') > n(second, 'frames_processed_total'));
    const p2 = await scrape(port);
    assert.ok(prom(p2, 'edgesight_mqtt_queue_drops_total') >= n(after, 'mqtt_queue_drops_total'));
    assert.ok(prom(p2, 'edgesight_mqtt_reconnects_total') >= 1);
    assert.match(daemon.output(), /connected to MQTT broker.*"reconnect":true|"reconnect":true.*connected to MQTT broker/);
  });

  it('a stalling camera and a detector slower than inference.stall_timeout_s: camera stalls/restarts, worker restarts, inference errors', async () => {
    let cam: FakeCamera | undefined;
    try {
      cam = await prepareFakeCamera({ frames: 20, width: 320, height: 240 });
      const models = await tempDir();
      // the input-controlled test detector (real detector I/O) made slow by its base rows: 8000×512 · 512×512
      // 120 times ≈ 500 GFLOP per run, ~5 s on a fast idle x86 core (more under load, minutes on a Pi), far over
      // stall_timeout_s 1 whatever the machine: a model that sometimes finishes in time would make this test flaky
      const file = writeFaultyDetector(models, { baseRows: 8000, matmuls: 120 }, 'slow.onnx');
      const entry = catalogEntry('ssdlite_mobilenet_v3_small_coco')!;
      const manifest = {
        ...baseManifest(entry, 'fp32'),
        name: 'slow_test_detector',
        file: 'slow.onnx',
        sha256: await sha256File(file),
        bytes: (await stat(file)).size,
      };
      const manifestPath = path.join(models, 'slow.json');
      await writeFile(manifestPath, JSON.stringify(manifest, null, 2));
      const cfg = await writeConfig(`
device: { id: m_faulty }
camera: { name: cam1, source: libcamera, width: 320, height: 240, fps: 10, stall_timeout_s: 1 }
models: { detector: ${manifestPath}, segmenter: null }
inference: { stall_timeout_s: 1 }
segmentation: { every: 0 }
mqtt: { url: ${e2e.broker.url}, reconnect_max_s: 1 }
metrics: { stats_interval_s: 5, log_interval_s: 0, http: { enabled: true, port: 0 } }
logging: { level: info, pretty: false }
`);
      daemon = e2e.run(cfg, testEnv({ PATH: cam.env.PATH, FAKE_CAM_FRAMES: cam.framesDir, FAKE_CAM_MODE: 'stall-after:15' }));
      const port = await promPort(daemon);
      const s = await statsWhere(
        'm_faulty',
        (x) =>
          (x.camera_stalls_total as number) > 0 &&
          (x.camera_restarts_total as number) > 0 &&
          (x.worker_restarts_total as number) > 0 &&
          (x.inference_errors_total as number) > 0,
        'stats with camera stalls, camera restarts, worker restarts and inference errors (the runs the stalled worker abandoned)',
      );
      assert.ok(n(s, 'frames_captured_total') > 0);
      assert.equal(n(s, 'frames_corrupt_total'), 0);
      assert.equal(n(s, 'mqtt_queue_drops_total'), 0, 'control: the broker stayed up');
      const p = await scrape(port);
      assert.ok(prom(p, 'edgesight_camera_stalls_total') >= n(s, 'camera_stalls_total'));
      assert.ok(prom(p, 'edgesight_camera_restarts_total') >= n(s, 'camera_restarts_total'));
      assert.ok(prom(p, 'edgesight_worker_restarts_total') >= n(s, 'worker_restarts_total'));
      assert.ok(prom(p, 'edgesight_inference_errors_total') >= n(s, 'inference_errors_total'));
      assert.match(daemon.output(), /inference stalled: restarting the worker/);
      assert.match(daemon.output(), /camera stalled/);
    } finally {
      await cam?.cleanup();
    }
  });
});
