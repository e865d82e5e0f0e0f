import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Metrics } from '../../src/metrics/registry.js';
import { createPrometheusExporter, startMetricsServer, STAGE_BUCKETS_S, type MetricsServer } from '../../src/metrics/prometheus.js';
import { COUNTERS } from '../../src/metrics/stats-schema.js';
import { STAGES } from '../../src/metrics/timing.js';
import { parsePrometheusText, PromParseError, sampleValue, type Family } from './prom-text-parser.js';

function get(port: number, p: string, method = 'GET'): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: p, method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const PROM_COUNTER_NAME: Record<string, [string, Record<string, string>]> = {
  frames_captured: ['edgesight_frames_captured_total', {}],
  frames_skipped: ['edgesight_frames_total', { result: 'skipped' }],
  frames_corrupt: ['edgesight_frames_total', { result: 'corrupt' }],
  mqtt_dropped_stream: ['edgesight_mqtt_dropped_total', { class: 'stream' }],
  mqtt_dropped_event: ['edgesight_mqtt_dropped_total', { class: 'event' }],
  mqtt_dropped_latest: ['edgesight_mqtt_dropped_total', { class: 'latest' }],
  mqtt_dropped_offline: ['edgesight_mqtt_dropped_total', { class: 'offline' }],
  mqtt_dropped_backpressure: ['edgesight_mqtt_dropped_total', { class: 'backpressure' }],
};

describe('metrics/prom-text-parser (the test oracle)', () => {
  const ok =
    '# HELP a_total A.\n# TYPE a_total counter\na_total{x="1"} 3\n# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 3.5\nh_count 2\n';

  it('accepts a valid exposition', () => {
    const f = parsePrometheusText(ok);
    assert.equal(f.get('a_total')?.type, 'counter');
    assert.equal(sampleValue(f, 'h_count'), 2);
  });

  const bad: [string, string, RegExp][] = [
    ['bad metric name', '1abc 3\n', /invalid metric name/],
    ['unquoted label value', 'a{x=1} 3\n', /expected ="…"/],
    ['bad escape', 'a{x="\\t"} 3\n', /invalid escape/],
    ['missing value', 'a{x="1"}\n', /expected " <value>/],
    ['non-numeric value', 'a 3x\n', /invalid value/],
    ['no trailing newline', 'a 3', /end with a newline/],
    ['second TYPE', '# TYPE a gauge\n# TYPE a gauge\na 1\n', /second TYPE/],
    ['TYPE after samples', 'a 1\n# TYPE a gauge\n', /TYPE for a after its samples/],
    ['non-contiguous family', 'a 1\nb 1\na{x="2"} 1\n', /not contiguous/],
    ['duplicate series', 'a{x="1"} 1\na{x="1"} 2\n', /duplicate series/],
    ['negative counter', '# TYPE c_total counter\nc_total -1\n', /counter c_total is -1/],
    ['non-cumulative histogram', '# TYPE h histogram\nh_bucket{le="1"} 3\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 2\n', /not cumulative/],
    ['histogram without +Inf', '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n', /no \+Inf/],
    ['+Inf ≠ count', '# TYPE h histogram\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 2\n', /≠ _count/],
    ['unknown type', '# TYPE a meter\n', /invalid type/],
  ];
  for (const [what, text, re] of bad) {
    it(`rejects ${what}`, () =>
      assert.throws(
        () => parsePrometheusText(text),
        (e: unknown) => e instanceof PromParseError && re.test(e.message),
      ));
  }
});

describe('metrics/prometheus exporter', () => {
  it('exposes parseable, Prometheus-named metrics that follow the Metrics instance', async () => {
    const m = new Metrics({ device: 'cam-7', board: false });
    m.inc('camera_restarts', 2); // before attaching: must still show
    const { registry, detach } = createPrometheusExporter(m);
    try {
      const durations: number[] = [];
      for (let i = 0; i < 40; i++) {
        const det = 5 + i * 2.5; // 5 … 102.5 ms
        durations.push(det);
        m.recordFrame({ captured: 0, received: 1, preprocessed: 5, detStart: 6, detEnd: 6 + det, postprocessed: 8 + det, published: 9 + det });
      }
      for (const c of COUNTERS) m.inc(c, 3);

      const fams = parsePrometheusText(await registry.metrics());
      // names: edgesight_ snake_case; counters end in _total; the stage histogram is in seconds
      for (const f of fams.values()) {
        if (!f.name.startsWith('edgesight_')) continue;
        assert.match(f.name, /^edgesight_[a-z0-9_]+$/);
        assert.ok(f.help && f.help.length > 5, `${f.name} has no help`);
        if (f.type === 'counter') assert.match(f.name, /_total$/);
      }
      const hist = fams.get('edgesight_frame_stage_seconds') as Family;
      assert.equal(hist.type, 'histogram');
      for (const stage of STAGES)
        assert.notEqual(sampleValue(fams, 'edgesight_frame_stage_seconds_count', { stage }), undefined, `no series for ${stage}`);
      assert.equal(sampleValue(fams, 'edgesight_frame_stage_seconds_count', { stage: 'detector' }), 40);
      assert.equal(sampleValue(fams, 'edgesight_frame_stage_seconds_count', { stage: 'segmenter' }), 0);
      const sum = sampleValue(fams, 'edgesight_frame_stage_seconds_sum', { stage: 'detector' })!;
      assert.ok(Math.abs(sum - durations.reduce((a, b) => a + b, 0) / 1000) < 1e-9, `detector sum ${sum}`);
      for (const le of STAGE_BUCKETS_S) {
        const expected = durations.filter((d) => d / 1000 <= le).length;
        assert.equal(sampleValue(fams, 'edgesight_frame_stage_seconds_bucket', { stage: 'detector', le: String(le) }), expected, `le=${le}`);
      }
      assert.equal(sampleValue(fams, 'edgesight_frame_stage_seconds_count', { stage: 'end_to_end' }), 40);

      assert.equal(sampleValue(fams, 'edgesight_frames_total', { result: 'processed' }), 40);
      for (const c of COUNTERS) {
        const [name, labels] = PROM_COUNTER_NAME[c] ?? [`edgesight_${c}_total`, {}];
        assert.equal(sampleValue(fams, name, labels), c === 'camera_restarts' ? 5 : 3, `${name} ${JSON.stringify(labels)}`);
      }
      assert.equal(sampleValue(fams, 'edgesight_info', { device: 'cam-7' }), 1);
      assert.equal(sampleValue(fams, 'edgesight_frames_per_second', { stream: 'camera' }), m.fps().camera);
      // board off: no temperature / throttling series rather than fake zeros
      assert.equal(fams.get('edgesight_soc_temperature_celsius')?.samples.length ?? 0, 0);
      assert.equal(fams.get('edgesight_throttled')?.samples.length ?? 0, 0);
      // default process metrics come along
      assert.equal(fams.get('process_resident_memory_bytes')?.type, 'gauge');
      assert.equal(fams.get('process_cpu_seconds_total')?.type, 'counter');

      detach();
      m.inc('worker_restarts');
      const after = parsePrometheusText(await registry.metrics());
      assert.equal(sampleValue(after, 'edgesight_worker_restarts_total'), 3, 'detached exporter still counting');
    } finally {
      detach();
    }
  });

  it('exports board health and event-loop delay gauges', async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'edgesight-prom-board-'));
    try {
      const put = async (rel: string, text: string): Promise<void> => {
        await mkdir(path.dirname(path.join(root, rel)), { recursive: true });
        await writeFile(path.join(root, rel), text);
      };
      await put('sys/class/thermal/thermal_zone0/type', 'cpu-thermal\n');
      await put('sys/class/thermal/thermal_zone0/temp', '55000\n');
      await put('sys/devices/platform/soc/soc:firmware/get_throttled', '0x50001\n');
      await put('proc/loadavg', '0.50 0.25 0.10 1/1 1\n');
      const m = new Metrics({ device: 'cam', board: { root, pathEnv: '' }, eventLoopResolutionMs: 10 });
      m.start();
      await m.refreshBoard();
      await new Promise((r) => setTimeout(r, 100));
      const { registry } = createPrometheusExporter(m, { defaultMetrics: false });
      const fams = parsePrometheusText(await registry.metrics());
      m.stop();
      assert.equal(sampleValue(fams, 'edgesight_soc_temperature_celsius', { zone: 'cpu-thermal' }), 55);
      assert.equal(sampleValue(fams, 'edgesight_throttled', { flag: 'under_voltage', when: 'now' }), 1);
      assert.equal(sampleValue(fams, 'edgesight_throttled', { flag: 'under_voltage', when: 'since_boot' }), 1);
      assert.equal(sampleValue(fams, 'edgesight_throttled', { flag: 'throttled', when: 'since_boot' }), 1);
      assert.equal(sampleValue(fams, 'edgesight_throttled', { flag: 'freq_capped', when: 'now' }), 0);
      assert.equal(sampleValue(fams, 'edgesight_load_average', { window: '15m' }), 0.1);
      const eld = sampleValue(fams, 'edgesight_event_loop_delay_seconds', { stat: 'max' });
      assert.ok(eld !== undefined && eld >= 0, `event loop max ${eld}`);
      assert.equal(fams.get('process_cpu_seconds_total'), undefined, 'defaultMetrics: false still collected them');
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('keeps separate registries per exporter (never the global one)', async () => {
    const a = createPrometheusExporter(new Metrics({ device: 'a', board: false }), { defaultMetrics: false });
    const b = createPrometheusExporter(new Metrics({ device: 'b', board: false }), { defaultMetrics: false });
    assert.notEqual(a.registry, b.registry);
    assert.equal(sampleValue(parsePrometheusText(await b.registry.metrics()), 'edgesight_info', { device: 'b' }), 1);
    const { register } = await import('prom-client');
    assert.equal(register.getSingleMetric('edgesight_info'), undefined);
  });
});

describe('metrics/prometheus HTTP endpoint', () => {
  let server: MetricsServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('serves /metrics in the text format, /healthz, and refuses other paths and methods', async () => {
    const m = new Metrics({ device: 'cam', board: false });
    const { registry } = createPrometheusExporter(m);
    server = await startMetricsServer({ registry, port: 0 });
    assert.ok(server.port > 0);
    m.inc('mqtt_queue_drops', 4);
    const r = await get(server.port, '/metrics');
    assert.equal(r.status, 200);
    assert.match(r.type, /^text\/plain; version=0\.0\.4/);
    const fams = parsePrometheusText(r.body);
    assert.equal(sampleValue(fams, 'edgesight_mqtt_queue_drops_total'), 4);

    assert.equal((await get(server.port, '/healthz')).status, 200);
    assert.equal((await get(server.port, '/')).status, 404);
    assert.equal((await get(server.port, '/metrics', 'POST')).status, 405);
    const head = await get(server.port, '/metrics', 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
  });

  it('binds loopback by default and names the address when the port is taken', async () => {
    const { registry } = createPrometheusExporter(new Metrics({ device: 'cam', board: false }), { defaultMetrics: false });
    server = await startMetricsServer({ registry, port: 0 });
    await assert.rejects(
      startMetricsServer({ registry, port: server.port }),
      new RegExp(`cannot listen on 127\\.0\\.0\\.1:${server.port}: EADDRINUSE`),
    );
    await assert.rejects(startMetricsServer({ registry, port: 70000 }), /metrics\.http\.port must be an integer 0–65535, got 70000/);
  });
});
