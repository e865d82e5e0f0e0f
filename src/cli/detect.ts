import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createLogger } from '../logging/logger.js';
import { createSession, ort } from '../inference/session.js';
import { loadConfiguredModels } from '../service/configured-models.js';
import { SsdDecoder, type Detection } from '../postprocess/detections.js';
import { detectionOptions } from '../pipeline/detection-options.js';
import { toModelInput } from '../preprocess/preprocess.js';
import { DETECT } from './commands.js';
import { parse, UsageError } from './args.js';
import { loadConfigOrExit } from './common.js';

export interface DetectLine {
  file: string;
  width: number;
  height: number;
  objects: Array<{ label: string; class_id: number; score: number; box: [number, number, number, number] }>;
}

const r4 = (v: number): number => Math.round(v * 1e4) / 1e4;

export async function detectCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, DETECT.options);
  if (!positionals.length) throw new UsageError('detect needs at least one IMAGE');
  const lc = loadConfigOrExit(values.config);
  const cfg = lc.config;
  if (values['score-threshold'] !== undefined) {
    const t = Number(values['score-threshold']);
    if (!(t >= 0 && t <= 1)) throw new UsageError(`--score-threshold must be a number in [0, 1], got ${values['score-threshold']}`);
    cfg.detection.score_threshold = t;
  }
  if (values['max-detections'] !== undefined) {
    const n = Number(values['max-detections']);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`--max-detections must be a positive integer, got ${values['max-detections']}`);
    cfg.detection.max_detections = n;
  }
  const log = createLogger(cfg.logging.level, cfg.logging.pretty, 2);
  const { detector } = await loadConfiguredModels({ ...lc, config: { ...cfg, segmentation: { ...cfg.segmentation, every: 0 } } }, log);
  const m = detector.manifest;
  const session = await createSession(detector.file, { threads: cfg.inference.threads, spinning: false });
  const decoder = new SsdDecoder(m.detection!, m.labels);
  const opts = detectionOptions(cfg, m.labels, values.tracked ?? false);
  let failures = 0;
  for (const file of positionals) {
    let line: DetectLine;
    try {
      const data = await readFile(file);
      const input = await toModelInput(
        { kind: 'encoded', id: 0, capturedAt: Date.now(), capturedMono: performance.now(), data, format: path.extname(file).slice(1), origin: file },
        m.input,
        m.input.width!,
        m.input.height!,
      );
      const out = await session.run({ [m.input.name]: new ort.Tensor('float32', input.data, [1, 3, input.height, input.width]) });
      const dets: Detection[] = decoder.decode(
        out[m.detection!.outputs.scores]!.data as Float32Array,
        out[m.detection!.outputs.boxes]!.data as Float32Array,
        opts,
      );
      line = {
        file,
        width: input.frameWidth,
        height: input.frameHeight,
        objects: dets.map((d) => ({
          label: d.label,
          class_id: d.class_id,
          score: r4(d.score),
          box: d.box.map(r4) as [number, number, number, number],
        })),
      };
    } catch (e) {
      failures++;
      process.stderr.write(`${file}: ${(e as Error).message}\n`);
      continue;
    }
    if (values.json) process.stdout.write(JSON.stringify(line) + '\n');
    else process.stdout.write(table(line));
  }
  await session.release();
  return failures ? 1 : 0;
}

function table(l: DetectLine): string {
  const rows = l.objects.map((o) => `  ${o.label.padEnd(16)} ${o.score.toFixed(3)}  [${o.box.map((v) => v.toFixed(3)).join(', ')}]`);
  return `${l.file} (${l.width}×${l.height}): ${l.objects.length} object${l.objects.length === 1 ? '' : 's'}\n${rows.join('\n')}${rows.length ? '\n' : ''}`;
}
