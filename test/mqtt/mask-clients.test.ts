/**
 * The mask decoding recipes given to users (docs/mqtt-api.md) are run here as a user would run them: the stdlib-only
 * Python script on a payload, fed by a real mosquitto_sub from a real broker, and the JavaScript snippet.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import sharp from 'sharp';
import { connectAsync } from 'mqtt';
import { buildMaskPayload, type MaskPayload } from '../../src/render/mask-encoding.js';
import { topicsFor } from '../../src/mqtt/topics.js';
import { REPO_ROOT, validatePayload } from '../helpers/schema.js';
import { pngWithFilters } from '../render/png-filters.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';

const SCRIPT = join(REPO_ROOT, 'test', 'mqtt', 'fixtures', 'decode_mask.py');
const CLASSES = [
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

function testMap(w: number, h: number): Uint8Array {
  const m = new Uint8Array(w * h);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) m[y * w + x] = x > w / 3 && x < (2 * w) / 3 && y > h / 4 ? 15 : (x * 7 + y * 3) % 11 === 0 ? 8 : 0;
  return m;
}

async function payload(encoding: 'png' | 'rle', map = testMap(40, 30)): Promise<MaskPayload> {
  const p = await buildMaskPayload({
    camera: 'front',
    frameId: 42,
    capturedAt: 1718000000000,
    publishedAt: 1718000000050,
    map,
    width: 40,
    height: 30,
    frameWidth: 640,
    frameHeight: 480,
    classes: CLASSES,
    encoding,
  });
  validatePayload('mask', p);
  return p;
}

interface PyResult {
  frame_id: number;
  width: number;
  height: number;
  pixels: Record<string, number>;
  map: number[];
}

function run(cmd: string, args: string[], stdin?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} exited ${code}: ${err}`))));
    if (stdin !== undefined) child.stdin.end(stdin);
    else child.stdin.end();
  });
}

describe('mqtt/mask decoding recipes', () => {
  for (const encoding of ['png', 'rle'] as const) {
    it(`the stdlib Python script decodes a ${encoding} payload exactly`, async () => {
      const map = testMap(40, 30);
      const out = JSON.parse(await run('python3', [SCRIPT, '--dump'], JSON.stringify(await payload(encoding, map)) + '\n')) as PyResult;
      assert.deepEqual(out.map, [...map]);
      assert.equal(out.frame_id, 42);
      assert.equal(out.pixels.person, map.filter((v) => v === 15).length);
      assert.equal(out.pixels.background! + out.pixels.person! + out.pixels.cat!, 1200);
    });
  }

  it('the Python script handles each of the five PNG row filters', async () => {
    const w = 40;
    const h = 30;
    const map = new Uint8Array(w * h);
    for (let i = 0; i < map.length; i++) map[i] = (i * 37 + (i >> 3)) % 256;
    const png = pngWithFilters(map, w, h, (y) => (y % 5) as 0 | 1 | 2 | 3 | 4);
    const classes = Array.from({ length: 256 }, (_, i) => `c${i}`);
    const p = { ...(await payload('png')), classes, data: png.toString('base64') };
    const out = JSON.parse(await run('python3', [SCRIPT, '--dump'], JSON.stringify(p) + '\n')) as PyResult;
    assert.deepEqual(out.map, [...map]);
  });

  it('the JavaScript snippet from docs/mqtt-api.md decodes both encodings', async () => {
    const map = testMap(40, 30);
    for (const encoding of ['png', 'rle'] as const) {
      const m = JSON.parse(JSON.stringify(await payload(encoding, map))) as { encoding: string; data: string & number[] };
      // --- docs/mqtt-api.md snippet ---
      const classMap =
        m.encoding === 'png'
          ? await sharp(Buffer.from(m.data, 'base64')).extractChannel(0).raw().toBuffer()
          : Uint8Array.from(m.data.flatMap((v: number, i: number, a: number[]) => (i % 2 ? [] : Array<number>(a[i + 1]!).fill(v))));
      // --- end ---
      assert.deepEqual([...classMap], [...map], encoding);
    }
  });

  describe('through a real broker: mosquitto_sub | python3 decode_mask.py', () => {
    let broker: Mosquitto;
    before(async function () {
      broker = await startMosquitto();
    });
    after(async () => broker?.stop());

    for (const encoding of ['png', 'rle'] as const) {
      it(`${encoding}`, async () => {
        const t = topicsFor('edgesight', 'pi5', 'front');
        const p = await payload(encoding);
        const sub = spawn('sh', ['-c', `mosquitto_sub -h 127.0.0.1 -p ${broker.port} -t '${t.mask}' -C 1 | python3 '${SCRIPT}' --dump`], {
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        let err = '';
        sub.stdout.on('data', (b: Buffer) => (out += b.toString()));
        sub.stderr.on('data', (b: Buffer) => (err += b.toString()));
        const done = new Promise<number | null>((resolve) => sub.once('exit', resolve));
        const client = await connectAsync(broker.url);
        try {
          // The subscriber's connect time is unknown: publish (not retained, like the daemon) until it has one.
          let exited = false;
          void done.then(() => (exited = true));
          for (let i = 0; i < 200 && !exited; i++) {
            await client.publishAsync(t.mask, JSON.stringify(p), { qos: 0, retain: false });
            await Promise.race([done, new Promise((r) => setTimeout(r, 50))]);
          }
          assert.equal(await done, 0, `pipeline failed: ${err}\n${broker.log()}`);
        } finally {
          await client.endAsync();
          if (sub.exitCode === null) sub.kill();
        }
        const res = JSON.parse(out) as PyResult;
        assert.deepEqual(res.map, [...testMap(40, 30)]);
      });
    }
  });
});
