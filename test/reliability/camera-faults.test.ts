import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { startDaemon, writeConfig, type DaemonProc } from '../helpers/daemon.js';
import { killDaemon } from '../helpers/e2e.js';
import { VTEST_MJPEG } from '../helpers/paths.js';
import { prepareFakeCamera, type FakeCamera } from '../capture/fake-camera.js';
import {
  CAPTURED,
  childrenOf,
  daemonYaml,
  faultEnv,
  fdCount,
  freePort,
  PROCESSED,
  processesMentioning,
  recordFigures,
  scrape,
  sleep,
  waitForMetric,
} from './util.js';

describe('reliability: camera faults', function () {
  this.timeout(300_000);
  let broker: Mosquitto;
  let daemon: DaemonProc | null = null;
  let cam: FakeCamera | null = null;
  before(async () => {
    broker = await startMosquitto();
  });
  after(async () => {
    await killDaemon(daemon);
    await cam?.cleanup();
    await broker.stop();
  });

  it('camera crash, stall, garbage bytes, corrupt, truncated and oversized frames, a frame-size change, a child that ignores SIGTERM: keeps going, counts them, no orphan or zombie, no fd growth', async () => {
    const counter = path.join(await mkdtemp(path.join(tmpdir(), 'edgesight-camfault-')), 'starts');
    // one fault per camera start; every start also writes garbage between frames and ignores SIGTERM
    const script = ['oversize-every:4+end:12', 'truncate-every:3+end:12', 'resize-after:4+end:12', 'crash-after:5', 'stall-after:5', 'normal'];
    cam = await prepareFakeCamera({ width: 320, height: 240, frames: 12, video: VTEST_MJPEG });
    const http = await freePort();
    const cfg = await writeConfig(
      daemonYaml({
        id: 'camfault',
        url: broker.url,
        httpPort: http,
        camera: `camera:
  name: pi
  source: libcamera
  width: 320
  height: 240
  fps: 10
  stall_timeout_s: 6`,
      }),
    );
    const env = faultEnv({
      PATH: cam.env.PATH,
      FAKE_CAM_FRAMES: cam.framesDir,
      FAKE_CAM_COUNTER: counter,
      FAKE_CAM_SCRIPT: script.join(','),
      FAKE_CAM_GARBAGE: '1',
      FAKE_CAM_IGNORE_TERM: '1',
    });
    daemon = startDaemon(cfg, env);
    const pid = daemon.child.pid!;
    await waitForMetric(http, PROCESSED, (v) => v > 0, 180_000, 'the first processed frame', daemon);
    const fdsEarly = fdCount(pid);
    const t0 = performance.now();
    // every scripted start has run once the counter passes the script (each start ends after ≤ 14 frames)
    const m = await waitForMetric(
      http,
      'edgesight_camera_restarts_total',
      (v) => v >= script.length - 1,
      200_000,
      `≥ ${script.length - 1} camera restarts`,
      daemon,
    );
    const faultsS = (performance.now() - t0) / 1000;
    const p0 = m.get(PROCESSED)!;
    await waitForMetric(http, PROCESSED, (v) => v > p0 + 10, 150_000, 'frames after the faults', daemon);
    const end = await scrape(http);
    assert.ok(
      end.get('edgesight_frames_total{result="corrupt"}')! >= 2,
      `truncated and oversized frames counted (${end.get('edgesight_frames_total{result="corrupt"}')})`,
    );
    assert.ok(end.get('edgesight_camera_stalls_total')! >= 1, 'the stall is counted');
    const out = daemon.output();
    assert.match(out, /maxFrameBytes|larger than/, 'the oversized frame is named');
    // fds: the camera pipes come and go with each start; none may pile up
    await sleep(500);
    const fdsLate = fdCount(pid);
    assert.ok(fdsLate <= fdsEarly + 2, `fds grew from ${fdsEarly} to ${fdsLate} over ${end.get('edgesight_camera_restarts_total')} camera restarts`);
    // at most the current camera is a child; no zombie
    const kids = childrenOf(pid).filter((k) => k.cmd.includes('rpicam-vid') || k.state === 'Z');
    assert.ok(kids.length <= 1 && kids.every((k) => k.state !== 'Z'), `children: ${JSON.stringify(kids)}`);

    // stop: the camera ignores SIGTERM, so the daemon must escalate; nothing is left behind
    const tStop = performance.now();
    daemon.child.kill('SIGTERM');
    const exit = await daemon.exited;
    const stopMs = Math.round(performance.now() - tStop);
    assert.equal(exit.code, 0, daemon.output().slice(-3000));
    await sleep(300);
    assert.deepEqual(processesMentioning(cam.binDir), [], 'no camera process survives the daemon');
    recordFigures('camera faults', {
      camera_starts: end.get('edgesight_camera_restarts_total')! + 1,
      faults_seconds: Number(faultsS.toFixed(1)),
      frames_captured: end.get(CAPTURED),
      frames_processed: end.get(PROCESSED),
      frames_corrupt: end.get('edgesight_frames_total{result="corrupt"}'),
      stalls: end.get('edgesight_camera_stalls_total'),
      fds_early: fdsEarly,
      fds_late: fdsLate,
      stop_ms_with_sigterm_ignoring_camera: stopMs,
    });
  });
});
