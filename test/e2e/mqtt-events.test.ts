import assert from 'node:assert/strict';
import { mkdtemp, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Collector, writeConfig, type DaemonProc } from '../helpers/daemon.js';
import { validatePayload } from '../helpers/schema.js';
import { useE2e, filesCameraYaml } from '../helpers/e2e.js';
import { photo } from '../helpers/paths.js';

const DEVICE = 'events';
const ROOT = `edgesight/${DEVICE}`;
const CAM = `${ROOT}/cam1`;
const PERSON = photo('astronaut.png');
// a photo with no person in it (the detector sees "toilet"s in it: a tracked-label-free frame)
const EMPTY = photo('coffee.png');

interface Detections {
  frame_id: number;
  captured_at: number;
  objects: Array<{ label: string }>;
}
interface Event {
  type: 'new' | 'update' | 'end';
  id: string;
  label: string;
  start_time: number;
  end_time: number | null;
}

/** The scripted camera: files played in name order. */
async function scriptDir(script: Array<[string, number]>): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'edgesight-script-'));
  let i = 0;
  for (const [file, n] of script) {
    for (let k = 0; k < n; k++) await symlink(file, path.join(dir, `${String(i++).padStart(3, '0')}${path.extname(file)}`));
  }
  return dir;
}

/**
 * Event hysteresis end to end (per tracked object: the gap is bridged by the tracker's max age): a person in view for 2 s, a 0.5 s gap (two frames without the person),
 * 2 s more, then gone for 6 s. With min_duration_s 1 and end_after_s 2 the gap must not end the event:
 * exactly one `new` (started at the first person frame) and one `end` (at the last person frame), and the
 * retained count goes 0 → 1 → 0.
 */
describe('e2e: event hysteresis with a scripted sequence of frames', function () {
  this.timeout(150_000);
  const e2e = useE2e({ topics: [`${ROOT}/#`], daemonPerTest: false });
  let daemon: DaemonProc;

  it('one new, no end in a short gap, one end after the person is gone; objects/person 0 → 1 → 0', async () => {
    const dir = await scriptDir([
      [PERSON, 8],
      [EMPTY, 2],
      [PERSON, 8],
      [EMPTY, 24],
    ]);
    const cfg = await writeConfig(`
${filesCameraYaml({ device: DEVICE, frames: dir, loop: false })}
mqtt:
  url: ${e2e.broker.url}
  events: { min_duration_s: 1, end_after_s: 2, update_interval_s: 5 }
logging: { level: info, pretty: false }
`);
    daemon = e2e.run(cfg);
    const fail = (e: Error): never => {
      throw new Error(`${e.message}\ndaemon output (tail):\n${daemon.output().slice(-4000)}`);
    };
    await e2e.sub
      .waitFor((t, p) => t === `${CAM}/events` && (JSON.parse(p.toString()) as Event).type === 'end', 120_000, 'the end event')
      .catch(fail);
    // the end came from the frames (the source has not finished): not from the shutdown path
    assert.doesNotMatch(daemon.output(), /"stopping"/);

    const dets = e2e.sub.messages.filter((m) => m.topic === `${CAM}/detections`).map((m) => JSON.parse(m.payload.toString()) as Detections);
    const hasPerson = (d: Detections): boolean => d.objects.some((o) => o.label === 'person');
    const personFrames = dets.filter(hasPerson);
    const firstPerson = personFrames[0]!;
    const lastPerson = personFrames[personFrames.length - 1]!;
    // the gap was really processed: a frame without a person between two frames with one
    const gap = dets.filter((d) => !hasPerson(d) && d.captured_at > firstPerson.captured_at && d.captured_at < lastPerson.captured_at);
    assert.ok(
      gap.length >= 1,
      `no person-free frame was processed between the two runs (frames: ${dets.map((d) => (hasPerson(d) ? 'P' : '.')).join('')})`,
    );
    console.log(`      frames processed: ${dets.map((d) => (hasPerson(d) ? 'P' : '.')).join('')}`);

    const events = e2e.sub.messages.filter((m) => m.topic === `${CAM}/events`).map((m) => validatePayload('events', m.payload) as Event);
    assert.deepEqual(
      events.map((e) => `${e.type} ${e.label}`),
      ['new person', 'end person'],
      `events: ${JSON.stringify(events)}`,
    );
    const [n, e] = events as [Event, Event];
    assert.equal(n.id, e.id);
    assert.equal(n.start_time, firstPerson.captured_at, 'the event starts at the first person frame (so the gap did not restart it)');
    assert.equal(e.end_time, lastPerson.captured_at, 'the event ends at the last person frame');

    const counts = e2e.sub.messages.filter((m) => m.topic === `${CAM}/objects/person`).map((m) => m.payload.toString());
    assert.deepEqual(counts, ['0', '1', '0'], 'objects/person must go 0 (initial, retained) → 1 → 0');
    // …and the broker holds the final 0 as the retained value
    const retained = await Collector.connect(e2e.broker.url, [`${CAM}/objects/person`]);
    try {
      const r = await retained.waitFor(() => true, 5000, 'the retained objects/person');
      assert.equal(r.payload.toString(), '0');
      assert.equal(retained.messages[0]!.retain, true);
    } finally {
      await retained.close();
    }
  });
});
