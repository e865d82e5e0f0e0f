import { existsSync } from 'node:fs';
import path from 'node:path';
import { createLogger } from '../logging/logger.js';
import { packageRoot } from '../models/paths.js';
import { defaultPhotosDir } from '../bench/frames.js';
import { busyWarning, EFFICIENCY_TARGET, whereTimeGoes } from '../bench/markdown.js';
import type { BenchPrecision, Int8Preparer } from '../bench/bench-models.js';
import type { BenchReport, PipelineSection } from '../bench/report-types.js';
import { runBench } from '../bench/bench-run.js';
import { parse, UsageError } from './args.js';
import { BENCH } from './commands.js';
import { loadConfigOrExit } from './common.js';
import { loadQuantizer } from './quantizer-loader.js';

function int(name: string, v: string | undefined, dflt: number, min: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
  return n;
}

export async function benchCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, BENCH.options, false);
  const frames = int('frames', values.frames, 300, 10);
  const width = int('width', values.width, 640, 16);
  const height = int('height', values.height, 480, 16);
  const every = int('segmentation-every', values['segmentation-every'], 5, 0);
  const viewerPairs = int('viewer-pairs', values['viewer-pairs'], 4, 0);
  const soakFrames = int('soak-frames', values['soak-frames'], 5000, 5000);
  const precisions = (values.precision ?? 'int8,fp32').split(',').map((p) => p.trim());
  for (const p of precisions)
    if (p !== 'int8' && p !== 'fp32') throw new UsageError(`--precision takes int8 and/or fp32 (comma-separated), got ${JSON.stringify(p)}`);
  if (new Set(precisions).size !== precisions.length) throw new UsageError(`--precision lists a precision twice: ${values.precision}`);

  const rawFlag = values['raw-camera'];
  const fake = path.join(packageRoot(), 'test', 'fixtures', 'bin', 'rpicam-vid');
  const rawCamera: string | { unavailable: string } =
    rawFlag === 'none'
      ? { unavailable: '--raw-camera none' }
      : rawFlag !== undefined
        ? path.resolve(rawFlag)
        : existsSync(fake)
          ? fake
          : { unavailable: `no --raw-camera given and no fake rpicam-vid at ${fake} (an installed package has no test fixtures)` };
  const configPath = values.config ?? process.env.EDGESIGHT_CONFIG ?? path.join(packageRoot(), 'config', 'demo.yaml');
  const lc = loadConfigOrExit(configPath);
  const log = createLogger(
    lc.config.logging.level === 'debug' || lc.config.logging.level === 'trace' ? lc.config.logging.level : 'warn',
    lc.config.logging.pretty,
    2,
  );
  const progress = (msg: string): void => void process.stderr.write(`bench: ${msg}\n`);
  progress(`config: ${configPath}`);

  const report = await runBench({
    lc,
    frames,
    width,
    height,
    framesDir: path.resolve(values['frames-dir'] ?? defaultPhotosDir()),
    outDir: path.resolve(values.out ?? 'bench-out'),
    soak: values.soak ?? false,
    soakFrames,
    precisions: precisions as BenchPrecision[],
    segmentationEvery: every,
    viewerPairs,
    rawCamera,
    prepareInt8: precisions.includes('int8') ? await int8Preparer(values.config) : undefined,
    log,
    progress,
  });
  process.stdout.write(summary(report));
  return 0;
}

/** int8 is made by the quantizer when it is part of the build (as `models fetch --precision int8` does). */
async function int8Preparer(config: string | undefined): Promise<Int8Preparer | { unavailable: string }> {
  let q: Awaited<ReturnType<typeof loadQuantizer>>;
  try {
    q = await loadQuantizer();
  } catch (e) {
    return { unavailable: (e as Error).message };
  }
  return async (name, cacheDir) => {
    const code = await q.quantizeCommand([name, '--cache', cacheDir, ...(config ? ['--config', config] : [])]);
    if (code !== 0) throw new Error(`edgesight models quantize ${name} exited with status ${code}`);
  };
}

const f = (x: number | null | undefined, d = 1): string => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(d) : '–');

/** The stdout summary: the key figures, each on its own line so a person or grep finds them. */
export function summary(r: BenchReport): string {
  const m = r.machine;
  const s = r.settings;
  const p = r.pipeline;
  const L: string[] = [];
  L.push(`edgesight bench — ${m.cpu_model}, ${m.cores} cores, ${m.arch}, node ${m.node}, onnxruntime ${m.onnxruntime}`);
  L.push(
    `frames: ${s.width}×${s.height} JPEG (${s.distinct_frames} photos), inference pinned to core ${s.core}, ${s.pipeline_precision}, ${s.frames} frames per run`,
  );
  L.push(
    `ceiling (pinned worker, pre-made tensors): ${f(r.ceiling.worker.fps)} fps, p50 ${f(r.ceiling.worker.latency_ms.p50, 2)} ms; in-thread session.run: ${f(r.ceiling.in_thread.fps)} fps`,
  );
  L.push(
    `pipeline (files → preprocess → inference → postprocess → MQTT): ${f(p.fps)} fps, ${p.skipped} skipped, ${p.mqtt_messages_received} MQTT messages received`,
  );
  const h = r.worker_hop;
  L.push(
    `worker hop: pinned worker ÷ main-thread session.run on core ${h.core}: ${f(h.worker_over_in_thread, 3)} (median of ${h.rounds.length} alternating rounds, range ${f(h.ratio_min, 3)}–${f(h.ratio_max, 3)}); per run ${f(h.worker_ms, 2)} ms through the worker vs ${f(h.in_thread_ms, 2)} ms on the main thread (session.run inside the worker ${f(h.worker_session_run_ms, 2)} ms)`,
  );
  L.push(
    `worker hop in CPU time: main-thread session.run ÷ worker thread per run ${f(h.cpu_in_thread_over_worker, 3)} (${f(h.in_thread_cpu_ms, 2)} ms vs ${f(h.worker_cpu_ms, 2)} ms; waiting for the core left out)`,
  );
  L.push(`hop alone: ${f(h.hop_ms, 3)} ms per run (p90 ${f(h.hop_ms_p90, 3)})`);
  L.push(`pipeline efficiency: ${f(p.efficiency, 2)}`);
  const raw = r.pipeline_raw;
  if (raw.available) {
    L.push(
      `raw-path pipeline (${raw.codec} ${raw.width}×${raw.height} from ${path.basename(raw.program)} → inference → postprocess → MQTT): ${f(raw.fps)} fps vs ceiling ${f(raw.ceiling_fps)} fps, ${raw.skipped} skipped; preprocess p50 ${f(raw.stages.preprocess?.p50, 2)} ms, receive p50 ${f(raw.stages.receive?.p50, 2)} ms`,
    );
    L.push(`raw-path efficiency: ${f(raw.efficiency, 2)}`);
  } else L.push(`raw-path pipeline: not run — ${raw.reason}`);
  if (p.efficiency !== null && p.efficiency < EFFICIENCY_TARGET)
    L.push(
      `  below the ${EFFICIENCY_TARGET} target — where the time goes:`,
      ...whereTimeGoes(r)
        .split('\n')
        .map((l) => `  ${l}`),
    );
  if (r.live_view) {
    const lv = r.live_view;
    L.push(
      `live view, one viewer at ${lv.live_fps} fps: median ratio ${f(lv.ratio, 3)} over ${lv.pairs.length} interleaved pairs (range ${f(lv.ratio_min, 3)}–${f(lv.ratio_max, 3)}, MAD ${f(lv.ratio_mad, 3)}); ${f(lv.fps_with_viewer)} fps with vs ${f(lv.fps_no_viewer)} without (medians); no-viewer runs alone vary by ${f(lv.no_viewer_spread * 100, 1)} %; ${lv.frames_encoded} JPEGs encoded with the viewer, ${lv.frames_encoded_without_viewer} without`,
    );
  }
  L.push(`per-stage latency p50 / p99 ms (detection only):`);
  L.push(...stageLines(p));
  if (r.pipeline_segmentation) {
    const ps = r.pipeline_segmentation;
    const sg = ps.stages.segmenter;
    L.push(
      `detection + segmentation every ${ps.segmentation_every}: ${f(ps.fps)} fps, segmenter p50 ${f(sg?.p50, 2)} / p99 ${f(sg?.p99, 2)} ms, end_to_end p50 ${f(ps.stages.end_to_end?.p50, 2)} / p99 ${f(ps.stages.end_to_end?.p99, 2)} ms`,
    );
  } else {
    L.push(
      `detection + segmentation: not run (${r.models.segmenter[s.pipeline_precision].reason ?? `--segmentation-every ${s.segmentation_every}`})`,
    );
  }
  for (const role of ['detector', 'segmenter'] as const) {
    const x = r.precision_ratio[role];
    L.push(
      x.available
        ? `int8/fp32 ${role}: ${f(x.int8_over_fp32, 3)} (fp32 p50 ${f(x.fp32_ms.p50, 2)} ms, int8 p50 ${f(x.int8_ms.p50, 2)} ms, ${x.pairs} pairs)`
        : `int8/fp32 ${role}: unavailable — ${x.reason}`,
    );
  }
  const mem = r.memory;
  L.push(
    `memory: RSS ${f(mem.rss_start_mb)} MB at start, ${f(mem.rss_models_loaded_mb)} MB with models loaded, ${f(mem.rss_after_frames_mb)} MB after ${mem.frames_before_rss_after} frames`,
  );
  if (mem.soak) {
    const k = mem.soak;
    L.push(
      `soak: ${k.frames} frames, RSS ${f(k.samples[0]?.rss_mb)} → ${f(k.samples.at(-1)?.rss_mb)} MB (range ${f(k.rss_min_mb)}–${f(k.rss_max_mb)}), trend ${f(k.rss_growth_mb_per_1000_frames, 2)} MB per 1000 frames (heap ${f(k.heap_growth_mb_per_1000_frames, 2)})`,
    );
  }
  const busy = busyWarning(r);
  if (busy) L.push(`note: ${busy}`);
  L.push(`wrote ${r.outputs.json}, ${r.outputs.markdown}, ${r.outputs.chart}`);
  return L.join('\n') + '\n';
}

function stageLines(p: PipelineSection): string[] {
  return Object.entries(p.stages).map(([stage, x]) => `  ${stage.padEnd(12)} ${f(x.p50, 2).padStart(8)} / ${f(x.p99, 2).padStart(8)}`);
}
