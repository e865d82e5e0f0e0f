import assert from 'node:assert/strict';
import { ObjectTracker, type TrackedDetection, type TrackerEvent, type CountChange, type TrackerOptions } from '../../src/mqtt/tracker.js';
import { validatePayload } from '../helpers/schema.js';

const BOX: [number, number, number, number] = [0.1, 0.1, 0.4, 0.8];

function det(label: string, score = 0.8, box: [number, number, number, number] = BOX): TrackedDetection {
  return { label, score, box };
}

function tracker(o: Partial<TrackerOptions> = {}): ObjectTracker {
  return new ObjectTracker({ camera: 'front', minDurationS: 1, endAfterS: 2, updateIntervalS: 1, now: () => 0, ...o });
}

interface Log {
  events: Array<TrackerEvent & { at: number }>;
  counts: Array<CountChange & { at: number }>;
}

/** Frames every `stepMs` from `from` to `to` inclusive, each with the detections `at(t)` returns. */
function feed(t: ObjectTracker, from: number, to: number, stepMs: number, at: (t: number) => TrackedDetection[], log: Log = { events: [], counts: [] }): Log {
  for (let ms = from; ms <= to; ms += stepMs) {
    const out = t.update(at(ms), ms);
    for (const e of out.events) {
      validatePayload('events', e);
      log.events.push({ ...e, at: ms });
    }
    for (const c of out.counts) log.counts.push({ ...c, at: ms });
  }
  return log;
}

const people = (n: number) => Array.from({ length: n }, () => det('person'));

describe('mqtt/tracker', () => {
  it('suppresses flicker: single-frame detections never make an event or a count', () => {
    const t = tracker();
    const log = feed(t, 0, 10_000, 100, (ms) => (ms % 700 === 0 ? people(1) : []));
    assert.deepEqual(log.events, []);
    assert.deepEqual(log.counts, []);
  });

  it('new after min_duration_s of continuous presence, end after end_after_s of absence, with honest times', () => {
    const t = tracker();
    const log = feed(t, 0, 8000, 100, (ms) => (ms >= 1000 && ms <= 4000 ? people(1) : []));
    assert.deepEqual(log.events.map((e) => [e.type, e.at, e.start_time, e.end_time, e.count]), [
      ['new', 2000, 1000, null, 1],
      ['end', 6100, 1000, 4000, 0],
    ]);
    assert.equal(log.events[1]!.duration_s, 3);
    assert.equal(log.events[0]!.id, log.events[1]!.id);
    assert.deepEqual(log.counts.map((c) => [c.at, c.previous, c.count]), [[2000, 0, 1], [6100, 1, 0]]);
  });

  it('a presence that breaks just before min_duration_s never starts an event; the next run restarts the clock', () => {
    const t = tracker();
    // present 0..800, one missing frame at 900, present again from 1000
    const log = feed(t, 0, 5000, 100, (ms) => (ms === 900 ? [] : people(1)));
    assert.deepEqual(log.events.map((e) => [e.type, e.at, e.start_time]), [['new', 2000, 1000]]);
  });

  it('a short miss while active neither ends the event nor changes the count', () => {
    const t = tracker();
    const log = feed(t, 0, 6000, 100, (ms) => (ms >= 2500 && ms <= 4000 ? [] : people(1)));
    assert.deepEqual(log.events.map((e) => e.type), ['new']);
    assert.deepEqual(log.counts.map((c) => c.count), [1]);
  });

  it('a miss longer than end_after_s ends the event, and re-appearing starts a new one with a new id', () => {
    const t = tracker();
    const log = feed(t, 0, 10_000, 100, (ms) => (ms >= 2000 && ms <= 4500 ? [] : people(1)));
    assert.deepEqual(log.events.map((e) => [e.type, e.at, e.start_time, e.end_time]), [
      ['new', 1000, 0, null],
      ['end', 4000, 0, 1900],
      ['new', 5600, 4600, null],
    ]);
    assert.notEqual(log.events[0]!.id, log.events[2]!.id);
  });

  it('count rises once the higher count is sustained and falls once it has been gone for end_after_s; update events follow', () => {
    const t = tracker({ updateIntervalS: 0 });
    const n = (ms: number) => (ms < 3000 ? 1 : ms < 6000 ? 3 : 1);
    const log = feed(t, 0, 12_000, 100, (ms) => people(n(ms)));
    assert.deepEqual(log.counts.map((c) => [c.at, c.count]), [[1000, 1], [4000, 3], [8000, 1]]);
    assert.deepEqual(log.events.map((e) => [e.type, e.at, e.count, e.max_count]), [
      ['new', 1000, 1, 1],
      ['update', 4000, 3, 3],
      ['update', 8000, 1, 3],
    ]);
  });

  it('a 2↔1 flicker of the count does not move the published count', () => {
    const t = tracker();
    const log = feed(t, 0, 10_000, 100, (ms) => people(ms % 300 === 0 ? 2 : 1));
    assert.deepEqual(log.counts.map((c) => c.count), [1]);
    assert.deepEqual(log.events.map((e) => e.type), ['new']);
  });

  it('rate-limits updates and sends the latest count once the interval allows', () => {
    const t = tracker({ minDurationS: 0, endAfterS: 0, updateIntervalS: 5 });
    const n = (ms: number) => (ms < 1000 ? 1 : ms < 2000 ? 2 : ms < 3000 ? 3 : 4);
    const log = feed(t, 0, 8000, 100, (ms) => people(n(ms)));
    assert.deepEqual(log.counts.map((c) => [c.at, c.count]), [[0, 1], [1000, 2], [2000, 3], [3000, 4]], 'retained counts are not rate limited');
    assert.deepEqual(log.events.map((e) => [e.type, e.at, e.count, e.max_count]), [
      ['new', 0, 1, 1],
      ['update', 5000, 4, 4],
    ]);
  });

  it('no update is sent when the count returns to the last sent value within the interval', () => {
    const t = tracker({ minDurationS: 0, endAfterS: 0, updateIntervalS: 5 });
    const log = feed(t, 0, 8000, 100, (ms) => people(ms >= 1000 && ms < 2000 ? 2 : 1));
    assert.deepEqual(log.events.map((e) => e.type), ['new']);
    assert.deepEqual(log.counts.map((c) => c.count), [1, 2, 1]);
  });

  it('max_score and top_score_box cover the whole event, including the frames before new', () => {
    const t = tracker({ minDurationS: 0.5, endAfterS: 0.5 });
    const scores: Record<number, [number, [number, number, number, number]]> = { 100: [0.95, [0.2, 0.2, 0.3, 0.3]], 1500: [0.99, [0.5, 0.5, 0.9, 0.9]] };
    const log = feed(t, 0, 3000, 100, (ms) => (ms <= 2000 ? [det('person', scores[ms]?.[0] ?? 0.6, scores[ms]?.[1] ?? BOX)] : []));
    const [nw, end] = log.events;
    assert.equal(nw!.type, 'new');
    assert.equal(nw!.max_score, 0.95);
    assert.deepEqual(nw!.top_score_box, [0.2, 0.2, 0.3, 0.3]);
    assert.equal(end!.type, 'end');
    assert.equal(end!.max_score, 0.99);
    assert.deepEqual(end!.top_score_box, [0.5, 0.5, 0.9, 0.9]);
  });

  it('a later event does not inherit the best score of an earlier one', () => {
    const t = tracker({ minDurationS: 0, endAfterS: 0 });
    const log = feed(t, 0, 1000, 100, (ms) => (ms === 0 ? [det('person', 0.99)] : ms === 500 ? [det('person', 0.6)] : []));
    assert.deepEqual(log.events.map((e) => [e.type, e.max_score]), [['new', 0.99], ['end', 0.99], ['new', 0.6], ['end', 0.6]]);
  });

  it('tracks labels independently and ignores untracked ones', () => {
    const t = tracker({ labels: ['person', 'traffic light'], minDurationS: 0, endAfterS: 0 });
    assert.deepEqual(t.initialCounts().map((c) => [c.label, c.count]), [['person', 0], ['traffic light', 0]]);
    const out = t.update([det('person'), det('cat'), det('traffic light'), det('traffic light')], 10);
    assert.deepEqual(out.counts.map((c) => [c.label, c.count]).sort(), [['person', 1], ['traffic light', 2]]);
    assert.deepEqual(out.events.map((e) => [e.label, e.type, e.id]).sort(), [['person', 'new', 'front-person-10'], ['traffic light', 'new', 'front-traffic_light-10']]);
    assert.deepEqual([...t.counts()], [['person', 1], ['traffic light', 2]]);
    const out2 = t.update([det('person')], 20);
    assert.deepEqual(out2.events.map((e) => [e.label, e.type]), [['traffic light', 'end']]);
    assert.deepEqual(t.active(), ['person']);
  });

  it('tracks every label when none are configured, and forgets idle ones', () => {
    const t = tracker({ minDurationS: 0, endAfterS: 0 });
    assert.deepEqual(t.initialCounts(), []);
    t.update([det('cat')], 0);
    assert.deepEqual([...t.counts()], [['cat', 1]]);
    t.update([], 1);
    assert.deepEqual([...t.counts()], []);
  });

  it('endAll closes open events and zeroes counts', () => {
    const t = tracker({ minDurationS: 0 });
    t.update([det('person'), det('dog')], 1000);
    t.update([det('person')], 1100);
    const out = t.endAll(1200);
    assert.deepEqual(out.events.map((e) => [e.label, e.type, e.end_time]).sort(), [['dog', 'end', 1000], ['person', 'end', 1100]]);
    assert.deepEqual(out.counts.map((c) => [c.label, c.count]).sort(), [['dog', 0], ['person', 0]]);
    for (const e of out.events) validatePayload('events', e);
    assert.deepEqual(t.endAll(1300), { counts: [], events: [] });
  });

  it('behaves the same at 5 and 30 frames per second (time-based, not frame-based)', () => {
    for (const fps of [5, 30]) {
      const step = 1000 / fps;
      const t = tracker();
      const log = feed(t, 0, 10_000, step, (ms) => (ms >= 1000 && ms < 5000 ? people(1) : []));
      const [nw, end] = log.events;
      assert.ok(nw!.at >= 2000 && nw!.at < 2000 + step + 1e-6, `new at ${nw!.at} (fps ${fps})`);
      // end comes end_after_s after the first frame without the label, which lies in [5000, 5000 + step)
      assert.ok(end!.at >= 7000 && end!.at < 7000 + 2 * step, `end at ${end!.at} (fps ${fps})`);
    }
  });

  it('uses the injected clock when no frame time is given, and survives a clock stepping back', () => {
    let now = 5000;
    const t = tracker({ minDurationS: 0, endAfterS: 0, now: () => now });
    assert.equal(t.update([det('person')]).events[0]!.start_time, 5000);
    now = 4000;
    const out = t.update([]);
    assert.equal(t.clockBackwards, 1);
    assert.equal(out.events[0]!.type, 'end');
    assert.equal(out.events[0]!.end_time, 5000);
  });

  it('rejects bad options and bad detections with the field named', () => {
    assert.throws(() => tracker({ minDurationS: -1 }), /events.min_duration_s must be a finite number of seconds >= 0/);
    assert.throws(() => tracker({ endAfterS: Number.NaN }), /events.end_after_s/);
    assert.throws(() => tracker({ camera: '' }), /camera/);
    assert.throws(() => tracker({ labels: ['traffic light', 'traffic_light'] }), /share the topic slug "traffic_light"/);
    const t = tracker();
    assert.throws(() => t.update([det('person', 1.5)], 0), /detection 0 \(person\): score must be in \[0, 1\]/);
    assert.throws(() => t.update([{ label: 'x', score: 0.5, box: [0, 0, 1] as unknown as [number, number, number, number] }], 0), /box must be 4 finite numbers/);
    assert.throws(() => t.update([], Number.NaN), /frame time/);
  });

  describe('invariants over random frame sequences', () => {
    function rng(seed: number): () => number {
      let s = seed >>> 0;
      return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
    }
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      it(`seed ${seed}`, () => {
        const r = rng(seed);
        const minS = [0, 0.3, 1][seed % 3]!;
        const endS = [0, 0.5, 2][(seed >> 1) % 3]!;
        const t = tracker({ labels: ['person', 'car'], minDurationS: minS, endAfterS: endS, updateIntervalS: 0.7 });
        // Sticky random counts with noise: a realistic mix of runs, gaps and one-frame flickers.
        const level: Record<string, number> = { person: 0, car: 0 };
        const frames: Array<{ at: number; n: Record<string, number> }> = [];
        const events: Array<TrackerEvent & { at: number }> = [];
        const published: Record<string, number> = { person: 0, car: 0 };
        let at = 0;
        for (let i = 0; i < 1500; i++) {
          at += 50 + Math.floor(r() * 150);
          const n: Record<string, number> = {};
          for (const l of ['person', 'car']) {
            if (r() < 0.05) level[l] = Math.floor(r() * 4);
            n[l] = r() < 0.1 ? Math.floor(r() * 3) : level[l]!;
          }
          frames.push({ at, n });
          const out = t.update(['person', 'car'].flatMap((l) => Array.from({ length: n[l]! }, () => det(l, 0.5 + r() * 0.5))), at);
          for (const c of out.counts) {
            assert.equal(c.previous, published[c.label]);
            // A rise to k must be backed by >= k in every frame of the last min_duration_s (and the one in effect before it).
            if (c.count > c.previous) {
              for (const f of frames) if (f.at > at - minS * 1000) assert.ok(f.n[c.label]! >= c.count, `rise to ${c.count} at ${at} unsupported at ${f.at}`);
            } else {
              // A fall to k: no frame in the last end_after_s had more than k.
              for (const f of frames) if (f.at > at - endS * 1000) assert.ok(f.n[c.label]! <= c.count, `fall to ${c.count} at ${at} contradicted at ${f.at}`);
            }
            published[c.label] = c.count;
          }
          for (const e of out.events) {
            validatePayload('events', e);
            events.push({ ...e, at });
            if (e.type !== 'end') assert.equal(e.count, published[e.label], 'event count matches the retained count');
          }
        }
        // Per label the events form new (update)* end sequences, with one id per event.
        for (const l of ['person', 'car']) {
          let open: string | null = null;
          for (const e of events.filter((x) => x.label === l)) {
            if (e.type === 'new') {
              assert.equal(open, null);
              open = e.id;
            } else {
              assert.equal(e.id, open);
              if (e.type === 'end') open = null;
            }
          }
          const updates = events.filter((x) => x.label === l && x.type !== 'end');
          for (let i = 1; i < updates.length; i++) if (updates[i]!.id === updates[i - 1]!.id) assert.ok(updates[i]!.at - updates[i - 1]!.at >= 700, 'updates rate limited');
        }
        assert.ok(events.length > 0, 'the sequence produced events at all');
      });
    }
  });
});
