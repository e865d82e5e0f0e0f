import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { MjpegSplitter } from '../../src/capture/mjpeg-splitter.js';
import { FixedSizeSplitter, yuv420Layout } from '../../src/capture/raw-splitter.js';
import { prepareFakeCamera, type FakeCamera } from './fake-camera.js';
import { rng } from './util.js';

/** Cuts `data` into random pieces of 1..maxPiece bytes. */
function chop(data: Buffer, rand: () => number, maxPiece: number): Buffer[] {
  const out: Buffer[] = [];
  let i = 0;
  while (i < data.length) {
    const len = 1 + Math.floor(rand() * maxPiece);
    out.push(data.subarray(i, i + len));
    i += len;
  }
  return out;
}

function feed(s: MjpegSplitter, chunks: Buffer[], maxBuffered?: number): Buffer[] {
  const frames: Buffer[] = [];
  for (const c of chunks) {
    frames.push(...s.push(c));
    if (maxBuffered !== undefined) assert.ok(s.bufferedBytes <= maxBuffered, `buffered ${s.bufferedBytes} > ${maxBuffered}`);
  }
  return frames;
}

/** garbage that cannot contain a marker (no 0xFF) */
function garbage(rand: () => number, len: number): Buffer {
  return Buffer.from(Array.from({ length: len }, () => Math.floor(rand() * 255)));
}

describe('capture/MjpegSplitter', function () {
  let cam: FakeCamera;
  let jpegs: Buffer[];

  before(async function () {
    cam = await prepareFakeCamera({ width: 320, height: 240, frames: 24 });
    jpegs = await Promise.all(cam.frameFiles.map((f) => readFile(f)));
  });
  after(async () => cam?.cleanup());

  it('returns every frame byte-exact, in order, for 200 random chunkings (incl. 1-byte chunks)', function () {
    const stream = Buffer.concat(jpegs);
    for (let seed = 1; seed <= 200; seed++) {
      const rand = rng(seed);
      const maxPiece = seed % 10 === 0 ? 1 : 1 + Math.floor(rand() * 20_000);
      const s = new MjpegSplitter();
      const frames = feed(s, chop(stream, rand, maxPiece));
      assert.equal(frames.length, jpegs.length, `seed ${seed}`);
      frames.forEach((f, i) => assert.ok(f.equals(jpegs[i]!), `seed ${seed}: frame ${i} differs`));
      assert.deepEqual(s.stats, { frames: jpegs.length, garbageBytes: 0, oversizeDrops: 0, corruptDrops: 0 });
      assert.equal(s.bufferedBytes, 0);
    }
  });

  it('skips garbage before, between and after frames and counts it exactly', function () {
    for (let seed = 1; seed <= 50; seed++) {
      const rand = rng(1000 + seed);
      const parts: Buffer[] = [];
      let junk = 0;
      for (const j of jpegs) {
        const g = garbage(rand, Math.floor(rand() * 300));
        junk += g.length;
        parts.push(g, j);
      }
      const tail = garbage(rand, 77);
      parts.push(tail);
      junk += tail.length;
      const s = new MjpegSplitter();
      const frames = feed(s, chop(Buffer.concat(parts), rand, 5000));
      assert.equal(frames.length, jpegs.length);
      frames.forEach((f, i) => assert.ok(f.equals(jpegs[i]!)));
      assert.equal(s.stats.garbageBytes, junk, `seed ${seed}`);
    }
  });

  it('keeps a JPEG whole when its EXIF thumbnail carries its own SOI/EOI', function () {
    const thumb = jpegs[1]!;
    const main = jpegs[0]!;
    // APP1 segment holding a complete JPEG: a naive FFD8/FFD9 search would cut the frame at the thumbnail's EOI
    const payload = Buffer.concat([Buffer.from('Exif\0\0'), thumb]);
    const app1 = Buffer.concat([Buffer.from([0xff, 0xe1, (payload.length + 2) >> 8, (payload.length + 2) & 0xff]), payload]);
    const withThumb = Buffer.concat([main.subarray(0, 2), app1, main.subarray(2)]);
    const frames = new MjpegSplitter().push(Buffer.concat([withThumb, jpegs[2]!]));
    assert.equal(frames.length, 2);
    assert.ok(frames[0]!.equals(withThumb));
    assert.ok(frames[1]!.equals(jpegs[2]!));
  });

  it('drops a truncated frame when the next SOI arrives, and reports why', function () {
    const reasons: string[] = [];
    const s = new MjpegSplitter({ onDrop: (r) => reasons.push(r) });
    const cut = jpegs[3]!.subarray(0, jpegs[3]!.length >> 1);
    const frames = feed(s, chop(Buffer.concat([jpegs[0]!, cut, jpegs[4]!, jpegs[5]!]), rng(7), 3000));
    assert.deepEqual(
      frames.map((f) => jpegs.findIndex((j) => j.equals(f))),
      [0, 4, 5],
    );
    assert.equal(s.stats.corruptDrops, 1);
    assert.match(reasons[0]!, /truncated/);
  });

  it('never buffers more than maxFrameBytes: oversize frames are dropped, the others still come out', function () {
    const sizes = jpegs.map((j) => j.length).sort((a, b) => a - b);
    const max = sizes[Math.floor(sizes.length / 2)]!; // about half the frames are too big
    const tooBig = jpegs.filter((j) => j.length > max).length;
    assert.ok(tooBig > 0 && tooBig < jpegs.length);
    const s = new MjpegSplitter({ maxFrameBytes: max });
    const frames = feed(s, chop(Buffer.concat(jpegs), rng(3), 4000), max);
    assert.deepEqual(
      frames,
      jpegs.filter((j) => j.length <= max),
    );
    assert.equal(s.stats.oversizeDrops, tooBig);
  });

  it('stays bounded on an endless frame (SOI, then data without EOI) and on endless garbage', function () {
    const s = new MjpegSplitter({ maxFrameBytes: 100_000 });
    // header of a real frame, then entropy-like data forever
    const sos = jpegs[0]!.indexOf(Buffer.from([0xff, 0xda]));
    const header = jpegs[0]!.subarray(0, sos + 2 + jpegs[0]!.readUInt16BE(sos + 2));
    const noise = Buffer.alloc(64 * 1024, 0x55);
    const frames = feed(s, [header, ...Array.from({ length: 40 }, () => noise)], 100_000);
    assert.equal(frames.length, 0);
    assert.equal(s.stats.oversizeDrops, 1);
    const z = new MjpegSplitter();
    assert.equal(
      feed(
        z,
        Array.from({ length: 80 }, () => Buffer.alloc(128 * 1024)),
        0,
      ).length,
      0,
    );
    assert.equal(z.stats.garbageBytes, 80 * 128 * 1024);
    // and recovers afterwards
    assert.ok(s.push(jpegs[1]!)[0]!.equals(jpegs[1]!));
  });

  it('fuzz: random byte corruption never throws, emits only well-formed frames in order, and resynchronises', async function () {
    const clean = jpegs.slice(0, 8);
    const max = 60_000;
    // a corrupted length field can make the splitter swallow up to maxFrameBytes before it gives up
    assert.ok(Buffer.concat(clean.slice(0, 6)).length > max, 'clean tail must outlast the longest bogus frame');
    for (let seed = 1; seed <= 150; seed++) {
      const rand = rng(5000 + seed);
      const corrupted = jpegs.map((j) => {
        if (rand() > 0.3) return j;
        const b = Buffer.from(j);
        const flips = 1 + Math.floor(rand() * 6);
        for (let k = 0; k < flips; k++) b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
        return b;
      });
      const s = new MjpegSplitter({ maxFrameBytes: max });
      const frames = feed(s, chop(Buffer.concat([...corrupted, ...clean]), rand, 9000), max);
      let last = -1;
      for (const f of frames) {
        assert.ok(f.length <= max);
        assert.equal(f.readUInt16BE(0), 0xffd8, `seed ${seed}: frame does not start with SOI`);
        assert.equal(f.readUInt16BE(f.length - 2), 0xffd9, `seed ${seed}: frame does not end with EOI`);
        const idx = corrupted.findIndex((c, i) => i > last && c.equals(f));
        if (idx >= 0) last = idx;
      }
      // the last two clean frames always come out intact, in order, at the end
      assert.ok(frames.at(-1)!.equals(clean[7]!), `seed ${seed}: did not resynchronise`);
      assert.ok(frames.at(-2)!.equals(clean[6]!), `seed ${seed}: did not resynchronise`);
      // an intact frame is always emitted once the damage before it is out of reach: no corrupted frame
      // before it at all, or at least maxFrameBytes of intact frames in between
      corrupted.forEach((c, i) => {
        if (c !== jpegs[i]) return;
        let run = 0;
        let j = i - 1;
        while (j >= 0 && corrupted[j] === jpegs[j]) run += corrupted[j--]!.length;
        if (j < 0 || run > max)
          assert.ok(
            frames.some((f) => f.equals(c)),
            `seed ${seed}: lost intact frame ${i}`,
          );
      });
    }
    // corrupted frames that pass the splitter are handed on; the decoder downstream decides
    const decoded = await sharp(jpegs[0]!).metadata();
    assert.equal(decoded.width, 320);
  });
});

describe('capture/FixedSizeSplitter and yuv420Layout', function () {
  it('cuts a raw stream into fixed frames across any chunking and holds at most one frame', function () {
    const frameBytes = 1234;
    const stream = Buffer.from(Array.from({ length: frameBytes * 7 + 100 }, (_, i) => (i * 31) % 251));
    for (let seed = 1; seed <= 30; seed++) {
      const s = new FixedSizeSplitter(frameBytes);
      const out: Buffer[] = [];
      for (const c of chop(stream, rng(seed), 3000)) {
        out.push(...s.push(c));
        assert.ok(s.bufferedBytes < frameBytes);
      }
      assert.equal(out.length, 7);
      out.forEach((f, i) => assert.ok(f.equals(stream.subarray(i * frameBytes, (i + 1) * frameBytes))));
      assert.equal(s.bufferedBytes, 100);
    }
  });

  it('pads the yuv420 stride to 64 bytes', function () {
    assert.deepEqual(yuv420Layout(640, 480), { stride: 640, frameBytes: 640 * 480 * 1.5 });
    assert.deepEqual(yuv420Layout(1000, 750), { stride: 1024, frameBytes: 1024 * 750 + 2 * 512 * 375 });
    assert.deepEqual(yuv420Layout(100, 60), { stride: 128, frameBytes: 128 * 60 + 2 * 64 * 30 });
  });
});
