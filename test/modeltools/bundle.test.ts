import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { checkArchivePath, importBundle, readTar, TAR_END, tarHeader, tarPadding } from '../../src/modeltools/bundle.js';
import { ModelError } from '../../src/models/manifest.js';
import { convertTflite } from '../../src/modeltools/convert.js';
import { photo, TFLITE_DETECTOR } from '../helpers/paths.js';

const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');
const PHOTOS = ['astronaut.png', 'chelsea.png', 'messi5.jpg', 'motorcycle_left.png'].map((p) => photo(p));

function cli(args: string[], env: Record<string, string> = {}): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], {
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

function tar(entries: Array<[string, Buffer]>): Buffer {
  const parts: Buffer[] = [];
  for (const [name, body] of entries) parts.push(tarHeader(name, body.length, 0), body, tarPadding(body.length));
  parts.push(TAR_END);
  return Buffer.concat(parts);
}

/** Cache contents other than nothing: model folders and any leftover staging folders. */
function cacheEntries(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir) : [];
}

describe('model bundles', function () {
  this.timeout(90_000);
  let tmp: string;
  let pc: string;
  let bundleGz: string;
  let bundleTar: string;
  before(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'es-bundle-'));
    pc = path.join(tmp, 'pc-cache');
    const f = cli(['models', 'fetch', 'ssdlite_mobilenet_v3_small_coco', '--precision', 'qdq-faithful', '--cache', pc]);
    assert.equal(f.code, 0, f.stderr);
    bundleGz = path.join(tmp, 'models.tar.gz');
    bundleTar = path.join(tmp, 'models.tar');
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('export → import on a clean cache reproduces the same detections', () => {
    const e = cli(['models', 'export', bundleGz, '--cache', pc]);
    assert.equal(e.code, 0, e.stderr);
    assert.match(e.stdout, /added\s+ssdlite_mobilenet_v3_small_coco\s+fp32/);
    assert.match(e.stdout, /added\s+ssdlite_mobilenet_v3_small_coco\s+qdq-faithful/);
    assert.ok(!existsSync(`${bundleGz}.part`));

    const pi = path.join(tmp, 'pi-cache');
    const i = cli(['models', 'import', bundleGz, '--cache', pi]);
    assert.equal(i.code, 0, i.stderr);
    assert.match(i.stdout, /installed\s+ssdlite_mobilenet_v3_small_coco\s+fp32/);
    assert.deepEqual(cacheEntries(pi), ['ssdlite_mobilenet_v3_small_coco'], 'no staging leftovers, no sources');
    assert.deepEqual(readdirSync(path.join(pi, 'ssdlite_mobilenet_v3_small_coco')).sort(), [
      'fp32.json',
      'fp32.onnx',
      'qdq-faithful.json',
      'qdq-faithful.onnx',
    ]);

    // the Pi has no mirror and may not prepare anything: it must run from the bundle alone
    const detect = (cache: string): string => {
      const r = cli(['detect', '--json', ...PHOTOS], {
        EDGESIGHT__MODELS__CACHE_DIR: cache,
        EDGESIGHT__MODELS__AUTO_PREPARE: 'false',
        EDGESIGHT__LOGGING__LEVEL: 'warn',
      });
      assert.equal(r.code, 0, r.stderr);
      return r.stdout;
    };
    const onPc = detect(pc);
    const onPi = detect(pi);
    const lines = onPi
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { objects: unknown[] });
    assert.equal(lines.length, PHOTOS.length);
    assert.ok(lines.reduce((n, l) => n + l.objects.length, 0) >= PHOTOS.length, 'the photos produce detections');
    assert.equal(onPi, onPc);

    const again = cli(['models', 'import-bundle', bundleGz, '--cache', pi]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /identical\s+ssdlite_mobilenet_v3_small_coco\s+fp32/);
  });

  it('exports selected models uncompressed; the archive is a plain ustar readable by tar(1)', () => {
    const e = cli(['models', 'export', bundleTar, 'ssdlite_mobilenet_v3_small_coco', '--precision', 'fp32', '--cache', pc]);
    assert.equal(e.code, 0, e.stderr);
    const t = spawnSync('tar', ['-tvf', bundleTar], { encoding: 'utf8' });
    assert.equal(t.status, 0, t.stderr);
    assert.deepEqual(
      t.stdout
        .trim()
        .split('\n')
        .map((l) => l.split(/\s+/).at(-1)),
      ['bundle.json', 'ssdlite_mobilenet_v3_small_coco/fp32.json', 'ssdlite_mobilenet_v3_small_coco/fp32.onnx'],
    );
    const missing = cli(['models', 'export', path.join(tmp, 'x.tar'), 'lraspp_mobilenet_v3_small_voc', '--cache', pc]);
    assert.equal(missing.code, 1);
    assert.match(
      missing.stderr,
      /model 'lraspp_mobilenet_v3_small_voc' is not prepared in .*; run `edgesight models fetch lraspp_mobilenet_v3_small_voc` first/,
    );
  });

  it('refuses a bundle with a flipped byte in a model, installing nothing', () => {
    const b = readFileSync(bundleTar);
    const at = b.length - 4096; // inside the ONNX body (the last entry)
    b[at] ^= 0x5a;
    const bad = path.join(tmp, 'flipped.tar');
    writeFileSync(bad, b);
    const cache = path.join(tmp, 'c-flipped');
    const r = cli(['models', 'import', bad, '--cache', cache]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /ssdlite_mobilenet_v3_small_coco\/fp32\.onnx is 7\d+ bytes with sha256 [0-9a-f]{64}, but the index pins .* corrupt bundle, nothing was imported/,
    );
    assert.deepEqual(cacheEntries(cache), []);
  });

  it('refuses a damaged header, a truncated archive and a truncated gzip', async () => {
    const b = readFileSync(bundleTar);
    const hdr = Buffer.from(b);
    hdr[3] ^= 0x01; // inside the first header's name
    const p1 = path.join(tmp, 'hdr.tar');
    writeFileSync(p1, hdr);
    await assert.rejects(importBundle(p1, path.join(tmp, 'c-hdr')), /tar header 0 has a bad checksum: the archive is corrupt/);

    const p2 = path.join(tmp, 'short.tar');
    writeFileSync(p2, b.subarray(0, b.length - 200_000));
    await assert.rejects(importBundle(p2, path.join(tmp, 'c-short')), /tar entry 'ssdlite_mobilenet_v3_small_coco\/fp32\.onnx' is truncated/);

    const gz = readFileSync(bundleGz);
    const p3 = path.join(tmp, 'short.tar.gz');
    writeFileSync(p3, gz.subarray(0, gz.length >> 1));
    await assert.rejects(importBundle(p3, path.join(tmp, 'c-shortgz')), (e: Error) => e instanceof ModelError && /truncated|corrupt/.test(e.message));
    for (const c of ['c-hdr', 'c-short', 'c-shortgz']) assert.deepEqual(cacheEntries(path.join(tmp, c)), [], `${c} is left empty`);
  });

  it('refuses path traversal, absolute paths, links and files not in the index', async () => {
    const index = Buffer.from(JSON.stringify({ bundle_version: 1, created_at: '', producer: 't', models: [], files: [] }));
    const cases: Array<[string, Buffer, RegExp]> = [
      [
        '../escape.json',
        tar([
          ['bundle.json', index],
          ['../escape.json', Buffer.from('{}')],
        ]),
        /bundle entry '\.\.\/escape\.json' contains '\.' or '\.\.' segments/,
      ],
      ['m/../../escape', tar([['m/../../escape', Buffer.from('x')]]), /contains '\.' or '\.\.' segments/],
      ['/etc/passwd', tar([['/etc/passwd', Buffer.from('x')]]), /is an absolute path/],
      [
        'unlisted',
        tar([
          ['bundle.json', index],
          ['m/extra.onnx', Buffer.from('x')],
        ]),
        /m\/extra\.onnx is not listed in the index/,
      ],
      ['no index', tar([['m/fp32.json', Buffer.from('{}')]]), /has no bundle\.json index: not an edgesight model bundle/],
    ];
    const link = tarHeader('m/link', 0, 0);
    link[156] = 0x32; // '2' symlink
    link.write('../../../etc/shadow', 157);
    // recompute the checksum for the edited header
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : link[i]!;
    link.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
    cases.push(['symlink', Buffer.concat([link, TAR_END]), /tar entry 'm\/link' is a symbolic link; a model bundle holds regular files only/]);

    for (const [label, bytes, re] of cases) {
      const f = path.join(tmp, `evil-${label.replace(/\W/g, '_')}.tar`);
      writeFileSync(f, bytes);
      const cache = path.join(tmp, 'evil-cache', label.replace(/\W/g, '_'));
      await assert.rejects(importBundle(f, cache), re, label);
      assert.deepEqual(cacheEntries(cache), [], `${label}: cache left empty`);
    }
    assert.ok(!existsSync(path.join(tmp, 'evil-cache', 'escape.json')));
    assert.ok(!existsSync(path.join(tmp, 'escape.json')));
    assert.equal(checkArchivePath('model/fp32.onnx'), null);
    assert.match(checkArchivePath('a/b/c') ?? '', /nested deeper/);
    assert.match(checkArchivePath('a\\b') ?? '', /backslash/);
  });

  it('does not overwrite a different model without --force', () => {
    const cache = path.join(tmp, 'c-conflict');
    const dir = path.join(cache, 'ssdlite_mobilenet_v3_small_coco');
    mkdirSync(dir, { recursive: true });
    // a different (user-made) manifest + file under the same name
    // the faithful QDQ conversion: the same contract as the bundled fp32 detector, other bytes
    const other = path.join(tmp, 'other-detector.onnx');
    writeFileSync(other, convertTflite(readFileSync(TFLITE_DETECTOR), { form: 'qdq' }));
    const imp = cli([
      'models',
      'import',
      other,
      '--name',
      'ssdlite_mobilenet_v3_small_coco',
      '--like',
      'ssdlite_mobilenet_v3_small_coco',
      '--cache',
      cache,
    ]);
    assert.equal(imp.code, 0, imp.stderr);
    const before = readFileSync(path.join(dir, 'fp32.json'), 'utf8');
    const r = cli(['models', 'import', bundleTar, '--cache', cache]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /the cache already holds different models: ssdlite_mobilenet_v3_small_coco fp32 .* Nothing was imported; use --force/);
    assert.equal(readFileSync(path.join(dir, 'fp32.json'), 'utf8'), before);
    const f = cli(['models', 'import', bundleTar, '--force', '--cache', cache]);
    assert.equal(f.code, 0, f.stderr);
    assert.match(f.stdout, /replaced\s+ssdlite_mobilenet_v3_small_coco\s+fp32/);
    const l = cli(['models', 'list', '--json', '--cache', cache]);
    assert.equal(l.code, 0, l.stderr);
  });

  it('the tar reader round-trips long names through the ustar prefix field', async () => {
    const long = `${'m'.repeat(60)}/${'f'.repeat(90)}.onnx`;
    const body = Buffer.alloc(1234, 3);
    const got: Array<[string, number]> = [];
    await readTar(
      (async function* () {
        const t = tar([[long, body]]);
        for (let i = 0; i < t.length; i += 700) yield t.subarray(i, i + 700); // odd chunking
      })(),
      async (h, b) => {
        let n = 0;
        for await (const c of b) n += c.length;
        got.push([h.name, n]);
      },
    );
    assert.deepEqual(got, [[long, 1234]]);
    assert.ok(gunzipSync(readFileSync(bundleGz)).subarray(257, 262).toString() === 'ustar');
  });
});
