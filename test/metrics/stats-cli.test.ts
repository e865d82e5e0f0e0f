import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { connectAsync, type MqttClient } from 'mqtt';
import { Metrics } from '../../src/metrics/registry.js';
import { parseStats, renderTable, statsCommand, statsTopic } from '../../src/metrics/stats-cli.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

function payload(device: string, extra: Record<string, unknown> = {}): string {
  const m = new Metrics({ device, board: false });
  m.inc('frames_captured', 5);
  m.recordFrame({ captured: 0, received: 1, preprocessed: 10, detStart: 11, detEnd: 51, postprocessed: 53, published: 55 });
  return JSON.stringify({ ...m.snapshot(), ...extra });
}

describe('metrics/stats-cli', function () {
  this.timeout(30_000);
  let broker: Mosquitto;
  let pub: MqttClient;

  before(async () => {
    broker = await startMosquitto();
    pub = await connectAsync(broker.url);
  });
  after(async () => {
    await pub?.endAsync();
    await broker?.stop();
  });

  it('builds the topic and refuses wildcards in ids', () => {
    assert.equal(statsTopic('edgesight', 'cam1'), 'edgesight/cam1/stats');
    assert.equal(statsTopic('home/edgesight/'), 'home/edgesight/+/stats');
    assert.throws(() => statsTopic('edge/#'), /base topic must be non-empty and without wildcards/);
    assert.throws(() => statsTopic('edgesight', 'a/b'), /--device must be one topic level/);
  });

  it('parses v1 payloads and rejects others by name', () => {
    assert.equal(parseStats('{"v":1,"device":"x"}').device, 'x');
    assert.throws(() => parseStats('not json'), /payload is not JSON/);
    assert.throws(() => parseStats('[1]'), /not a JSON object/);
    assert.throws(() => parseStats('{"v":2}'), /unsupported stats payload version 2/);
  });

  it('--once prints the first message of the chosen device as a JSON line when not a TTY', async () => {
    const out = new Capture();
    const err = new Capture();
    // retained messages for two devices: with --device only cam-b may come out
    await pub.publishAsync('es1/cam-a/stats', payload('cam-a'), { retain: true });
    await pub.publishAsync('es1/cam-b/stats', payload('cam-b'), { retain: true });
    await statsCommand({ url: broker.url, baseTopic: 'es1', device: 'cam-b', once: true, out, err, isTTY: false, timeoutMs: 10_000 });
    const lines = out.text.trim().split('\n');
    assert.equal(lines.length, 1, out.text);
    const got = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.equal(got.device, 'cam-b');
    assert.equal(got.frames_captured_total, 5);
    assert.equal(got.detector_count, 1);
    assert.equal(err.text, '');
  });

  it('--once waits for a live (not retained) message and skips malformed ones with a warning', async () => {
    const out = new Capture();
    const err = new Capture();
    // a retained malformed payload reaches the subscriber first; then live ones until one arrives
    await pub.publishAsync('es2/cam-x/stats', 'garbage{', { retain: true });
    const run = statsCommand({ url: broker.url, baseTopic: 'es2', once: true, out, err, isTTY: false, timeoutMs: 15_000 });
    let n = 0;
    const timer = setInterval(() => void pub.publishAsync('es2/cam-x/stats', payload('cam-x', { uptime_s: ++n })), 100);
    try {
      await run;
    } finally {
      clearInterval(timer);
      await pub.publishAsync('es2/cam-x/stats', '', { retain: true });
    }
    const got = JSON.parse(out.text.trim()) as Record<string, unknown>;
    assert.equal(got.device, 'cam-x');
    assert.match(err.text, /ignoring es2\/cam-x\/stats: payload is not JSON/);
  });

  it('renders a table on a TTY', async () => {
    const out = new Capture();
    await pub.publishAsync('es3/kitchen/stats', payload('kitchen', { soc_temp_c: 58.4, throttled_raw: 0x50005, under_voltage_now: true, throttled_now: true, under_voltage_since_boot: true, throttled_since_boot: true, frames_corrupt_total: 3 }), { retain: true });
    await statsCommand({ url: broker.url, baseTopic: 'es3', once: true, out, isTTY: true, timeoutMs: 10_000 });
    const [header, row] = out.text.trim().split('\n');
    assert.match(header!, /^DEVICE\s+AGE\s+CAM FPS\s+PROC FPS\s+SKIP FPS\s+E2E P50/);
    assert.match(row!, /^kitchen\s+0s\s+/);
    assert.match(row!, /\b40ms\b/); // detector p50
    assert.match(row!, /58\.4/);
    assert.match(row!, /UV,THR/);
    assert.match(row!, /corrupt:3/);
  });

  it('keeps redrawing a live table until aborted', async () => {
    const out = new Capture();
    const ac = new AbortController();
    const run = statsCommand({ url: broker.url, baseTopic: 'es4', out, isTTY: true, signal: ac.signal, refreshMs: 50 });
    const timer = setInterval(() => void pub.publishAsync('es4/cam-1/stats', payload('cam-1')), 100);
    const deadline = Date.now() + 15_000;
    while (!out.text.includes('cam-1') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    clearInterval(timer);
    ac.abort();
    await run;
    assert.ok(out.text.includes('\x1b[H\x1b[2J'), 'no screen clear');
    assert.match(out.text, /edgesight stats {2}mqtt:\/\/127\.0\.0\.1:\d+ {2}es4\/\+\/stats {2}\[connected\]/);
    assert.match(out.text, /\ncam-1\s+\d+s\s+/);
  });

  it('names the broker when it cannot connect', async () => {
    const gone = await startMosquitto();
    const url = gone.url;
    await gone.stop();
    await assert.rejects(
      statsCommand({ url, baseTopic: 'es5', once: true, out: new Capture(), isTTY: false, timeoutMs: 10_000 }),
      new RegExp(`mqtt mqtt://127\\.0\\.0\\.1:${gone.port}: .*ECONNREFUSED`),
    );
  });

  it('times out --once with a clear message when nothing is published', async () => {
    await assert.rejects(
      statsCommand({ url: broker.url, baseTopic: 'es6', device: 'quiet', once: true, out: new Capture(), isTTY: false, timeoutMs: 300 }),
      /no stats message on es6\/quiet\/stats from mqtt:\/\/127\.0\.0\.1:\d+ within 300 ms/,
    );
  });

  it('renderTable says it is waiting when no device has reported', () => {
    assert.equal(renderTable(new Map(), 0), 'waiting for stats…\n');
  });
});
