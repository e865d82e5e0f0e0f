import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import sharp from 'sharp';
import { compileAllSchemas, validatePayload, SCHEMA_DIR } from '../helpers/schema.js';
import { TOPIC_POLICY, type TopicKind } from '../../src/mqtt/topics.js';
import { buildMaskPayload } from '../../src/render/mask-encoding.js';
import { Metrics } from '../../src/metrics/registry.js';

const VOC = [
  'background',
  'aeroplane',
  'bicycle',
  'bird',
  'boat',
  'bottle',
  'bus',
  'car',
  'cat',
  'chair',
  'cow',
  'diningtable',
  'dog',
  'horse',
  'motorbike',
  'person',
  'pottedplant',
  'sheep',
  'sofa',
  'train',
  'tvmonitor',
];

const detections = {
  v: 2,
  seq: 1,
  camera: 'front',
  frame_id: 1042,
  captured_at: 1718000000123,
  published_at: 1718000000171,
  width: 640,
  height: 480,
  objects: [
    {
      label: 'person',
      class_id: 1,
      score: 0.87,
      box: [0.1, 0.2, 0.35, 0.9],
      box_px: [64, 96, 224, 432],
      track_id: 'front-1718000000023-4',
      zones: ['porch'],
    },
  ],
};

const event = {
  v: 2,
  seq: 3,
  type: 'new',
  id: 'front-1718000000123-4',
  camera: 'front',
  label: 'person',
  start_time: 1718000000123,
  end_time: null,
  score: 0.8,
  box: [0.12, 0.2, 0.36, 0.9],
  best_score: 0.87,
  best_box: [0.1, 0.2, 0.35, 0.9],
  zones: ['porch'],
  entered_zones: ['porch'],
  stationary: false,
  duration_s: 1.2,
};
const crossed = {
  v: 2,
  seq: 4,
  type: 'crossed',
  id: 'front-1718000000123-4',
  camera: 'front',
  label: 'person',
  line: 'door',
  direction: 'in',
  time: 1718000001123,
  in: 3,
  out: 1,
};

describe('mqtt/schemas', () => {
  it('every topic kind has a schema file and every schema compiles in ajv strict mode', () => {
    const files = readdirSync(SCHEMA_DIR)
      .filter((f) => f.endsWith('.schema.json'))
      .map((f) => f.replace('.schema.json', ''))
      .sort();
    const kinds = [...Object.keys(TOPIC_POLICY), 'snapshot_get'].sort();
    assert.deepEqual(files, kinds);
    assert.equal(compileAllSchemas().size, kinds.length);
  });

  describe('valid payloads pass', () => {
    it('availability (text)', () => {
      assert.equal(validatePayload('availability', Buffer.from('online')), 'online');
      assert.equal(validatePayload('availability', 'offline'), 'offline');
    });
    it('objects (decimal text)', () => {
      assert.equal(validatePayload('objects', Buffer.from('0')), 0);
      assert.equal(validatePayload('objects', '12'), 12);
    });
    it('detections, as a Buffer and as an object; empty objects allowed', () => {
      validatePayload('detections', Buffer.from(JSON.stringify(detections)));
      validatePayload('detections', { ...detections, objects: [] });
    });
    it('events new/update/end', () => {
      validatePayload('events', event);
      validatePayload('events', { ...event, type: 'update', stationary: true });
      validatePayload('events', { ...event, type: 'end', zones: [], end_time: 1718000004000, duration_s: 3.877 });
      validatePayload('events', crossed);
    });
    it('zones and lines (text)', () => {
      assert.equal(validatePayload('zone_occupied', 'ON'), 'ON');
      assert.equal(validatePayload('zone_count', '3'), 3);
      assert.equal(validatePayload('zone_coverage', '0.37'), 0.37);
      assert.equal(validatePayload('line_count', Buffer.from('12')), 12);
    });
    it('info and stats', () => {
      validatePayload('info', {
        v: 2,
        version: '0.1.0',
        device: 'pi5',
        device_name: 'Front door',
        base_topic: 'edgesight',
        started_at: 1718000000000,
        arch: 'arm64',
        cameras: [{ name: 'front', source: 'libcamera', width: 640, height: 480, fps: 10 }],
        models: {
          detector: { name: 'ssdlite_mobilenet_v3_small_coco', precision: 'int8', sha256: 'a'.repeat(64), labels_tracked: ['person', 'car'] },
          segmenter: null,
        },
        inference: { cpus_allowed_list: '3', threads: 1 },
        config: { mqtt: { url: 'mqtt://broker', password: '***' } },
      });
      const metrics = new Metrics({ device: 'pi5' });
      try {
        validatePayload('stats', metrics.snapshot());
      } finally {
        metrics.stop();
      }
    });
    for (const encoding of ['png', 'rle'] as const) {
      it(`mask (${encoding}) built by buildMaskPayload`, async () => {
        const map = new Uint8Array(40 * 30);
        map.fill(15, 300, 500);
        const payload = await buildMaskPayload({
          camera: 'front',
          frameId: 7,
          capturedAt: 1718000000123.4,
          publishedAt: 1718000000190.6,
          map,
          width: 40,
          height: 30,
          frameWidth: 640,
          frameHeight: 480,
          classes: VOC,
          encoding,
        });
        const parsed = validatePayload('mask', Buffer.from(JSON.stringify(payload))) as Record<string, unknown>;
        assert.equal(parsed.encoding, encoding);
      });
    }
    it('snapshot (a real JPEG)', async () => {
      const jpeg = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#123456' } })
        .jpeg()
        .toBuffer();
      validatePayload('snapshot', jpeg);
    });
  });

  describe('invalid payloads fail, listing every error', () => {
    const bad: Array<[TopicKind, unknown, RegExp[]]> = [
      ['availability', 'maybe', [/must be equal to one of the allowed values/]],
      ['objects', '-1', [/not a plain decimal integer/]],
      ['objects', '1.5', [/not a plain decimal integer/]],
      ['objects', '{"count":1}', [/not a plain decimal integer/]],
      ['detections', '{not json', [/not JSON/]],
      ['detections', { ...detections, v: 1 }, [/\/v must be equal to constant/]],
      ['detections', { ...detections, objects: [{ ...detections.objects[0], track_id: undefined }] }, [/required property 'track_id'/]],
      ['detections', { ...detections, frameId: 1 }, [/must NOT have additional properties/, /frameId/]],
      [
        'detections',
        { ...detections, objects: [{ label: 'person', class_id: -1, score: 1.2, box: [0.1, 0.2, 1.5] }] },
        [/\/objects\/0\/class_id must be >= 0/, /\/objects\/0\/score must be <= 1/, /\/objects\/0\/box must NOT have fewer than 4 items/],
      ],
      [
        'detections',
        { ...detections, objects: [{ label: 'person', class_id: 1, score: 0.5, box: [0.5, 0.2, 0.1, 0.9], track_id: null, zones: [] }] },
        [/corners are not ordered/],
      ],
      ['detections', { ...detections, captured_at: '2024-06-10T00:00:00Z' }, [/\/captured_at must be integer/]],
      ['events', { ...event, type: 'start' }, [/\/type must be equal to one of the allowed values/]],
      ['events', { ...event, type: 'end', zones: [], end_time: null }, [/\/end_time must be integer/]],
      ['events', { ...event, end_time: 1718000009999 }, [/\/end_time must be null/]],
      ['events', { ...event, seq: 0 }, [/\/seq must be >= 1/]],
      ['events', { ...event, count: 1 }, [/must NOT have additional properties/]],
      ['events', { ...event, type: 'end', zones: [], end_time: 5 }, [/before \/start_time/]],
      ['events', { ...event, score: 0.9 }, [/exceeds \/best_score/]],
      ['events', { ...crossed, direction: 'left' }, [/must be equal to one of the allowed values/]],
      ['zone_occupied', 'on', [/must be equal to one of the allowed values/]],
      ['zone_coverage', '1.5', [/not a plain decimal number/]],
      [
        'mask',
        {
          v: 2,
          camera: 'c',
          frame_id: 1,
          captured_at: 1,
          published_at: 1,
          width: 2,
          height: 2,
          frame_width: 4,
          frame_height: 4,
          classes: ['bg'],
          encoding: 'rle',
          data: 'AAAA',
        },
        [/\/data must be array/],
      ],
      [
        'mask',
        {
          v: 2,
          camera: 'c',
          frame_id: 1,
          captured_at: 1,
          published_at: 1,
          width: 2,
          height: 2,
          frame_width: 4,
          frame_height: 4,
          classes: ['bg'],
          encoding: 'png',
          data: [0, 4],
        },
        [/\/data must be string/],
      ],
      [
        'mask',
        {
          v: 2,
          camera: 'c',
          frame_id: 1,
          captured_at: 1,
          published_at: 1,
          width: 2,
          height: 2,
          frame_width: 4,
          frame_height: 4,
          classes: ['bg'],
          encoding: 'rle',
          data: [0, 3],
        },
        [/does not decode: .*add up to 3/],
      ],
      [
        'mask',
        {
          v: 2,
          camera: 'c',
          frame_id: 1,
          captured_at: 1,
          published_at: 1,
          width: 2,
          height: 2,
          frame_width: 4,
          frame_height: 4,
          classes: ['bg'],
          encoding: 'rle',
          data: [0, 2, 3, 2],
        },
        [/class index 3 but \/classes names only 1/],
      ],
      [
        'mask',
        { v: 2, encoding: 'gif' },
        [/must have required property 'camera'/, /must have required property 'data'/, /\/encoding must be equal to one of the allowed values/],
      ],
      ['stats', { fps: 1 }, [/must have required property 'v'/, /must have required property 'camera_fps'/, /must NOT have additional properties/]],
      ['info', { v: 2 }, [/required property 'version'/, /required property 'models'/]],
      // mask, info and stats gained seq with the object payloads: version 1 is refused like detections' and events'
      ['info', { v: 1 }, [/\/v must be equal to constant/]],
      [
        'mask',
        {
          v: 1,
          camera: 'c',
          frame_id: 1,
          captured_at: 1,
          published_at: 1,
          width: 2,
          height: 2,
          frame_width: 4,
          frame_height: 4,
          classes: ['bg'],
          encoding: 'rle',
          data: [0, 4],
        },
        [/\/v must be equal to constant/],
      ],
      ['stats', { v: 1 }, [/\/v must be equal to constant/]],
      ['snapshot', Buffer.from('not a jpeg'), [/SOI/, /EOI/]],
    ];
    for (const [kind, payload, res] of bad) {
      it(`${kind}: ${JSON.stringify(payload).slice(0, 70)}`, () => {
        assert.throws(
          () => validatePayload(kind, payload),
          (e: Error) => {
            for (const re of res) assert.match(e.message, re);
            return true;
          },
        );
      });
    }
  });
});
