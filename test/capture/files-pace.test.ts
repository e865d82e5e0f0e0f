import assert from 'node:assert/strict';
import type { Frame } from '../../src/capture/frame.js';
import { filesSource } from '../../src/capture/files.js';
import { PHOTOS_DIR } from '../helpers/paths.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('capture/files: pace', () => {
  it('pipeline: the next image is read only once the previous frame is released, and at most at fps', async () => {
    const got: Frame[] = [];
    const sub = filesSource({ path: PHOTOS_DIR, loop: true, fps: 200, pace: 'pipeline' }).subscribe((f) => got.push(f));
    try {
      await sleep(300);
      assert.equal(got.length, 1, 'a second frame was read before the first was released');
      assert.equal(typeof got[0]!.release, 'function');
      got[0]!.release!();
      got[0]!.release!(); // twice is harmless
      await sleep(300);
      assert.equal(got.length, 2);
      // each release lets exactly one more frame through
      for (let i = 0; i < 10; i++) {
        const n: number = got.length;
        got.at(-1)!.release!();
        const until = Date.now() + 5000;
        while (got.length === n && Date.now() < until) await sleep(2);
        await sleep(30);
        assert.equal(got.length, n + 1);
      }
    } finally {
      sub.unsubscribe();
    }
  });

  it('fps (the default): frames come on the clock, nobody waits for them', async () => {
    const got: Frame[] = [];
    const sub = filesSource({ path: PHOTOS_DIR, loop: true, fps: 100 }).subscribe((f) => got.push(f));
    try {
      await sleep(300);
      assert.ok(got.length >= 5, `${got.length} frames in 300 ms at 100 fps`);
      assert.ok(got.every((f) => f.release === undefined));
    } finally {
      sub.unsubscribe();
    }
  });
});
