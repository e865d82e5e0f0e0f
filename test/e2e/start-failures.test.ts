import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { catalogEntry } from '../../src/models/catalog.js';
import { baseManifest, writeModel } from '../../src/models/store.js';
import { EX_CONFIG, EX_NOINPUT, EX_UNAVAILABLE } from '../../src/cli/exit-codes.js';
import { PHOTOS_DIR, REPO } from '../helpers/paths.js';

const CLI = path.join(REPO, 'dist', 'src', 'cli', 'main.js');
/** A safety net for the test itself, not a timing claim (the daemon bounds its exit to 3 s after the failure;
 * loading Node, ONNX Runtime and sharp on a loaded 2-core CI machine took up to 13 s before it). */
const SAFETY_MS = 30_000;

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
}

/** `edgesight ARGS` as a real child process with a clean environment; killed (and failed) after SAFETY_MS. */
function edgesight(args: string[], cache: string): Promise<Exit> {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: tmpdir(),
    EDGESIGHT__MODELS__CACHE_DIR: cache,
    EDGESIGHT_OFFLINE: '1',
    EDGESIGHT__LOGGING__PRETTY: 'false',
  };
  const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), SAFETY_MS);
    child.on('exit', (code, signal) => {
      clearTimeout(t);
      resolve({ code, signal, out });
    });
  });
}

/**
 * A daemon that cannot serve must say why and exit, so systemd (and a person at a terminal) sees the
 * failure: a taken port, a misspelt label and a truncated model file each end the process with their
 * own status and one line naming the fix — never a live process that does nothing.
 */
describe('e2e: failures before READY exit at once, non-zero, with the fix named', function () {
  this.timeout(60_000);
  let dir: string;
  let cache: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'edgesight-startfail-'));
    cache = path.join(dir, 'cache');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const config = (name: string, yaml: string): string => {
    const file = path.join(dir, name);
    writeFileSync(file, `camera: { name: t, source: files, fps: 2, files: { path: ${JSON.stringify(PHOTOS_DIR)} } }\n${yaml}`);
    return file;
  };

  it(`the embedded broker's port is taken: exit ${EX_UNAVAILABLE}, pointing at mqtt.url`, async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const file = config('port.yaml', `mqtt:\n  url: null\n  embedded_broker: { port: ${port} }\n`);
      const r = await edgesight(['run', '--config', file], cache);
      assert.equal(r.signal, null, `killed by the test's safety net, still running after ${SAFETY_MS} ms:\n${r.out}`);
      assert.equal(r.code, EX_UNAVAILABLE, r.out);
      const fatal = r.out.split('\n').filter((l) => l.includes('"level":60'));
      assert.equal(fatal.length, 1, r.out);
      assert.match(fatal[0]!, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: the port is taken.*mqtt\\.url: mqtt://127\\.0\\.0\\.1:${port}`));
      assert.doesNotMatch(r.out, /models loaded/, 'the port is checked before the (slow) model load');
    } finally {
      blocker.close();
    }
  });

  it(`a misspelt label: run and check-config exit ${EX_CONFIG} with the line and "did you mean"`, async () => {
    const file = config('label.yaml', `objects:\n  track: [person, persn]\n  filters:\n    dgo: { min_score: 0.5 }\n`);
    for (const cmd of ['run', 'check-config']) {
      const r = await edgesight([cmd, '--config', file], cache);
      assert.equal(r.signal, null, r.out);
      assert.equal(r.code, EX_CONFIG, r.out);
      assert.ok(
        r.out.includes(
          `${file}:3: objects.track.1: 'persn' is not a label of the detector 'ssdlite_mobilenet_v3_small_coco'; did you mean 'person'?`,
        ),
        r.out,
      );
      assert.ok(
        r.out.includes(`${file}:5: objects.filters.dgo: 'dgo' is not a label of the detector 'ssdlite_mobilenet_v3_small_coco'; did you mean 'dog'?`),
        r.out,
      );
    }
  });

  it(`an unreadable model file (a manifest naming a truncated file): exit ${EX_NOINPUT}, saying to re-fetch`, async () => {
    const bytes = new Uint8Array(64 * 1024).map((_, i) => (i * 31) & 0xff);
    const manifest = await writeModel(path.join(dir, 'mymodel'), baseManifest(catalogEntry('ssdlite_mobilenet_v3_small_coco')!, 'fp32'), bytes);
    truncateSync(path.join(dir, 'mymodel', 'fp32.onnx'), 1000);
    const file = config(
      'model.yaml',
      `models:\n  detector: ${JSON.stringify(manifest)}\n  segmenter: null\nmqtt:\n  url: null\n  embedded_broker: { port: 0 }\n`,
    );
    const r = await edgesight(['run', '--config', file], cache);
    assert.equal(r.signal, null, r.out);
    assert.equal(r.code, EX_NOINPUT, r.out);
    assert.match(r.out, /cannot start: model file .*fp32\.onnx is 1000 bytes but its manifest says 65536: truncated or replaced; re-fetch it/);
  });
});
