import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { parseConfigText } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';
import { createPrometheusExporter } from '../../src/metrics/prometheus.js';
import { Metrics } from '../../src/metrics/registry.js';
import { nowMs } from '../../src/metrics/timing.js';
import type { FrameResult } from '../../src/pipeline/pipeline.js';
import { LatencyHistory } from '../../src/live/latency-history.js';
import { LiveFeed, MJPEG_BOUNDARY } from '../../src/live/live-feed.js';
import { overlayGeometry } from '../../src/live/overlay-geometry.js';
import { startHttpServer, type HttpServer } from '../../src/live/server.js';
import { buildStatus } from '../../src/live/status.js';
import { photo } from '../helpers/paths.js';
import { get, rawRequest } from './http-raw.js';
import { statusValidator } from './status-validator.js';

const TOKEN = 'test-token-0123456789abcdef';

function result(id: number, image: Buffer, extra: Partial<FrameResult> = {}): FrameResult {
  const t = nowMs();
  return {
    frameId: id,
    capturedAt: Date.now(),
    width: 512,
    height: 512,
    detections: [{ label: 'person', class_id: 0, score: 0.61, box: [0.1, 0.2, 0.6, 0.9], anchor: 1 }],
    lowDetections: [],
    segmentation: {
      width: 4,
      height: 4,
      data: Uint8Array.from([0, 0, 15, 15, 0, 15, 15, 0, 0, 0, 0, 0, 1, 1, 0, 0]),
      classes: ['background', 'aeroplane', ...Array(13).fill('x'), 'person'],
    },
    timings: { captured: t, received: t },
    frame: { kind: 'encoded', id, capturedAt: Date.now(), capturedMono: performance.now(), data: image, format: 'png' },
    ...extra,
  };
}

interface Harness {
  server: HttpServer;
  feed: LiveFeed;
  encodes: number[];
  close(): Promise<void>;
}

async function start(opts: { token?: string | null; maxViewers?: number; config?: Config } = {}): Promise<Harness> {
  const config = opts.config ?? parseConfigText('device: { id: t1 }\n', null, { env: {} }).config;
  const metrics = new Metrics({ device: 't1', board: false });
  const exporter = createPrometheusExporter(metrics, { defaultMetrics: false });
  const encodes: number[] = [];
  const feed = new LiveFeed({
    fps: 20,
    maxViewers: opts.maxViewers ?? 2,
    encode: async (r) => {
      encodes.push(r.frameId);
      const jpeg = await sharp(r.frame.kind === 'encoded' ? r.frame.data : Buffer.alloc(0))
        .jpeg()
        .toBuffer();
      return { jpeg, width: r.width, height: r.height, frameId: r.frameId };
    },
  });
  const history = new LatencyHistory(metrics);
  history.sample();
  const server = await startHttpServer({
    port: 0,
    bind: '127.0.0.1',
    token: opts.token ?? null,
    registry: exporter.registry,
    feed,
    status: () =>
      buildStatus({
        version: 'test',
        config: () => config,
        metrics,
        feed,
        history,
        state: () => ({ state: 'running', detail: null }),
        models: () => ({
          detector: { name: 'det', precision: 'int8' },
          segmenter: { name: 'seg', precision: 'int8', classes: ['background', 'person'] },
        }),
        inferenceCores: () => '1',
        counts: () => ({ person: 1, car: 0 }),
      }),
  });
  return { server, feed, encodes, close: () => server.close() };
}

const SECURITY = ['content-security-policy', 'x-content-type-options', 'x-frame-options', 'referrer-policy'];

function assertSecurityHeaders(h: Record<string, string>, what: string): void {
  for (const k of SECURITY) assert.ok(h[k], `${what}: missing ${k}`);
  assert.equal(h['x-content-type-options'], 'nosniff', what);
  assert.match(h['content-security-policy']!, /frame-ancestors 'none'/, what);
  assert.doesNotMatch(h['content-security-policy']!, /unsafe-inline|unsafe-eval/, what);
}

describe('live view HTTP server (in process, raw sockets)', function () {
  this.timeout(30_000);
  let h: Harness;
  let png: Buffer;
  before(async () => {
    png = readFileSync(photo('astronaut.png'));
    h = await start();
  });
  after(async () => h.close());

  it('serves the page, its scripts and uPlot with their content types and security headers', async () => {
    const expect: Record<string, RegExp> = {
      '/': /^text\/html; charset=utf-8$/,
      '/app.js': /^text\/javascript; charset=utf-8$/,
      '/style.css': /^text\/css; charset=utf-8$/,
      '/favicon.svg': /^image\/svg\+xml$/,
      '/vendor/uPlot.iife.min.js': /^text\/javascript; charset=utf-8$/,
      '/vendor/uPlot.min.css': /^text\/css; charset=utf-8$/,
      '/api/status': /^application\/json; charset=utf-8$/,
      '/metrics': /^text\/plain; version=0\.0\.4/,
      '/healthz': /^text\/plain/,
    };
    for (const [p, type] of Object.entries(expect)) {
      const r = await rawRequest(h.server.port, get(p));
      assert.equal(r.status, 200, `${p}: ${r.raw}`);
      assert.match(r.headers['content-type'] ?? '', type, p);
      assertSecurityHeaders(r.headers, p);
      assert.ok(r.body.length > 0, p);
    }
    const page = (await rawRequest(h.server.port, get('/'))).body.toString();
    assert.doesNotMatch(page, /<script>|\sstyle=|\son[a-z]+=/i, 'no inline script, style or handler (the CSP forbids them)');
    const head = await rawRequest(h.server.port, get('/app.js', {}, 'HEAD'));
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0, 'HEAD has no body');
  });

  it('answers hostile paths, encodings and request targets with 404/400 — never a file, never a listing', async () => {
    const notFound = [
      '/index.html',
      '/static/',
      '/static/app.js',
      '/vendor/',
      '/vendor',
      '/src/live/static/app.js',
      '/node_modules/uplot/package.json',
      '/../package.json',
      '/..%2f..%2fpackage.json',
      '/%2e%2e/%2e%2e/etc/passwd',
      '/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd',
      '/..\\..\\package.json',
      '/%252e%252e/etc/passwd',
      '/app.js/',
      '/app.js%00.html',
      '/app.js%2500',
      '/APP.JS',
      '/app.js/../../../etc/passwd',
      '/vendor/../app.js',
      '/vendor/uPlot.iife.min.js/..',
      '/./app.js',
      '/%C0%AE%C0%AE/etc/passwd',
      '/api/status/../../etc/passwd',
      '/api',
      '/api/',
      '/stream.mjpeg/../etc/passwd',
      '/metrics/..',
      '/.git/config',
      '/.env',
      '/' + 'a'.repeat(4000),
    ];
    for (const p of notFound) {
      const r = await rawRequest(h.server.port, get(p));
      assert.equal(r.status, 404, `${p} → ${r.raw}`);
      assert.equal(r.headers['content-type'], 'text/plain; charset=utf-8', p);
      assert.equal(r.body.toString(), 'not found\n', p);
      assertSecurityHeaders(r.headers, p);
    }
    for (const target of ['../../etc/passwd', '//etc/passwd', 'http://127.0.0.1/app.js', '*', '\\app.js']) {
      const r = await rawRequest(h.server.port, get(target));
      assert.ok(r.status === 400, `${target} → ${r.raw}`);
    }
    // the query string is not a way in either
    assert.equal((await rawRequest(h.server.port, get('/?file=../../etc/passwd'))).status, 200);
    const q = await rawRequest(h.server.port, get('/app.js?x=/../../package.json'));
    assert.ok(q.body.toString().includes('live view'), 'still the page script');
  });

  it('is read-only: every other method is 405, with Allow', async () => {
    for (const m of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'CONNECT', 'PROPFIND']) {
      const r = await rawRequest(h.server.port, get(m === 'CONNECT' ? '/' : '/api/status', { 'Content-Length': '0' }, m));
      // CONNECT is not a request Node hands to the server: the connection is closed
      assert.ok(r.status === 405 || r.status === 400 || (m === 'CONNECT' && r.status === 0), `${m} → ${r.raw}`);
      if (r.status === 405) assert.equal(r.headers.allow, 'GET, HEAD', m);
    }
  });

  it('without a token, answers loopback Host names only (DNS rebinding), but /healthz always', async () => {
    for (const host of ['localhost', `127.0.0.1:${h.server.port}`, `[::1]:${h.server.port}`, 'LOCALHOST']) {
      assert.equal((await rawRequest(h.server.port, get('/api/status', { Host: host }))).status, 200, host);
    }
    for (const host of [
      'evil.example',
      `evil.example:${h.server.port}`,
      '127.0.0.1.evil.example',
      'localhost.evil.example',
      '10.0.0.1',
      '',
      'localhost:x',
    ]) {
      const r = await rawRequest(h.server.port, get('/', { Host: host }));
      assert.ok(r.status === 403 || r.status === 400, `Host ${JSON.stringify(host)} → ${r.raw}`);
    }
    assert.equal((await rawRequest(h.server.port, 'GET / HTTP/1.0\r\n\r\n')).status, 403, 'HTTP/1.0 without Host');
    assert.equal((await rawRequest(h.server.port, get('/healthz', { Host: 'evil.example' }))).status, 200);
  });

  it('refuses oversized and malformed headers', async () => {
    assert.equal((await rawRequest(h.server.port, get('/', { 'X-Big': 'a'.repeat(20_000) }))).status, 431);
    const many: Record<string, string> = {};
    for (let i = 0; i < 200; i++) many[`X-H${i}`] = 'v';
    assert.ok([200, 400, 431].includes((await rawRequest(h.server.port, get('/healthz', many))).status));
    assert.equal((await rawRequest(h.server.port, 'GET / HTTP/1.1\r\nHost: localhost\r\nBad Header\r\n\r\n')).status, 400);
    assert.equal((await rawRequest(h.server.port, 'GET /\0 HTTP/1.1\r\nHost: localhost\r\n\r\n')).status, 400);
  });

  it('encodes nothing without a viewer; with one, streams multipart JPEG parts, one encode per new frame', async () => {
    h.feed.push(result(1, png));
    h.feed.push(result(2, png));
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(h.encodes, [], 'no viewer, no encode');
    const r = await rawRequest(h.server.port, get('/stream.mjpeg'), { untilBytes: 20_000 });
    assert.equal(r.status, 200, r.raw);
    assert.equal(r.headers['content-type'], `multipart/x-mixed-replace; boundary=${MJPEG_BOUNDARY}`);
    assert.equal(r.headers['cache-control'], 'no-store, no-cache, must-revalidate');
    assertSecurityHeaders(r.headers, '/stream.mjpeg');
    const body = r.body.toString('latin1');
    assert.ok(body.startsWith(`--${MJPEG_BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: `), body.slice(0, 120));
    const m = /Content-Length: (\d+)\r\nX-Frame-Id: 2\r\n\r\n/.exec(body)!;
    assert.ok(m, 'the latest frame (2) was sent');
    const start = m.index + m[0].length;
    assert.equal(r.body[start], 0xff);
    assert.equal(r.body[start + 1], 0xd8, 'JPEG SOI');
    assert.deepEqual(h.encodes, [2], 'only the latest frame was encoded, once');
    // the viewer left: the same frame is not encoded again, and nothing is encoded for nobody
    await new Promise((r2) => setTimeout(r2, 300));
    h.feed.push(result(3, png));
    await new Promise((r2) => setTimeout(r2, 300));
    assert.deepEqual(h.encodes, [2]);
  });

  it('a viewer connecting before the first frame gets the response headers at once', async () => {
    const fresh = await start();
    try {
      const r = await rawRequest(fresh.server.port, get('/stream.mjpeg'), { untilBytes: 40, timeoutMs: 3000 });
      assert.equal(r.status, 200, r.raw);
      assert.equal(r.headers['content-type'], `multipart/x-mixed-replace; boundary=${MJPEG_BOUNDARY}`);
      assert.deepEqual(fresh.encodes, [], 'nothing to encode yet');
    } finally {
      await fresh.close();
    }
  });

  it('bounds viewers: over max_viewers is 503 with Retry-After; a freed slot is reused', async () => {
    const { connect } = await import('node:net');
    const open = (): Promise<import('node:net').Socket> =>
      new Promise((resolve) => {
        const s = connect(h.server.port, '127.0.0.1', () => {
          s.write(get('/stream.mjpeg'));
          s.once('data', () => resolve(s));
        });
      });
    const a = await open();
    const b = await open();
    assert.equal(h.feed.viewerCount, 2);
    const third = await rawRequest(h.server.port, get('/stream.mjpeg'));
    assert.equal(third.status, 503, third.raw);
    assert.equal(third.headers['retry-after'], '10');
    a.destroy();
    for (let i = 0; i < 100 && h.feed.viewerCount > 1; i++) await new Promise((r) => setTimeout(r, 20));
    const again = await rawRequest(h.server.port, get('/stream.mjpeg'), { untilBytes: 200 });
    assert.equal(again.status, 200);
    b.destroy();
  });

  it('/api/status matches its JSON Schema, with the frame, mask, counts and track ids', async () => {
    const validate = statusValidator();
    h.feed.push(
      result(7, png, {
        detections: [
          { label: 'person', class_id: 0, score: 0.61, box: [0.1, 0.2, 0.6, 0.9], anchor: 1, track_id: 4 } as FrameResult['detections'][number],
        ],
      }),
    );
    const s = JSON.parse((await rawRequest(h.server.port, get('/api/status'))).body.toString()) as Record<string, any>;
    assert.deepEqual(validate(s), []);
    assert.equal(s.frame.id, 7);
    assert.deepEqual(s.frame.detections, [{ label: 'person', score: 0.61, box: [0.1, 0.2, 0.6, 0.9], track_id: 4 }]);
    assert.deepEqual([...Buffer.from(s.frame.mask.data, 'base64')], [0, 0, 15, 15, 0, 15, 15, 0, 0, 0, 0, 0, 1, 1, 0, 0]);
    assert.deepEqual(s.counts, { person: 1, car: 0 });
    assert.equal(s.live.max_viewers, 2);
    assert.equal(s.inference.cpus_allowed_list, '1');
    assert.deepEqual(s.zones, {});
    // without track ids, none is invented
    h.feed.push(result(8, png));
    const s2 = JSON.parse((await rawRequest(h.server.port, get('/api/status'))).body.toString()) as Record<string, any>;
    assert.equal('track_id' in s2.frame.detections[0], false);
    assert.deepEqual(validate(s2), []);
    // the schema is strict: an unknown key or a wrong type fails
    assert.notDeepEqual(validate({ ...s2, extra: 1 }), []);
    assert.notDeepEqual(validate({ ...s2, frame: { ...s2.frame, id: 'x' } }), []);
  });
});

describe('live view HTTP server with a token', function () {
  this.timeout(30_000);
  let h: Harness;
  before(async () => {
    h = await start({ token: TOKEN });
  });
  after(async () => h.close());

  it('requires the token on every path but /healthz: Bearer or the Basic password; anything else is 401', async () => {
    const basic = (user: string, pass: string): string => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
    for (const p of ['/', '/app.js', '/vendor/uPlot.min.css', '/api/status', '/metrics', '/stream.mjpeg', '/nope']) {
      const none = await rawRequest(h.server.port, get(p));
      assert.equal(none.status, 401, `${p}: ${none.raw}`);
      assert.match(none.headers['www-authenticate'] ?? '', /^Basic realm="edgesight"/);
      assertSecurityHeaders(none.headers, p);
      for (const bad of [
        `Bearer ${TOKEN}x`,
        `Bearer ${TOKEN.slice(0, -1)}`,
        'Bearer',
        `Token ${TOKEN}`,
        basic('u', 'wrong'),
        `Basic ${TOKEN}`,
        `Bearer ${TOKEN} extra`,
        'x'.repeat(6000),
      ]) {
        const r = await rawRequest(h.server.port, get(p, { Authorization: bad }));
        assert.ok(r.status === 401 || r.status === 431, `${p} with ${bad.slice(0, 30)} → ${r.status}`);
      }
    }
    const ok = await rawRequest(h.server.port, get('/api/status', { Authorization: `Bearer ${TOKEN}`, Host: 'pi.example:9464' }));
    assert.equal(ok.status, 200, 'a token request may use any Host name');
    assert.equal((await rawRequest(h.server.port, get('/', { Authorization: basic('edgesight', TOKEN) }))).status, 200);
    assert.equal((await rawRequest(h.server.port, get('/metrics', { Authorization: `bearer ${TOKEN}` }))).status, 200, 'scheme is case-insensitive');
    assert.equal((await rawRequest(h.server.port, get('/healthz'))).status, 200, '/healthz stays open for probes');
  });
});

describe('live view: zones and lines from the config', () => {
  it('takes well-formed zones and lines as optional data, leaving out what it cannot draw', () => {
    const g = overlayGeometry({
      zones: {
        door: {
          polygon: [
            [0.1, 0.1],
            [0.5, 0.1],
            [0.5, 0.6],
          ],
        },
        obj: {
          polygon: [
            { x: 0, y: 0 },
            { x: 1, y: 0 },
            { x: 1, y: 1 },
          ],
        },
        two_points: {
          polygon: [
            [0, 0],
            [1, 1],
          ],
        },
        outside: {
          polygon: [
            [0, 0],
            [1.5, 0],
            [1, 1],
          ],
        },
        junk: 'x',
      },
      lines: {
        gate: {
          points: [
            [0, 0.5],
            [1, 0.5],
          ],
        },
        short: { points: [[0, 0]] },
        nan: {
          points: [
            [0, NaN],
            [1, 1],
          ],
        },
      },
    });
    assert.deepEqual(g, {
      zones: {
        door: {
          polygon: [
            [0.1, 0.1],
            [0.5, 0.1],
            [0.5, 0.6],
          ],
        },
        obj: {
          polygon: [
            [0, 0],
            [1, 0],
            [1, 1],
          ],
        },
      },
      lines: {
        gate: {
          points: [
            [0, 0.5],
            [1, 0.5],
          ],
        },
      },
    });
    assert.deepEqual(overlayGeometry({}), { zones: {}, lines: {} });
    assert.deepEqual(overlayGeometry(null), { zones: {}, lines: {} });
    assert.deepEqual(overlayGeometry({ zones: [1, 2], lines: null }), { zones: {}, lines: {} });
  });

  it('/api/status carries them (schema-valid) when the config has them', async () => {
    const config = parseConfigText('device: { id: t1 }\n', null, { env: {} }).config;
    Object.assign(config, {
      zones: {
        door: {
          polygon: [
            [0.1, 0.1],
            [0.5, 0.1],
            [0.5, 0.6],
          ],
        },
      },
      lines: {
        gate: {
          points: [
            [0, 0.5],
            [1, 0.5],
          ],
        },
      },
    });
    const h = await start({ config });
    try {
      const s = JSON.parse((await rawRequest(h.server.port, get('/api/status'))).body.toString()) as Record<string, any>;
      assert.deepEqual(s.zones, {
        door: {
          polygon: [
            [0.1, 0.1],
            [0.5, 0.1],
            [0.5, 0.6],
          ],
        },
      });
      assert.deepEqual(s.lines, {
        gate: {
          points: [
            [0, 0.5],
            [1, 0.5],
          ],
        },
      });
      assert.deepEqual(statusValidator()(s), []);
    } finally {
      await h.close();
    }
  });
});
