import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PHOTOS, runCli, STACK_FRAME } from './run-cli.js';
import { COCO_DIR } from '../helpers/paths.js';
import { parseConfigText } from '../../src/config/load.js';

const DEFAULT_THRESHOLD = parseConfigText('', null, { env: {} }).config.detection.score_threshold;

interface Obj {
  label: string;
  class_id: number;
  score: number;
  box: [number, number, number, number];
}
interface Line {
  file: string;
  width: number;
  height: number;
  objects: Obj[];
}

const ASTRONAUT = path.join(PHOTOS, 'astronaut.png');
const CHELSEA = path.join(PHOTOS, 'chelsea.png');
const DINING = path.join(COCO_DIR, '000000000790.jpg');

function jsonLines(stdout: string): Line[] {
  assert.ok(stdout.endsWith('\n'), 'stdout ends with a newline');
  return stdout
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as Line);
}

function checkLine(l: Line): void {
  assert.deepEqual(Object.keys(l), ['file', 'width', 'height', 'objects']);
  for (const o of l.objects) {
    assert.deepEqual(Object.keys(o), ['label', 'class_id', 'score', 'box']);
    assert.ok(Number.isInteger(o.class_id) && o.class_id >= 1 && o.class_id <= 90, `class_id ${o.class_id}`);
    assert.ok(o.score > 0 && o.score <= 1);
    assert.equal(o.box.length, 4);
    for (const v of o.box) assert.ok(v >= 0 && v <= 1, `normalised box ${o.box.join(',')}`);
    assert.ok(o.box[0] <= o.box[2] && o.box[1] <= o.box[3], `ordered corners ${o.box.join(',')}`);
  }
  for (let i = 1; i < l.objects.length; i++) assert.ok(l.objects[i - 1]!.score >= l.objects[i]!.score, 'score descending');
}

describe('detect command (child process, real model from the package, offline)', function () {
  this.timeout(120_000);
  let cache: string;
  let env: Record<string, string>;

  before(async () => {
    cache = mkdtempSync(path.join(os.tmpdir(), 'edgesight-detect-'));
    // offline: the model must come from the package itself, never silently from the network
    env = { EDGESIGHT__MODELS__CACHE_DIR: cache, EDGESIGHT_OFFLINE: '1' };
  });
  after(() => rmSync(cache, { recursive: true, force: true }));

  it('--json: one line per image with file, size and objects; the astronaut is a person', async () => {
    const r = await runCli(['detect', ASTRONAUT, '--json'], env);
    assert.equal(r.code, 0, r.stderr);
    const lines = jsonLines(r.stdout);
    assert.equal(lines.length, 1);
    const l = lines[0]!;
    checkLine(l);
    assert.equal(l.file, ASTRONAUT);
    assert.equal(l.width, 512);
    assert.equal(l.height, 512);
    const person = l.objects.find((o) => o.label === 'person');
    assert.ok(person, `no person in ${JSON.stringify(l.objects)}`);
    assert.equal(person.class_id, 1);
    // scores are no longer capped at 0.5 by the upstream int8 ranges
    assert.ok(person.score > 0.55, `person score ${person.score}`);
    // the astronaut fills the left two-thirds of the photo, top to bottom
    assert.ok(person.box[0] < 0.15 && person.box[2] > 0.6 && person.box[1] < 0.1 && person.box[3] > 0.9, `box ${person.box.join(',')}`);
    for (const o of l.objects) assert.ok(o.score >= DEFAULT_THRESHOLD, `default threshold ${DEFAULT_THRESHOLD} applies`);
  });

  it('--score-threshold and --max-detections are respected', async () => {
    const low = await runCli(['detect', DINING, '--json', '--score-threshold', '0.3'], env);
    assert.equal(low.code, 0, low.stderr);
    const all = jsonLines(low.stdout)[0]!;
    checkLine(all);
    assert.ok(all.objects.length > 2, `need more than 2 objects at 0.3, got ${all.objects.length}`);
    assert.ok(
      all.objects.some((o) => o.score < DEFAULT_THRESHOLD),
      `the lower threshold lets in objects below the default ${DEFAULT_THRESHOLD}`,
    );
    for (const o of all.objects) assert.ok(o.score >= 0.3);

    const capped = await runCli(['detect', DINING, '--json', '--score-threshold', '0.3', '--max-detections', '2'], env);
    assert.equal(capped.code, 0, capped.stderr);
    const two = jsonLines(capped.stdout)[0]!;
    assert.deepEqual(two.objects, all.objects.slice(0, 2), 'the cap keeps the two best');
  });

  it('--tracked reports only objects.track labels (EDGESIGHT__OBJECTS__TRACK applies)', async () => {
    // the float detector: its astronaut at 0.3 holds a laptop beside the person (int8 sees a traffic light there)
    const fp32 = { ...env, EDGESIGHT__MODELS__PRECISION: 'fp32' };
    const [every, tracked, onlyLaptop] = await Promise.all([
      runCli(['detect', ASTRONAUT, '--json', '--score-threshold', '0.3'], fp32),
      runCli(['detect', ASTRONAUT, '--json', '--score-threshold', '0.3', '--tracked'], fp32),
      runCli(['detect', ASTRONAUT, '--json', '--score-threshold', '0.3', '--tracked'], { ...fp32, EDGESIGHT__OBJECTS__TRACK: 'laptop' }),
    ]);
    for (const r of [every, tracked, onlyLaptop]) assert.equal(r.code, 0, r.stderr);
    const labels = (r: { stdout: string }) => jsonLines(r.stdout)[0]!.objects.map((o) => o.label);
    const defaultTrack = new Set(['person', 'bicycle', 'car', 'motorcycle', 'bus', 'truck', 'cat', 'dog']);
    assert.ok(labels(every).includes('laptop'), `untracked labels are reported without --tracked: ${labels(every).join(', ')}`);
    assert.ok(labels(tracked).includes('person'));
    assert.deepEqual(
      labels(tracked),
      labels(every).filter((l) => defaultTrack.has(l)),
    );
    assert.deepEqual(labels(onlyLaptop), ['laptop']);
  });

  it('a non-image file is reported on stderr with a non-zero exit; the other images are still reported', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'edgesight-detect-bad-'));
    try {
      const bad = path.join(dir, 'notes.jpg');
      writeFileSync(bad, 'this is not a JPEG\n');
      const missing = path.join(dir, 'missing.png');
      const r = await runCli(['detect', ASTRONAUT, bad, missing, CHELSEA, '--json'], env);
      assert.equal(r.code, 1);
      const lines = jsonLines(r.stdout);
      assert.deepEqual(
        lines.map((l) => l.file),
        [ASTRONAUT, CHELSEA],
      );
      lines.forEach(checkLine);
      assert.ok(
        lines[1]!.objects.some((o) => o.label === 'cat'),
        'chelsea is a cat',
      );
      assert.match(r.stderr, new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .*(undecodable|unsupported image format)`, 'm'));
      assert.match(r.stderr, new RegExp(`^${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .*ENOENT`, 'm'));
      assert.doesNotMatch(r.stderr, STACK_FRAME);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('without --json prints a table: a header per image and a row per object', async () => {
    const r = await runCli(['detect', ASTRONAUT, CHELSEA], env);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, new RegExp(`^${ASTRONAUT.replace(/\./g, '\\.')} \\(512×512\\): \\d+ objects?$`));
    assert.match(lines[1]!, /^ {2}person\s+0\.\d{3} {2}\[0\.\d{3}, 0\.\d{3}, [01]\.\d{3}, [01]\.\d{3}\]$/);
    const catHeader = lines.findIndex((l) => l.startsWith(`${CHELSEA} (451×300): `));
    assert.ok(catHeader > 1, r.stdout);
    assert.match(lines[catHeader + 1]!, /^ {2}cat\s+0\.\d{3}/);
    assert.throws(() => JSON.parse(lines[0]!), 'not JSON');
  });

  it('bad option values and no image are usage errors (exit 64) with the reason', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['detect', ASTRONAUT, '--score-threshold', '1.5'], /--score-threshold must be a number in \[0, 1\], got 1\.5/],
      [['detect', ASTRONAUT, '--score-threshold', 'high'], /--score-threshold must be a number in \[0, 1\], got high/],
      [['detect', ASTRONAUT, '--max-detections', '0'], /--max-detections must be a positive integer, got 0/],
      [['detect', ASTRONAUT, '--max-detections', '2.5'], /--max-detections must be a positive integer, got 2\.5/],
      [['detect', '--json'], /detect needs at least one IMAGE/],
    ];
    const results = await Promise.all(cases.map(([args]) => runCli(args, env)));
    results.forEach((r, i) => {
      assert.equal(r.code, 64, `${cases[i]![0].join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, cases[i]![1]);
      assert.doesNotMatch(r.stderr, STACK_FRAME);
      assert.equal(r.stdout, '');
    });
  });

  it('a bad config stops detect with exit 78 and the config problems', async () => {
    const r = await runCli(['detect', ASTRONAUT, '--json'], { ...env, EDGESIGHT__DETECTION__NMS_IOU: '2' });
    assert.equal(r.code, 78);
    assert.match(r.stderr, /^env EDGESIGHT__DETECTION__NMS_IOU: detection\.nms_iou: must be <= 1 \(got 2\)$/m);
    assert.equal(r.stdout, '');
  });
});
