import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { packageRoot, resolveCacheDir } from '../models/paths.js';
import { defaultPhotosDir } from '../bench/frames.js';
import { findMosquitto, memorySettings, runSoak, soakSummary } from '../bench/soak-run.js';
import { soakMarkdown } from '../bench/soak-markdown.js';
import { withUnitMemory } from '../bench/unit-memory.js';
import { parse, UsageError } from './args.js';
import { SOAK } from './commands.js';
import { loadConfigOrExit } from './common.js';

function num(name: string, v: string | undefined, dflt: number, min: number, integer = true): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min)
    throw new UsageError(`--${name} must be ${integer ? 'an integer' : 'a number'} ≥ ${min}, got ${JSON.stringify(v)}`);
  return n;
}

export async function soakCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, SOAK.options, false);
  const frames = num('frames', values.frames, 5000, 100);
  const fps = num('fps', values.fps, 120, 0.1, false);
  if (fps > 120) throw new UsageError(`--fps must be ≤ 120 (camera.fps's maximum), got ${fps}`);
  const pace = values.pace ?? 'fps';
  if (pace !== 'fps' && pace !== 'pipeline') throw new UsageError(`--pace must be fps or pipeline, got ${JSON.stringify(pace)}`);
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
  // the daemon runs as the service does: with the systemd unit's memory settings, read from the unit
  const mem = values.plain ? { env: process.env, applied: null } : withUnitMemory(process.env);
  progress(
    `config: ${configPath}; ${frames} frames at ${fps} fps (pace ${pace}); broker ${mosquitto}; memory settings: ${memorySettings(mem.applied)}`,
  );
  const report = await runSoak({
    frames,
    fps,
    pace,
    width: num('width', values.width, 640, 16),
    height: num('height', values.height, 480, 16),
    photosDir: path.resolve(values['frames-dir'] ?? defaultPhotosDir()),
    sampleS: num('sample-s', values['sample-s'], 5, 0.2, false),
    segmentationEvery: num('segmentation-every', values['segmentation-every'], 5, 0),
    models,
    outDir,
    mosquitto,
    env: mem.env,
    memoryEnv: mem.applied,
    progress,
  });
  await mkdir(outDir, { recursive: true });
  await writeFile(path.join(outDir, 'soak.json'), JSON.stringify(report, null, 2) + '\n');
  await writeFile(path.join(outDir, 'soak.md'), soakMarkdown(report));
  progress(`wrote ${path.join(outDir, 'soak.json')}, ${path.join(outDir, 'soak.md')}`);
  process.stdout.write(soakSummary(report));
  return report.reconciliation.ok ? 0 : 1;
}
