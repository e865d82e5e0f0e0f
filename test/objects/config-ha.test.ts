import assert from 'node:assert/strict';
import { pino } from 'pino';
import { parseConfigText } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/errors.js';
import type { Config } from '../../src/config/types.js';
import { topicsFor } from '../../src/mqtt/topics.js';
import { buildEntities, HomeAssistantDiscovery } from '../../src/homeassistant/discovery.js';
import { planReload } from '../../src/service/reload.js';
import { configuredVocabulary } from '../../src/models/vocabulary.js';

const load = (yaml: string): Config => parseConfigText(yaml, null, { env: {}, hostname: 'h' }).config;
function problems(yaml: string): string {
  try {
    parseConfigText(yaml, null, { env: {}, hostname: 'h', vocabulary: configuredVocabulary });
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e.format();
  }
  assert.fail('the config was accepted');
}

const PLACES = `device: { id: dev }
camera: { name: cam }
objects: { track: [person, car] }
zones:
  table:
    polygon: [[0.4, 0.5], [0.75, 0.5], [0.75, 1], [0.4, 1]]
    labels: [person]
lines:
  exit: { points: [[0.85, 0.4], [0.85, 1]], reset: daily }
privacy: { classes: [person], mode: blur }
mqtt: { homeassistant: { enabled: true } }
`;

describe('config: zones, lines, privacy', () => {
  it('a valid config loads with defaults filled in', () => {
    const c = load(PLACES);
    assert.deepEqual(c.zones.table, {
      polygon: [
        [0.4, 0.5],
        [0.75, 0.5],
        [0.75, 1],
        [0.4, 1],
      ],
      labels: ['person'],
      min_duration_s: 0,
      min_coverage: null,
    });
    assert.deepEqual(c.lines.exit, {
      points: [
        [0.85, 0.4],
        [0.85, 1],
      ],
      labels: [],
      reset: 'daily',
    });
    assert.equal(c.privacy.dilate_px, 12);
    assert.equal(c.state_dir, null);
    assert.equal(c.tracking.min_hits, 3);
  });

  it('refuses polygons with fewer than 3 points, outside 0..1, or crossing themselves, with line numbers', () => {
    const text = problems(`objects: { track: [person] }
zones:
  a: { polygon: [[0.1, 0.1], [0.2, 0.2]] }
  b: { polygon: [[0.1, 0.1], [1.2, 0.2], [0.5, 0.9]] }
`);
    assert.match(text, /:3: zones\.a\.polygon: must NOT have fewer than 3 items/);
    assert.match(text, /:4: zones\.b\.polygon\.1\.0: must be <= 1/);
    const bow = problems(`objects: { track: [person] }
zones:
  bow:
    polygon: [[0.1, 0.1], [0.5, 0.5], [0.5, 0.1], [0.1, 0.5]]
`);
    assert.match(bow, /:4: zones\.bow\.polygon: edges 0–1 and 2–3 cross/);
  });

  it('refuses unknown labels and classes with line numbers and a suggestion', () => {
    const text = problems(`objects: { track: [person] }
zones:
  door:
    polygon: [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5]]
    labels: [persn]
lines:
  gate: { points: [[0.5, 0], [0.5, 1]], labels: [car] }
privacy:
  classes: [peson]
`);
    assert.match(text, /:5: zones\.door\.labels\.0: 'persn' is not a label of the detector .*; did you mean 'person'\?/);
    assert.match(text, /:7: lines\.gate\.labels\.0: label "car" is not in objects\.track/);
    assert.match(text, /:9: privacy\.classes\.0: 'peson' is not a class of the segmenter .*; did you mean 'person'\?/);
    assert.match(
      problems(`objects: { track: [car] }\nprivacy: { classes: [person] }\n`),
      /privacy\.classes\.0: class "person" falls back on the boxes of detector label "person", which must be in objects\.track/,
    );
    assert.match(problems(`lines:\n  l: { points: [[0.5, 0.5], [0.5, 0.5]] }\n`), /lines\.l\.points: the two points are the same/);
    assert.match(problems(`zones:\n  "a/b": { polygon: [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5]] }\n`), /a\/b/);
  });

  it('SIGHUP applies zones, lines, privacy and tracking live (a removed zone is removed)', () => {
    const a = load(PLACES);
    const b = load(PLACES.replace(/zones:[\s\S]*?lines:/, 'lines:').replace('mode: blur', 'mode: fill'));
    const plan = planReload(a, b);
    assert.deepEqual(plan.needsRestart, []);
    assert.deepEqual(plan.applied.sort(), ['privacy.mode', 'zones']);
    assert.deepEqual(plan.merged.zones, {});
    assert.equal(plan.merged.privacy.mode, 'fill');
    assert.deepEqual(planReload(a, load(PLACES.replace('device: { id: dev }', 'device: { id: dev }\nstate_dir: /x'))).needsRestart, ['state_dir']);
  });
});

describe('Home Assistant entities for zones and lines', () => {
  it('occupancy, per-label count and coverage per zone; in/out totals per line (total_increasing)', () => {
    const c = load(PLACES);
    const ids = buildEntities({ config: c, topics: topicsFor('edgesight', 'dev', 'cam'), version: '1', socTemperature: false }).map(
      (e) => `${e.component}:${e.objectId}:${String(e.payload.state_topic)}:${String(e.payload.state_class ?? '')}`,
    );
    for (const want of [
      'binary_sensor:cam_zone_table_occupancy:edgesight/dev/cam/zones/table/occupied:',
      'sensor:cam_zone_table_person_count:edgesight/dev/cam/zones/table/person:measurement',
      'sensor:cam_zone_table_person_coverage:edgesight/dev/cam/zones/table/coverage/person:measurement',
      'sensor:cam_line_exit_in:edgesight/dev/cam/lines/exit/in:total_increasing',
      'sensor:cam_line_exit_out:edgesight/dev/cam/lines/exit/out:total_increasing',
    ])
      assert.ok(ids.includes(want), `missing ${want}; have\n${ids.join('\n')}`);
  });

  it('entities of a zone or line that leaves the config are removed (empty retained config)', () => {
    let cfg = load(PLACES);
    const sent: Array<[string, string]> = [];
    const ha = new HomeAssistantDiscovery({
      config: () => cfg,
      topics: topicsFor('edgesight', 'dev', 'cam'),
      publisher: { publish: (t, p) => void sent.push([t, String(p)]) },
      log: pino({ level: 'silent' }),
      version: '1',
      socTemperature: false,
    });
    ha.publishAll();
    sent.length = 0;
    cfg = load(PLACES.replace(/zones:[\s\S]*?privacy:/, 'privacy:'));
    ha.publishAll();
    const removed = sent
      .filter(([, p]) => p === '')
      .map(([t]) => t)
      .sort();
    assert.deepEqual(removed, [
      'homeassistant/binary_sensor/dev/cam_zone_table_occupancy/config',
      'homeassistant/sensor/dev/cam_line_exit_in/config',
      'homeassistant/sensor/dev/cam_line_exit_out/config',
      'homeassistant/sensor/dev/cam_zone_table_person_count/config',
      'homeassistant/sensor/dev/cam_zone_table_person_coverage/config',
    ]);
  });
});
