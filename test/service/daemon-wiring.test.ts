import assert from 'node:assert/strict';
import path from 'node:path';
import { Writable } from 'node:stream';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { BehaviorSubject, concatMap, filter, from, interval, map, of, take, type Observable } from 'rxjs';
import { parseConfigText } from '../../src/config/load.js';
import type { LoadedConfig } from '../../src/config/types.js';
import type { Frame } from '../../src/capture/frame.js';
import type { InferenceEngine } from '../../src/inference/engine.js';
import { SsdDecoder } from '../../src/postprocess/detections.js';
import { detectionOptions } from '../../src/pipeline/detection-options.js';
import { topicsFor } from '../../src/mqtt/topics.js';
import { Daemon } from '../../src/service/daemon.js';
import { EVENT_TABLE } from '../../src/service/event-table.js';
import { DETECTOR, FakeEngine, manifest, outputs, spec } from '../helpers/fake-engine.js';
import { REPO } from '../helpers/paths.js';

/**
 * The daemon wired in-process: the real components, the embedded broker on a free port and a real MQTT
 * subscriber; only the inference engine is fake (deterministic outputs: one person at a fixed anchor,
 * scored by frame) and frames come from an array, each sent once the engine has taken the one before
 * (so nothing is skipped and every count is exact).
 */
/** 64×48 grey RGB frames (after `extra`), each released once the daemon has finished the one before (`done` counts them). */
function frameSource(n: number, done: () => number, extra: Frame[] = [], release: () => number = () => Infinity): Observable<Frame> {
  const frames: Frame[] = Array.from({ length: n }, (_, i) => ({
    kind: 'raw',
    id: i + 1,
    capturedAt: 0,
    capturedMono: 0,
    data: Buffer.alloc(64 * 48 * 3, 128),
    format: 'rgb24',
    width: 64,
    height: 48,
    stride: 64 * 3,
  }));
  return from([...extra, ...frames]).pipe(
    concatMap((f, i) =>
      interval(2).pipe(
        filter(() => done() >= i && i < release()),
        take(1),
        map(() => ({ ...f, capturedAt: Date.now(), capturedMono: performance.now() })),
      ),
    ),
  );
}

interface Harness {
  daemon: Daemon;
  engine: FakeEngine;
  messages: Array<{ topic: string; payload: string; retain: boolean }>;
  logs: Array<{ level: number; msg: string }>;
  sub: mqtt.MqttClient;
  stop: () => Promise<void>;
}

const config = (mqttExtra = '', extra = ''): string => `
device: { id: wiring }
camera: { name: cam }
models: { segmenter: null }
tracking: { min_hits: 1 }
mqtt: { url: null, embedded_broker: { port: 0 }, events: { min_duration_s: 0, end_after_s: 0.2 }${mqttExtra} }
metrics: { log_interval_s: 0 }
state_dir: null
${extra}`;
const BASE = config();

function loaded(yaml: string): LoadedConfig {
  return parseConfigText(yaml, null, { env: {} });
}

async function startDaemon(
  yaml: string,
  opts: { frames: number; score: (run: number) => number; extra?: Frame[]; gate?: Observable<unknown>; release?: () => number },
): Promise<Harness> {
  const logs: Harness['logs'] = [];
  const sink = new Writable({
    write: (chunk: Buffer, _e, cb) => (
      chunk
        .toString()
        .split('\n')
        .filter(Boolean)
        .forEach((l) => logs.push(JSON.parse(l) as { level: number; msg: string })),
      cb()
    ),
  });
  const log = pino({ level: 'debug' }, sink);
  const engine = new FakeEngine(opts.score);
  const lc = loaded(yaml);
  const env = { STATE_DIRECTORY: path.join(REPO, 'dist', 'tmp-wiring-state') };
  const messages: Harness['messages'] = [];
  let sub: mqtt.MqttClient | null = null;
  const finished = (): number => (['frames_processed', 'frames_corrupt', 'frames_skipped'] as const).reduce((n, c) => n + daemon.metrics.total(c), 0);
  const daemon = new Daemon(lc, log, env, {
    loadModels: async () => ({ detector: { manifestPath: DETECTOR, manifest, file: DETECTOR.replace(/\.json$/, '.onnx') }, segmenter: null }),
    createEngine: () => ({ engine: engine as unknown as InferenceEngine, core: 0 }),
    // frames start once the test's subscriber listens (the gate)
    frames: () =>
      (opts.gate ?? of(0)).pipe(
        take(1),
        concatMap(() => frameSource(opts.frames, finished, opts.extra, opts.release)),
      ),
  });
  return {
    daemon,
    engine,
    messages,
    logs,
    get sub() {
      return sub!;
    },
    set sub(s) {
      sub = s;
      s.on('message', (topic, payload, packet) => messages.push({ topic, payload: payload.toString(), retain: packet.retain }));
    },
    stop: async () => {
      await daemon.stop(3000);
      await sub?.endAsync();
    },
  };
}

/** The embedded broker's URL, from the daemon's log line (port 0 = any free port). */
function brokerUrl(h: Harness): string {
  const line = h.logs.find((l) => l.msg.startsWith('mqtt.url is not set')) as { url?: string } | undefined;
  assert.ok(line?.url, 'the daemon logs the embedded broker URL');
  return line.url;
}

const until = async (cond: () => boolean, what: string, ms = 10_000): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('service/daemon in-process: components, the event table and the reload plan', function () {
  this.timeout(60_000);
  const T = topicsFor('edgesight', 'wiring', 'cam');
  const expectedBox = (score: number) => {
    const cfg = loaded(BASE).config;
    const all = new SsdDecoder(spec, manifest.labels).decode(
      outputs(score).det[spec.outputs.scores]!.data,
      outputs(score).det[spec.outputs.boxes]!.data,
      detectionOptions(cfg, manifest.labels, true),
    );
    assert.equal(all.length, 1);
    return all[0]!.box.map((v) => Math.round(v * 1e4) / 1e4);
  };

  it("publishes one detection per frame at the engine's box, counts every frame, and stops in reverse order with offline last", async () => {
    const gate = new BehaviorSubject(false);
    const h = await startDaemon(BASE, { frames: 6, score: () => 0.9, gate: gate.pipe(filter(Boolean)) });
    await h.daemon.start();
    h.sub = await mqtt.connectAsync(brokerUrl(h), { protocolVersion: 4 });
    await h.sub.subscribeAsync(`${T.root}/#`);
    gate.next(true);
    await until(() => h.messages.filter((m) => m.topic === T.detections).length === 6, '6 detection messages');
    const dets = h.messages
      .filter((m) => m.topic === T.detections)
      .map((m) => JSON.parse(m.payload) as { frame_id: number; objects: Array<{ label: string; box: number[] }> });
    assert.deepEqual(
      dets.map((d) => d.frame_id),
      [1, 2, 3, 4, 5, 6],
    );
    for (const d of dets)
      assert.deepEqual(
        d.objects.map((o) => [o.label, o.box]),
        [['person', expectedBox(0.9)]],
      );
    assert.deepEqual(
      h.messages.filter((m) => m.topic === T.objects('person')).map((m) => m.payload),
      ['0', '1'],
      'the retained count: 0 at start, 1 once the person is seen',
    );
    const totals = h.daemon.metrics.counters();
    assert.equal(totals.frames_captured, 6);
    assert.equal(totals.frames_processed, 6);
    assert.equal(totals.frames_skipped, 0);
    await h.stop();
    // the result publisher ends the open object before the connection says offline
    const tail = h.messages.slice(-3).map((m) => `${m.topic}=${m.topic === T.events ? (JSON.parse(m.payload) as { type: string }).type : m.payload}`);
    assert.deepEqual(tail.slice(-1), [`${T.availability}=offline`], tail.join(', '));
    assert.ok(h.messages.some((m) => m.topic === T.events && (JSON.parse(m.payload) as { type: string }).type === 'end'));
  });

  it('SIGHUP in-process: a live key applies to the next frames, the track carries on (no 0, no second new), a restart-only key is reported and kept', async () => {
    const gate = new BehaviorSubject(false);
    // frames 1–4 are let through, then the reload, then 5–8: runs before it score 0.9, runs after it 0.7
    let released = 4;
    const h = await startDaemon(BASE, { frames: 8, score: (n) => (n < 4 ? 0.9 : 0.7), gate: gate.pipe(filter(Boolean)), release: () => released });
    await h.daemon.start();
    h.sub = await mqtt.connectAsync(brokerUrl(h), { protocolVersion: 4 });
    await h.sub.subscribeAsync(`${T.root}/#`);
    gate.next(true);
    await until(() => h.engine.runs$.value >= 4, '4 runs');
    const r = h.daemon.reload(loaded(config(', qos: { state: 0 }', 'objects: { filters: { person: { min_score: 0.8 } } }')));
    released = 8;
    assert.deepEqual(r.applied, ['objects.filters']);
    assert.deepEqual(r.needsRestart, ['mqtt.qos.state']);
    assert.equal(h.daemon.config.mqtt.qos.state, 1, 'the running value is kept');
    assert.equal(h.daemon.config.objects.filters.person?.min_score, 0.8);
    await until(() => h.messages.filter((m) => m.topic === T.detections).length === 8, '8 detection messages');
    const perFrame = h.messages.filter((m) => m.topic === T.detections).map((m) => (JSON.parse(m.payload) as { objects: unknown[] }).objects.length);
    // frames 1–4 scored 0.9 before the reload; 5–8 score 0.7, under the new per-label 0.8
    assert.deepEqual(perFrame, [1, 1, 1, 1, 0, 0, 0, 0]);
    const newEvents = h.messages.filter((m) => m.topic === T.events && (JSON.parse(m.payload) as { type: string }).type === 'new');
    assert.equal(newEvents.length, 1, 'one person, one `new`');
    // the reload republishes retained state from the same publisher: the count stays 1 (the old defect went 1 → 0 → 1)
    const counts = h.messages.filter((m) => m.topic === T.objects('person')).map((m) => m.payload);
    assert.deepEqual(
      counts.slice(counts.indexOf('1')).filter((c) => c !== '1'),
      [],
      counts.join(' '),
    );
    await h.stop();
  });

  it('the event table routes a corrupt frame to its counter and a throttled warning', async () => {
    const corrupt: Frame = {
      kind: 'encoded',
      id: 0,
      capturedAt: Date.now(),
      capturedMono: performance.now(),
      data: Buffer.from('not a jpeg'),
      format: 'jpeg',
    };
    const h = await startDaemon(BASE, { frames: 2, score: () => 0.9, extra: [corrupt] });
    await h.daemon.start();
    await until(() => h.daemon.metrics.total('frames_processed') === 2, '2 processed frames');
    assert.equal(h.daemon.metrics.total('frames_corrupt'), 1);
    assert.equal(h.daemon.metrics.total('frames_captured'), 3);
    assert.equal(h.logs.filter((l) => l.msg === EVENT_TABLE['pipeline:corrupt'].log!.msg).length, 1);
    await h.stop();
  });
});
