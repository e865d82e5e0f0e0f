import assert from 'node:assert/strict';
import { formatStatsLine } from '../../src/metrics/log-line.js';
import { Metrics } from '../../src/metrics/registry.js';
import type { StatsPayload } from '../../src/metrics/stats-schema.js';

function snapshotWithTraffic(): StatsPayload {
  let t = 0;
  const m = new Metrics({ device: 'cam', board: false, clock: () => t });
  for (let i = 0; i < 100; i++) {
    m.inc('frames_captured');
    if (i % 10 === 0) {
      m.inc('frames_skipped');
    } else {
      const seg = i % 5 === 1;
      m.recordFrame({
        captured: t,
        received: t + 2,
        decoded: t + 8,
        preprocessed: t + 15,
        detStart: t + 16,
        detEnd: t + 56,
        ...(seg ? { segStart: t + 56, segEnd: t + 146 } : {}),
        postprocessed: (seg ? t + 146 : t + 56) + 3,
        published: (seg ? t + 146 : t + 56) + 5,
      });
    }
    t += 100;
  }
  return m.snapshot();
}

describe('metrics/log-line', () => {
  it('summarises rates, latencies and resources in one line', () => {
    const s = { ...snapshotWithTraffic(), cpu_percent: 85.4, rss_mb: 120.2, event_loop_delay_ms_p99: 3.21 };
    const line = formatStatsLine(s);
    assert.ok(!line.includes('\n'));
    assert.match(line, /^fps 9\.0\/10\.0 skip 1\.0 \| /);
    // HDR keeps 2 significant digits: 151 ms may come back as 151.5
    assert.ok(Math.abs(s.end_to_end_ms_p99! - 151) <= 1.51, `e2e p99 ${s.end_to_end_ms_p99}`);
    assert.ok(line.includes(`e2e p50 ${Math.round(s.end_to_end_ms_p50!)}ms p99 ${Math.round(s.end_to_end_ms_p99!)}ms`), line);
    assert.match(line, /det p50 40ms p99 40ms/);
    assert.match(line, /seg p50 90ms/);
    assert.match(line, /eld p99 3\.2ms/);
    assert.match(line, /cpu 85% rss 120MB/);
    assert.doesNotMatch(line, /corrupt|restarts|THROTTLED/);
  });

  it('adds board health, throttling and non-zero trouble counters', () => {
    const s: StatsPayload = {
      ...snapshotWithTraffic(),
      soc_temp_c: 61.23,
      load_1: 1.5,
      under_voltage_now: true,
      throttled_now: true,
      frames_corrupt_total: 2,
      mqtt_queue_drops_total: 7,
    };
    const line = formatStatsLine(s);
    assert.match(line, /61\.2C load 1\.50 THROTTLED under_voltage,throttled/);
    assert.match(line, /corrupt 2 mqtt_drops 7$/);
  });

  it('prints dashes when there is no data yet', () => {
    const s = new Metrics({ device: 'cam', board: false }).snapshot();
    const line = formatStatsLine(s);
    assert.match(line, /e2e p50 - p99 -/);
    assert.doesNotMatch(line, /seg p50/);
  });
});
