import assert from 'node:assert/strict';
import { mkdtemp, rm, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { fleetCommand, FleetModel, renderFleetTable, type FleetRow } from '../../src/metrics/fleet-table.js';
import { Writable } from 'node:stream';
import { Metrics } from '../../src/metrics/registry.js';
import { startDaemon, testEnv, writeConfig, type DaemonProc } from '../helpers/daemon.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { MODEL_SOURCES_DIR, photo } from '../helpers/paths.js';
import { runCli } from './run-cli.js';

const SYNTHETIC = 200;

function synthStats(i: number): Record<string, unknown> {
  return {
    v: 2,
    device: `synth-${String(i).padStart(3, '0')}`,
    ts: new Date(Date.UTC(2026, 0, 1, 0, 0, i % 60)).toISOString(),
    processed_fps: 5 + (i % 7),
    end_to_end_ms_p99: 100 + i,
    inference_ms_p99: 50 + i,
    soc_temp_c: i % 10 === 0 ? 82.5 : 55,
    throttled_raw: i % 10 === 0 ? 0x50005 : 0,
    under_voltage_now: i % 10 === 0,
    throttled_now: i % 10 === 0,
    under_voltage_since_boot: i % 10 === 0,
    throttled_since_boot: i % 10 === 0,
    last_error: i % 3 === 0 ? `camera restart: synthetic failure ${i}` : null,
    last_error_at: i % 3 === 0 ? '2026-01-01T00:00:00.000Z' : null,
  };
}

describe('fleet model and table (in process)', () => {
  it('merges availability, info, stats and counts per device; knows when a device is complete', () => {
    let now = Date.parse('2026-01-01T00:10:00Z');
    const m = new FleetModel('site/a', () => now);
    const j = (o: unknown): Buffer => Buffer.from(JSON.stringify(o));
    assert.equal(m.apply('other/d1/stats', j({ v: 1 }), false), null, 'another base topic is ignored');
    assert.deepEqual(m.apply('site/a/d1/availability', Buffer.from('online'), true), { device: 'd1' });
    assert.equal(m.complete('d1'), false, 'online without stats yet');
    assert.match(JSON.stringify(m.apply('site/a/d1/stats', j({ v: 3 }), false)), /not a version 1 or 2 JSON object/, 'an unknown version is refused');
    // an older daemon's info (version 1: the same fields without seq) is still read in a fleet being upgraded
    m.apply(
      'site/a/d1/info',
      j({
        v: 1,
        version: '1.2.3',
        started_at: Date.parse('2026-01-01T00:00:00Z'),
        models: { detector: { name: 'ssdlite_mobilenet_v3_small_coco', precision: 'int8' }, segmenter: null },
      }),
      true,
    );
    m.apply('site/a/d1/cam/objects/person', Buffer.from('2'), true);
    m.apply('site/a/d1/cam/objects/car', Buffer.from('0'), true);
    m.apply('site/a/d1/stats', j(synthStats(10)), false);
    assert.equal(m.complete('d1'), true);
    assert.match(JSON.stringify(m.apply('site/a/d1/availability', Buffer.from('maybe'), false)), /availability must be online or offline/);
    assert.match(JSON.stringify(m.apply('site/a/d1/cam/objects/dog', Buffer.from('-1'), false)), /non-negative integer/);
    assert.match(JSON.stringify(m.apply('site/a/d1/stats', Buffer.from('{'), false)), /not JSON/);
    const row = m.row('d1');
    assert.deepEqual(row, {
      v: 1,
      device: 'd1',
      status: 'online',
      since: '2026-01-01T00:00:00.000Z',
      version: '1.2.3',
      detector: 'ssdlite_mobilenet_v3_small_coco',
      precision: 'int8',
      segmenter: null,
      fps: 8,
      e2e_p99_ms: 110,
      inference_p99_ms: 60,
      soc_temp_c: 82.5,
      throttling: 'UV,THR',
      counts: { car: 0, person: 2 },
      last_error: null,
      last_error_at: null,
      stats_at: synthStats(10).ts as string,
    } satisfies FleetRow);
    // a live offline message is dated; a retained one is not (its time is unknown)
    now += 5000;
    m.apply('site/a/d2/availability', Buffer.from('offline'), true);
    m.apply('site/a/d1/availability', Buffer.from('offline'), false);
    assert.equal(m.row('d1').since, new Date(now).toISOString());
    assert.equal(m.row('d2').since, null);
    assert.equal(m.complete('d2'), true, 'offline devices send no stats');
    m.apply('site/a/d3/availability', Buffer.from('online'), true);
    assert.deepEqual(
      m.rows().map((r) => `${r.device}:${r.status}`),
      ['d3:online', 'd1:offline', 'd2:offline'],
      'online first, then by id',
    );
    assert.equal(m.allComplete(), false);

    const plain = renderFleetTable(m.rows(), now, false);
    assert.doesNotMatch(plain, /\x1b\[/, 'no colour codes off a terminal');
    const lines = plain.trimEnd().split('\n');
    assert.match(lines[0]!, /^DEVICE\s+STATUS\s+SINCE\s+MODEL\s+FPS\s+E2E P99\s+INF P99\s+TEMP\s+THROTTLE\s+COUNTS\s+LAST ERROR$/);
    assert.match(lines[2]!, /^d1\s+offline\s+0s\s+ssdlite_mobilenet_v3_small\/int8\s+8\.0\s+110ms\s+60ms\s+82\.5C\s+UV,THR\s+person=2\s+-$/);
    const coloured = renderFleetTable(m.rows(), now, true);
    assert.match(coloured, /\x1b\[31moffline/, 'offline in red');
    assert.match(coloured, /\x1b\[32monline/, 'online in green');
    assert.match(coloured, /\x1b\[31m82\.5C/, 'hot SoC in red');
  });

  it('the stats payload carries the last error, one line, with its time', () => {
    const metrics = new Metrics({ device: 'd', board: false, wallClock: () => Date.parse('2026-01-01T00:00:00Z') });
    assert.equal(metrics.snapshot().last_error, null);
    assert.equal(metrics.snapshot().last_error_at, null);
    metrics.noteError('camera restart:\n  exit code 1   (rpicam-vid)');
    assert.equal(metrics.snapshot().last_error, 'camera restart: exit code 1 (rpicam-vid)');
    assert.equal(metrics.snapshot().last_error_at, '2026-01-01T00:00:00.000Z');
    metrics.noteError('x'.repeat(500));
    assert.equal(metrics.snapshot().last_error!.length, 200);
  });
});

/**
 * `edgesight fleet` as a real child process against a real mosquitto holding the retained state of
 * 200 synthetic devices, plus real daemons publishing their own availability, info, counts and stats.
 */
describe('cli: edgesight fleet against a real broker, real daemons and 200 synthetic devices', function () {
  this.timeout(600_000);
  let broker: Mosquitto;
  let pub: MqttClient;
  let dir: string;
  const daemons: DaemonProc[] = [];
  const REAL = ['real-a', 'real-b'];

  before(async () => {
    broker = await startMosquitto();
    pub = mqtt.connect(broker.url, { clientId: `fleet_test_${process.pid}` });
    await new Promise<void>((resolve, reject) => {
      pub.once('connect', () => resolve());
      pub.once('error', reject);
    });
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < SYNTHETIC; i++) {
      const id = `synth-${String(i).padStart(3, '0')}`;
      const online = i % 20 !== 19;
      const opt = { retain: true, qos: 1 as const };
      sends.push(pub.publishAsync(`edgesight/${id}/availability`, online ? 'online' : 'offline', opt));
      sends.push(
        pub.publishAsync(
          `edgesight/${id}/info`,
          JSON.stringify({
            v: 2,
            version: '0.1.0',
            started_at: Date.parse('2026-01-01T00:00:00Z'),
            models: { detector: { name: 'ssdlite_mobilenet_v3_small_coco', precision: i % 2 ? 'fp32' : 'int8' }, segmenter: null },
          }),
          opt,
        ),
      );
      if (online) sends.push(pub.publishAsync(`edgesight/${id}/stats`, JSON.stringify(synthStats(i)), opt));
      sends.push(pub.publishAsync(`edgesight/${id}/cam/objects/person`, String(i % 4), opt));
      sends.push(pub.publishAsync(`edgesight/${id}/cam/objects/car`, '0', opt));
    }
    await Promise.all(sends);

    dir = await mkdtemp(path.join(tmpdir(), 'edgesight-fleet-'));
    await copyFile(photo('astronaut.png'), path.join(dir, 'astronaut.png'));
    for (const id of REAL) {
      const cfg = await writeConfig(`
device: { id: ${id} }
camera: { name: cam, source: files, fps: 2, files: { path: ${dir} } }
models: { segmenter: null }
mqtt: { url: ${broker.url} }
metrics: { stats_interval_s: 5, log_interval_s: 0 }
logging: { level: info, pretty: false }
`);
      daemons.push(startDaemon(cfg, testEnv({ EDGESIGHT_MODELS_MIRROR: MODEL_SOURCES_DIR })));
    }
    // each real daemon is up once its first stats message is on the broker
    const seen = new Set<string>();
    const watcher = mqtt.connect(broker.url, { clientId: `fleet_watch_${process.pid}` });
    await new Promise<void>((resolve, reject) => {
      const deadline = setTimeout(
        () => reject(new Error(`real daemons did not publish stats in time:\n${daemons.map((d) => d.output().slice(-2000)).join('\n---\n')}`)),
        480_000,
      );
      watcher.on('connect', () => void watcher.subscribeAsync(REAL.map((d) => `edgesight/${d}/stats`)));
      watcher.on('message', (t) => {
        seen.add(t.split('/')[1]!);
        if (seen.size === REAL.length) {
          clearTimeout(deadline);
          resolve();
        }
      });
    });
    await watcher.endAsync(true);
  });

  after(async () => {
    for (const d of daemons) {
      if (d.child.exitCode === null && d.child.signalCode === null) {
        d.child.kill('SIGTERM');
        await d.exited;
      }
    }
    await pub?.endAsync(true);
    await broker?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('--json --once lists every device with its fps and p99, then exits; the first full table time is reported', async () => {
    const t0 = Date.now();
    const r = await runCli(['fleet', '--url', broker.url, '--json', '--once', '--timeout', '60']);
    const ms = Date.now() - t0;
    assert.equal(r.code, 0, r.stderr);
    const rows = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as FleetRow);
    assert.equal(rows.length, SYNTHETIC + REAL.length, 'one object per device');
    const by = new Map(rows.map((x) => [x.device, x]));
    for (const id of REAL) {
      const x = by.get(id)!;
      assert.equal(x.status, 'online', id);
      assert.ok(x.fps !== null && x.fps > 0, `${id} fps ${x.fps}`);
      assert.ok(x.e2e_p99_ms !== null && x.e2e_p99_ms > 0, `${id} e2e p99`);
      assert.ok(x.inference_p99_ms !== null && x.inference_p99_ms > 0, `${id} inference p99`);
      assert.equal(x.detector, 'ssdlite_mobilenet_v3_small_coco');
      assert.equal(x.precision, 'int8');
      assert.ok(x.since && Date.parse(x.since) <= Date.now());
      assert.equal(typeof x.counts.person, 'number', `${id} counts: ${JSON.stringify(x.counts)}`);
    }
    for (let i = 0; i < SYNTHETIC; i++) {
      const s = synthStats(i);
      const x = by.get(s.device as string)!;
      const online = i % 20 !== 19;
      assert.equal(x.status, online ? 'online' : 'offline');
      assert.equal(x.precision, i % 2 ? 'fp32' : 'int8');
      assert.deepEqual(x.counts, { car: 0, person: i % 4 });
      if (online) {
        assert.equal(x.fps, s.processed_fps);
        assert.equal(x.e2e_p99_ms, s.end_to_end_ms_p99);
        assert.equal(x.inference_p99_ms, s.inference_ms_p99);
        assert.equal(x.last_error, s.last_error);
        assert.equal(x.throttling, i % 10 === 0 ? 'UV,THR' : '');
      } else {
        assert.equal(x.fps, null);
      }
    }
    // online first, then by id
    const order = rows.map((x) => x.device);
    const expected = [...rows]
      .sort((a, b) => (a.status === b.status ? a.device.localeCompare(b.device) : a.status === 'online' ? -1 : 1))
      .map((x) => x.device);
    assert.deepEqual(order, expected);
    console.log(`      first full table of ${rows.length} devices (incl. ${REAL.length} real daemons, stats every 5 s): ${ms} ms from spawn to exit`);
  });

  it('in process: the first full table (connect → every device complete), timed without process start-up', async () => {
    let text = '';
    const out = new Writable({ write: (c: Buffer, _e, cb) => ((text += c.toString()), cb()) });
    const t0 = performance.now();
    const full = await fleetCommand({ url: broker.url, baseTopic: 'edgesight', json: true, once: true, timeoutMs: 60_000, out, isTTY: false });
    const ms = Math.round(performance.now() - t0);
    assert.equal(full, true);
    assert.equal(text.trim().split('\n').length, SYNTHETIC + REAL.length);
    const retainedOnly = performance.now();
    await fleetCommand({
      url: broker.url,
      baseTopic: 'edgesight',
      device: 'synth-1*'.replace('*', '23'),
      json: true,
      once: true,
      timeoutMs: 60_000,
      out,
      isTTY: false,
    });
    console.log(
      `      in process: first full table of ${SYNTHETIC + REAL.length} devices in ${ms} ms (waits for the real daemons' next stats, every 5 s); one retained device in ${Math.round(performance.now() - retainedOnly)} ms (incl. the 500 ms settle)`,
    );
  });

  it('--once with only retained state (the synthetic devices, one device filter) and as a plain table', async () => {
    const t0 = Date.now();
    const r = await runCli(['fleet', '--url', broker.url, '--once', '--timeout', '60']);
    const ms = Date.now() - t0;
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^DEVICE\s+STATUS/);
    assert.equal(lines.length, 1 + SYNTHETIC + REAL.length);
    assert.doesNotMatch(r.stdout, /\x1b\[/, 'no colour when piped');
    const one = await runCli(['fleet', '--url', broker.url, '--device', 'synth-007', '--json', '--once', '--timeout', '30']);
    assert.equal(one.code, 0, one.stderr);
    const row = JSON.parse(one.stdout) as FleetRow;
    assert.equal(row.device, 'synth-007');
    assert.equal(row.fps, 5);
    console.log(`      plain table of ${lines.length - 1} devices: ${ms} ms from spawn to exit`);
  });

  it('`stats` is an alias: JSON lines when piped; bad options exit 64; an empty broker times out with exit 1', async () => {
    const r = await runCli(['stats', '--url', broker.url, '--device', 'synth-003', '--once', '--timeout', '30']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).last_error, 'camera restart: synthetic failure 3');
    assert.equal((await runCli(['fleet', '--device', 'a/b', '--once'])).code, 64);
    assert.equal((await runCli(['fleet', '--url', 'localhost:1883'])).code, 64);
    assert.equal((await runCli(['fleet', '--timeout', '5'])).code, 64);
    assert.equal((await runCli(['fleet', '--base', 'a/+/b', '--once'])).code, 64);
    const none = await runCli(['fleet', '--url', broker.url, '--base', 'nobody', '--once', '--timeout', '1']);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no device on nobody\/\+\/availability .* within 1000 ms/);
    const help = await runCli(['fleet', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: edgesight fleet/);
  });
});
