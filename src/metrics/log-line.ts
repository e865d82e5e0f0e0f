import type { StatsPayload } from './stats-schema.js';

/**
 * One concise line for the periodic log, e.g.
 * `fps 9.8/10.0 skip 0.2 | e2e p50 85ms p99 140ms | det p50 40ms | seg p50 90ms | eld p99 3ms | cpu 85% rss 120MB | 61.2C load 1.20`
 * plus the counters that signal trouble, only when non-zero, and active throttling flags.
 */
export function formatStatsLine(s: StatsPayload): string {
  const parts: string[] = [];
  parts.push(`fps ${n(s.processed_fps, 1)}/${n(s.camera_fps, 1)} skip ${n(s.skipped_fps, 1)}`);
  parts.push(`e2e p50 ${ms(s.end_to_end_ms_p50)} p99 ${ms(s.end_to_end_ms_p99)}`);
  parts.push(`det p50 ${ms(s.detector_ms_p50)} p99 ${ms(s.detector_ms_p99)}`);
  if (s.segmenter_count > 0) parts.push(`seg p50 ${ms(s.segmenter_ms_p50)}`);
  parts.push(`eld p99 ${ms(s.event_loop_delay_ms_p99)}`);
  parts.push(`cpu ${s.cpu_percent === null ? '-' : Math.round(s.cpu_percent) + '%'} rss ${Math.round(s.rss_mb)}MB`);

  const board: string[] = [];
  if (s.soc_temp_c !== null) board.push(`${s.soc_temp_c.toFixed(1)}C`);
  if (s.load_1 !== null) board.push(`load ${s.load_1.toFixed(2)}`);
  const now = (['under_voltage_now', 'freq_capped_now', 'throttled_now', 'soft_temp_limit_now'] as const).filter((f) => s[f]);
  if (now.length) board.push(`THROTTLED ${now.map((f) => f.replace(/_now$/, '')).join(',')}`);
  if (board.length) parts.push(board.join(' '));

  const trouble = (
    [
      ['corrupt', s.frames_corrupt_total],
      ['cam_restarts', s.camera_restarts_total],
      ['stalls', s.camera_stalls_total],
      ['worker_restarts', s.worker_restarts_total],
      ['inf_errors', s.inference_errors_total],
      ['mqtt_drops', s.mqtt_queue_drops_total],
      ['mqtt_reconnects', s.mqtt_reconnects_total],
    ] as const
  ).filter(([, v]) => v > 0);
  if (trouble.length) parts.push(trouble.map(([k, v]) => `${k} ${v}`).join(' '));
  return parts.join(' | ');
}

function n(x: number, digits: number): string {
  return x.toFixed(digits);
}

/** ms under 10 keep one decimal (event-loop delay, fast stages); longer ones are whole ms. */
function ms(x: number | null): string {
  if (x === null) return '-';
  return x < 10 ? `${x.toFixed(1)}ms` : `${Math.round(x)}ms`;
}
