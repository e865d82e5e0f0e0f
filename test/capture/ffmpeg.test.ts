import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { lastValueFrom, take, timeout, toArray, type Observable } from 'rxjs';
import sharp from 'sharp';
import type { Frame } from '../../src/capture/frame.js';
import type { CommonCaptureOptions, FfmpegOptions } from '../../src/capture/config.js';
import path from 'node:path';
import { VIDEO_DIR, VTEST_MJPEG } from '../helpers/paths.js';
import { buildFfmpegArgs, ffmpegSource } from '../../src/capture/ffmpeg.js';
import { waitForCameraChildren } from '../../src/capture/child.js';
import type { CaptureRuntime } from '../../src/capture/libcamera.js';
import { EventLog, pidAlive, waitFor } from './util.js';

const VIDEO = VTEST_MJPEG;
const MP4 = path.join(VIDEO_DIR, 'car-detection-8s.mp4');
const base: FfmpegOptions = { input: VIDEO, args: [], loop: false, output: 'mjpeg', quality: 5, binary: 'ffmpeg', realtime: false };
const common: CommonCaptureOptions = { width: 160, height: 120, fps: 10, stallTimeoutS: 10 };
const fast: CaptureRuntime = { backoff: { initialMs: 20, maxMs: 200 } };
// `timeout` unsubscribes (killing ffmpeg) if a broken source never delivers, so a failure cannot hang mocha
const all = (src: Observable<Frame>): Promise<Frame[]> => lastValueFrom(src.pipe(timeout({ each: 20_000 }), toArray()));
const first = (src: Observable<Frame>, n: number): Promise<Frame[]> => lastValueFrom(src.pipe(take(n), timeout({ each: 20_000 }), toArray()));

async function frameCount(file: string): Promise<number> {
  const { stdout } = await promisify(execFile)('ffprobe', [
    '-v',
    'error',
    '-count_frames',
    '-select_streams',
    'v:0',
    '-show_entries',
    'stream=nb_read_frames',
    '-of',
    'csv=p=0',
    file,
  ]);
  return Number(stdout.trim());
}

describe('capture/ffmpeg args', function () {
  it('v4l2 webcam: asks the device for the mode; user input options go before -i', function () {
    const args = buildFfmpegArgs(
      { ...base, input: '/dev/video0', realtime: undefined, args: ['-input_format', 'mjpeg'] },
      { width: 640, height: 480, fps: 15 },
    );
    assert.deepEqual(args.slice(0, args.indexOf('-i') + 2), [
      '-hide_banner',
      '-nostdin',
      '-loglevel',
      'warning',
      '-f',
      'v4l2',
      '-video_size',
      '640x480',
      '-framerate',
      '15',
      '-input_format',
      'mjpeg',
      '-i',
      '/dev/video0',
    ]);
    assert.deepEqual(args.slice(-3), ['-f', 'mjpeg', 'pipe:1']);
  });
  it('RTSP: TCP transport unless the user chose one; files: -re and -stream_loop', function () {
    const rtsp = buildFfmpegArgs({ ...base, input: 'rtsp://cam.local/stream', realtime: undefined }, common);
    assert.ok(rtsp.join(' ').includes('-rtsp_transport tcp -i rtsp://cam.local/stream'));
    const udp = buildFfmpegArgs({ ...base, input: 'rtsp://cam.local/stream', args: ['-rtsp_transport', 'udp'] }, common);
    assert.equal(udp.filter((a) => a === '-rtsp_transport').length, 1);
    const file = buildFfmpegArgs({ ...base, realtime: undefined, loop: true }, common);
    assert.deepEqual(file.slice(4, 8), ['-re', '-stream_loop', '-1', '-i']);
  });
});

describe('capture/ffmpeg source on real videos', function () {
  this.timeout(60_000);

  it('plays a whole MJPEG AVI once: every frame, in order, decodable at the configured size, then completes', async function () {
    const log = new EventLog();
    const frames = await all(ffmpegSource(base, common, log.hooks));
    assert.equal(frames.length, await frameCount(VIDEO));
    assert.deepEqual(
      frames.map((f) => f.id),
      [...frames.keys()],
    );
    for (const f of [frames[0]!, frames[frames.length >> 1]!, frames.at(-1)!]) {
      const m = await sharp(f.data).metadata();
      assert.deepEqual([m.format, m.width, m.height], ['jpeg', 160, 120]);
    }
    assert.equal(log.of('restart').length, 0);
    assert.equal(log.of('corrupt').length, 0);
    await waitForCameraChildren();
  });

  it('rgb24 output: raw frames of width*height*3 bytes that follow the video', async function () {
    const frames = await first(ffmpegSource({ ...base, output: 'rgb24', input: MP4 }, { ...common, width: 96, height: 54 }), 30);
    const f0 = frames[0]!;
    assert.equal(f0.kind, 'raw');
    if (f0.kind !== 'raw') return;
    assert.deepEqual([f0.format, f0.width, f0.height, f0.stride, f0.data.length], ['rgb24', 96, 54, 288, 96 * 54 * 3]);
    // the same instant decoded independently by ffmpeg → sharp agrees with the raw pixels
    const { stdout } = await promisify(execFile)(
      'ffmpeg',
      ['-v', 'error', '-i', MP4, '-frames:v', '1', '-vf', 'scale=96:54', '-f', 'image2pipe', '-c:v', 'png', 'pipe:1'],
      { encoding: 'buffer' },
    );
    const ref = await sharp(stdout).removeAlpha().raw().toBuffer();
    let diff = 0;
    for (let i = 0; i < ref.length; i++) diff += Math.abs(ref[i]! - f0.data[i]!);
    assert.ok(diff / ref.length < 3, `mean abs difference ${diff / ref.length}`);
    assert.ok(!frames[29]!.data.equals(f0.data), 'the video should move');
  });

  it('loops a file without restarting the process', async function () {
    const log = new EventLog();
    const n = (await frameCount(VIDEO)) + 20;
    const frames = await first(ffmpegSource({ ...base, loop: true, output: 'mjpeg' }, { ...common, width: 64, height: 48 }, log.hooks), n);
    assert.equal(frames.length, n);
    assert.equal(log.of('restart').length, 0);
    assert.equal(new Set(log.pids).size, 1);
    await waitForCameraChildren();
    assert.equal(pidAlive(log.pids[0]!), false);
  });

  it('realtime: paces a file at its native frame rate', async function () {
    const t0 = performance.now();
    await first(ffmpegSource({ ...base, realtime: true }, common), 11);
    // 10 fps: the 11th frame cannot be due before 1 s (a lower bound only; a slow machine is fine)
    assert.ok(performance.now() - t0 >= 900, `11 frames took only ${Math.round(performance.now() - t0)} ms`);
  });

  it('missing input: reports it and keeps retrying, never errors; unsubscribe stops it', async function () {
    const log = new EventLog();
    const sub = ffmpegSource({ ...base, input: '/dev/video99' }, common, log.hooks, fast).subscribe({ error: (e) => assert.fail(String(e)) });
    try {
      await waitFor(() => log.of('restart').length >= 3, '3 retries');
    } finally {
      sub.unsubscribe();
    }
    assert.match(log.of('missing')[0]!.detail, /camera device \/dev\/video99 does not exist/);
  });

  it('restarts ffmpeg when the stream ends (a dropped RTSP/HTTP connection looks the same)', async function () {
    const log = new EventLog();
    // a URL input is never "finished": ffmpeg exiting at the end of this file:// URL must be restarted
    const frames = await first(
      ffmpegSource({ ...base, input: `file://${VIDEO}` }, { ...common, width: 32, height: 24 }, log.hooks, fast),
      (await frameCount(VIDEO)) + 5,
    );
    assert.deepEqual(
      frames.map((f) => f.id),
      [...frames.keys()],
    );
    assert.equal(log.of('restart').length, 1);
    assert.equal(log.of('restart')[0]!.reason, 'exited with code 0');
    await waitForCameraChildren();
    for (const pid of log.pids) assert.equal(pidAlive(pid), false);
  });
});
