import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { firstValueFrom, lastValueFrom, take, timeout, toArray, type Observable } from 'rxjs';
import sharp from 'sharp';
import type { Frame } from '../../src/capture/frame.js';
import type { CommonCaptureOptions, LibcameraOptions } from '../../src/capture/config.js';
import { CameraConfigError } from '../../src/capture/errors.js';
import { buildLibcameraArgs, libcameraSource, type CaptureRuntime } from '../../src/capture/libcamera.js';
import { waitForCameraChildren } from '../../src/capture/child.js';
import { backoffDelay } from '../../src/capture/supervisor.js';
import { prepareFakeCamera, type FakeCamera } from './fake-camera.js';
import { EventLog, pidAlive, waitFor } from './util.js';

const base: LibcameraOptions = { codec: 'mjpeg', hflip: false, vflip: false, rotation: 0, args: [] };
const common: CommonCaptureOptions = { width: 320, height: 240, fps: 50, stallTimeoutS: 5 };
const fast: CaptureRuntime = { backoff: { initialMs: 20, maxMs: 200 }, killGraceMs: 1000 };

async function collect(src: Observable<Frame>, n: number): Promise<Frame[]> {
  // `timeout` unsubscribes (killing the camera) if a broken source never delivers, so a failure cannot hang mocha
  return lastValueFrom(src.pipe(take(n), timeout({ each: 20_000 }), toArray()));
}

async function assertAllGone(pids: number[]): Promise<void> {
  await waitForCameraChildren();
  assert.ok(pids.length > 0, 'no child was started');
  for (const pid of pids) assert.equal(pidAlive(pid), false, `child ${pid} outlived the subscription`);
}

describe('capture/libcamera args', function () {
  it('builds the rpicam-vid argv from the typed options, values as separate entries', function () {
    const args = buildLibcameraArgs(
      {
        ...base,
        hflip: true,
        rotation: 180,
        roi: { x: 0.25, y: 0.25, w: 0.5, h: 0.5 },
        shutter: 20000,
        gain: 2.5,
        awb: 'daylight',
        awbgains: [1.5, 1.2],
        denoise: 'cdn_fast',
        exposure: 'sport',
        tuning_file: '/x y/imx708.json',
        camera: 1,
        quality: 80,
        args: ['--autofocus-mode', 'manual'],
      },
      { width: 640, height: 480, fps: 15 },
    );
    assert.deepEqual(args, [
      '-t',
      '0',
      '-n',
      '--codec',
      'mjpeg',
      '--width',
      '640',
      '--height',
      '480',
      '--framerate',
      '15',
      '--flush',
      '--camera',
      '1',
      '--hflip',
      '--rotation',
      '180',
      '--roi',
      '0.25,0.25,0.5,0.5',
      '--shutter',
      '20000',
      '--gain',
      '2.5',
      '--awb',
      'daylight',
      '--awbgains',
      '1.5,1.2',
      '--exposure',
      'sport',
      '--denoise',
      'cdn_fast',
      '--tuning-file',
      '/x y/imx708.json',
      '--quality',
      '80',
      '--autofocus-mode',
      'manual',
      '-o',
      '-',
    ]);
  });

  it('rejects flags it owns and bad shared options with errors naming the key', async function () {
    const bad = libcameraSource({ ...base, args: ['-o', 'x.mjpeg'] }, { ...common, width: 0 });
    const err = await firstValueFrom(bad).then(
      () => assert.fail('expected an error'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof CameraConfigError);
    assert.match(err.message, /camera\.width must be a positive integer/);
    assert.match(err.message, /camera\.libcamera\.args\[0\]: -o is set by edgesight/);
  });

  it('backoff grows exponentially, is capped, and jitters downwards', function () {
    const b = { initialMs: 100, maxMs: 1000, jitter: 0.5 };
    assert.deepEqual(
      [1, 2, 3, 4, 5, 9].map((a) => backoffDelay(a, b, () => 0)),
      [100, 200, 400, 800, 1000, 1000],
    );
    assert.deepEqual(
      [1, 4, 9].map((a) => backoffDelay(a, b, () => 0.999999)),
      [50, 400, 500],
    );
  });
});

describe('capture/libcamera source with a fake rpicam-vid', function () {
  this.timeout(60_000);
  let cam: FakeCamera;
  before(async () => {
    cam = await prepareFakeCamera({ width: 320, height: 240, frames: 30, binaries: ['rpicam-vid'] });
  });
  after(async () => cam?.cleanup());
  const rt = (extra: NodeJS.ProcessEnv = {}): CaptureRuntime => ({ ...fast, env: { ...cam.env, ...extra } });

  it('streams the camera frames byte-exact and in order, passes the options, and kills the child on unsubscribe', async function () {
    const log = new EventLog();
    const argsFile = path.join(cam.framesDir, '..', 'args.jsonl');
    const frames = await collect(
      libcameraSource(
        { ...base, hflip: true, shutter: 10000 },
        common,
        log.hooks,
        rt({ FAKE_CAM_ARGS_FILE: argsFile, FAKE_CAM_CHUNKED: '1', FAKE_CAM_GARBAGE: '1' }),
      ),
      35,
    );
    assert.deepEqual(
      frames.map((f) => f.id),
      [...Array(35).keys()],
    );
    const originals = await Promise.all(cam.frameFiles.map((f) => readFile(f)));
    frames.forEach((f, i) => {
      assert.equal(f.kind, 'encoded');
      assert.ok(f.data.equals(originals[i % originals.length]!), `frame ${i} differs from the camera's`);
      assert.equal(f.origin, 'rpicam-vid');
    });
    const argv = JSON.parse((await readFile(argsFile, 'utf8')).trim()) as string[];
    assert.deepEqual(argv, buildLibcameraArgs({ ...base, hflip: true, shutter: 10000 }, common));
    assert.equal(log.of('restart').length, 0);
    assert.equal(log.of('corrupt').length, 0);
    await assertAllGone(log.pids);
  });

  it('asks the camera for the configured size (the fake re-encodes) and emits decodable JPEGs', async function () {
    const frames = await collect(libcameraSource(base, { ...common, width: 200, height: 150 }, {}, rt()), 3);
    for (const f of frames) {
      const meta = await sharp(f.data).metadata();
      assert.deepEqual([meta.format, meta.width, meta.height], ['jpeg', 200, 150]);
    }
  });

  it('yuv420: raw frames with the stride padded to 64, luma matching the picture', async function () {
    const frames = await collect(libcameraSource({ ...base, codec: 'yuv420' }, { ...common, width: 100, height: 60 }, {}, rt()), 4);
    const f = frames[0]!;
    assert.equal(f.kind, 'raw');
    if (f.kind !== 'raw') return;
    assert.deepEqual([f.format, f.width, f.height, f.stride, f.data.length], ['yuv420', 100, 60, 128, 128 * 60 + 2 * 64 * 30]);
    const grey = await sharp(cam.frameFiles[0]!).resize(100, 60, { fit: 'fill' }).greyscale().raw().toBuffer();
    let diff = 0;
    for (let y = 0; y < 60; y++) for (let x = 0; x < 100; x++) diff += Math.abs(f.data[y * 128 + x]! - grey[y * 100 + x]!);
    assert.ok(diff / 6000 < 4, `mean luma error ${diff / 6000}`);
  });

  it('restarts a crashing camera with counted, growing backoff; ids keep increasing; no partial frame leaks', async function () {
    const log = new EventLog();
    const frames = await collect(libcameraSource(base, common, log.hooks, rt({ FAKE_CAM_MODE: 'crash-after:5' })), 15);
    assert.deepEqual(
      frames.map((f) => f.id),
      [...Array(15).keys()],
    );
    // each process gives exactly 5 whole frames, then dies mid-frame
    const restarts = log.of('restart');
    assert.equal(restarts.length, 2);
    assert.deepEqual(
      restarts.map((r) => [r.reason, r.attempt]),
      [
        ['exited with code 70', 1],
        ['exited with code 70', 2],
      ],
    );
    assert.equal(log.of('corrupt').length, 0);
    assert.equal(new Set(log.pids).size, 3);
    for (const f of frames) assert.equal(f.data.readUInt16BE(f.data.length - 2), 0xffd9);
    await assertAllGone(log.pids);
  });

  it('a camera that ran healthily resets the backoff', async function () {
    const log = new EventLog();
    // 5 frames at 10 fps span 400 ms: with resetAfterMs 40 every crash is a first failure again
    await collect(libcameraSource(base, { ...common, fps: 10 }, log.hooks, { ...rt({ FAKE_CAM_MODE: 'crash-after:5' }), resetAfterMs: 40 }), 15);
    assert.deepEqual(
      log.of('restart').map((r) => r.attempt),
      [1, 1],
    );
    await assertAllGone(log.pids);
  });

  it('a camera that starts but never delivers a frame counts as stalled', async function () {
    const log = new EventLog();
    const sub = libcameraSource(base, { ...common, stallTimeoutS: 0.3 }, log.hooks, rt({ FAKE_CAM_MODE: 'stall-after:0' })).subscribe();
    try {
      await waitFor(() => log.of('restart').length >= 2, 'two stall restarts');
    } finally {
      sub.unsubscribe();
    }
    assert.ok(log.of('restart').every((r) => r.reason === 'stall'));
    assert.deepEqual(
      log
        .of('restart')
        .slice(0, 2)
        .map((r) => r.attempt),
      [1, 2],
    );
    await assertAllGone(log.pids);
  });

  it('kills and restarts a stalled camera', async function () {
    const log = new EventLog();
    // generous timeout: a slow start of the fake on a loaded machine must not look like a stall
    const frames = await collect(libcameraSource(base, { ...common, stallTimeoutS: 2 }, log.hooks, rt({ FAKE_CAM_MODE: 'stall-after:3' })), 6);
    assert.equal(frames.length, 6);
    assert.equal(log.of('stall').length, 1);
    assert.deepEqual(
      log.of('restart').map((r) => r.reason),
      ['stall'],
    );
    await assertAllGone(log.pids);
  });

  it('drops truncated frames (counted) and passes structurally whole but undecodable ones to the decoder', async function () {
    const log = new EventLog();
    const truncated = await collect(libcameraSource(base, common, log.hooks, rt({ FAKE_CAM_MODE: 'truncate-every:3' })), 6);
    const originals = await Promise.all(cam.frameFiles.map((f) => readFile(f)));
    assert.deepEqual(
      truncated.map((f) => originals.findIndex((o) => o.equals(f.data))),
      [0, 1, 3, 4, 6, 7],
    );
    assert.equal(log.of('corrupt').length, 2);
    assert.equal(log.of('restart').length, 0);

    const corrupt = await collect(libcameraSource(base, common, {}, rt({ FAKE_CAM_MODE: 'corrupt-every:4' })), 12);
    const decodable = await Promise.all(
      corrupt.map((f) =>
        sharp(f.data)
          .raw()
          .toBuffer()
          .then(
            () => true,
            () => false,
          ),
      ),
    );
    assert.deepEqual(
      decodable.map((ok, i) => (ok ? -1 : i)).filter((i) => i >= 0),
      [3, 7, 11],
    );
  });

  it('missing camera: reports it, keeps retrying without erroring, and recovers when the camera appears', async function () {
    const log = new EventLog();
    const counter = path.join(cam.framesDir, '..', `starts-${Date.now()}`);
    const frames = await collect(libcameraSource(base, common, log.hooks, rt({ FAKE_CAM_MODE: 'exit-first:3', FAKE_CAM_COUNTER: counter })), 4);
    assert.equal(frames.length, 4);
    const missing = log.of('missing');
    assert.equal(missing.length, 3);
    assert.match(missing[0]!.detail, /no cameras available/);
    assert.deepEqual(
      log.of('restart').map((r) => r.attempt),
      [1, 2, 3],
    );
    assert.ok(log.of('restart').every((r) => /camera missing/.test(r.reason)));
    await assertAllGone(log.pids);
  });

  it('no rpicam-vid/libcamera-vid on PATH: a clear missing event, retried, never an error', async function () {
    const log = new EventLog();
    const sub = libcameraSource(base, common, log.hooks, { ...fast, findOnPath: () => null }).subscribe({ error: (e) => assert.fail(String(e)) });
    try {
      await waitFor(() => log.of('restart').length >= 3, '3 retries');
    } finally {
      sub.unsubscribe();
    }
    assert.match(log.of('missing')[0]!.detail, /neither rpicam-vid nor libcamera-vid is on PATH/);
    assert.equal(log.pids.length, 0);
  });

  it('falls back to libcamera-vid on older Raspberry Pi OS', async function () {
    const old = await prepareFakeCamera({ frames: 3, binaries: ['libcamera-vid'] });
    try {
      const log = new EventLog();
      const frames = await collect(
        libcameraSource(base, common, log.hooks, { ...fast, env: { ...old.env, PATH: `${old.binDir}:/usr/bin:/bin` } }),
        2,
      );
      assert.equal(frames[0]!.origin, 'libcamera-vid');
      assert.match(log.of('started')[0]!.detail, /libcamera-vid pid=\d+/);
      await assertAllGone(log.pids);
    } finally {
      await old.cleanup();
    }
  });

  it('escalates to SIGKILL when the camera ignores SIGTERM', async function () {
    const log = new EventLog();
    await collect(libcameraSource(base, common, log.hooks, { ...rt({ FAKE_CAM_IGNORE_TERM: '1' }), killGraceMs: 300 }), 2);
    await assertAllGone(log.pids);
  });
});
