import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Ajv } from 'ajv';
import { lastValueFrom, take, timeout, toArray, type Observable } from 'rxjs';
import type { Frame } from '../../src/capture/frame.js';
import { ffmpegOptionsSchema, libcameraOptionsSchema, type CameraConfig } from '../../src/capture/config.js';
import { CameraConfigError, createFrameSource, detectCamera, NO_CAMERA_MESSAGE, waitForCameraChildren } from '../../src/capture/source.js';
import { listVideoDevices } from '../../src/capture/path-lookup.js';
import { parseConfigText } from '../../src/config/load.js';
import { prepareFakeCamera, type FakeCamera } from './fake-camera.js';
import { EventLog, pidAlive, waitFor } from './util.js';
import { VTEST_MJPEG } from '../helpers/paths.js';

const VIDEO = VTEST_MJPEG;
const first = (src: Observable<Frame>, n: number): Promise<Frame[]> => lastValueFrom(src.pipe(take(n), timeout({ each: 20_000 }), toArray()));

function camera(over: Partial<CameraConfig> = {}): CameraConfig {
  return {
    name: 'cam',
    source: 'auto',
    width: 160,
    height: 120,
    fps: 20,
    stall_timeout_s: 5,
    libcamera: { codec: 'mjpeg', hflip: false, vflip: false, rotation: 0, args: [] },
    ffmpeg: { input: '', args: [], loop: true, output: 'mjpeg', quality: 5, binary: 'ffmpeg', realtime: false },
    files: { loop: true },
    ...over,
  };
}

describe('capture/source', function () {
  this.timeout(40_000);
  let cam: FakeCamera;
  before(async () => {
    cam = await prepareFakeCamera({ width: 160, height: 120, frames: 10 });
  });
  after(async () => cam?.cleanup());

  describe('auto detection', function () {
    it('prefers rpicam-vid, then libcamera-vid, then the first /dev/video*, else nothing (never the demo photos)', function () {
      const onPath = (names: string[]) => (n: string) => (names.includes(n) ? `/usr/bin/${n}` : null);
      const devs = () => ['/dev/video0', '/dev/video2'];
      assert.deepEqual(detectCamera({ findOnPath: onPath(['rpicam-vid', 'libcamera-vid']), listVideoDevices: devs }), {
        kind: 'libcamera',
        binary: '/usr/bin/rpicam-vid',
      });
      assert.deepEqual(detectCamera({ findOnPath: onPath(['libcamera-vid']), listVideoDevices: devs }), {
        kind: 'libcamera',
        binary: '/usr/bin/libcamera-vid',
      });
      assert.deepEqual(detectCamera({ findOnPath: onPath([]), listVideoDevices: devs }), { kind: 'ffmpeg', device: '/dev/video0' });
      assert.equal(detectCamera({ findOnPath: onPath([]), listVideoDevices: () => [] }), null);
    });

    it('lists /dev/video* numerically and skips the Raspberry Pi ISP/codec nodes', async function () {
      const root = await mkdtemp(path.join(tmpdir(), 'edgesight-v4l-'));
      try {
        const dev = path.join(root, 'dev');
        const sys = path.join(root, 'sys');
        const nodes: Record<string, string> = {
          video0: 'rp1-cfe',
          video10: 'bcm2835-codec-decode',
          video2: 'HD Pro Webcam C920',
          video11: 'USB Camera',
          video19: 'pispbe',
        };
        for (const [n, name] of Object.entries(nodes)) {
          await writeFile(path.join(await mkdirp(dev), n), '');
          await writeFile(path.join(await mkdirp(path.join(sys, n)), 'name'), `${name}\n`);
        }
        await writeFile(path.join(dev, 'video3'), ''); // no sysfs entry: kept, ffmpeg will judge
        assert.deepEqual(listVideoDevices(dev, sys), [path.join(dev, 'video2'), path.join(dev, 'video3'), path.join(dev, 'video11')]);
      } finally {
        await rm(root, { recursive: true, force: true });
      }
    });

    it('auto with the fake camera on PATH streams through libcamera', async function () {
      const log = new EventLog();
      const frames = await first(createFrameSource(camera(), log.hooks, { env: cam.env, listVideoDevices: () => [] }), 3);
      assert.equal(frames.length, 3);
      assert.match(log.of('started')[0]!.detail, /rpicam-vid pid=/);
      await waitForCameraChildren();
      for (const pid of log.pids) assert.equal(pidAlive(pid), false);
    });

    it('auto with no camera: clear missing events, keeps retrying, then uses a camera that appears', async function () {
      const log = new EventLog();
      let devices: string[] = [];
      const src = createFrameSource(camera(), log.hooks, {
        findOnPath: () => null,
        listVideoDevices: () => devices,
        backoff: { initialMs: 20, maxMs: 100 },
      });
      const got: Frame[] = [];
      const sub = src.subscribe({ next: (f) => got.push(f), error: (e) => assert.fail(String(e)) });
      try {
        await waitFor(() => log.of('missing').length >= 3, 'three missing reports');
        assert.equal(log.of('missing')[0]!.detail, NO_CAMERA_MESSAGE);
        assert.equal(got.length, 0);
        devices = [VIDEO]; // a "device" appears (a video file stands in for a webcam here)
        await waitFor(() => got.length >= 3, 'frames from the camera that appeared');
        assert.match(log.of('started')[0]!.detail, /^ffmpeg pid=/);
      } finally {
        sub.unsubscribe();
      }
      await waitForCameraChildren();
    });
  });

  describe('config', function () {
    it('throws CameraConfigError at once, listing every problem with its key', function () {
      assert.throws(
        () => createFrameSource(camera({ source: 'ffmpeg', width: 0, ffmpeg: { ...camera().ffmpeg, input: '', args: ['-i', 'x'] } })),
        (e: unknown) =>
          e instanceof CameraConfigError &&
          e.problems.length === 3 &&
          /camera\.width/.test(e.message) &&
          /camera\.ffmpeg\.input is required/.test(e.message) &&
          /camera\.ffmpeg\.args\[0\]: -i is set by edgesight/.test(e.message),
      );
      assert.throws(() => createFrameSource(camera({ source: 'files' })), /camera\.files\.path is required/);
    });

    it('schema fragments: defaults fill in, unknown keys and bad values are rejected', function () {
      const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });
      const lib = ajv.compile(libcameraOptionsSchema);
      const empty: Record<string, unknown> = {};
      assert.ok(lib(empty));
      assert.deepEqual(empty, { codec: 'mjpeg', hflip: false, vflip: false, rotation: 0, args: [] });
      assert.equal(lib({ hflp: true }), false);
      assert.equal(lib({ rotation: 90 }), false);
      assert.equal(lib({ roi: { x: 0, y: 0, w: 0, h: 1 } }), false);
      assert.equal(lib({ awb: 'sunny' }), false);
      const ff = ajv.compile(ffmpegOptionsSchema);
      const e2: Record<string, unknown> = { input: '/dev/video0' };
      assert.ok(ff(e2));
      assert.deepEqual(e2, { input: '/dev/video0', args: [], loop: true, output: 'mjpeg', quality: 5, binary: 'ffmpeg' });
      assert.equal(ff({ output: 'h264' }), false);
    });

    it('the Raspberry Pi example (docs/configuration.md) loads through the config loader and streams', async function () {
      const yaml = [
        'camera:',
        '  source: libcamera',
        '  width: 160',
        '  height: 120',
        '  fps: 20',
        '  libcamera:',
        '    rotation: 180',
        '    awb: daylight',
        '    denoise: cdn_fast',
        '    roi: { x: 0.1, y: 0.1, w: 0.8, h: 0.8 }',
        '    quality: 80',
      ].join('\n');
      const loaded = parseConfigText(yaml, null, { env: {}, hostname: 'pi' });
      const c: CameraConfig = loaded.config.camera;
      assert.deepEqual(c.libcamera, {
        rotation: 180,
        awb: 'daylight',
        denoise: 'cdn_fast',
        roi: { x: 0.1, y: 0.1, w: 0.8, h: 0.8 },
        quality: 80,
        codec: 'mjpeg',
        hflip: false,
        vflip: false,
        args: [],
      });
      const frames = await first(createFrameSource(c, {}, { env: cam.env }), 2);
      assert.equal(frames.length, 2);
      await waitForCameraChildren();
    });
  });
});

async function mkdirp(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  return dir;
}
