import { get, type ClientRequest } from 'node:http';
import { createPrometheusExporter } from '../metrics/prometheus.js';
import { Metrics } from '../metrics/registry.js';
import type { FrameResult } from '../pipeline/pipeline.js';
import { LiveFeed } from '../live/live-feed.js';
import { startHttpServer } from '../live/server.js';
import type { LiveStatus } from '../live/status.js';

export interface LiveViewerRun<T> {
  result: T;
  /** JPEGs the live view encoded during the run */
  frames_encoded: number;
  /** multipart parts and bytes the viewer received */
  parts_received: number;
  bytes_received: number;
}

/**
 * Runs `body` with the daemon's live view attached and one real viewer reading /stream.mjpeg over
 * loopback HTTP: the pipeline's results go to the feed (as in the daemon), the feed encodes at most
 * `fps` JPEGs a second for the viewer. What the pipeline loses to that is the live view's cost.
 */
export async function withLiveViewer<T>(fps: number, body: (push: (r: FrameResult) => void) => Promise<T>): Promise<LiveViewerRun<T>> {
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
    const result = await body((r) => feed.push(r));
    return { result, frames_encoded: feed.encoded, parts_received: parts, bytes_received: bytes };
  } finally {
    req?.destroy();
    exporter.detach();
    await server.close();
  }
}
