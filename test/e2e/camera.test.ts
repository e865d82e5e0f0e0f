import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { Collector, startDaemon, testEnv, writeConfig, type DaemonProc } from '../helpers/daemon.js';
import { prepareFakeCamera, type FakeCamera } from '../capture/fake-camera.js';
import { killDaemon } from '../helpers/e2e.js';
import { VIDEO_DIR } from '../helpers/paths.js';

interface Stats {
  camera_restarts_total: number;
  camera_stalls_total: number;
  frames_processed_total: number;
}

/** pids of live processes whose command line mentions `needle` (zombies count: they were not reaped) */
function processesMentioning(needle: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      const state = /^State:\s+(\S)/m.exec(readFileSync(`/proc/${d}/status`, 'utf8'))?.[1];
      if (cmd.includes(needle) || (state === 'Z' && readFileSync(`/proc/${d}/status`, 'utf8').includes('rpicam'))) out.push(Number(d));
    } catch {
      /* the process ended while we looked */
    }
  }
  return out;
}

describe('e2e: camera sources through the daemon', function () {
  this.timeout(180_000);
  let broker: Mosquitto;
  let sub: Collector;
  let daemon: DaemonProc | null = null;
  let cam: FakeCamera | null = null;

  before(async () => {
    broker = await startMosquitto();
    sub = await Collector.connect(broker.url, ['edgesight/#']);
  });
  afterEach(async () => {
    await killDaemon(daemon);
    daemon = null;
    await cam?.cleanup();
    cam = null;
  });
  after(async () => {
    await sub.close();
    await broker.stop();
  });

  it('libcamera (fake rpicam-vid): survives 5 crashes and a stall, counts them, leaves no child behind', async () => {
    const counter = path.join(await mkdtemp(path.join(tmpdir(), 'edgesight-camcount-')), 'starts');
    cam = await prepareFakeCamera({
      width: 320,
      height: 240,
      extraEnv: {
        FAKE_CAM_COUNTER: counter,
        FAKE_CAM_SCRIPT: 'crash-after:4,crash-after:4,crash-after:4,crash-after:4,crash-after:4,stall-after:4,normal',
      },
    });
    const cfg = await writeConfig(`
device: { id: cam_e2e }
camera:
  name: pi
  source: libcamera
  width: 320
  height: 240
  fps: 8
  stall_timeout_s: 1
segmentation: { every: 0 }
mqtt: { url: ${broker.url} }
metrics: { stats_interval_s: 5 }
logging: { pretty: false }
`);
    daemon = startDaemon(
      cfg,
      testEnv({ PATH: cam.env.PATH, FAKE_CAM_FRAMES: cam.framesDir, FAKE_CAM_COUNTER: counter, FAKE_CAM_SCRIPT: cam.env.FAKE_CAM_SCRIPT }),
    );
    const stats = await sub
      .waitFor(
        (t, p) => {
          if (t !== 'edgesight/cam_e2e/stats') return false;
          const s = JSON.parse(p.toString()) as Stats;
          return s.camera_restarts_total >= 6 && s.camera_stalls_total >= 1;
        },
        150_000,
        'stats with ≥ 6 camera restarts (5 crashes + 1 stall) and ≥ 1 stall',
      )
      .catch((e: Error) => {
        throw new Error(`${e.message}\n${daemon!.output().slice(-4000)}`);
      });
    const s = JSON.parse(stats.payload.toString()) as Stats;
    assert.ok(s.frames_processed_total > 0);
    // frames keep flowing after the last failure (the 7th start streams normally)
    const before = s.frames_processed_total;
    const later = await sub.waitFor(
      (t, p) => t === 'edgesight/cam_e2e/stats' && (JSON.parse(p.toString()) as Stats).frames_processed_total > before,
      30_000,
      'frames processed after recovery',
    );
    assert.ok((JSON.parse(later.payload.toString()) as Stats).frames_processed_total > before);
    assert.ok(Number(readFileSync(counter, 'utf8')) >= 7, 'the camera was started at least 7 times');
    assert.equal(daemon.child.exitCode, null, 'the daemon is still running');

    daemon.child.kill('SIGTERM');
    const { code } = await daemon.exited;
    assert.equal(code, 0, daemon.output().slice(-3000));
    assert.deepEqual(processesMentioning(cam.framesDir), [], 'no camera process outlives the daemon');
    assert.deepEqual(processesMentioning(cam.binDir), [], 'no camera process outlives the daemon');
  });

  it('ffmpeg: car-detection.mp4 runs through detection and reports cars', async () => {
    const cfg = await writeConfig(`
device: { id: ffmpeg_e2e }
camera:
  name: lot
  source: ffmpeg
  width: 768
  height: 432
  fps: 4
  ffmpeg: { input: ${path.join(VIDEO_DIR, 'car-detection-8s.mp4')}, loop: true }
segmentation: { every: 0 }
# the lot's cars are small and far: the int8 detector scores them 0.2–0.3 at 768×432
detection: { score_threshold: 0.2 }
mqtt: { url: ${broker.url} }
logging: { pretty: false }
`);
    daemon = startDaemon(cfg);
    const msg = await sub
      .waitFor(
        (t, p) =>
          t === 'edgesight/ffmpeg_e2e/lot/detections' &&
          (JSON.parse(p.toString()) as { objects: Array<{ label: string }> }).objects.some((o) => o.label === 'car'),
        120_000,
        'a detections message with a car',
      )
      .catch((e: Error) => {
        throw new Error(`${e.message}\n${daemon!.output().slice(-4000)}`);
      });
    const payload = JSON.parse(msg.payload.toString()) as { width: number; height: number; objects: Array<{ label: string; score: number }> };
    assert.equal(payload.width, 768);
    assert.equal(payload.height, 432);
    assert.ok(payload.objects.filter((o) => o.label === 'car').length >= 1);
    daemon.child.kill('SIGTERM');
    assert.equal((await daemon.exited).code, 0);
    assert.deepEqual(processesMentioning('car-detection.mp4'), [], 'ffmpeg does not outlive the daemon');
  });
});
