import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { fromPerfNow, nowMs, stageDurations, STAGES, STAGE_DEFINITIONS, type FrameTimings } from '../../src/metrics/timing.js';

describe('metrics/timing', () => {
  it('derives every stage from a full set of stamps', () => {
    const t: FrameTimings = {
      captured: 1000,
      received: 1003,
      decoded: 1010,
      preprocessed: 1020,
      detStart: 1025,
      detEnd: 1065,
      segStart: 1066,
      segEnd: 1156,
      postprocessed: 1160,
      published: 1162,
    };
    const { durations, anomalies } = stageDurations(t);
    assert.deepEqual(anomalies, []);
    assert.deepEqual(durations, {
      receive: 3,
      decode: 7,
      preprocess: 10,
      queue: 5,
      detector: 40,
      segmenter: 90,
      inference: 131,
      postprocess: 4,
      publish: 2,
      pipeline: 160,
      end_to_end: 162,
    });
  });

  it('falls back to the previous present stamp and omits stages that did not run', () => {
    // raw frame (no decode), no segmentation, result rate-limited (not published)
    const { durations } = stageDurations({ captured: 0, received: 1, preprocessed: 4, detStart: 6, detEnd: 36, postprocessed: 40 });
    assert.deepEqual(durations, { receive: 1, preprocess: 3, queue: 2, detector: 30, inference: 30, postprocess: 4, pipeline: 40 });
  });

  it('reports out-of-order stamps as anomalies instead of negative durations', () => {
    const { durations, anomalies } = stageDurations({ captured: 100, received: 90, detStart: 120, detEnd: 110 });
    assert.deepEqual(anomalies.sort(), ['detector', 'inference', 'receive']);
    assert.equal(durations.receive, undefined);
    assert.equal(durations.queue, 30);
  });

  it('documents every stage', () => {
    for (const s of STAGES) assert.ok(STAGE_DEFINITIONS[s].length > 10, s);
  });

  it('nowMs is monotonic and fromPerfNow maps performance.now onto it', () => {
    const a = nowMs();
    const p = performance.now();
    const b = nowMs();
    assert.ok(b >= a);
    const mapped = fromPerfNow(p);
    // the mapped stamp falls between the two direct reads (allow 1 ms for the offset measurement)
    assert.ok(mapped >= a - 1 && mapped <= b + 1, `mapped ${mapped} not in [${a}, ${b}]`);
  });

  it('gives worker-thread stamps on the same clock as the main thread', async () => {
    const src = `
      const { parentPort } = require('node:worker_threads');
      parentPort.postMessage(Number(process.hrtime.bigint() / 1000n) / 1000);
    `;
    const before = nowMs();
    const w = new Worker(src, { eval: true });
    const inWorker = await new Promise<number>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
    const after = nowMs();
    await w.terminate();
    assert.ok(inWorker >= before && inWorker <= after, `worker stamp ${inWorker} outside [${before}, ${after}]`);
  });
});
