/** The payload builders used by the daemon produce what the published schemas promise. */
import assert from 'node:assert/strict';
import { detectionsPayload } from '../../src/publish/detections-payload.js';
import type { FrameResult } from '../../src/pipeline/pipeline.js';
import { validatePayload } from '../helpers/schema.js';

describe('mqtt payload builders vs schemas', () => {
  it('detectionsPayload validates, including boxes touching the frame edges and an empty frame', () => {
    const result = {
      frameId: 17,
      capturedAt: Date.now(),
      width: 640,
      height: 480,
      detections: [
        { label: 'person', class_id: 1, score: 0.876543, box: [0.1, 0.2, 0.35, 0.9], anchor: 5 },
        { label: 'traffic light', class_id: 10, score: 1, box: [0, 0, 1, 1], anchor: 9 },
      ],
      timings: {},
      frame: { kind: 'encoded', id: 17, capturedAt: 0, capturedMono: 0, data: Buffer.alloc(0), format: 'jpeg' },
    } as unknown as FrameResult;
    const p = validatePayload('detections', JSON.stringify({ ...detectionsPayload(result, Date.now()), seq: 1 })) as {
      objects: Array<{ box_px: number[] }>;
    };
    assert.deepEqual(p.objects[1]!.box_px, [0, 0, 640, 480]);
    validatePayload('detections', JSON.stringify({ ...detectionsPayload({ ...result, detections: [] }, Date.now()), seq: 2 }));
  });
});
