import { parseArgs } from 'node:util';
import { loadConfigFile } from '../config/load.js';
import { createLogger } from '../logging/logger.js';
import { configuredVocabulary } from '../models/vocabulary.js';
import { loadConfiguredModels } from '../service/configured-models.js';
import { configuredTracker, detectClip, trackFrames } from './tracking-run.js';
import { trackJumps, trackLengths } from './tracking-score.js';

const USAGE = `usage: npm run bench:tracking -- --clip FILE [--walkers N] [--label person] [--config FILE] [--json]

Runs the real detector over every frame of FILE (ffmpeg decodes it) and the daemon's tracker at the clip's
frame rate with the config's tracking settings, and reports the confirmed tracks of --label: their count,
length distribution, jumps (a track's box leaping to another place: an id switch without ground truth) and,
given the N walkers counted by eye, tracks per walker (fragmentation = tracks per walker - 1).`;

export interface TrackingReport {
  clip: string;
  frames: number;
  width: number;
  height: number;
  fps: number;
  label: string;
  tracker: Record<string, unknown>;
  tracks: ReturnType<typeof trackLengths>;
  jumps: ReturnType<typeof trackJumps>;
  walkers: number | null;
  tracks_per_walker: number | null;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      clip: { type: 'string' },
      walkers: { type: 'string' },
      label: { type: 'string', default: 'person' },
      config: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help || !values.clip) {
    process.stdout.write(USAGE + '\n');
    process.exit(values.help ? 0 : 64);
  }
  const walkers = values.walkers !== undefined ? Number(values.walkers) : null;
  if (walkers !== null && !(Number.isInteger(walkers) && walkers > 0)) throw new Error(`--walkers must be a positive integer, got ${values.walkers}`);
  const lc = loadConfigFile(values.config ?? null, { vocabulary: configuredVocabulary });
  const cfg = { ...lc.config, segmentation: { ...lc.config.segmentation, every: 0 } };
  const { detector } = await loadConfiguredModels({ ...lc, config: cfg }, createLogger('warn', false, 2));

  const { info, frames } = await detectClip(values.clip, detector, cfg);
  const opts = configuredTracker(cfg);
  const tracked = trackFrames(frames, info.fps, opts, [values.label!]);
  const L = trackLengths(tracked);
  const J = trackJumps(tracked);
  const report: TrackingReport = {
    clip: values.clip,
    frames: frames.length,
    width: info.width,
    height: info.height,
    fps: info.fps,
    label: values.label!,
    tracker: { ...opts, lowScore: cfg.tracking.low_score, scoreThreshold: cfg.detection.score_threshold },
    tracks: L,
    jumps: J,
    walkers,
    tracks_per_walker: walkers ? L.tracks / walkers : null,
  };
  if (values.json) {
    process.stdout.write(JSON.stringify(report) + '\n');
    return;
  }
  const lines = [
    `${values.clip}: ${frames.length} frames, ${info.width}×${info.height} at ${info.fps} fps, every frame detected and tracked`,
    `tracker: min_hits ${opts.minHits}, max age ${opts.maxAgeMs} ms, match IoU ${opts.matchIou} (low pass ${opts.lowMatchIou}), low score ${cfg.tracking.low_score}, threshold ${cfg.detection.score_threshold}`,
    `${values.label} tracks (confirmed): ${L.tracks}; length in frames min ${L.min} / p25 ${L.p25} / median ${L.median} / p75 ${L.p75} / max ${L.max}; shorter than 10 frames: ${L.short}`,
    `jumps (a track's next box far from its last one, or 3× the area): ${J.jumps} in ${J.tracksWithJumps} tracks`,
  ];
  if (walkers)
    lines.push(
      `walkers counted by eye: ${walkers} → ${(L.tracks / walkers).toFixed(2)} tracks per walker (fragmentation ${(L.tracks / walkers - 1).toFixed(2)})`,
    );
  process.stdout.write(lines.join('\n') + '\n');
}

main().catch((e: unknown) => {
  process.stderr.write(`bench:tracking: ${(e as Error).message}\n`);
  process.exit(1);
});
