import path from 'node:path';
import { writeFile } from 'node:fs/promises';
import { Subject, firstValueFrom, skip, take, throwError, timeout } from 'rxjs';
import { createLogger } from '../logging/logger.js';
import { createFrameSource, waitForCameraChildren } from '../capture/source.js';
import type { CameraConfig } from '../capture/config.js';
import type { LoadedConfig } from '../config/types.js';
import { createEngine } from '../service/configured-engine.js';
import { runPipeline, type FrameResult } from '../pipeline/pipeline.js';
import { loadConfiguredModels } from '../service/configured-models.js';
import { renderFrameSnapshot } from '../publish/result-publisher.js';
import { SNAPSHOT } from './commands.js';
import { parse, UsageError } from './args.js';
import { loadConfigOrExit } from './common.js';

/**
 * `edgesight snapshot --out FILE.jpg`: one frame from the configured camera through the daemon's own
 * pipeline (same preprocessing, inference worker, thresholds and segmentation), drawn like the MQTT
 * `<camera>/snapshot` image. For checking camera placement and thresholds without a broker.
 * The daemon must not be holding the camera at the same time (a Pi camera has one owner).
 */
export async function snapshotCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, SNAPSHOT.options, false);
  if (!values.out) throw new UsageError('snapshot needs --out FILE.jpg (or --out - for stdout)');
  const skipFrames = values.skip === undefined ? 0 : Number(values.skip);
  if (!Number.isInteger(skipFrames) || skipFrames < 0)
    throw new UsageError(`--skip must be an integer >= 0 (frames to discard while the camera settles), got ${values.skip}`);
  const timeoutS = values.timeout === undefined ? 60 : Number(values.timeout);
  if (!(timeoutS > 0)) throw new UsageError(`--timeout must be a number of seconds > 0, got ${values.timeout}`);

  const lc = loadConfigOrExit(values.config);
  const cfg = lc.config;
  // stdout may carry the JPEG: logs go to stderr, and at the default level only problems (a one-shot
  // command's start-up chatter is noise); logging.level debug/trace still shows everything
  const log = createLogger(cfg.logging.level === 'info' ? 'warn' : cfg.logging.level, cfg.logging.pretty, 2);
  const { detector, segmenter } = await loadConfiguredModels(lc, log);

  const { engine, core } = createEngine({ detector, segmenter }, cfg, { spinning: false });
  const stop$ = new Subject<void>();
  let lastProblem = '';
  try {
    const affinity = await engine.start();
    // one frame does not need a pinned core: say so and go on
    if (affinity.error) log.warn({ core, err: affinity.error }, `could not pin the inference thread to core ${core}; continuing unpinned`);

    const frames$ = createFrameSource(cameraConfig(lc), {
      log,
      onEvent: (ev) => {
        if (ev.type === 'restart' || ev.type === 'corrupt') lastProblem = ev.reason;
        if (ev.type === 'missing') lastProblem = 'camera not found';
      },
    });
    const result: FrameResult = await firstValueFrom(
      runPipeline(
        frames$.pipe(skip(skipFrames)),
        {
          engine,
          detector,
          segmenter,
          config: () => cfg,
          onEvent: (ev) => {
            if (ev.type === 'corrupt' || ev.type === 'inference-error') {
              lastProblem = ev.reason;
              log.warn({ reason: ev.reason }, `frame not processed: ${ev.reason}`);
            }
          },
        },
        stop$,
      ).pipe(
        take(1),
        timeout({
          first: timeoutS * 1000,
          with: () =>
            throwError(() => new Error(`no frame was processed within ${timeoutS} s${lastProblem ? ` (last problem: ${lastProblem})` : ''}`)),
        }),
      ),
    ).catch((e: Error) => {
      if (e.name === 'EmptyError')
        throw new Error(`the camera source ended before a frame was processed${lastProblem ? ` (last problem: ${lastProblem})` : ''}`);
      throw e;
    });

    // one frame, no tracker yet: the frame's own detections are the privacy fallback boxes, zones and lines are drawn
    const rendered = await renderFrameSnapshot(result, cfg, {
      mask: result.segmentation ? { ...result.segmentation, at: result.capturedAt } : null,
      privacyBoxes: result.detections.map((d) => ({ label: d.label, box: d.box })),
      overlays: {
        zones: Object.entries(cfg.zones).map(([name, z]) => ({ name, polygon: z.polygon, occupied: false })),
        lines: Object.entries(cfg.lines).map(([name, l]) => ({ name, points: l.points, in: 0, out: 0 })),
      },
    });
    if (!rendered.jpeg) throw new Error(`privacy is on and the frame could not be masked (${rendered.reason}); no image written`);
    const jpeg = rendered.jpeg;
    const summary =
      `${result.width}×${result.height}, ${result.detections.length} object${result.detections.length === 1 ? '' : 's'}` +
      (result.detections.length ? `: ${result.detections.map((d) => `${d.label} ${d.score.toFixed(2)}`).join(', ')}` : '') +
      (result.segmentation ? ', mask overlaid' : '') +
      (cfg.privacy.classes.length ? `, ${cfg.privacy.classes.join('/')} obscured (${cfg.privacy.mode})` : '');
    if (values.out === '-') {
      process.stdout.write(jpeg);
      process.stderr.write(`snapshot: ${summary}\n`);
    } else {
      const out = path.resolve(values.out);
      try {
        await writeFile(out, jpeg);
      } catch (e) {
        throw new Error(`cannot write ${out}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
      process.stdout.write(`wrote ${out} (${summary})\n`);
    }
    return 0;
  } finally {
    stop$.next();
    stop$.complete();
    await engine.stop();
    await waitForCameraChildren();
  }
}

/** As the daemon reads it: a files path is relative to the config file. */
function cameraConfig(lc: LoadedConfig): CameraConfig {
  const c = lc.config.camera;
  const files = { ...c.files, ...(c.files.path ? { path: path.resolve(lc.dir, c.files.path) } : {}) };
  return { ...c, files };
}
