import assert from 'node:assert/strict';
import {
  validateTopicId,
  labelSlug,
  topicsFor,
  deviceTopics,
  assertPublishable,
  parseTopic,
  TOPIC_POLICY,
  TopicError,
} from '../../src/mqtt/topics.js';

describe('mqtt/topics', () => {
  describe('validateTopicId', () => {
    it('accepts ordinary device and camera ids', () => {
      for (const id of ['pi5-kitchen', 'front_door', 'cam1', 'Garage.Cam']) {
        assert.equal(validateTopicId('device', id), id);
        assert.equal(validateTopicId('camera', id), id);
      }
    });
    const bad: Array<[string, RegExp]> = [
      ['', /empty/],
      ['a+b', /wildcards/],
      ['a#', /wildcards/],
      ['a/b', /must not contain "\/"/],
      ['$SYS', /must not start with "\$"/],
      ['a\u0000b', /NUL/],
      ['front door', /whitespace/],
      ['tab\there', /whitespace or control/],
      ['x'.repeat(65), /longer than 64/],
    ];
    for (const [value, re] of bad) {
      it(`rejects ${JSON.stringify(value).slice(0, 20)} naming the problem and the kind`, () => {
        assert.throws(
          () => validateTopicId('camera', value),
          (e: Error) => e instanceof TopicError && re.test(e.message) && /camera id/.test(e.message),
        );
      });
    }
    it('rejects non-strings', () => {
      assert.throws(() => validateTopicId('device', 7), /device id must be a string, got number/);
    });
    it('lets the base topic span levels but checks each level', () => {
      assert.equal(validateTopicId('base', 'home/edgesight'), 'home/edgesight');
      assert.throws(() => validateTopicId('base', 'home//edgesight'), /empty topic level/);
      assert.throws(() => validateTopicId('base', '/edgesight'), /must not start or end/);
      assert.throws(() => validateTopicId('base', 'edgesight/'), /must not start or end/);
      assert.throws(() => validateTopicId('base', 'home/+'), /wildcards/);
      assert.throws(() => validateTopicId('base', '$SYS/x'), /"\$"/);
    });
  });

  describe('labelSlug', () => {
    const cases: Array<[string, string]> = [
      ['person', 'person'],
      ['traffic light', 'traffic_light'],
      ['Potted Plant', 'potted_plant'],
      ['  hair   drier ', 'hair_drier'],
      ['tv/monitor', 'tv_monitor'],
      ['café', 'cafe'],
      ['diningtable', 'diningtable'],
    ];
    for (const [label, slug] of cases) it(`${JSON.stringify(label)} → ${slug}`, () => assert.equal(labelSlug(label), slug));
    it('refuses labels with nothing to slug', () => {
      assert.throws(() => labelSlug('+++'), /no letters or digits/);
      assert.throws(() => labelSlug(''), /no letters or digits/);
    });
  });

  describe('topicsFor', () => {
    it('builds every topic under <base>/<device>/', () => {
      const t = topicsFor('edgesight', 'pi5', 'front');
      assert.deepEqual(
        {
          a: t.availability,
          i: t.info,
          s: t.stats,
          d: t.detections,
          m: t.mask,
          e: t.events,
          sn: t.snapshot,
          g: t.snapshotGet,
          o: t.objects('traffic light'),
          of: t.objectsFilter,
          all: t.all,
        },
        {
          a: 'edgesight/pi5/availability',
          i: 'edgesight/pi5/info',
          s: 'edgesight/pi5/stats',
          d: 'edgesight/pi5/front/detections',
          m: 'edgesight/pi5/front/mask',
          e: 'edgesight/pi5/front/events',
          sn: 'edgesight/pi5/front/snapshot',
          g: 'edgesight/pi5/front/snapshot/get',
          o: 'edgesight/pi5/front/objects/traffic_light',
          of: 'edgesight/pi5/front/objects/+',
          all: 'edgesight/pi5/#',
        },
      );
    });
    it('validates its ids', () => {
      assert.throws(() => topicsFor('edgesight', 'pi+5', 'front'), /device id/);
      assert.throws(() => topicsFor('edgesight', 'pi5', 'fr/ont'), /camera id/);
      assert.throws(() => deviceTopics('', 'pi5'), /base topic must not be empty/);
    });
    it('every publish topic passes assertPublishable; the filters do not', () => {
      const t = topicsFor('home/edgesight', 'pi5', 'front');
      for (const topic of [t.availability, t.info, t.stats, t.detections, t.mask, t.events, t.snapshot, t.objects('person')])
        assert.equal(assertPublishable(topic), topic);
      assert.throws(() => assertPublishable(t.objectsFilter), /wildcards/);
      assert.throws(() => assertPublishable(t.all), /wildcards/);
    });
  });

  describe('assertPublishable', () => {
    it('refuses empty, wildcard, NUL and over-long topics', () => {
      assert.throws(() => assertPublishable(''), /empty/);
      assert.throws(() => assertPublishable('a/+/b'), /wildcards/);
      assert.throws(() => assertPublishable('a/#'), /wildcards/);
      assert.throws(() => assertPublishable('a\u0000'), /NUL/);
      assert.throws(() => assertPublishable('x'.repeat(65536)), /65535 bytes/);
    });
  });

  describe('parseTopic', () => {
    it('round-trips every built topic', () => {
      const t = topicsFor('home/edgesight', 'pi5', 'front');
      assert.deepEqual(parseTopic('home/edgesight', 'pi5', t.availability), { kind: 'availability' });
      assert.deepEqual(parseTopic('home/edgesight', 'pi5', t.info), { kind: 'info' });
      assert.deepEqual(parseTopic('home/edgesight', 'pi5', t.stats), { kind: 'stats' });
      for (const k of ['detections', 'mask', 'events', 'snapshot'] as const)
        assert.deepEqual(parseTopic('home/edgesight', 'pi5', t[k]), { kind: k, camera: 'front' });
      assert.deepEqual(parseTopic('home/edgesight', 'pi5', t.snapshotGet), { kind: 'snapshot_get', camera: 'front' });
      assert.deepEqual(parseTopic('home/edgesight', 'pi5', t.zoneOccupied('porch')), { kind: 'zone_occupied', camera: 'front', zone: 'porch' });
      assert.deepEqual(parseTopic('home/edgesight', 'pi5', t.zoneCount('porch', 'traffic light')), {
        kind: 'zone_count',
        camera: 'front',
        zone: 'porch',
        label: 'traffic_light',
      });
      assert.deepEqual(parseTopic('home/edgesight', 'pi5', t.zoneCoverage('porch', 'person')), {
        kind: 'zone_coverage',
        camera: 'front',
        zone: 'porch',
        label: 'person',
      });
      assert.deepEqual(parseTopic('home/edgesight', 'pi5', t.lineCount('door', 'out')), {
        kind: 'line_count',
        camera: 'front',
        line: 'door',
        direction: 'out',
      });
      assert.throws(() => t.zoneOccupied('a/b'), /must not contain "\/"/);
      assert.deepEqual(parseTopic('home/edgesight', 'pi5', t.objects('traffic light')), { kind: 'objects', camera: 'front', label: 'traffic_light' });
    });
    it('returns null for foreign topics', () => {
      for (const topic of [
        'other/pi5/info',
        'home/edgesight/pi6/info',
        'home/edgesight/pi5/front',
        'home/edgesight/pi5/front/objects',
        'home/edgesight/pi5/front/snapshot/put',
        'home/edgesight/pi5/front/detections/x',
        'home/edgesight/pi5/nope',
      ]) {
        assert.equal(parseTopic('home/edgesight', 'pi5', topic), null, topic);
      }
    });
  });

  it('retained topics are exactly availability, info, objects and the zone and line state', () => {
    const retained = Object.entries(TOPIC_POLICY)
      .filter(([, p]) => p.retain)
      .map(([k]) => k)
      .sort();
    assert.deepEqual(retained, ['availability', 'info', 'line_count', 'objects', 'zone_count', 'zone_coverage', 'zone_occupied']);
  });
});
