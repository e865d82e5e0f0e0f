import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { startMosquittoSub, type MosquittoSub, type SubMessage } from '../helpers/mosquitto.js';
import { writeConfig, type DaemonProc } from '../helpers/daemon.js';
import { useE2e, filesCameraYaml } from '../helpers/e2e.js';
import { validatePayload, SCHEMA_DIR, REPO_ROOT } from '../helpers/schema.js';
import { parseTopic, TOPIC_POLICY, type TopicKind } from '../../src/mqtt/topics.js';
import { decodeMask } from '../../src/render/mask-encoding.js';
import { photo } from '../helpers/paths.js';

const DEVICE = 'contract';
const ROOT = `edgesight/${DEVICE}`;
const CAM = `${ROOT}/cam1`;
const PASSWORD = 'hunter2';
const ASTRONAUT = photo('astronaut.png');
const TRACKED = ['person', 'bicycle', 'car', 'motorcycle', 'bus', 'truck', 'cat', 'dog'];

interface Detections {
  frame_id: number;
  captured_at: number;
  width: number;
  height: number;
  objects: Array<{ label: string; score: number; box: [number, number, number, number] }>;
}
interface Mask {
  frame_id: number;
  width: number;
  height: number;
  frame_width: number;
  frame_height: number;
  classes: string[];
  encoding: string;
  data: unknown;
}
interface Event {
  type: string;
  label: string;
  id: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const kindOf = (topic: string): TopicKind => {
  const k = parseTopic('edgesight', DEVICE, topic);
  if (!k) throw new Error(`message on a topic that is not part of the contract: ${topic}`);
  return k.kind;
};

/**
 * One daemon run against a real mosquitto, observed by two independent clients (mqtt.js and
 * mosquitto_sub): every topic of the contract appears, every message validates against its schema,
 * retained/not-retained is as documented, secrets never leave the box, the mask is geometrically
 * consistent with the detections, snapshots are real JPEGs and rate-limited.
 */
describe('e2e: MQTT contract (every topic, schemas, mosquitto_sub)', function () {
  this.timeout(150_000);
  const e2e = useE2e({ topics: [`${ROOT}/#`], daemonPerTest: false });
  let msub: MosquittoSub;
  let daemon: DaemonProc;
  let stopped = false;

  const fail = (e: Error): never => {
    throw new Error(`${e.message}\ndaemon output (tail):\n${daemon.output().slice(-4000)}`);
  };

  before(async () => {
    msub = startMosquittoSub(e2e.broker.port, [`${ROOT}/#`]);
    const cfg = await writeConfig(`
${filesCameraYaml({ device: DEVICE, frames: ASTRONAUT, segmentationEvery: 1 })}
masks: { encoding: png }
mqtt:
  url: ${e2e.broker.url}
  username: edge
  password: ${PASSWORD}
  snapshot: { max_rate_hz: 0.2 }
  events: { min_duration_s: 0.5, end_after_s: 2 }
metrics: { stats_interval_s: 5 }
logging: { level: info, pretty: false }
`);
    daemon = e2e.run(cfg);
    await e2e.sub.waitFor((t, p) => t === `${ROOT}/availability` && p.toString() === 'online', 90_000, 'availability online').catch(fail);
  });

  after(async () => {
    await msub?.stop();
  });

  it('the MQTT stats schema is the metrics stats schema (one contract, two copies kept identical)', () => {
    const mqtt = JSON.parse(readFileSync(path.join(SCHEMA_DIR, 'stats.schema.json'), 'utf8')) as unknown;
    const metrics = JSON.parse(readFileSync(path.join(REPO_ROOT, 'src', 'metrics', 'stats.schema.json'), 'utf8')) as unknown;
    assert.deepEqual(mqtt, metrics, 'src/mqtt/schemas/stats.schema.json differs from src/metrics/stats.schema.json: copy it over');
  });

  it('publishes info, detections with a person, a mask, counts, a new event and stats', async () => {
    await e2e.sub.waitFor((t) => t === `${ROOT}/info`, 10_000, 'info').catch(fail);
    await e2e.sub
      .waitFor(
        (t, p) => t === `${CAM}/detections` && (JSON.parse(p.toString()) as Detections).objects.some((o) => o.label === 'person'),
        30_000,
        'detections with a person',
      )
      .catch(fail);
    await e2e.sub.waitFor((t) => t === `${CAM}/mask`, 30_000, 'a mask').catch(fail);
    await e2e.sub.waitFor((t, p) => t === `${CAM}/objects/person` && p.toString() === '1', 30_000, 'objects/person = 1').catch(fail);
    await e2e.sub.waitFor((t, p) => t === `${CAM}/events` && (JSON.parse(p.toString()) as Event).type === 'new', 30_000, 'a new event').catch(fail);
    // stats every 5 s: allow a few periods on a loaded machine
    await e2e.sub.waitFor((t) => t === `${ROOT}/stats`, 30_000, 'stats').catch(fail);
  });

  it('snapshot/get → one decodable JPEG of the frame size; a second request within 1/max_rate_hz is refused', async () => {
    const isSnap = (t: string): boolean => t === `${CAM}/snapshot`;
    await e2e.sub.client.publishAsync(`${CAM}/snapshot/get`, '', { qos: 1 });
    await e2e.sub.client.publishAsync(`${CAM}/snapshot/get`, 'again', { qos: 1 });
    const first = await e2e.sub.waitFor(isSnap, 20_000, 'a snapshot').catch(fail);
    const firstAt = Date.now();
    validatePayload('snapshot', first.payload);
    const meta = await sharp(first.payload).metadata();
    assert.equal(meta.format, 'jpeg');
    assert.deepEqual([meta.width, meta.height], [512, 512], 'snapshot has the frame size (astronaut.png is 512×512)');
    const { data, info } = await sharp(first.payload).raw().toBuffer({ resolveWithObject: true });
    assert.equal(data.length, info.width * info.height * info.channels, 'snapshot decodes fully');

    // max_rate_hz 0.2 = one per 5 s: the back-to-back second request must not have produced a snapshot
    await sleep(2000);
    assert.equal(
      e2e.sub.messages.filter((m) => isSnap(m.topic)).length,
      1,
      'two requests back to back gave more than one snapshot at max_rate_hz 0.2',
    );

    // …and it is the limiter, not a lost request: once the interval has passed, a request is answered again
    await sleep(Math.max(0, firstAt + 5500 - Date.now()));
    await e2e.sub.client.publishAsync(`${CAM}/snapshot/get`, '', { qos: 1 });
    await e2e.sub
      .waitFor((t) => isSnap(t) && e2e.sub.messages.filter((m) => isSnap(m.topic)).length >= 2, 20_000, 'a second snapshot after the rate interval')
      .catch(fail);
  });

  it('retained: availability, info and every tracked label count; nothing per-frame', async () => {
    const r = startMosquittoSub(e2e.broker.port, [`${ROOT}/#`], ['--retained-only', '-W', '5']);
    const { messages } = await r.done;
    const topics = new Set(messages.map((m) => m.topic));
    const expected = [`${ROOT}/availability`, `${ROOT}/info`, ...TRACKED.map((l) => `${CAM}/objects/${l}`)];
    for (const t of expected) assert.ok(topics.has(t), `${t} is not retained; retained: ${[...topics].join(', ')}`);
    for (const t of topics) assert.ok(expected.includes(t), `${t} is retained but should not be`);
    assert.equal(messages.find((m) => m.topic === `${ROOT}/availability`)!.payload.toString(), 'online');
    assert.equal(messages.find((m) => m.topic === `${CAM}/objects/person`)!.payload.toString(), '1');
  });

  it('SIGTERM: the open event ends, counts drop to 0, availability offline, exit 0', async () => {
    const before = e2e.sub.messages.length;
    daemon.child.kill('SIGTERM');
    const { code } = await daemon.exited;
    stopped = true;
    assert.equal(code, 0, daemon.output().slice(-3000));
    const sinceStop = (): typeof e2e.sub.messages => e2e.sub.messages.slice(before);
    await e2e.sub.waitFor(
      (t, p) =>
        t === `${ROOT}/availability` && p.toString() === 'offline' && sinceStop().some((m) => m.topic === t && m.payload.toString() === 'offline'),
      5000,
      'offline after SIGTERM',
    );
    const ends = sinceStop()
      .filter((m) => m.topic === `${CAM}/events`)
      .map((m) => JSON.parse(m.payload.toString()) as Event);
    assert.deepEqual(
      ends.map((e) => [e.type, e.label]),
      [['end', 'person']],
    );
    const newEvent = e2e.sub.messages
      .map((m) => (m.topic === `${CAM}/events` ? (JSON.parse(m.payload.toString()) as Event) : null))
      .find((e) => e?.type === 'new')!;
    assert.equal(ends[0]!.id, newEvent.id, 'end closes the event that new opened');
    assert.ok(
      sinceStop().some((m) => m.topic === `${CAM}/objects/person` && m.payload.toString() === '0'),
      'objects/person back to 0 on stop',
    );
  });

  it('mosquitto_sub saw every topic of the contract, and every message it saw validates against its schema', async () => {
    assert.ok(stopped, 'runs after the SIGTERM case');
    await sleep(500);
    await msub.stop();
    const { messages, stderr } = await msub.done;
    const byKind = new Map<TopicKind, SubMessage[]>();
    for (const m of messages) {
      const k = kindOf(m.topic);
      byKind.set(k, [...(byKind.get(k) ?? []), m]);
    }
    const kinds: TopicKind[] = ['availability', 'info', 'stats', 'detections', 'mask', 'objects', 'events', 'snapshot', 'snapshot_get'];
    for (const k of kinds) assert.ok(byKind.has(k), `mosquitto_sub saw no ${k} message (saw: ${[...byKind.keys()].join(', ')}; stderr: ${stderr})`);
    let validated = 0;
    for (const [kind, list] of byKind) {
      for (const m of list) {
        try {
          validatePayload(kind, m.payload);
        } catch (e) {
          throw new Error(`${m.topic}: ${(e as Error).message}`);
        }
        validated++;
      }
    }
    assert.ok(validated >= 20, `validated only ${validated} messages`);
    // QoS per topic as documented (mosquitto_sub subscribes at QoS 1, so it sees the publisher's 0 or 1)
    for (const [kind, list] of byKind) {
      if (kind === 'snapshot_get') continue;
      const want = TOPIC_POLICY[kind].qos;
      const got = [...new Set(list.map((m) => m.qos))];
      assert.deepEqual(got, [want], `${kind} delivered at QoS ${got.join('/')}, documented QoS ${want}`);
    }
    // mqtt.js saw the same topics (two independent client libraries agree)
    const mqttJsTopics = new Set(e2e.sub.messages.map((m) => m.topic));
    for (const m of messages) assert.ok(mqttJsTopics.has(m.topic), `mqtt.js never saw ${m.topic}`);
  });

  it('the password is in no message (info carries the config with secrets redacted)', () => {
    const info = JSON.parse(e2e.sub.messages.find((m) => m.topic === `${ROOT}/info`)!.payload.toString()) as {
      config: { mqtt: { password: unknown; username: unknown } };
    };
    assert.equal(info.config.mqtt.password, '***');
    assert.equal(info.config.mqtt.username, 'edge');
    for (const m of e2e.sub.messages) assert.ok(!m.payload.includes(PASSWORD), `${m.topic} contains the password`);
    assert.ok(!daemon.output().includes(PASSWORD), 'the daemon log contains the password');
  });

  it('mask: the person class lies in the person detection box of the same frame', () => {
    const dets = new Map<number, Detections>();
    for (const m of e2e.sub.messages)
      if (m.topic === `${CAM}/detections`)
        dets.set((JSON.parse(m.payload.toString()) as Detections).frame_id, JSON.parse(m.payload.toString()) as Detections);
    const mask = e2e.sub.messages
      .map((m) => (m.topic === `${CAM}/mask` ? (JSON.parse(m.payload.toString()) as Mask) : null))
      .find((m) => m && dets.get(m.frame_id)?.objects.some((o) => o.label === 'person'));
    assert.ok(mask, 'no mask message with a detections message of the same frame containing a person');
    const det = dets.get(mask.frame_id)!;
    assert.deepEqual([mask.frame_width, mask.frame_height], [det.width, det.height]);
    const person = mask.classes.indexOf('person');
    assert.ok(person > 0, `classes has no person: ${mask.classes.join(',')}`);
    const box = det.objects.filter((o) => o.label === 'person').sort((a, b) => b.score - a.score)[0]!.box;
    const map = decodeMask(mask);
    const mx = 1 / mask.width;
    const my = 1 / mask.height;
    let inBox = 0;
    let outBox = 0;
    let boxCells = 0;
    for (let y = 0; y < mask.height; y++) {
      for (let x = 0; x < mask.width; x++) {
        // the cell centre in normalised frame coordinates; one cell of slack for the 1/8-resolution map
        const cx = (x + 0.5) * mx;
        const cy = (y + 0.5) * my;
        const inside = cx >= box[0] - mx && cx <= box[2] + mx && cy >= box[1] - my && cy <= box[3] + my;
        if (inside) boxCells++;
        if (map[y * mask.width + x] !== person) continue;
        if (inside) inBox++;
        else outBox++;
      }
    }
    const total = inBox + outBox;
    const outsideCells = mask.width * mask.height - boxCells;
    console.log(
      `      mask ${mask.width}×${mask.height}: ${total} person cells, ${inBox} inside the box (${((100 * inBox) / total).toFixed(1)}%), box ${JSON.stringify(box)}`,
    );
    assert.ok(inBox >= 0.25 * boxCells, `only ${inBox} of ${boxCells} cells in the person box are person: the mask misses the person`);
    // The v0 segmenter is weak (person IoU ~0.5, MODELS.md): a few cells outside the box (a flag stripe at the
    // frame edge on this photo) are expected, so "inside" is measured as a share, not as all cells.
    assert.ok(inBox / total >= 0.9, `${outBox} of ${total} person cells lie outside the person box`);
    assert.ok(inBox / boxCells > 4 * (outBox / Math.max(1, outsideCells)), 'person cells are not concentrated in the box');
  });
});
