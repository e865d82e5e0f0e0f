import assert from 'node:assert/strict';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { crossingDirection, pointInPolygon, polygonCells, selfIntersection } from '../../src/places/geometry.js';
import { LineStore, defaultStateDir } from '../../src/places/line-store.js';
import { ObjectsStage } from '../../src/objects/objects-stage.js';
import type { CrossedEvent, ObjectEvent, ObjectsOptions, StateChange } from '../../src/objects/object-types.js';
import { box } from '../tracking/scenes.js';

describe('zone and line geometry', () => {
  const square: Array<[number, number]> = [
    [0.2, 0.2],
    [0.6, 0.2],
    [0.6, 0.6],
    [0.2, 0.6],
  ];
  it('point in polygon, including a concave one', () => {
    assert.equal(pointInPolygon([0.4, 0.4], square), true);
    assert.equal(pointInPolygon([0.7, 0.4], square), false);
    const u: Array<[number, number]> = [
      [0, 0],
      [0.3, 0],
      [0.3, 1],
      [0.2, 1],
      [0.2, 0.3],
      [0.1, 0.3],
      [0.1, 1],
      [0, 1],
    ];
    assert.equal(pointInPolygon([0.15, 0.8], u), false, 'inside the notch of the U');
    assert.equal(pointInPolygon([0.05, 0.8], u), true);
  });
  it('self-intersection: a bow tie is found, a simple polygon is not', () => {
    assert.equal(selfIntersection(square), null);
    assert.deepEqual(
      selfIntersection([
        [0.1, 0.1],
        [0.5, 0.5],
        [0.5, 0.1],
        [0.1, 0.5],
      ]),
      [0, 2],
    );
  });
  it('crossing direction follows the sign of (p2 − p1) × (q − p1), y down', () => {
    const p1: [number, number] = [0.5, 0];
    const p2: [number, number] = [0.5, 1];
    // p2 − p1 points down; (0, 1) × (q − p1) = −(qx − 0.5): left of the line is positive
    assert.equal(crossingDirection(p1, p2, [0.6, 0.5], [0.4, 0.5]), 'in', 'right → left goes negative → positive');
    assert.equal(crossingDirection(p1, p2, [0.4, 0.5], [0.6, 0.5]), 'out');
    assert.equal(crossingDirection(p1, p2, [0.4, 0.5], [0.45, 0.5]), null);
    assert.equal(crossingDirection([0.5, 0], [0.5, 0.3], [0.4, 0.5], [0.6, 0.5]), null, 'passing beyond the end of the segment is no crossing');
  });
  it('polygon cells of a mask grid', () => {
    assert.equal(polygonCells(square, 10, 10).length, 16);
  });
  it('state dir: $STATE_DIRECTORY, else XDG, else ~/.local/state', () => {
    assert.equal(defaultStateDir({ STATE_DIRECTORY: '/var/lib/edgesight:/other' }, '/h'), '/var/lib/edgesight');
    assert.equal(defaultStateDir({ XDG_STATE_HOME: '/x' }, '/h'), '/x/edgesight');
    assert.equal(defaultStateDir({}, '/h'), '/h/.local/state/edgesight');
  });
});

function options(extra: Partial<ObjectsOptions> = {}): ObjectsOptions {
  return {
    camera: 'cam',
    labels: ['person', 'car'],
    minDurationS: 0.3,
    endAfterS: 1,
    updateIntervalS: 5,
    tracking: { low_score: 0.2, min_hits: 3, match_iou: 0.2, stationary_threshold: 0.02, stationary_after_s: 2 },
    zones: {
      table: {
        polygon: [
          [0.3, 0.5],
          [0.7, 0.5],
          [0.7, 1],
          [0.3, 1],
        ],
        labels: ['person'],
        min_duration_s: 0.5,
        min_coverage: null,
      },
    },
    lines: {
      exit: {
        points: [
          [0.8, 0.3],
          [0.8, 1],
        ],
        labels: [],
        reset: 'never',
      },
    },
    segmenterClasses: null,
    ...extra,
  };
}

/** One person walks in from the left, stands at the table, and leaves right across the exit line. */
function visit(stage: ObjectsStage, t0: number): { events: Array<ObjectEvent | CrossedEvent>; state: StateChange[]; t: number } {
  const events: Array<ObjectEvent | CrossedEvent> = [];
  const state: StateChange[] = [];
  let t = t0;
  const step = (cx: number): void => {
    const o = stage.update({ at: t, detections: [{ label: 'person', score: 0.6, box: box(cx, 0.6, 0.12, 0.5) }] });
    events.push(...o.events);
    state.push(...o.state);
    t += 100;
  };
  for (let x = 0.1; x < 0.5; x += 0.02) step(x);
  for (let i = 0; i < 30; i++) step(0.5);
  for (let x = 0.5; x < 0.95; x += 0.03) step(x);
  for (let i = 0; i < 15; i++) {
    const o = stage.update({ at: t, detections: [] });
    events.push(...o.events);
    state.push(...o.state);
    t += 100;
  }
  return { events, state, t };
}

describe('ObjectsStage: per-object events, zones, lines', () => {
  it('one visit: one new, updates, one crossing out, one end; zone ON then OFF; counts 1 then 0', async () => {
    const file = path.join(await mkdtemp(path.join(tmpdir(), 'edgesight-lines-')), 'lines.json');
    const stage = new ObjectsStage(options(), new LineStore(file));
    const { events, state } = visit(stage, 1_700_000_000_000);
    const types = events.map((e) => (e.type === 'crossed' ? `crossed ${e.direction}` : e.type));
    assert.equal(types.filter((t) => t === 'new').length, 1, types.join(','));
    assert.equal(types.filter((t) => t === 'end').length, 1, types.join(','));
    assert.deepEqual(
      types.filter((t) => t.startsWith('crossed')),
      ['crossed out'],
    );
    const ids = new Set(events.map((e) => e.id));
    assert.equal(ids.size, 1);
    assert.match([...ids][0]!, /^cam-1700000000000-1$/);
    const occupied = state.filter((s) => s.kind === 'zone-occupied').map((s) => (s as { value: boolean }).value);
    assert.deepEqual(occupied, [true, false]);
    const counts = state.filter((s) => s.kind === 'count').map((s) => (s as { value: number }).value);
    assert.deepEqual(counts, [1, 0]);
    const update = events.find((e): e is ObjectEvent => e.type === 'update' && e.zones.includes('table'));
    assert.ok(update, 'an update says the person is in the table zone');
    assert.ok(
      events.some((e) => e.type === 'update' && (e as ObjectEvent).stationary),
      'standing 3 s at the table is stationary',
    );
    const end = events.find((e): e is ObjectEvent => e.type === 'end')!;
    assert.deepEqual(end.entered_zones, ['table']);
    assert.deepEqual(end.zones, []);
    const saved = JSON.parse(await readFile(file, 'utf8')) as { lines: Record<string, { in: number; out: number }> };
    assert.equal(saved.lines.exit!.out, 1);
    assert.equal(saved.lines.exit!.in, 0);
  });

  it('line totals survive a restart (a new stage on the same file) and reset daily at local midnight', async () => {
    const file = path.join(await mkdtemp(path.join(tmpdir(), 'edgesight-lines-')), 'lines.json');
    const day1 = new Date(2026, 5, 1, 12, 0, 0).getTime();
    visit(new ObjectsStage(options(), new LineStore(file)), day1);
    const again = new ObjectsStage(options(), new LineStore(file));
    assert.deepEqual(again.lineTotals('exit', day1 + 60_000), { in: 0, out: 1 });
    visit(again, day1 + 120_000);
    assert.deepEqual(again.lineTotals('exit', day1 + 200_000), { in: 0, out: 2 });
    const daily = new ObjectsStage(
      options({
        lines: {
          exit: {
            points: [
              [0.8, 0.3],
              [0.8, 1],
            ],
            labels: [],
            reset: 'daily',
          },
        },
      }),
      new LineStore(file),
    );
    const nextDay = new Date(2026, 5, 2, 0, 0, 30).getTime();
    const changes = daily.tick(nextDay);
    assert.deepEqual(
      changes.map((c) => (c as { value: number }).value),
      [0, 0],
    );
    assert.deepEqual(daily.lineTotals('exit', nextDay), { in: 0, out: 0 });
  });

  it('applyConfig (SIGHUP) keeps tracks and counts: no second new, no count back to 0; a new zone starts from the objects already there', () => {
    const stage = new ObjectsStage(options({ zones: {} }), new LineStore(null));
    const events: Array<ObjectEvent | CrossedEvent> = [];
    let t = 1_700_000_000_000;
    for (let i = 0; i < 10; i++, t += 100)
      events.push(...stage.update({ at: t, detections: [{ label: 'person', score: 0.6, box: box(0.5, 0.6, 0.12, 0.5) }] }).events);
    assert.deepEqual(
      events.map((e) => e.type),
      ['new'],
    );
    const r = stage.applyConfig(options());
    assert.deepEqual(r.removedZones, []);
    assert.ok(
      stage.currentState(t).some((s) => s.kind === 'count' && s.label === 'person' && s.value === 1),
      'the retained count stays 1',
    );
    const after: StateChange[] = [];
    for (let i = 0; i < 10; i++, t += 100) {
      const o = stage.update({ at: t, detections: [{ label: 'person', score: 0.6, box: box(0.5, 0.6, 0.12, 0.5) }] });
      events.push(...o.events);
      after.push(...o.state);
    }
    assert.equal(events.filter((e) => e.type === 'new').length, 1);
    assert.ok(
      after.some((s) => s.kind === 'zone-occupied' && s.value),
      'the new zone sees the person already standing in it',
    );
    assert.ok(!after.some((s) => s.kind === 'count'), 'no count change');
    const removed = stage.applyConfig(options({ zones: {}, lines: {} }));
    assert.deepEqual(removed.removedZones, ['table']);
    assert.deepEqual(removed.removedLines, ['exit']);
  });

  it('coverage per zone from the mask, and min_coverage drives occupied', () => {
    const classes = ['background', 'person'];
    const stage = new ObjectsStage(
      options({
        zones: {
          table: {
            polygon: [
              [0, 0],
              [1, 0],
              [1, 1],
              [0, 1],
            ],
            labels: ['person'],
            min_duration_s: 0,
            min_coverage: 0.2,
          },
        },
        segmenterClasses: classes,
      }),
      new LineStore(null),
    );
    const data = new Uint8Array(100);
    data.fill(1, 0, 30); // 30 % person
    const o = stage.update({ at: 1000, detections: [], segmentation: { data, width: 10, height: 10, classes } });
    assert.ok(o.state.some((s) => s.kind === 'zone-coverage' && s.cls === 'person' && s.value === 0.3));
    assert.ok(o.state.some((s) => s.kind === 'zone-occupied' && s.value));
    const off = stage.update({ at: 2500, detections: [], segmentation: { data: new Uint8Array(100), width: 10, height: 10, classes } });
    assert.ok(
      off.state.some((s) => s.kind === 'zone-occupied' && !s.value),
      'off once coverage stayed low for end_after_s',
    );
  });
});
