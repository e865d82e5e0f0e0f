import { get, type ClientRequest } from 'node:http';
import { createPrometheusExporter } from '../metrics/prometheus.js';
import { Metrics } from '../metrics/registry.js';
import type { FrameResult } from '../pipeline/pipeline.js';
import { LiveFeed } from '../live/live-feed.js';
import { startHttpServer } from '../live/server.js';
import type { LiveStatus } from '../live/status.js';

export interface LiveViewRun<T> {
  result: T;
  /** JPEGs the live view encoded during the run (0 without a viewer: nothing is encoded for nobody) */
  frames_encoded: number;
  /** multipart parts and bytes the viewer received */
  parts_received: number;
  bytes_received: number;
  /** seconds the viewer was connected (from its response headers to the end of the run; 0 without one) */
  seconds_watched: number;
}

/**
 * Runs `body` with the daemon's live view attached, as in the daemon: every result is pushed to the feed
 * and the HTTP server is up. With `viewer`, one real client reads /stream.mjpeg over loopback HTTP and the
 * feed encodes at most `fps` JPEGs a second for it; without, nobody watches. The same run with and
 * without the viewer differs only by the viewer: what the pipeline loses to it is the live view's cost.
 */
export async function withLiveView<T>(fps: number, viewer: boolean, body: (push: (r: FrameResult) => void) => Promise<T>): Promise<LiveViewRun<T>> {
  const feed = new LiveFeed({ fps, maxViewers: 1 });
  const exporter = createPrometheusExporter(new Metrics({ device: 'bench', board: false }), { defaultMetrics: false });
  const server = await startHttpServer({
    port: 0,
    bind: '127.0.0.1',
    token: null,
    registry: exporter.registry,
    feed,
    status: (): LiveStatus => {
      throw new Error('the bench serves the stream only');
    },
  });
  let parts = 0;
  let bytes = 0;
  let req: ClientRequest | undefined;
  try {
    if (viewer) {
      await new Promise<void>((resolve, reject) => {
        req = get({ host: '127.0.0.1', port: server.port, path: '/stream.mjpeg', headers: { host: 'localhost' } }, (res) => {
          if (res.statusCode !== 200) return reject(new Error(`live view stream answered ${res.statusCode}`));
          res.on('data', (d: Buffer) => {
            bytes += d.length;
            for (let i = d.indexOf('--edgesightframe'); i >= 0; i = d.indexOf('--edgesightframe', i + 1)) parts++;
          });
          resolve();
        });
        req.on('error', reject);
      });
    }
    const t0 = performance.now();
    const result = await body((r) => feed.push(r));
    const seconds = viewer ? (performance.now() - t0) / 1000 : 0;
    await feed.idle();
    return { result, frames_encoded: feed.encoded, parts_received: parts, bytes_received: bytes, seconds_watched: seconds };
  } finally {
    req?.destroy();
    exporter.detach();
    await server.close();
  }
}
