import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { CLI, testEnv, writeConfig } from '../helpers/daemon.js';
import { validatePayload } from '../helpers/schema.js';
import { photo } from '../helpers/paths.js';

const ASTRONAUT = photo('astronaut.png');

function cli(args: string[], env: NodeJS.ProcessEnv = testEnv()): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout: Buffer.concat(out), stderr: err }));
  });
}

async function rgb(image: Buffer | string): Promise<{ data: Buffer; width: number; height: number }> {
  const { data, info } = await sharp(image).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  assert.equal(info.channels, 3);
  return { data, width: info.width, height: info.height };
}

/** Mean absolute difference over the pixels of a rectangle (inclusive pixel bounds). */
function meanDiff(a: Buffer, b: Buffer, width: number, x0: number, y0: number, x1: number, y1: number): number {
  let sum = 0;
  let n = 0;
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      for (let c = 0; c < 3; c++) sum += Math.abs(a[(y * width + x) * 3 + c]! - b[(y * width + x) * 3 + c]!);
      n += 3;
    }
  }
  return sum / n;
}

describe('e2e: edgesight snapshot --out FILE.jpg', function () {
  this.timeout(120_000);
  let dir: string;
  let personBox: [number, number, number, number];

  const config = (segEvery: number, file = ASTRONAUT): Promise<string> =>
    writeConfig(`
camera:
  name: cam1
  source: files
  fps: 4
  files: { path: ${file}, loop: false }
segmentation: { every: ${segEvery} }
logging: { level: info, pretty: false }
`);

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'edgesight-snap-'));
    // the box from the other path into the same detector (edgesight detect), to know where it must be drawn
    const r = await cli(['detect', '--json', '--tracked', ASTRONAUT, '--config', await config(0)]);
    assert.equal(r.code, 0, r.stderr);
    const line = JSON.parse(r.stdout.toString()) as {
      width: number;
      height: number;
      objects: Array<{ label: string; box: [number, number, number, number] }>;
    };
    const person = line.objects.find((o) => o.label === 'person');
    assert.ok(person, `detect found no person in astronaut.png: ${r.stdout.toString()}`);
    personBox = person.box;
  });

  it('writes a decodable JPEG of the frame size with the person box drawn (no mask: elsewhere unchanged)', async () => {
    const out = path.join(dir, 'plain.jpg');
    const r = await cli(['snapshot', '--out', out, '--config', await config(0)]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout.toString(), /^wrote .*plain\.jpg \(512×512, 1 object: person 0\.\d\d\)\n$/);
    const jpeg = await readFile(out);
    validatePayload('snapshot', jpeg);
    const snap = await rgb(jpeg);
    const raw = await rgb(ASTRONAUT);
    assert.deepEqual([snap.width, snap.height], [raw.width, raw.height]);

    const W = raw.width;
    const H = raw.height;
    const [x1, y1, x2, y2] = [Math.round(personBox[0] * W), Math.round(personBox[1] * H), Math.round(personBox[2] * W), Math.round(personBox[3] * H)];
    // the box's left and right edges (a 3-pixel band around each, away from the label at the top)
    const yMid0 = Math.round(y1 + 0.3 * (y2 - y1));
    const yMid1 = Math.round(y1 + 0.9 * (y2 - y1));
    const left = meanDiff(snap.data, raw.data, W, Math.max(0, x1 - 1), yMid0, x1 + 1, yMid1);
    const right = meanDiff(snap.data, raw.data, W, x2 - 1, yMid0, Math.min(W - 1, x2 + 1), yMid1);
    // a band inside the box well away from its lines: only JPEG noise
    const inside = meanDiff(snap.data, raw.data, W, x1 + 30, yMid0, x1 + 60, yMid1);
    console.log(`      mean |snapshot − frame|: box left edge ${left.toFixed(1)}, right edge ${right.toFixed(1)}, inside ${inside.toFixed(1)}`);
    assert.ok(left > 25 && right > 25, `the person box is not drawn where detect puts it (edge differences ${left.toFixed(1)}, ${right.toFixed(1)})`);
    assert.ok(inside < 10, `pixels away from the box changed (${inside.toFixed(1)}): something else was drawn`);
  });

  it('with segmentation on, the mask is overlaid inside the person and the summary says so; --out - writes to stdout', async () => {
    const r = await cli(['snapshot', '--out', '-', '--config', await config(1)]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /snapshot: 512×512, 1 object: person 0\.\d\d, mask overlaid/);
    validatePayload('snapshot', r.stdout);
    const snap = await rgb(r.stdout);
    const raw = await rgb(ASTRONAUT);
    const W = raw.width;
    // the astronaut's suit (centre-left, inside the box) is person in the mask: tinted; the top-right sky corner is background: untouched
    const suit = meanDiff(snap.data, raw.data, W, 120, 380, 200, 440);
    const corner = meanDiff(snap.data, raw.data, W, 470, 20, 505, 60);
    console.log(`      mean |snapshot − frame|: suit ${suit.toFixed(1)}, background corner ${corner.toFixed(1)}`);
    assert.ok(suit > 15, `the person mask is not overlaid on the suit (${suit.toFixed(1)})`);
    assert.ok(corner < 10, `the background corner changed (${corner.toFixed(1)})`);
  });

  it('fails clearly: no --out (64), an unwritable path (1), a source that yields no frame (1)', async () => {
    const cfg = await config(0);
    const a = await cli(['snapshot', '--config', cfg]);
    assert.equal(a.code, 64);
    assert.match(a.stderr, /snapshot needs --out FILE\.jpg/);

    const b = await cli(['snapshot', '--out', path.join(dir, 'no', 'such', 'dir', 'x.jpg'), '--config', cfg]);
    assert.equal(b.code, 1);
    assert.match(b.stderr, /cannot write .*x\.jpg: ENOENT/);

    const broken = path.join(dir, 'broken.jpg');
    await writeFile(broken, Buffer.from('not a jpeg at all'));
    const c = await cli(['snapshot', '--out', path.join(dir, 'c.jpg'), '--config', await config(0, broken)]);
    assert.equal(c.code, 1);
    assert.match(c.stderr, /the camera source ended before a frame was processed \(last problem: .+\)/);
  });
});
