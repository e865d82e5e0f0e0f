import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { Metrics } from '../../src/metrics/registry.js';
import { ALL_COUNTERS, COUNTERS, STATS_SCHEMA, type CounterName } from '../../src/metrics/stats-schema.js';
import { STAGES, type FrameTimings } from '../../src/metrics/timing.js';

function fakeClock(start = 5_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

const validate = new Ajv2020({ strict: true, allErrors: true }).compile(STATS_SCHEMA);
function assertValid(p: unknown): void {
  const ok = validate(p);
  assert.ok(ok, JSON.stringify(validate.errors, null, 1));
}

function near(actual: number | null, expected: number, what: string): void {
  assert.ok(actual !== null, `${what} is null`);
  assert.ok(Math.abs(actual - expected) <= expected * 0.01 + 0.01, `${what}: expected ≈${expected}, got ${actual}`);
}

/** A full set of stamps where each stage takes the given ms. */
function frame(at: number, d: { det: number; seg?: number; e2eExtra?: number }): FrameTimings {
  const t: FrameTimings = { captured: at, received: at + 1, decoded: at + 3, preprocessed: at + 6, detStart: at + 7, detEnd: at + 7 + d.det };
  let end = t.detEnd!;
  if (d.seg !== undefined) {
    t.segStart = end;
    t.segEnd = end + d.seg;
    end = t.segEnd;
  }
  t.postprocessed = end + 2;
  t.published = end + 3 + (d.e2eExtra ?? 0);
  return t;
}

describe('metrics/registry Metrics', () => {
  it('moves each counter it is told to, and only that one', () => {
    const m = new Metrics({ device: 'cam1', board: false });
    for (const name of COUNTERS) {
      const before = m.counters();
      m.inc(name);
      m.inc(name, 2);
      const after = m.snapshot();
      for (const c of ALL_COUNTERS) {
        const expected = before[c] + (c === name ? 3 : 0);
        assert.equal(after[`${c}_total`], expected, `${c}_total after inc(${name})`);
      }
    }
  });

  it('derives frames_processed, segmentations and timing_anomalies from recordFrame', () => {
    const m = new Metrics({ device: 'cam1', board: false });
    m.recordFrame(frame(0, { det: 10 }));
    m.recordFrame(frame(100, { det: 10, seg: 50 }));
    m.recordFrame({ captured: 300, received: 290 }); // out of order: a stamping bug
    const s = m.snapshot();
    assert.equal(s.frames_processed_total, 3);
    assert.equal(s.segmentations_total, 1);
    assert.equal(s.timing_anomalies_total, 1);
    assert.equal(s.segmenter_count, 1);
    assert.equal(s.detector_count, 2);
    assert.equal(s.receive_count, 2);
  });

  it('refuses unknown counters, derived counters and bad increments by name', () => {
    const m = new Metrics({ device: 'cam1', board: false });
    assert.throws(() => m.inc('frames_processed' as CounterName), /unknown counter "frames_processed".*come from recordFrame/);
    assert.throws(() => m.inc('nope' as CounterName), /unknown counter "nope"/);
    assert.throws(() => m.inc('camera_restarts', -1), /camera_restarts.*non-negative integer, got -1/);
    assert.throws(() => m.inc('camera_restarts', 0.5), /got 0.5/);
    assert.throws(() => m.recordFrame({ received: 1 } as FrameTimings), /timings.captured must be a finite ms value, got undefined/);
    assert.throws(() => new Metrics({ device: '' }), /device must be a non-empty string/);
  });

  it('reports percentiles of injected known delays per stage and end to end', () => {
    const clock = fakeClock();
    const m = new Metrics({ device: 'cam1', board: false, clock: clock.now });
    // detector 1..100 ms in a scrambled order; segmenter on every 4th frame at 200 ms; publish adds 0..99 ms
    const order = Array.from({ length: 100 }, (_, i) => (i * 37) % 100);
    for (const i of order) {
      m.recordFrame(frame(i * 1000, { det: i + 1, seg: i % 4 === 0 ? 200 : undefined, e2eExtra: i }));
      clock.advance(100);
    }
    const s = m.snapshot();
    near(s.detector_ms_p50, 50, 'detector p50');
    near(s.detector_ms_p90, 90, 'detector p90');
    near(s.detector_ms_p99, 99, 'detector p99');
    near(s.detector_ms_max, 100, 'detector max');
    assert.equal(s.segmenter_count, 25);
    near(s.segmenter_ms_p50, 200, 'segmenter p50');
    near(s.decode_ms_p99, 2, 'decode p99');
    // end to end = 7 ms before the detector + det + seg (if any) + 3 ms + the injected extra
    const e2e = order.map((i) => 7 + (i + 1) + (i % 4 === 0 ? 200 : 0) + 3 + i).sort((a, b) => a - b);
    near(s.end_to_end_ms_p50, e2e[49]!, 'e2e p50');
    near(s.end_to_end_ms_p99, e2e[98]!, 'e2e p99');
    near(s.end_to_end_ms_max, e2e[99]!, 'e2e max');
    assertValid(s);
  });

  it('computes camera, processed and skipped fps over the window', () => {
    const clock = fakeClock();
    const m = new Metrics({ device: 'cam1', board: false, clock: clock.now, windowS: 60 });
    for (let sec = 0; sec < 120; sec++) {
      for (let k = 0; k < 10; k++) {
        m.inc('frames_captured');
        if (k < 2 || (sec >= 60 && k < 5)) m.inc('frames_skipped');
        else m.recordFrame(frame(clock.now(), { det: 20 }));
        clock.advance(100);
      }
    }
    const s = m.snapshot();
    // the last 50–60 s are all in the second regime: 10 captured, 5 skipped, 5 processed per second
    assert.equal(s.camera_fps, 10);
    assert.equal(s.skipped_fps, 5);
    assert.equal(s.processed_fps, 5);
    assert.equal(s.frames_captured_total, 1200);
    assert.equal(s.frames_skipped_total, 60 * 2 + 60 * 5);
  });

  it('reports CPU over the window from process.cpuUsage', () => {
    const clock = fakeClock();
    let cpuUs = 0;
    const m = new Metrics({ device: 'cam1', board: false, clock: clock.now, cpuUsage: () => ({ user: cpuUs * 0.75, system: cpuUs * 0.25 }) });
    assert.equal(m.snapshot().cpu_percent, null);
    for (let i = 0; i < 6; i++) {
      clock.advance(10_000);
      cpuUs += 5_000_000; // 5 s of CPU every 10 s
      m.snapshot();
    }
    assert.equal(m.snapshot().cpu_percent, 50);
    clock.advance(10_000);
    cpuUs += 15_000_000; // then 1.5 cores for 10 s
    // window is 60 s: five 10 s steps at 50 % and one at 150 %
    near(m.snapshot().cpu_percent, ((25 + 15) / 60) * 100, 'cpu');
  });

  it('fills board fields from the monitor and leaves them null when it is off', async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'edgesight-metrics-board-'));
    try {
      const put = async (rel: string, text: string): Promise<void> => {
        await mkdir(path.dirname(path.join(root, rel)), { recursive: true });
        await writeFile(path.join(root, rel), text);
      };
      await put('sys/class/thermal/thermal_zone0/type', 'cpu-thermal\n');
      await put('sys/class/thermal/thermal_zone0/temp', '72500\n');
      await put('sys/devices/platform/soc/soc:firmware/get_throttled', '0x4\n');
      await put('proc/loadavg', '3.00 2.00 1.00 1/1 1\n');
      const m = new Metrics({ device: 'cam1', board: { root, pathEnv: '' } });
      assert.equal(m.snapshot().soc_temp_c, null, 'no reading before the first refresh');
      await m.refreshBoard();
      const s = m.snapshot();
      assert.equal(s.soc_temp_c, 72.5);
      assert.equal(s.throttled_raw, 4);
      assert.equal(s.throttled_now, true);
      assert.equal(s.under_voltage_now, false);
      assert.equal(s.load_15, 1);
      assertValid(s);

      const off = new Metrics({ device: 'cam1', board: false });
      assert.equal(await off.refreshBoard(), null);
      const o = off.snapshot();
      assert.equal(o.soc_temp_c, null);
      assert.equal(o.throttled_raw, null);
      assert.equal(o.throttled_since_boot, null);
      assert.equal(o.load_1, null);
      assertValid(o);

      const empty = new Metrics({ device: 'cam1', board: { root: path.join(root, 'nothing-here'), pathEnv: '' } });
      const b = await empty.refreshBoard();
      assert.equal(b?.soc_temp_c, null);
      assert.equal(b?.problems.length, 3);
      assertValid(empty.snapshot());
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('measures event-loop delay when the loop is blocked', async () => {
    const m = new Metrics({ device: 'cam1', board: false, eventLoopResolutionMs: 10 });
    m.start();
    try {
      await new Promise((r) => setTimeout(r, 100));
      const until = performance.now() + 250;
      while (performance.now() < until) {
        // block the loop: no timer can fire for 250 ms
      }
      await new Promise((r) => setTimeout(r, 50));
      const s = m.snapshot();
      assert.ok(s.event_loop_delay_ms_max !== null, 'no event-loop samples');
      // the blocked timer was at least 250 ms late (minus its own 10 ms period)
      assert.ok(s.event_loop_delay_ms_max >= 240, `max ${s.event_loop_delay_ms_max} ms after a 250 ms block`);
      assert.ok(s.event_loop_delay_ms_p50! <= s.event_loop_delay_ms_max);
    } finally {
      m.stop();
    }
  });

  it('tells listeners about frames and counts', () => {
    const m = new Metrics({ device: 'cam1', board: false });
    const seen: string[] = [];
    const off = m.subscribe({ frame: (d) => seen.push(`frame ${Object.keys(d).length}`), count: (n, k) => seen.push(`${n}+${k}`) });
    m.inc('mqtt_reconnects');
    m.recordFrame(frame(0, { det: 5 }));
    off();
    m.inc('mqtt_reconnects');
    assert.deepEqual(seen, ['mqtt_reconnects+1', 'frames_processed+1', `frame ${STAGES.length - 1}`]);
  });

  it('produces a snapshot that the published schema accepts, and the schema is not vacuous', () => {
    const m = new Metrics({ device: 'cam1', board: false });
    const s = m.snapshot();
    assertValid(s);
    assert.equal(s.v, 2);
    assert.equal(s.end_to_end_ms_p50, null);
    const extra = { ...s, surprise: 1 };
    assert.equal(validate(extra), false);
    const { rss_mb: _drop, ...missing } = s;
    assert.equal(validate(missing), false);
    assert.equal(validate({ ...s, camera_fps: 'fast' }), false);
    for (const key of Object.keys(s)) assert.match(key, /^[a-z][a-z0-9_]*$/, `${key} is not snake_case`);
  });

  it('keeps src/metrics/stats.schema.json identical to the generated schema', () => {
    const file = findUp('src/metrics/stats.schema.json');
    const onDisk = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    assert.deepEqual(
      onDisk,
      JSON.parse(JSON.stringify(STATS_SCHEMA)),
      'regenerate with: node dist/src/metrics/stats-schema.js > src/metrics/stats.schema.json',
    );
  });
});

function findUp(rel: string): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, rel);
    try {
      readFileSync(candidate);
      return candidate;
    } catch {
      const up = path.dirname(dir);
      if (up === dir) throw new Error(`cannot find ${rel} above the test`);
      dir = up;
    }
  }
}
