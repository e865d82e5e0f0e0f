import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { get, type ClientRequest } from 'node:http';
import sharp from 'sharp';
import { LiveFeed } from '../../src/live/live-feed.js';
import { startHttpServer } from '../../src/live/server.js';
import { createPrometheusExporter } from '../../src/metrics/prometheus.js';
import { Metrics } from '../../src/metrics/registry.js';
import { nowMs } from '../../src/metrics/timing.js';
import type { FrameResult } from '../../src/pipeline/pipeline.js';
import type { ViewerImage } from '../../src/live/viewer-image.js';
import { photo } from '../helpers/paths.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function result(id: number, data: Buffer): FrameResult {
  const t = nowMs();
  return {
    frameId: id,
    capturedAt: Date.now(),
    width: 512,
    height: 512,
    detections: [],
    lowDetections: [],
    timings: { captured: t, received: t },
    frame: { kind: 'encoded', id, capturedAt: Date.now(), capturedMono: performance.now(), data, format: 'png' },
  };
}

async function toJpeg(r: FrameResult): Promise<ViewerImage> {
  const jpeg = await sharp(r.frame.kind === 'encoded' ? r.frame.data : Buffer.alloc(0))
    .jpeg()
    .toBuffer();
  return { jpeg, width: r.width, height: r.height, frameId: r.frameId };
}

/** the live view's HTTP server on a free port, serving `feed` only */
async function serve(feed: LiveFeed) {
  const exporter = createPrometheusExporter(new Metrics({ device: 't', board: false }), { defaultMetrics: false });
  const server = await startHttpServer({
    port: 0,
    bind: '127.0.0.1',
    token: null,
    registry: exporter.registry,
    feed,
    status: () => {
      throw new Error('not used');
    },
  });
  return { exporter, server };
}

/**
 * The live view's cost is bounded by construction: JPEGs are encoded only while a viewer is connected,
 * at most live_fps a second however fast the pipeline pushes frames (the bench measures what that costs).
 */
describe('live view: encoding only while watched, at most live_fps', function () {
  this.timeout(30_000);

  it('a pipeline pushing 100 frames/s gets at most live_fps encodes/s with a viewer, none before or after', async () => {
    const png = readFileSync(photo('astronaut.png'));
    const encodedAt: number[] = [];
    const fps = 4;
    const feed = new LiveFeed({
      fps,
      maxViewers: 1,
      encode: async (r) => {
        encodedAt.push(performance.now());
        return toJpeg(r);
      },
    });
    const { exporter, server } = await serve(feed);
    let id = 0;
    const pusher = setInterval(() => feed.push(result(id++, png)), 10);
    let req: ClientRequest | undefined;
    try {
      await sleep(500);
      assert.equal(encodedAt.length, 0, 'encoded with nobody watching');
      let parts = 0;
      await new Promise<void>((resolve, reject) => {
        req = get({ host: '127.0.0.1', port: server.port, path: '/stream.mjpeg', headers: { host: 'localhost' } }, (res) => {
          res.on('data', (d: Buffer) => void (parts += d.toString('latin1').split('--edgesightframe').length - 1));
          resolve();
        });
        req.on('error', reject);
      });
      const t0 = performance.now();
      await sleep(2000);
      const watched = (performance.now() - t0) / 1000;
      const n = encodedAt.length;
      // the first encode is at connect time, then one per 1/fps s: after the first, no two encodes closer than
      // 1/fps (a little timer jitter allowed), which a loaded machine can only make wider, never narrower
      const gaps = encodedAt.slice(2).map((t, i) => t - encodedAt[i + 1]!);
      assert.ok(Math.min(...gaps) >= 0.9 * (1000 / fps), `encodes ${gaps.map((g) => g.toFixed(0)).join(', ')} ms apart at live_fps ${fps}`);
      assert.ok(n <= Math.ceil(watched * fps) + 1, `${n} encodes in ${watched.toFixed(2)} s at live_fps ${fps}`);
      assert.ok(n >= 3, `only ${n} encodes in ${watched.toFixed(2)} s`);
      assert.ok(parts >= 2, `the viewer received ${parts} parts`);
      req!.destroy();
      await sleep(300);
      const after = encodedAt.length;
      await sleep(700);
      assert.equal(encodedAt.length, after, 'still encoding after the viewer left');
      assert.equal(feed.viewerCount, 0);
    } finally {
      clearInterval(pusher);
      req?.destroy();
      exporter.detach();
      await server.close();
    }
  });

  it('a viewer that connects before the first frame gets it as soon as it is pushed, not a tick later', async () => {
    const png = readFileSync(photo('astronaut.png'));
    // one encode a minute: only the first-frame path can encode within this test
    const feed = new LiveFeed({
      fps: 1 / 60,
      maxViewers: 1,
      encode: toJpeg,
    });
    const { exporter, server } = await serve(feed);
    let req: ClientRequest | undefined;
    try {
      let body = '';
      await new Promise<void>((resolve, reject) => {
        req = get({ host: '127.0.0.1', port: server.port, path: '/stream.mjpeg', headers: { host: 'localhost' } }, (res) => {
          res.on('data', (d: Buffer) => void (body += d.toString('latin1')));
          resolve();
        });
        req.on('error', reject);
      });
      await sleep(100);
      assert.equal(feed.encoded, 0, 'nothing to encode before a frame exists');
      feed.push(result(7, png));
      feed.push(result(8, png));
      await feed.idle();
      await sleep(200);
      assert.equal(feed.encoded, 1, 'one encode, for the first frame pushed');
      assert.match(body, /X-Frame-Id: 7\r\n/);
      assert.equal(feed.currentImage()?.frameId, 7);
    } finally {
      req?.destroy();
      exporter.detach();
      await server.close();
    }
  });
});
