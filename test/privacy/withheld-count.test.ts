import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { parseConfigText } from '../../src/config/load.js';
import { createLogger } from '../../src/logging/logger.js';
import { Metrics } from '../../src/metrics/registry.js';
import { createPrometheusExporter } from '../../src/metrics/prometheus.js';
import { STATS_SCHEMA } from '../../src/metrics/stats-schema.js';
import { topicsFor } from '../../src/mqtt/topics.js';
import type { FrameResult } from '../../src/pipeline/pipeline.js';
import { ResultPublisher } from '../../src/publish/result-publisher.js';
import { parsePrometheusText, sampleValue } from '../metrics/prom-text-parser.js';
import { photo } from '../helpers/paths.js';

/** A processed frame as the pipeline hands it over (raw RGB, as the ffmpeg and libcamera sources deliver). */
function result(id: number, data: Buffer, width: number, height: number): FrameResult {
  return {
    frameId: id,
    capturedAt: Date.now(),
    width,
    height,
    detections: [],
    lowDetections: [],
    timings: { captured: 0, received: 0 },
    frame: { kind: 'raw', id, capturedAt: Date.now(), capturedMono: 0, data, format: 'rgb24', width, height, stride: width * 3 },
  };
}

describe('privacy: withheld images are counted in stats and Prometheus', () => {
  it('a snapshot that cannot be obscured is not published, and images_withheld rises in the stats payload and /metrics', async () => {
    const lc = parseConfigText('camera: { name: cam }\nprivacy: { classes: [person], mode: fill }\nmqtt: { snapshot: { max_rate_hz: 0 } }\n', null);
    const metrics = new Metrics({ device: 'dev', board: false });
    const prom = createPrometheusExporter(metrics, { defaultMetrics: false });
    const published: string[] = [];
    const out = new ResultPublisher(
      lc.config,
      topicsFor('edgesight', 'dev', 'cam'),
      { publish: (t: string) => void published.push(t) },
      createLogger('silent', false, 2),
      {
        segmenterClasses: null,
        stateFile: null,
        onWithheld: () => metrics.inc('images_withheld'),
      },
    );
    try {
      const { data, info } = await sharp(await readFile(photo('astronaut.png')))
        .removeAlpha()
        .resize(160, 120)
        .raw()
        .toBuffer({ resolveWithObject: true });
      // a whole frame: obscured (by the frame's detections: none here) and published
      await out.onResult(result(1, data, info.width, info.height));
      await out.onSnapshotRequest();
      assert.deepEqual(
        published.filter((t) => t.endsWith('/snapshot')),
        ['edgesight/dev/cam/snapshot'],
      );
      assert.equal(metrics.snapshot().images_withheld_total, 0);
      // a truncated frame cannot be obscured: nothing is published, and it is counted
      await out.onResult(result(2, data.subarray(0, data.length - 3 * info.width), info.width, info.height));
      await out.onSnapshotRequest();
      await out.onSnapshotRequest();
      assert.equal(published.filter((t) => t.endsWith('/snapshot')).length, 1, 'no second snapshot');
      assert.equal(out.privacyWithheld, 2);
      const stats = metrics.snapshot();
      assert.equal(stats.images_withheld_total, 2);
      assert.ok(
        'images_withheld_total' in STATS_SCHEMA.properties && STATS_SCHEMA.required.includes('images_withheld_total'),
        'the stats schema carries the counter',
      );
      const fams = parsePrometheusText(await prom.registry.metrics());
      assert.equal(sampleValue(fams, 'edgesight_images_withheld_total'), 2);
    } finally {
      out.finish();
      prom.detach();
    }
  });
});
