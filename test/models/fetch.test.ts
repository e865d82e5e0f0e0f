import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CATALOG, type SourceFile } from '../../src/models/catalog.js';
import { obtainSource, type FetchContext } from '../../src/models/fetch.js';
import { ModelError } from '../../src/models/manifest.js';
import { createProgress, renderBar } from '../../src/models/progress.js';
import { MODEL_SOURCES_DIR, TFLITE_DETECTOR } from '../helpers/paths.js';

const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');
const TFLITE = TFLITE_DETECTOR;

function models(args: string[], env: Record<string, string> = {}): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, 'models', ...args], {
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH ?? '',
      HOME: os.tmpdir(),
      EDGESIGHT_OFFLINE: '1',
      EDGESIGHT_MODELS_MIRROR: '',
      EDGESIGHT__MODELS__PRECISION: 'fp32',
      ...env,
    },
    timeout: 60_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe('models fetch: the packaged sources, then mirrors', function () {
  this.timeout(60_000);
  let tmp: string;
  let logs: string[];
  before(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'es-fetch-'));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));
  beforeEach(() => {
    logs = [];
  });
  /** the detector's pinned source as a model outside the package would have it: mirrors and URL only */
  const unpackaged = (): SourceFile => ({ ...CATALOG[0]!.source, packaged: null, url: null });
  const ctx = (cache: string, mirrors: string[]): FetchContext => ({ cacheDir: cache, mirrors, allowNetwork: false, log: (m) => void logs.push(m) });

  it('both default models come from the package itself: offline, no mirror, nothing copied into cache/sources', () => {
    const cache = path.join(tmp, 'cache-packaged');
    const r = models(['fetch', '--all', '--cache', cache]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /ready {2}ssdlite_mobilenet_v3_small_coco +fp32/);
    assert.match(r.stdout, /ready {2}lraspp_mobilenet_v3_small_voc +fp32/);
    assert.ok(!existsSync(path.join(cache, 'sources')), 'the packaged sources are read in place');
  });

  it('obtainSource returns the packaged copy after checking its sha256', async () => {
    for (const e of CATALOG) {
      const got = await obtainSource(e.source, ctx(path.join(tmp, 'cache-direct'), []));
      assert.equal(got, path.join(MODEL_SOURCES_DIR, e.source.file));
      assert.equal(createHash('sha256').update(readFileSync(got)).digest('hex'), e.source.sha256);
    }
  });

  it('refuses a mirror file whose sha256 is not the pinned one, and leaves nothing in the cache', async () => {
    const mirror = path.join(tmp, 'bad-mirror');
    mkdirSync(path.join(mirror, 'upstream'), { recursive: true });
    const bytes = readFileSync(TFLITE);
    bytes[bytes.length >> 1] ^= 0x01; // same size, one bit off
    writeFileSync(path.join(mirror, 'upstream/ssd_mobilenet_v3_small_coco_int8.tflite'), bytes);
    const cache = path.join(tmp, 'cache-bad');
    await assert.rejects(
      obtainSource(unpackaged(), ctx(cache, [mirror])),
      /bad-mirror\/upstream\/ssd_mobilenet_v3_small_coco_int8\.tflite has sha256 [0-9a-f]{64}, expected 673978b1.*refusing a file that is not the pinned one/,
    );
    assert.ok(!existsSync(path.join(cache, 'sources/ssd_mobilenet_v3_small_coco_int8.tflite')));
  });

  it('takes the file from a mirror laid out flat and makes the cached copy writable', async () => {
    const mirror = path.join(tmp, 'flat-mirror');
    mkdirSync(mirror);
    cpSync(TFLITE, path.join(mirror, 'ssd_mobilenet_v3_small_coco_int8.tflite'));
    const cache = path.join(tmp, 'cache-flat');
    const got = await obtainSource(unpackaged(), ctx(cache, [mirror]));
    assert.equal(got, path.join(cache, 'sources/ssd_mobilenet_v3_small_coco_int8.tflite'));
    assert.ok(
      logs.some((l) => /took ssd_mobilenet_v3_small_coco_int8\.tflite from mirror .*flat-mirror/.test(l)),
      logs.join('\n'),
    );
    assert.equal(statSync(got).mode & 0o200, 0o200);
  });

  it('a model with neither a packaged copy nor a URL names where it looked', async () => {
    await assert.rejects(
      obtainSource(unpackaged(), ctx(path.join(tmp, 'cache-none'), [path.join(tmp, 'empty')])),
      /no public download URL; put it in a folder and pass it with --from DIR .*looked in: .*empty/,
    );
  });
});

interface Served {
  url: string;
  ranges: Array<string | undefined>;
  bytesSent: number;
  close(): Promise<void>;
}

type Mode = 'range' | 'ignore-range' | 'cut' | 'wrong-range';

/** A local HTTP server for one file: honours Range, ignores it, or cuts the connection halfway. */
async function serve(data: Buffer, mode: () => Mode): Promise<Served> {
  const s: Served = { url: '', ranges: [], bytesSent: 0, close: async () => undefined };
  const server = http.createServer((req, res) => {
    const range = req.headers.range;
    s.ranges.push(range);
    const m = /^bytes=(\d+)-$/.exec(range ?? '');
    const md = mode();
    if (m && md === 'range') {
      const start = Number(m[1]);
      res.writeHead(206, { 'content-range': `bytes ${start}-${data.length - 1}/${data.length}`, 'content-length': data.length - start });
      s.bytesSent += data.length - start;
      res.end(data.subarray(start));
      return;
    }
    if (m && md === 'wrong-range') {
      res.writeHead(206, { 'content-range': `bytes 0-${data.length - 1}/${data.length}`, 'content-length': data.length });
      res.end(data);
      return;
    }
    res.writeHead(200, { 'content-length': data.length });
    if (md === 'cut') {
      const half = data.subarray(0, data.length >> 1);
      s.bytesSent += half.length;
      res.write(half, () => setTimeout(() => res.socket?.destroy(), 50));
      return;
    }
    s.bytesSent += data.length;
    res.end(data);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  s.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/model.tflite`;
  s.close = () => new Promise<void>((r) => server.close(() => r()));
  return s;
}

describe('models fetch: download from an upstream URL (local HTTP server)', function () {
  this.timeout(60_000);
  const data = readFileSync(TFLITE);
  const pinned = CATALOG[0]!.source;
  let tmp: string;
  let mode: Mode = 'range';
  let srv: Served;
  let progress: Array<[number, number]>;
  let logs: string[];
  const ctx = (cache: string): FetchContext => ({
    cacheDir: cache,
    mirrors: [],
    allowNetwork: true,
    log: (m) => void logs.push(m),
    progress: (d, t) => void progress.push([d, t]),
  });
  const src = (over: Partial<SourceFile> = {}): SourceFile => ({ ...pinned, packaged: null, url: srv.url, mirrorPaths: [], ...over });

  before(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'es-dl-'));
    srv = await serve(data, () => mode);
  });
  beforeEach(() => {
    srv.ranges = [];
    srv.bytesSent = 0;
    progress = [];
    logs = [];
  });
  after(async () => {
    await srv.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('downloads, reports progress and verifies the sha256', async () => {
    mode = 'range';
    const cache = path.join(tmp, 'c1');
    const file = await obtainSource(src(), ctx(cache));
    assert.equal(createHash('sha256').update(readFileSync(file)).digest('hex'), pinned.sha256);
    assert.deepEqual(srv.ranges, [undefined]);
    assert.deepEqual(progress.at(-1), [data.length, data.length]);
    assert.ok(progress.length > 1, 'several progress updates');
    // cached now: no second request
    await obtainSource(src(), ctx(cache));
    assert.equal(srv.ranges.length, 1);
  });

  it('resumes a partial download with a Range request', async () => {
    mode = 'range';
    const cache = path.join(tmp, 'c2');
    mkdirSync(path.join(cache, 'sources'), { recursive: true });
    const have = 1_000_000;
    writeFileSync(path.join(cache, 'sources', `${pinned.file}.part`), data.subarray(0, have));
    const file = await obtainSource(src(), ctx(cache));
    assert.deepEqual(srv.ranges, [`bytes=${have}-`]);
    assert.equal(srv.bytesSent, data.length - have);
    assert.ok(readFileSync(file).equals(data));
    assert.ok(logs.some((l) => /downloading/.test(l)));
  });

  it('starts over when the server ignores the Range header', async () => {
    mode = 'ignore-range';
    const cache = path.join(tmp, 'c3');
    mkdirSync(path.join(cache, 'sources'), { recursive: true });
    writeFileSync(path.join(cache, 'sources', `${pinned.file}.part`), Buffer.alloc(5000, 7));
    const file = await obtainSource(src(), ctx(cache));
    assert.equal(srv.ranges[0], 'bytes=5000-');
    assert.ok(readFileSync(file).equals(data));
  });

  it('refuses a 206 that does not start where the partial file ends', async () => {
    mode = 'wrong-range';
    const cache = path.join(tmp, 'c4');
    mkdirSync(path.join(cache, 'sources'), { recursive: true });
    const part = path.join(cache, 'sources', `${pinned.file}.part`);
    writeFileSync(part, data.subarray(0, 4096));
    await assert.rejects(
      obtainSource(src(), ctx(cache)),
      (e: Error) => e instanceof ModelError && /range bytes 0-.* for a resume at byte 4096/.test(e.message),
    );
    assert.ok(!existsSync(part), 'the partial file is removed');
  });

  it('keeps a broken-off download and resumes it on the next run', async () => {
    const cache = path.join(tmp, 'c5');
    mode = 'cut';
    await assert.rejects(obtainSource(src(), ctx(cache)), (e: Error) => e instanceof ModelError && /run the command again to resume/.test(e.message));
    const part = path.join(cache, 'sources', `${pinned.file}.part`);
    const kept = statSync(part).size;
    assert.ok(kept > 0 && kept < data.length, `kept ${kept} bytes`);
    mode = 'range';
    srv.ranges = [];
    const file = await obtainSource(src(), ctx(cache));
    assert.deepEqual(srv.ranges, [`bytes=${kept}-`]);
    assert.ok(readFileSync(file).equals(data));
  });

  it('refuses a download whose sha256 is wrong and removes it', async () => {
    mode = 'range';
    const cache = path.join(tmp, 'c6');
    const wrong = 'f'.repeat(64);
    await assert.rejects(
      obtainSource(src({ sha256: wrong }), ctx(cache)),
      (e: Error) => e instanceof ModelError && new RegExp(`has sha256 ${pinned.sha256}, expected ${wrong}`).test(e.message),
    );
    assert.ok(!existsSync(path.join(cache, 'sources', `${pinned.file}.part`)));
    assert.ok(!existsSync(path.join(cache, 'sources', pinned.file)));
  });

  it('does not download when the network is off', async () => {
    const cache = path.join(tmp, 'c7');
    await assert.rejects(obtainSource(src(), { ...ctx(cache), allowNetwork: false }), /not in any mirror .* downloads are off/);
    assert.equal(srv.ranges.length, 0);
  });
});

describe('progress output', () => {
  it('renders a fixed-width bar', () => {
    assert.equal(renderBar('download', 1_200_000, 2_400_000, 10), 'download [#####-----]  50% 1.2/2.4 MB');
    assert.equal(renderBar('x', 0, 0, 4), 'x [----]   0% 0.0/0.0 MB');
    assert.equal(renderBar('x', 3e6, 2e6, 4, 1.5e6), 'x [####] 100% 3.0/2.0 MB 1.5 MB/s');
  });

  it('redraws in place on a TTY and logs quarter lines otherwise', () => {
    const tty: string[] = [];
    const p = createProgress('dl', { isTTY: true, write: (s: string) => tty.push(s) });
    p.update(10, 100);
    p.update(100, 100);
    p.finish();
    assert.ok(tty.every((s) => s.startsWith('\r') || s === '\n'));
    assert.match(tty.at(-2)!, /\rdl \[#{24}\] 100%/);
    assert.equal(tty.at(-1), '\n');

    const lines: string[] = [];
    const q = createProgress('dl', { isTTY: false, write: () => assert.fail('no raw writes off a TTY') }, (m) => lines.push(m));
    for (let d = 0; d <= 100; d += 5) q.update(d, 100);
    q.finish();
    assert.deepEqual(lines, ['dl: 0% (0.0/0.0 MB)', 'dl: 25% (0.0/0.0 MB)', 'dl: 50% (0.0/0.0 MB)', 'dl: 75% (0.0/0.0 MB)', 'dl: done (0.0 MB)']);
  });
});
