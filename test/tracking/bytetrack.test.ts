import assert from 'node:assert/strict';
import { ByteTracker, DEFAULT_BYTETRACK, TrackerError } from '../../src/tracking/bytetrack.js';
import { iou } from '../../src/tracking/box.js';
import { box, jitter, runScene, shuffled, type Scene, type TruthDetection } from './scenes.js';

const tracker = (): ByteTracker => new ByteTracker({ camera: 'cam', ...DEFAULT_BYTETRACK });

/** Two people walking towards each other and past each other; `hideB` frames of B are missing (occluded by A). */
function crossing(hideB: (i: number, overlap: number) => boolean): Scene {
  const r = jitter(7);
  const frames: Scene = [];
  for (let i = 0; i < 60; i++) {
    const a = box(0.1 + i * 0.013 + r(), 0.5 + r(), 0.1, 0.3);
    const b = box(0.87 - i * 0.013 + r(), 0.55 + r(), 0.1, 0.32); // a little lower: B walks nearer the camera
    const f: TruthDetection[] = [{ truth: 'A', label: 'person', score: 0.7, box: a }];
    if (!hideB(i, iou(a, b))) f.push({ truth: 'B', label: 'person', score: 0.6, box: b });
    frames.push(shuffled(f, i));
  }
  return frames;
}

describe('ByteTracker on scripted scenes', () => {
  it('crossing paths, both seen throughout: no id switch, one id per person', () => {
    const s = runScene(
      crossing(() => false),
      (d, t) => trk.update(d, t),
    );
    assert.equal(s.idSwitches, 0);
    assert.deepEqual(Object.fromEntries(s.idsPerObject), { A: 1, B: 1 });
    assert.equal(s.confirmed, 2);
  });

  it('crossing paths with B hidden behind A while they overlap (short occlusion): B keeps its id', () => {
    let hidden = 0;
    const scene = crossing((_, ov) => ov > 0.05 && ++hidden > 0);
    assert.ok(hidden >= 4, `the scene must hide B for several frames (hid ${hidden})`);
    const trk2 = tracker();
    const s = runScene(scene, (d, t) => trk2.update(d, t));
    assert.equal(s.idSwitches, 0, 'no id switch');
    assert.deepEqual(Object.fromEntries(s.idsPerObject), { A: 1, B: 1 }, 'no fragmentation');
  });

  it('a detection gap of 1.5 s (under max_age): the same id afterwards', () => {
    const r = jitter(3);
    const scene: Scene = [];
    for (let i = 0; i < 50; i++)
      scene.push(i >= 20 && i < 35 ? [] : [{ truth: 'P', label: 'person', score: 0.6, box: box(0.3 + i * 0.004 + r(), 0.5, 0.12, 0.35) }]);
    const trk2 = tracker();
    const s = runScene(scene, (d, t) => trk2.update(d, t));
    assert.equal(s.idSwitches, 0);
    assert.deepEqual(Object.fromEntries(s.idsPerObject), { P: 1 });
  });

  it('a small walker that slows down while unseen for 0.8 s (its box no longer overlaps the prediction) keeps its id', () => {
    const scene = (): Scene => {
      const r = jitter(11);
      const out: Scene = [];
      let x = 0.2;
      for (let i = 0; i < 50; i++) {
        x += i < 20 ? 0.006 : 0.002; // walks, then slows down behind an obstacle
        if (i >= 20 && i < 28) out.push([]);
        else out.push([{ truth: 'P', label: 'person', score: 0.6, box: box(x + r() * 0.3, 0.4, 0.03, 0.1) }]);
      }
      return out;
    };
    const plain = new ByteTracker({ camera: 'cam', ...DEFAULT_BYTETRACK, lostBufferPerS: 0 });
    assert.deepEqual(
      Object.fromEntries(runScene(scene(), (d, t) => plain.update(d, t)).idsPerObject),
      { P: 2 },
      'the scene defeats plain IoU on the predicted box',
    );
    const trk2 = tracker();
    const s = runScene(scene(), (d, t) => trk2.update(d, t));
    assert.deepEqual(Object.fromEntries(s.idsPerObject), { P: 1 }, 'buffered IoU finds the lost walker again');
  });

  it('a box whose size jitters just before a 1 s gap: the prediction keeps its size and the walker its id', () => {
    const scene: Scene = [];
    for (let i = 0; i < 40; i++) {
      const h = i % 2 ? 0.08 : 0.12; // a small walker's box: the detector swings its height by half
      if (i >= 20 && i < 30) scene.push([]);
      else scene.push([{ truth: 'P', label: 'person', score: 0.6, box: box(0.4 + i * 0.001, 0.4, 0.04, h) }]);
    }
    const trk2 = tracker();
    const s = runScene(scene, (d, t) => trk2.update(d, t));
    assert.deepEqual(Object.fromEntries(s.idsPerObject), { P: 1 });
  });

  it('a lost walker is not re-found on a box over two people around it', () => {
    const scene: Scene = [];
    for (let i = 0; i < 40; i++) {
      if (i < 15) scene.push([{ truth: 'P', label: 'person', score: 0.6, box: box(0.4, 0.4, 0.03, 0.1) }]);
      else if (i < 20) scene.push([]);
      else scene.push([{ truth: null, label: 'person', score: 0.6, box: box(0.42, 0.4, 0.08, 0.12) }]); // two people side by side
    }
    const trk2 = tracker();
    const s = runScene(scene, (d, t) => trk2.update(d, t));
    assert.equal(s.idSwitches, 0);
    assert.deepEqual(Object.fromEntries(s.idsPerObject), { P: 1 });
    assert.equal(s.falsePositiveIds, 21 - 3, "the group box got its own track, not the walker's id");
  });

  it('a gap longer than max_age ends the track: the object comes back with a new id (counted as fragmentation)', () => {
    const scene: Scene = [];
    for (let i = 0; i < 80; i++) scene.push(i >= 20 && i < 60 ? [] : [{ truth: 'P', label: 'person', score: 0.6, box: box(0.3, 0.5, 0.12, 0.35) }]);
    const trk2 = tracker();
    const s = runScene(scene, (d, t) => trk2.update(d, t));
    assert.deepEqual(Object.fromEntries(s.idsPerObject), { P: 2 });
  });

  it('a one-frame false positive never gets an id', () => {
    const scene: Scene = [];
    for (let i = 0; i < 30; i++) {
      const f: TruthDetection[] = [{ truth: 'P', label: 'person', score: 0.6, box: box(0.3, 0.5, 0.12, 0.35) }];
      if (i === 10) f.push({ truth: null, label: 'person', score: 0.9, box: box(0.8, 0.3, 0.1, 0.2) });
      if (i === 15) f.push({ truth: null, label: 'dog', score: 0.5, box: box(0.31, 0.5, 0.12, 0.35) }); // same place, other label
      scene.push(f);
    }
    const trk2 = tracker();
    const s = runScene(scene, (d, t) => trk2.update(d, t));
    assert.equal(s.falsePositiveIds, 0);
    assert.equal(s.confirmed, 1);
    assert.equal(trk2.all().length, 1, 'the tentative false positives are gone');
  });

  it('low-score detections keep a confirmed track alive but never start one', () => {
    const scene: Scene = [];
    for (let i = 0; i < 40; i++) {
      const low = i >= 10 && i < 30; // half hidden behind a table: the score drops under the threshold
      scene.push([{ truth: 'P', label: 'person', score: low ? 0.25 : 0.6, low, box: box(0.3 + i * 0.002, 0.5, 0.12, 0.35) }]);
    }
    scene[35]!.push({ truth: null, label: 'person', score: 0.2, low: true, box: box(0.8, 0.5, 0.1, 0.3) });
    scene[36]!.push({ truth: null, label: 'person', score: 0.2, low: true, box: box(0.8, 0.5, 0.1, 0.3) });
    scene[37]!.push({ truth: null, label: 'person', score: 0.2, low: true, box: box(0.8, 0.5, 0.1, 0.3) });
    const trk2 = tracker();
    let lastSeenDuringLow = 0;
    const s = runScene(scene, (d, t) => {
      const u = trk2.update(d, t);
      if (d[0]!.low && u.assigned[0]) lastSeenDuringLow++;
      return u;
    });
    assert.equal(lastSeenDuringLow, 20, 'every low-score frame extended the track');
    assert.equal(s.idSwitches, 0);
    assert.deepEqual(Object.fromEntries(s.idsPerObject), { P: 1 });
    assert.equal(s.falsePositiveIds, 0);
  });

  it('ids are <camera>-<start_ms>-<n>, confirmed after min_hits, and removal is reported once', () => {
    const trk2 = new ByteTracker({ camera: 'porch', ...DEFAULT_BYTETRACK, minHits: 3, maxAgeMs: 500 });
    const d = [{ label: 'car', score: 0.8, box: box(0.5, 0.5, 0.2, 0.1) }];
    assert.equal(trk2.update(d, 1000).assigned[0]!.id, null);
    assert.equal(trk2.update(d, 1100).assigned[0]!.id, null);
    const u = trk2.update(d, 1200);
    assert.equal(u.assigned[0]!.id, 'porch-1000-1');
    assert.deepEqual(
      u.confirmed.map((t) => t.id),
      ['porch-1000-1'],
    );
    assert.equal(trk2.update([], 1600).removed.length, 0);
    assert.deepEqual(
      trk2.update([], 1700).removed.map((t) => t.id),
      ['porch-1000-1'],
    );
    assert.equal(trk2.all().length, 0);
  });

  it('refuses bad options and frame times', () => {
    assert.throws(() => new ByteTracker({ camera: '', ...DEFAULT_BYTETRACK }), TrackerError);
    assert.throws(() => new ByteTracker({ camera: 'c', ...DEFAULT_BYTETRACK, minHits: 0 }), /min_hits/);
    assert.throws(() => tracker().update([], Number.NaN), /finite/);
  });
});

const trk = tracker();
