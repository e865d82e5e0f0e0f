import { STAGE_DEFINITIONS, type Stage } from '../metrics/timing.js';
import type { BenchReport, PipelineSection } from './report-types.js';

/** Efficiency below this (detection only) makes the report explain where the time goes. */
export const EFFICIENCY_TARGET = 0.9;

const f = (x: number | null | undefined, d = 2): string => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(d) : '–');

/** The human report: what ran where, the headline numbers, then the tables behind them. */
export function renderMarkdown(r: BenchReport, chartFile: string): string {
  const m = r.machine;
  const s = r.settings;
  const p = r.pipeline;
  const L: string[] = [];
  L.push(`# edgesight benchmark`, '');
  L.push(`${r.created_at} · edgesight ${r.edgesight_version} · schema \`${r.schema}\``, '');
  L.push(`## Machine`, '');
  L.push(`| | |`, `|---|---|`);
  L.push(`| CPU | ${m.cpu_model}${m.board ? ` (${m.board})` : ''} |`);
  L.push(`| cores | ${m.cores} |`, `| arch / OS | ${m.arch} / ${m.platform} ${m.kernel} |`, `| memory | ${m.mem_total_mb} MB |`);
  L.push(`| Node.js / ONNX Runtime | ${m.node} / ${m.onnxruntime} |`);
  L.push(`| load average (1/5/15 min) | ${m.loadavg_start.join(' / ')} at start, ${r.loadavg_end.join(' / ')} at the end |`, '');
  const busy = busyWarning(r);
  if (busy) L.push(`> ${busy}`, '');
  L.push(`## Setup`, '');
  L.push(
    `- Frames: **${s.width}×${s.height} JPEG** (${s.distinct_frames} photos from \`${s.frames_dir}\`, mean ${Math.round(s.jpeg_bytes_mean / 1024)} KiB), read by the files source at ${s.source_fps} fps (≈2× the ceiling, so drop-if-busy decides what is processed).`,
  );
  L.push(
    `- Inference: one worker thread pinned to core ${s.core} (Cpus_allowed_list \`${s.cpus_allowed_list}\`), ${s.threads} ORT thread(s), **${s.pipeline_precision}** models; preprocessing runs on the other core(s).`,
  );
  L.push(
    `- ${s.frames} measured frames per run after ${s.warmup} warm-up frames; every result is published to an in-process MQTT broker (aedes) and counted by a subscriber.`,
    '',
  );
  L.push(`## Result`, '');
  L.push(
    `**pipeline efficiency: ${f(p.efficiency)}** (target ≥ ${EFFICIENCY_TARGET} for detection only) = pipeline ${f(p.fps, 1)} fps ÷ ceiling ${f(r.ceiling.worker.fps, 1)} fps`,
    '',
  );
  L.push(`| run | fps | frames | skipped (drop-if-busy) | worker busy | MQTT messages received |`, `|---|---:|---:|---:|---:|---:|`);
  L.push(`| ceiling: detector on pre-made tensors, pinned worker | ${f(r.ceiling.worker.fps, 1)} | ${r.ceiling.worker.runs} | – | – | – |`);
  L.push(
    `| reference: session.run on the main thread (pinned to the same core) | ${f(r.ceiling.in_thread.fps, 1)} | ${r.ceiling.in_thread.runs} | – | – | – |`,
  );
  L.push(row('pipeline, detection only', p));
  if (r.pipeline_raw.available)
    L.push(
      row(
        `pipeline, raw path (${r.pipeline_raw.codec} ${r.pipeline_raw.width}×${r.pipeline_raw.height}), detection only — efficiency ${f(r.pipeline_raw.efficiency)} against ${f(r.pipeline_raw.ceiling_fps, 1)} fps`,
        r.pipeline_raw,
      ),
    );
  if (r.pipeline_segmentation)
    L.push(row(`pipeline, detection + segmentation every ${r.pipeline_segmentation.segmentation_every}`, r.pipeline_segmentation));
  L.push('');
  const h = r.worker_hop;
  L.push(
    `**worker hop: pinned worker ÷ main-thread session.run = ${f(h.worker_over_in_thread, 3)}** (target ≥ 0.95; median of ${h.rounds.length} rounds of ${h.runs_per_round} runs each, range ${f(h.ratio_min, 3)}–${f(h.ratio_max, 3)}; the main thread pinned to core ${h.core} for its runs, ${h.threads} ORT thread(s) on both sides). **Hop alone: ${f(h.hop_ms, 3)} ms per run** (p90 ${f(h.hop_ms_p90, 3)}): the same input transfer and round trip as a run, without session.run. session.run as the worker times it: ${f(h.worker_session_run_ms)} ms. In CPU time (each thread's own run time, waiting for the core left out): main ÷ worker ${f(h.cpu_in_thread_over_worker, 3)}, ${f(h.in_thread_cpu_ms)} vs ${f(h.worker_cpu_ms)} ms per run.`,
    '',
    '| round | order | worker ms/run | main thread ms/run | hop alone ms | main ÷ worker | worker CPU ms/run | main CPU ms/run |',
    '|---:|---|---:|---:|---:|---:|---:|---:|',
    ...h.rounds.map(
      (x, i) =>
        `| ${i + 1} | ${x.order} | ${f(x.worker_ms)} | ${f(x.in_thread_ms)} | ${f(x.hop_ms, 3)} | ${f(x.ratio, 3)} | ${f(x.worker_cpu_ms)} | ${f(x.in_thread_cpu_ms)} |`,
    ),
    '',
  );
  if (!r.pipeline_raw.available) L.push(`Raw-path pipeline: not run — ${r.pipeline_raw.reason}.`, '');
  else {
    const raw = r.pipeline_raw;
    const m = (st: Stage): string => f(raw.stages[st]?.mean);
    L.push(
      `**raw-path efficiency: ${f(raw.efficiency)}** (target ≥ ${EFFICIENCY_TARGET}) = ${f(raw.fps, 1)} fps ÷ ${f(raw.ceiling_fps, 1)} fps (ceiling runs just before and after it): \`${raw.program}\` streaming ${raw.codec} at ${raw.width}×${raw.height}, the model's size, so preprocessing skips sharp. Mean ms per frame: receive ${m('receive')}, preprocess ${m('preprocess')}, queue ${m('queue')}, inference ${m('inference')}, postprocess ${m('postprocess')}, publish ${m('publish')}; worker busy ${(raw.worker_busy_fraction * 100).toFixed(0)} %.`,
      '',
    );
  }
  const lv = r.live_view;
  if (lv) {
    L.push(
      `**live view: ${f(lv.ratio, 3)}× the no-viewer pipeline** (target ≥ 0.95; median of ${lv.pairs.length} interleaved pairs, range ${f(lv.ratio_min, 3)}–${f(lv.ratio_max, 3)}, MAD ${f(lv.ratio_mad, 3)}) with one viewer on /stream.mjpeg at ${lv.live_fps} fps, ${lv.frames_per_run} frames per run, detection only. The no-viewer runs alone vary by ${f(lv.no_viewer_spread * 100, 1)} %. ${lv.frames_encoded} JPEGs encoded with the viewer (${lv.parts_received} parts, ${Math.round(lv.bytes_received / 1024)} KiB received), ${lv.frames_encoded_without_viewer} without.`,
      '',
      '| pair | order | fps without viewer | fps with viewer | ratio | JPEGs encoded | encodes/s |',
      '|---:|---|---:|---:|---:|---:|---:|',
      ...lv.pairs.map(
        (p, i) =>
          `| ${i + 1} | ${p.order} | ${f(p.fps_no_viewer, 2)} | ${f(p.fps_with_viewer, 2)} | ${f(p.ratio, 3)} | ${p.frames_encoded} | ${f(p.encodes_per_s, 2)} |`,
      ),
      '',
    );
  }
  if (p.efficiency !== null && p.efficiency < EFFICIENCY_TARGET) {
    L.push(`### Where the time goes (efficiency below ${EFFICIENCY_TARGET})`, '');
    L.push(whereTimeGoes(r), '');
  }
  L.push(`Mean time per frame by stage (detection only):`, '');
  L.push(`| stage | mean ms | share |`, `|---|---:|---:|`);
  for (const t of p.time_shares) L.push(`| ${t.stage} | ${f(t.mean_ms)} | ${(t.share * 100).toFixed(1)} % |`);
  L.push('');
  L.push(`## Per-stage latency`, '');
  L.push(`![per-stage latency distribution](${chartFile})`, '');
  L.push(stageTable('detection only', p));
  if (r.pipeline_segmentation)
    L.push(stageTable(`detection + segmentation every ${r.pipeline_segmentation.segmentation_every}`, r.pipeline_segmentation));
  L.push(
    `Stage definitions: ${Object.entries(STAGE_DEFINITIONS)
      .map(([k, v]) => `\`${k}\` = ${v}`)
      .join('; ')}.`,
    '',
  );
  L.push(`## int8 / fp32`, '');
  L.push(`| model | fp32 p50 ms | int8 p50 ms | int8 ÷ fp32 (median of pairs) | pairs |`, `|---|---:|---:|---:|---:|`);
  for (const role of ['detector', 'segmenter'] as const) {
    const x = r.precision_ratio[role];
    if (x.available) L.push(`| ${role} | ${f(x.fp32_ms.p50)} | ${f(x.int8_ms.p50)} | **${f(x.int8_over_fp32, 3)}** | ${x.pairs} |`);
    else L.push(`| ${role} | – | – | unavailable: ${x.reason.replace(/\|/g, '\\|').replace(/\n/g, ' ')} | – |`);
  }
  L.push(
    '',
    `Measured in the same run: two workers pinned to the same core, runs alternating, latency stamped inside the worker around session.run.`,
    '',
  );
  L.push(`## Memory`, '');
  const mem = r.memory;
  L.push(`| | RSS MB |`, `|---|---:|`);
  L.push(
    `| at start | ${f(mem.rss_start_mb, 1)} |`,
    `| models loaded | ${f(mem.rss_models_loaded_mb, 1)} |`,
    `| after ${mem.frames_before_rss_after} pipeline frames | ${f(mem.rss_after_frames_mb, 1)} |`,
    '',
  );
  if (mem.soak) {
    const k = mem.soak;
    L.push(
      `Soak: ${k.frames} frames in ${f(k.seconds, 0)} s (${f(k.fps, 1)} fps${k.segmentation_every ? `, segmentation every ${k.segmentation_every}` : ''}): RSS trend **${f(k.rss_growth_mb_per_1000_frames)} MB per 1000 frames** (least-squares over the samples; heap ${f(k.heap_growth_mb_per_1000_frames)} MB per 1000), ${f(k.rss_growth_mb, 1)} MB from frame ${k.samples[0]?.frames} to ${k.samples.at(-1)?.frames}, range ${f(k.rss_min_mb, 1)}–${f(k.rss_max_mb, 1)} MB.`,
      '',
    );
    L.push(`| frames | s | RSS MB | heap used MB |`, `|---:|---:|---:|---:|`);
    for (const x of mem.soak.samples) L.push(`| ${x.frames} | ${f(x.seconds, 1)} | ${f(x.rss_mb, 1)} | ${f(x.heap_used_mb, 1)} |`);
    L.push('');
  } else {
    L.push(`No soak run (\`edgesight bench --soak\` runs ≥ 5000 frames and reports RSS growth).`, '');
  }
  L.push(`## Models`, '');
  L.push(`| model | precision | available | sha256 / reason |`, `|---|---|---|---|`);
  for (const role of ['detector', 'segmenter'] as const) {
    for (const prec of ['fp32', 'int8'] as const) {
      const e = r.models[role][prec];
      L.push(
        `| ${role}${e.name ? ` (${e.name})` : ''} | ${prec} | ${e.available ? 'yes' : 'no'} | ${e.available ? `\`${e.sha256?.slice(0, 16)}…\`` : (e.reason ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ')} |`,
      );
    }
  }
  L.push('');
  return L.join('\n');
}

function row(name: string, p: PipelineSection): string {
  return `| ${name} | ${f(p.fps, 1)} | ${p.frames} | ${p.skipped} | ${(p.worker_busy_fraction * 100).toFixed(0)} % | ${p.mqtt_messages_received} |`;
}

function stageTable(title: string, p: PipelineSection): string {
  const L = [`**${title}** (ms)`, '', `| stage | n | p50 | p90 | p99 | max | mean |`, `|---|---:|---:|---:|---:|---:|---:|`];
  for (const [stage, x] of Object.entries(p.stages) as [Stage, NonNullable<PipelineSection['stages'][Stage]>][]) {
    L.push(`| ${stage} | ${x.count} | ${f(x.p50)} | ${f(x.p90)} | ${f(x.p99)} | ${f(x.max)} | ${f(x.mean)} |`);
  }
  return L.join('\n') + '\n';
}

/**
 * Throughput is lost wherever the pinned worker waits: its busy share is the efficiency bound, and
 * the main-thread work per frame (preprocess → postprocess → publish) shows whether the other core kept up.
 */
export function whereTimeGoes(r: BenchReport): string {
  const p = r.pipeline;
  const mean = (s: Stage): number => p.stages[s]?.mean ?? 0;
  const inf = mean('inference');
  const other = mean('preprocess') + mean('postprocess') + mean('publish');
  const ceilMs = r.ceiling.worker.latency_ms.mean ?? 0;
  const lines = [
    `- The inference worker was busy ${(p.worker_busy_fraction * 100).toFixed(0)} % of the measured time; the rest it waited for the next prepared frame.`,
    `- Per frame: inference ${f(inf)} ms in the pipeline vs ${f(ceilMs)} ms per ceiling run (message passing included) — ${inf > ceilMs * 1.1 ? 'inference itself is slower in the pipeline (the preprocessing core competes for memory bandwidth/caches, or the pinned core is shared)' : 'inference costs the same as in the ceiling run'}.`,
    `- Off-worker work per frame: preprocess ${f(mean('preprocess'))} + postprocess ${f(mean('postprocess'))} + publish ${f(mean('publish'))} = ${f(other)} ms; queue (prepared frame waiting for the worker) ${f(mean('queue'))} ms.`,
    `- ${p.skipped} frames were skipped by drop-if-busy (the source runs at ≈2× the ceiling on purpose), ${p.corrupt} corrupt, ${p.inference_errors} inference errors.`,
  ];
  const top = [...p.time_shares].sort((a, b) => b.share - a.share).slice(0, 3);
  lines.push(`- Largest shares of a frame's time: ${top.map((t) => `${t.stage} ${(t.share * 100).toFixed(0)} %`).join(', ')}.`);
  return lines.join('\n');
}

/** A warning when other work shared the machine: the ratios then say little about the product. */
export function busyWarning(r: BenchReport): string | null {
  const load = Math.max(r.machine.loadavg_start[0] ?? 0, r.loadavg_end[0] ?? 0);
  if (load <= r.machine.cores * 0.75) return null;
  return `The machine was busy (1-minute load ${load.toFixed(1)} on ${r.machine.cores} cores): other processes competed for the cores, so these numbers are noisy; rerun on an idle machine to compare.`;
}
