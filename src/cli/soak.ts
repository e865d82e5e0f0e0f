import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { packageRoot, resolveCacheDir } from '../models/paths.js';
import { defaultPhotosDir } from '../bench/frames.js';
import { findMosquitto, runSoak, soakSummary } from '../bench/soak.js';
import { soakMarkdown } from '../bench/soak-markdown.js';
import { parse, UsageError } from './args.js';
import { loadConfigOrExit } from './common.js';

export const SOAK_HELP = `Usage: edgesight soak [options]

Runs the real daemon (edgesight run, a child process) at full rate from the files source into a real
mosquitto for --frames frames, sampling RSS, heap, fds, threads and event-loop delay; reports their
least-squares slopes per 10 000 processed frames with 95 % confidence, and reconciles the counters
(frames captured = processed + skipped + corrupt + failed; events published = received + dropped).
Writes soak.json and soak.md to --out. The last two lines of the output are
rss_slope_mb_per_10k=<v>±<ci> and reconciled=true|false (exit status 1 when not reconciled).

Options:
  --frames N                 frames the source delivers (default 5000, ≥ 100)
  --fps F                    source rate (default 120, the most the files source does; frames the
                             pipeline cannot take are skipped and counted, as with a camera)
  --width W --height H       JPEG frame size (default 640×480)
  --frames-dir DIR           photos the frames are made from (default: the package's config/demo-photos)
  --segmentation-every N     segmentation cadence (default 5; 0 = detection only)
  --sample-s S               seconds between samples (default 5)
  --out DIR                  where the report goes (default soak-out)
  --config, -c PATH          config whose models section the daemon uses (default: $EDGESIGHT_CONFIG,
                             else the package's config/demo.yaml)
Needs mosquitto (MOSQUITTO_BIN, /usr/sbin/mosquitto or on PATH).
`;

function num(name: string, v: string | undefined, dflt: number, min: number, integer = true): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min) throw new UsageError(`--${name} must be ${integer ? 'an integer' : 'a number'} ≥ ${min}, got ${JSON.stringify(v)}`);
  return n;
}

export async function soakCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(SOAK_HELP);
    return 0;
  }
  const { values } = parse(
    argv,
    {
      config: { type: 'string', short: 'c' },
      frames: { type: 'string' },
      fps: { type: 'string' },
      width: { type: 'string' },
      height: { type: 'string' },
      'frames-dir': { type: 'string' },
      'segmentation-every': { type: 'string' },
      'sample-s': { type: 'string' },
      out: { type: 'string' },
    },
    false,
  );
  const frames = num('frames', values.frames, 5000, 100);
  const fps = num('fps', values.fps, 120, 0.1, false);
  if (fps > 120) throw new UsageError(`--fps must be ≤ 120 (camera.fps's maximum), got ${fps}`);
  const mosquitto = findMosquitto();
  if (!mosquitto) throw new UsageError('the soak needs a real broker: install mosquitto or set MOSQUITTO_BIN');
  const configPath = values.config ?? (process.env.EDGESIGHT_CONFIG || path.join(packageRoot(), 'config', 'demo.yaml'));
  const lc = loadConfigOrExit(configPath);
  const m = lc.config.models;
  // the daemon runs from a temp config: every path in the models section made absolute
  const models = {
    ...m,
    cache_dir: resolveCacheDir(m.cache_dir, process.env, lc.dir),
    mirror: [...m.mirror.map((d) => path.resolve(lc.dir, d)), path.join(packageRoot(), 'models', 'sources')],
    calibration: m.calibration.map((c) => path.resolve(lc.dir, c)),
    ...(m.detector.endsWith('.json') ? { detector: path.resolve(lc.dir, m.detector) } : {}),
    ...(m.segmenter && m.segmenter.endsWith('.json') ? { segmenter: path.resolve(lc.dir, m.segmenter) } : {}),
  };
  const outDir = path.resolve(values.out ?? 'soak-out');
  const progress = (msg: string): void => void process.stderr.write(`soak: ${msg}\n`);
  progress(`config: ${configPath}; ${frames} frames at ${fps} fps; broker ${mosquitto}`);
  const report = await runSoak({
    frames,
    fps,
    width: num('width', values.width, 640, 16),
    height: num('height', values.height, 480, 16),
    photosDir: path.resolve(values['frames-dir'] ?? defaultPhotosDir()),
    sampleS: num('sample-s', values['sample-s'], 5, 0.2, false),
    segmentationEvery: num('segmentation-every', values['segmentation-every'], 5, 0),
    models,
    outDir,
    mosquitto,
    env: process.env,
    progress,
  });
  await mkdir(outDir, { recursive: true });
  await writeFile(path.join(outDir, 'soak.json'), JSON.stringify(report, null, 2) + '\n');
  await writeFile(path.join(outDir, 'soak.md'), soakMarkdown(report));
  progress(`wrote ${path.join(outDir, 'soak.json')}, ${path.join(outDir, 'soak.md')}`);
  process.stdout.write(soakSummary(report));
  return report.reconciliation.ok ? 0 : 1;
}
