import { memorySettings, type SoakReport } from './soak-run.js';

const f = (v: number | null | undefined, d = 1): string => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(d) : '–');

/** soak.md: the verdicts, the slopes and the sampled curve (at most ~40 rows, evenly spaced). */
export function soakMarkdown(r: SoakReport): string {
  const L: string[] = [];
  const s = r.slopes;
  L.push(`# Soak: ${r.settings.frames} frames`, '');
  L.push(
    `Files source at ${r.settings.pace === 'pipeline' ? `up to ${r.settings.fps} fps, paced by the pipeline (camera.files.pace: pipeline)` : `${r.settings.fps} fps`}, ${r.settings.width}×${r.settings.height} JPEG, segmentation every ${r.settings.segmentationEvery}, real mosquitto, ${f(r.duration_s, 0)} s. Daemon memory settings: ${memorySettings(r.settings.memoryEnv)}.`,
    '',
  );
  L.push('| counter | value |', '|---|---|');
  for (const [k, v] of Object.entries(r.counts)) L.push(`| ${k} | ${v} |`);
  L.push(`| events received by a subscriber | ${r.events_received} |`, '');
  L.push(
    `Reconciliation: frames ${r.reconciliation.frames.captured} captured = ${r.reconciliation.frames.accounted} processed + skipped + corrupt + failed → **${r.reconciliation.frames.ok}**; events ${r.reconciliation.events.published} published = ${r.reconciliation.events.received} received + ${r.reconciliation.events.dropped} dropped → **${r.reconciliation.events.ok}**.`,
    '',
  );
  L.push(
    `Slopes per 10 000 processed frames after the first ${r.warmup_frames} processed frames (least squares, ±95 % confidence; samples are autocorrelated, so the interval is a lower bound on the uncertainty):`,
    '',
  );
  L.push('| resource | slope / 10k frames | ±95 % CI | samples |', '|---|---|---|---|');
  for (const [k, v] of Object.entries(s)) L.push(`| ${k} | ${f(v.slope, 3)} | ${f(v.ci95, 3)} | ${v.n} |`);
  L.push(
    '',
    `RSS: ${f(r.rss.first_mb)} MB at the first sample, ${f(r.rss.warm_mb)} MB after warm-up, max ${f(r.rss.max_mb)} MB, last ${f(r.rss.last_mb)} MB.`,
    '',
  );
  L.push(
    '| t (s) | captured | processed | RSS MB | heap used MB | heap total MB | external MB | fds | threads | loop p99 ms |',
    '|---|---|---|---|---|---|---|---|---|---|',
  );
  const step = Math.max(1, Math.ceil(r.samples.length / 40));
  r.samples.forEach((x, i) => {
    if (i % step === 0 || i === r.samples.length - 1)
      L.push(
        `| ${f(x.t_s, 0)} | ${x.frames_captured} | ${x.frames_processed} | ${f(x.rss_mb)} | ${f(x.heap_used_mb)} | ${f(x.heap_total_mb)} | ${f(x.external_mb)} | ${x.fds} | ${x.threads} | ${f(x.event_loop_p99_ms)} |`,
      );
  });
  L.push('', `rss_slope_mb_per_10k=${f(s.rss_mb.slope, 3)}±${f(s.rss_mb.ci95, 3)}`, `reconciled=${r.reconciliation.ok}`, '');
  return L.join('\n');
}
