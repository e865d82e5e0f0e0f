import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { runCli } from './run-cli.js';

/** `edgesight stats` (now an alias of `edgesight fleet`) as a real child process against a real mosquitto; payloads come from a test client. */
describe('cli: edgesight stats', function () {
  this.timeout(60_000);
  let broker: Mosquitto;
  let pub: MqttClient;
  let dir: string;

  before(async () => {
    broker = await startMosquitto();
    pub = mqtt.connect(broker.url, { clientId: `stats_test_${process.pid}` });
    await new Promise<void>((resolve, reject) => {
      pub.once('connect', () => resolve());
      pub.once('error', reject);
    });
    dir = await mkdtemp(path.join(tmpdir(), 'edgesight-stats-cli-'));
  });
  after(async () => {
    await pub.endAsync(true);
    await broker.stop();
    await rm(dir, { recursive: true, force: true });
  });

  /** Publishes `payload` on `topic` every 100 ms while `p` runs (the CLI subscribes some time after spawn). */
  async function whilePublishing<T>(topic: string, payload: object, p: Promise<T>): Promise<T> {
    const t = setInterval(() => pub.publish(topic, JSON.stringify(payload)), 100);
    try {
      return await p;
    } finally {
      clearInterval(t);
    }
  }

  it('takes the broker URL and base topic from the config and prints one JSON line with --once', async () => {
    const cfg = path.join(dir, 'a.yaml');
    await writeFile(cfg, `mqtt:\n  url: ${broker.url}\n  base_topic: site7\n`);
    const payload = { v: 2, device: 'cam-a', processed_fps: 9.5, frames_processed_total: 42 };
    const other = { v: 2, device: 'cam-b', processed_fps: 1 };
    const t = setInterval(() => pub.publish('site7/cam-b/stats', JSON.stringify(other)), 100);
    const r = await whilePublishing(
      'site7/cam-a/stats',
      payload,
      runCli(['stats', '--config', cfg, '--device', 'cam-a', '--once', '--timeout', '20']),
    ).finally(() => clearInterval(t));
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 1);
    const row = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.equal(row.v, 1);
    assert.equal(row.device, 'cam-a');
    assert.equal(row.fps, 9.5);
  });

  it('--url overrides the config, and the default base topic is edgesight', async () => {
    const cfg = path.join(dir, 'b.yaml');
    await writeFile(cfg, `mqtt:\n  url: mqtt://127.0.0.1:1\n`);
    const payload = { v: 2, device: 'd2', cpu_percent: 12.5 };
    const r = await whilePublishing(
      'edgesight/d2/stats',
      payload,
      runCli(['stats', '--config', cfg, '--url', broker.url, '--once', '--timeout', '20']),
    );
    assert.equal(r.code, 0, r.stderr);
    const row = JSON.parse(r.stdout.trim()) as Record<string, unknown>;
    assert.equal(row.device, 'd2');
    assert.equal(row.fps, null, 'cpu_percent is not a fleet column');
  });

  it('--once with no stats message exits 1 naming the topic and broker', async () => {
    const r = await runCli(['stats', '--url', broker.url, '--device', 'silent', '--once', '--timeout', '1']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no device on edgesight\/silent\/availability \(and the other fleet topics\) at mqtt:\/\/127\.0\.0\.1:\d+ within 1000 ms/);
  });

  it('refuses bad options with exit 64', async () => {
    const a = await runCli(['stats', '--device', 'a/b', '--once']);
    assert.equal(a.code, 64);
    assert.match(a.stderr, /--device must be one topic level/);
    const b = await runCli(['stats', '--url', 'localhost:1883']);
    assert.equal(b.code, 64);
    assert.match(b.stderr, /--url must be a broker URL/);
    const c = await runCli(['stats', '--timeout', '5']);
    assert.equal(c.code, 64);
    assert.match(c.stderr, /--timeout applies with --once/);
  });
});
