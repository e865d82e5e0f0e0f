import assert from 'node:assert/strict';
import pinoPkg from 'pino';
import { firstValueFrom, from, NEVER, toArray } from 'rxjs';
import { parseConfigText } from '../../src/config/load.js';
import type { Frame } from '../../src/capture/frame.js';
import type { InferenceEngine } from '../../src/inference/engine.js';
import { topicsFor } from '../../src/mqtt/topics.js';
import { runPipeline, type FrameResult, type PipelineEvent } from '../../src/pipeline/pipeline.js';
import { ResultPublisher } from '../../src/publish/result-publisher.js';
import { DETECTOR, FakeEngine, manifest } from '../helpers/fake-engine.js';

/**
 * runPipeline and the result publisher in-process: an array of frames, the fake engine (one person,
 * scored by run) and a publisher that records what it is handed. No broker, no worker: exact and fast.
 */
const cfg = (yaml = '') =>
  parseConfigText(`device: { id: w }\ncamera: { name: cam }\ntracking: { min_hits: 1 }\nmqtt: { events: { min_duration_s: 0 } }\n${yaml}`, null, {
    env: {},
  }).config;
const detector = { manifestPath: DETECTOR, manifest, file: DETECTOR };
const frame = (id: number): Frame => ({
  kind: 'raw',
  id,
  capturedAt: 1000 * id,
  capturedMono: performance.now(),
  data: Buffer.alloc(32 * 24 * 3, 100),
  format: 'rgb24',
  width: 32,
  height: 24,
  stride: 32 * 3,
});

describe('pipeline and result publisher in-process (fake engine, from([...]) frames, fake publisher)', () => {
  it("runPipeline: every frame of from([...]) comes out once, with the engine's detections over the label threshold", async () => {
    const engine = new FakeEngine((n) => [0.9, 0.3, 0.9][n]!);
    const events: PipelineEvent['type'][] = [];
    const c = cfg();
    // one frame at a time: from() would offer all three while the first is preprocessed (drop-if-busy)
    const results: FrameResult[] = [];
    for (const f of [frame(1), frame(2), frame(3)]) {
      const out = await firstValueFrom(
        runPipeline(
          from([f]),
          { engine: engine as unknown as InferenceEngine, detector, segmenter: null, config: () => c, onEvent: (e) => events.push(e.type) },
          NEVER,
        ).pipe(toArray()),
      );
      results.push(...out);
    }
    assert.deepEqual(
      results.map((r) => r.frameId),
      [1, 2, 3],
    );
    assert.deepEqual(
      results.map((r) => r.detections.map((d) => d.label)),
      [['person'], [], ['person']],
    );
    // 0.3 is under the 0.45 threshold but over tracking.low_score 0.2: kept for the tracker only
    assert.deepEqual(
      results[1]!.lowDetections.map((d) => d.label),
      ['person'],
    );
    assert.deepEqual(events, ['captured', 'captured', 'captured']);
  });

  it('ResultPublisher: a person appears once, applyConfig keeps the track (no 0, no second new), finish ends it', async () => {
    const engine = new FakeEngine(() => 0.9);
    const c = cfg();
    const sent: Array<{ topic: string; payload: string }> = [];
    const topics = topicsFor(c.mqtt.base_topic, c.device.id, c.camera.name);
    const log = pinoPkg.pino({ level: 'silent' });
    const pub = new ResultPublisher(c, topics, { publish: (topic, payload) => void sent.push({ topic, payload: payload.toString() }) }, log);
    const run = async (id: number, conf = c): Promise<void> => {
      const [r] = await firstValueFrom(
        runPipeline(from([frame(id)]), { engine: engine as unknown as InferenceEngine, detector, segmenter: null, config: () => conf }, NEVER).pipe(
          toArray(),
        ),
      );
      await pub.onResult(r!);
    };
    await run(1);
    await run(2);
    pub.applyConfig(cfg('detection: { score_threshold: 0.5 }'));
    await run(3);
    pub.finish();
    const counts = sent.filter((m) => m.topic === topics.objects('person')).map((m) => m.payload);
    assert.deepEqual(counts, ['1', '0'], 'one person from frame 1 until finish');
    const types = sent.filter((m) => m.topic === topics.events).map((m) => (JSON.parse(m.payload) as { type: string }).type);
    assert.equal(types.filter((t) => t === 'new').length, 1);
    assert.equal(types[types.length - 1], 'end');
    assert.equal(sent.filter((m) => m.topic === topics.detections).length, 3);
  });
});
