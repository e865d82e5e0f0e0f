import assert from 'node:assert/strict';
import { request } from 'node:http';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { Metrics } from '../../src/metrics/registry.js';
import { startReporting } from '../../src/metrics/reporting.js';
import { STATS_SCHEMA, type StatsPayload } from '../../src/metrics/stats-schema.js';
import { parsePrometheusText } from './prom-text-parser.js';

function status(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => {
        parsePrometheusText(body);
        resolve(res.statusCode ?? 0);
      });
    })
      .on('error', reject)
      .end();
  });
}

async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('metrics/reporting', function () {
  this.timeout(20_000);

  it('publishes stats, logs the summary line and serves /metrics until stopped', async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = pino(
      { level: 'debug' },
      new Writable({ write: (c: Buffer, _e, cb) => (lines.push(JSON.parse(c.toString()) as Record<string, unknown>), cb()) }),
    );
    const metrics = new Metrics({ device: 'cam', board: false });
    const published: StatsPayload[] = [];
    const r = await startReporting({
      metrics,
      logger,
      publishStats: (p) => published.push(p),
      config: { stats_interval_s: 0.05, window_s: 60, log_interval_s: 0.05, http: { enabled: true, bind: '127.0.0.1', port: 0 } },
    });
    try {
      metrics.inc('camera_stalls');
      assert.ok(r.httpPort && r.httpPort > 0);
      await until(() => published.length >= 2 && lines.some((l) => l.stats === true), 'two stats payloads and a log line');
      const validate = new Ajv2020({ strict: true }).compile(STATS_SCHEMA);
      assert.ok(validate(published.at(-1)), JSON.stringify(validate.errors));
      assert.equal(published.at(-1)!.camera_stalls_total, 1);
      const logLine = lines.find((l) => l.stats === true)!;
      assert.match(String(logLine.msg), /^fps 0\.0\/0\.0 skip 0\.0 \| /);
      assert.ok(lines.some((l) => /Prometheus metrics on http:\/\/127\.0\.0\.1:\d+\/metrics/.test(String(l.msg))));
      assert.equal(await status(r.httpPort), 200);
    } finally {
      await r.stop();
    }
    const n = published.length;
    await new Promise((res) => setTimeout(res, 200));
    assert.equal(published.length, n, 'still publishing after stop()');
    await assert.rejects(status(r.httpPort!), /ECONNREFUSED/);
  });

  it('fails with the address when the endpoint cannot listen, leaving nothing running', async () => {
    const metrics = new Metrics({ device: 'cam', board: false });
    const first = await startReporting({
      metrics,
      config: { stats_interval_s: 30, window_s: 60, log_interval_s: 0, http: { enabled: true, bind: '127.0.0.1', port: 0 } },
    });
    try {
      const other = new Metrics({ device: 'cam2', board: false });
      await assert.rejects(
        startReporting({
          metrics: other,
          config: { stats_interval_s: 30, window_s: 60, log_interval_s: 0, http: { enabled: true, bind: '127.0.0.1', port: first.httpPort! } },
        }),
        /cannot listen on 127\.0\.0\.1:\d+: EADDRINUSE/,
      );
      assert.equal(other.running, false, 'samplers left running after the failed start');
      assert.equal(metrics.running, true);
    } finally {
      await first.stop();
    }
    assert.equal(metrics.running, false);
  });
});
