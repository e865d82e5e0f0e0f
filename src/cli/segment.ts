import { readFile, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { createLogger } from '../logging/logger.js';
import { createSession, ort } from '../inference/session.js';
import { loadConfiguredModels } from '../service/configured-models.js';
import { argmaxClassMap, classFractions } from '../postprocess/segmentation.js';
import { encodeMask } from '../render/mask-encoding.js';
import { toModelInput } from '../preprocess/preprocess.js';
import { SEGMENT } from './commands.js';
import { parse, UsageError } from './args.js';
import { loadConfigOrExit } from './common.js';

export interface SegmentLine {
  file: string;
  /** the image's size */
  width: number;
  height: number;
  /** the class map's size: the model's output (input / output_stride) */
  mask_width: number;
  mask_height: number;
  /** share of mask cells per class label, largest first (classes that occur) */
  classes: Record<string, number>;
  /** the PNG written (with --out-dir) */
  mask?: string;
}

/**
 * `edgesight segment IMAGE... [--out-dir DIR] [--json] [--config PATH]`: the configured segmenter on
 * still images, with the daemon's preprocessing (segmentation.width × height) and post-processing
 * (argmax at the model's own 1/8 output). With --out-dir, each class map is written as DIR/<name>.png,
 * an 8-bit greyscale PNG whose pixel values are the class indices (the MQTT mask's PNG encoding).
 */
export async function segmentCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, SEGMENT.options);
  if (!positionals.length) throw new UsageError('segment needs at least one IMAGE');
  const lc = loadConfigOrExit(values.config);
  const cfg = lc.config;
  if (!cfg.models.segmenter) throw new UsageError('no segmenter configured (models.segmenter is null): set it to a model name or a manifest path');
  const log = createLogger(cfg.logging.level, cfg.logging.pretty, 2);
  // segmentation.every: 0 turns segmentation off in the daemon; here the segmenter is the point
  const every = Math.max(1, cfg.segmentation.every);
  const { segmenter } = await loadConfiguredModels({ ...lc, config: { ...cfg, segmentation: { ...cfg.segmentation, every } } }, log);
  if (!segmenter) throw new Error(`the segmenter '${cfg.models.segmenter}' could not be loaded (see the warning above)`);
  const m = segmenter.manifest;
  const spec = m.segmentation!;
  const { width, height } = cfg.segmentation;
  const outDir = values['out-dir'] === undefined ? null : path.resolve(values['out-dir']);
  if (outDir) await mkdir(outDir, { recursive: true });
  const inputs = new Set(positionals.map((p) => path.resolve(p)));
  const written = new Map<string, string>();

  const session = await createSession(segmenter.file, { threads: cfg.inference.threads, spinning: false });
  let failures = 0;
  try {
    for (const file of positionals) {
      let line: SegmentLine;
      try {
        const data = await readFile(file);
        const input = await toModelInput(
          {
            kind: 'encoded',
            id: 0,
            capturedAt: Date.now(),
            capturedMono: performance.now(),
            data,
            format: path.extname(file).slice(1),
            origin: file,
          },
          m.input,
          width,
          height,
        );
        const out = await session.run({ [m.input.name]: new ort.Tensor('float32', input.data, [1, 3, height, width]) });
        const logits = out[spec.outputs.logits];
        if (!logits) throw new Error(`the segmenter has no output '${spec.outputs.logits}' (it has ${Object.keys(out).join(', ')})`);
        const [, c, h, w] = logits.dims as [number, number, number, number];
        const map = argmaxClassMap(logits.data as Float32Array, c, h, w, m.labels);
        line = { file, width: input.frameWidth, height: input.frameHeight, mask_width: w, mask_height: h, classes: classFractions(map) };
        if (outDir) {
          const dest = path.join(outDir, `${path.parse(file).name}.png`);
          if (inputs.has(dest)) throw new Error(`the mask would overwrite the input image ${dest}; choose another --out-dir`);
          const earlier = written.get(dest);
          if (earlier)
            throw new Error(
              `the mask would overwrite ${dest}, already written for ${earlier}; segment images with the same name into different --out-dir`,
            );
          const png = await encodeMask(map.data, w, h, 'png');
          await writeFile(dest, Buffer.from(png.data as string, 'base64'));
          written.set(dest, file);
          line.mask = dest;
        }
      } catch (e) {
        failures++;
        process.stderr.write(`${file}: ${(e as Error).message}\n`);
        continue;
      }
      process.stdout.write(values.json ? JSON.stringify(line) + '\n' : summary(line));
    }
  } finally {
    await session.release();
  }
  return failures ? 1 : 0;
}

function summary(l: SegmentLine): string {
  const rows = Object.entries(l.classes).map(([label, f]) => `  ${label.padEnd(16)} ${(f * 100).toFixed(1).padStart(5)}%`);
  return `${l.file} (${l.width}×${l.height}) → class map ${l.mask_width}×${l.mask_height}${l.mask ? ` → ${l.mask}` : ''}\n${rows.join('\n')}\n`;
}
