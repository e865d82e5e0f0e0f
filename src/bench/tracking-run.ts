import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import type { RawFrame } from '../capture/frame.js';
import type { Config } from '../config/types.js';
import { createSession, ort } from '../inference/session.js';
import type { LoadedModel } from '../models/store.js';
import { trackerOptions } from '../objects/objects-stage.js';
import { SsdDecoder } from '../postprocess/detections.js';
import { decodeTwoLevel } from '../pipeline/two-level.js';
import { toModelInput } from '../preprocess/preprocess.js';
import type { Box } from '../tracking/box.js';
import { ByteTracker, type ByteTrackOptions, type TrackerDetection } from '../tracking/bytetrack.js';
import type { TrackedFrame } from './tracking-score.js';

/** One decoded frame's detections as the daemon's pipeline splits them (published ones and low-score ones). */
export interface FrameDetections {
  frame: number;
  high: TrackerDetection[];
  low: TrackerDetection[];
}

export interface ClipInfo {
  width: number;
  height: number;
  fps: number;
}

export function probeClip(file: string): ClipInfo {
  let out: string;
  try {
    out = execFileSync(
      'ffprobe',
      ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=width,height,r_frame_rate', '-of', 'csv=p=0', file],
      { encoding: 'utf8' },
    );
  } catch (e) {
    throw new Error(`${file}: ffprobe cannot read it (${(e as Error).message.split('\n')[0]})`);
  }
  const [w, h, rate] = out.trim().split(',');
  const [num, den] = (rate ?? '').split('/').map(Number);
  const info = { width: Number(w), height: Number(h), fps: num! / (den || 1) };
  if (!(info.width > 0 && info.height > 0 && info.fps > 0))
    throw new Error(`${file}: no video stream with a size and frame rate (ffprobe said ${JSON.stringify(out.trim())})`);
  return info;
}

/** Every frame of a clip as RGB, decoded by ffmpeg one at a time (a long clip never sits in memory). */
export async function* clipFrames(file: string, info: ClipInfo): AsyncGenerator<RawFrame> {
  const child = spawn('ffmpeg', ['-nostdin', '-v', 'error', '-i', file, '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<number | null>((resolve) => child.on('close', resolve));
  const size = info.width * info.height * 3;
  let buf: Buffer = Buffer.alloc(0);
  let id = 0;
  try {
    for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      while (buf.length >= size) {
        const data = Buffer.from(buf.subarray(0, size));
        buf = buf.subarray(size);
        id++;
        const at = (id - 1) * (1000 / info.fps);
        yield {
          kind: 'raw',
          id,
          capturedAt: at,
          capturedMono: at,
          data,
          format: 'rgb24',
          width: info.width,
          height: info.height,
          stride: info.width * 3,
          origin: `${file}#${id}`,
        };
      }
    }
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
  const code = await done;
  if (code !== 0 && code !== null) throw new Error(`ffmpeg failed on ${file} (exit ${code}): ${stderr.trim().slice(0, 400)}`);
}

/** The real detector over every frame of the clip, split like the daemon's pipeline does (thresholds from `config`). */
export async function detectClip(
  file: string,
  detector: LoadedModel,
  config: Config,
  onFrame?: (n: number) => void,
): Promise<{ info: ClipInfo; frames: FrameDetections[] }> {
  const info = probeClip(file);
  const m = detector.manifest;
  const session = await createSession(detector.file, { threads: 1, spinning: false });
  const decoder = new SsdDecoder(m.detection!, m.labels);
  const frames: FrameDetections[] = [];
  const conv = (d: { label: string; score: number; box: [number, number, number, number] }, low: boolean): TrackerDetection => ({
    label: d.label,
    score: d.score,
    box: [...d.box] as Box,
    ...(low ? { low } : {}),
  });
  try {
    for await (const f of clipFrames(file, info)) {
      const input = await toModelInput(f, m.input, m.input.width!, m.input.height!);
      const out = await session.run({ [m.input.name]: new ort.Tensor('float32', input.data, [1, 3, input.height, input.width]) });
      const split = decodeTwoLevel(
        decoder,
        out[m.detection!.outputs.scores]!.data as Float32Array,
        out[m.detection!.outputs.boxes]!.data as Float32Array,
        config,
        m.labels,
      );
      frames.push({ frame: f.id, high: split.detections.map((d) => conv(d, false)), low: split.low.map((d) => conv(d, true)) });
      onFrame?.(f.id);
    }
  } finally {
    await session.release();
  }
  if (!frames.length) throw new Error(`${file}: ffmpeg decoded no frames`);
  return { info, frames };
}

/** The daemon's tracker settings for `config` (objects.track, tracking.*, mqtt.events.end_after_s). */
export function configuredTracker(config: Config): ByteTrackOptions {
  return trackerOptions({ camera: config.camera.name, tracking: config.tracking, endAfterS: config.mqtt.events.end_after_s });
}

/** Runs the tracker over detected frames (at the clip's frame rate) and lists, per frame, the confirmed tracks matched in it. */
export function trackFrames(frames: readonly FrameDetections[], fps: number, opts: ByteTrackOptions, labels: readonly string[]): TrackedFrame[] {
  const tracker = new ByteTracker(opts);
  const keep = new Set(labels);
  const out: TrackedFrame[] = [];
  for (const f of frames) {
    const input = [...f.high, ...f.low].filter((d) => keep.has(d.label));
    const res = tracker.update(input, 1_700_000_000_000 + (f.frame - 1) * (1000 / fps));
    const tracks: TrackedFrame['tracks'] = [];
    res.assigned.forEach((t, i) => {
      if (t?.id) tracks.push({ id: t.id, box: input[i]!.box });
    });
    out.push({ frame: f.frame, tracks });
  }
  return out;
}
