/// <reference lib="dom" />
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { labelColour } from '../../src/render/snapshot-image.js';
import { startDaemon, testEnv, writeConfig, type DaemonProc } from '../helpers/daemon.js';
import { MODEL_SOURCES_DIR, photo, REPO } from '../helpers/paths.js';
import { runCli } from '../cli/run-cli.js';
import { statusValidator } from './status-validator.js';

const CHROMIUM = '/usr/bin/chromium';
const TOKEN = 'browser-test-token-5d1e7c0a9b';
const SCREENSHOT = path.join(REPO, 'docs', 'img', 'live-view.jpg');

type Status = {
  frame: { id: number; width: number; height: number; detections: { label: string; box: number[] }[]; mask: unknown } | null;
  live: { viewers: number; encoded_frames: number };
};

function hexRgb(hex: string): [number, number, number] {
  return [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)) as [number, number, number];
}

/**
 * The live view in a real browser: Debian's chromium, headless, driven by playwright-core (no browser
 * download), against a real daemon (real models, the astronaut photo as the camera) with a token.
 */
describe('live view in Chromium (real daemon, real browser)', function () {
  this.timeout(600_000);
  let daemon: DaemonProc | null = null;
  let dir: string;
  let base: string;
  const auth = { authorization: `Bearer ${TOKEN}` };

  before(async function () {
    if (!existsSync(CHROMIUM)) {
      console.log(`      skipped: ${CHROMIUM} is not installed (apt-get install chromium)`);
      this.skip();
    }
    dir = await mkdtemp(path.join(tmpdir(), 'edgesight-live-browser-'));
    mkdirSync(path.join(dir, 'frames'));
    await copyFile(photo('astronaut.png'), path.join(dir, 'frames', 'astronaut.png'));
    await writeFile(path.join(dir, 'http.token'), TOKEN + '\n', { mode: 0o600 });
    const cfg = await writeConfig(`
device: { id: browser-test, name: Browser test }
camera: { name: cam, source: files, fps: 3, files: { path: ${path.join(dir, 'frames')} } }
segmentation: { every: 1 }
mqtt: { url: null, embedded_broker: { port: 0 } }
metrics: { log_interval_s: 0, http: { enabled: true, port: 0, live_fps: 4, token_file: ${path.join(dir, 'http.token')} } }
logging: { level: info, pretty: false }
`);
    daemon = startDaemon(cfg, testEnv({ EDGESIGHT_MODELS_MIRROR: MODEL_SOURCES_DIR }));
    const deadline = Date.now() + 480_000;
    for (;;) {
      const m = /live view on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(daemon.output());
      if (m) {
        base = m[1]!;
        break;
      }
      if (daemon.child.exitCode !== null || Date.now() > deadline)
        throw new Error(`no live view URL in the daemon's log:\n${daemon.output().slice(-4000)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    // a processed frame with its mask before the browser comes
    for (;;) {
      const s = (await (await fetch(base + 'api/status', { headers: auth })).json()) as Status;
      if (s.frame?.mask && s.frame.detections.length) break;
      if (Date.now() > deadline) throw new Error(`no frame with detections and a mask:\n${JSON.stringify(s).slice(0, 2000)}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  });

  after(async () => {
    if (daemon && daemon.child.exitCode === null && daemon.child.signalCode === null) {
      daemon.child.kill('SIGTERM');
      await daemon.exited;
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('/api/status of the real daemon validates against its schema; without the token everything but /healthz is 401', async () => {
    const s = (await (await fetch(base + 'api/status', { headers: auth })).json()) as Record<string, unknown>;
    assert.deepEqual(statusValidator()(s), []);
    assert.equal((await fetch(base + 'api/status')).status, 401);
    assert.equal((await fetch(base + 'stream.mjpeg')).status, 401);
    assert.equal((await fetch(base + 'healthz')).status, 200);
  });

  it('loads without console errors, updates the frame, draws the boxes where the detections say, toggles the mask; screenshot for the docs', async () => {
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    try {
      // HTTP Basic with the token as the password: how a browser presents it (the page's <img> and fetches included)
      const context = await browser.newContext({
        viewport: { width: 1200, height: 760 },
        httpCredentials: { username: 'edgesight', password: TOKEN },
      });
      const page = await context.newPage();
      const problems: string[] = [];
      page.on('console', (m) => {
        // errors only: the test's own getImageData read-backs make Chrome warn about willReadFrequently
        if (m.type() === 'error') problems.push(`console ${m.type()}: ${m.text()}`);
      });
      page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      page.on('requestfailed', (r) => {
        // the stream is cut when the page closes; anything else failing is a problem
        if (!r.url().includes('/stream.mjpeg')) problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`);
      });
      const res = await page.goto(base);
      assert.equal(res?.status(), 200);
      await page.waitForSelector('body[data-ready=true]', { timeout: 60_000 });
      await page.waitForFunction(() => (document.getElementById('frame') as HTMLImageElement).naturalWidth > 0, undefined, { timeout: 60_000 });

      // the frame updates: new frames keep arriving over the MJPEG stream and the overlay follows
      const first = Number(await page.getAttribute('#overlay', 'data-frame-id'));
      await page.waitForFunction((id) => Number(document.getElementById('overlay')!.dataset.frameId) > id, first, { timeout: 60_000 });
      const s1 = (await (await fetch(base + 'api/status', { headers: auth })).json()) as Status;
      assert.ok(s1.live.viewers >= 1, 'the page is a viewer');
      await new Promise((r) => setTimeout(r, 2000));
      const s2 = (await (await fetch(base + 'api/status', { headers: auth })).json()) as Status;
      assert.ok(
        s2.live.encoded_frames > s1.live.encoded_frames,
        `frames are encoded for the viewer: ${s1.live.encoded_frames} → ${s2.live.encoded_frames}`,
      );
      const img = await page.evaluate(() => {
        const i = document.getElementById('frame') as HTMLImageElement;
        const c = document.createElement('canvas');
        c.width = i.naturalWidth;
        c.height = i.naturalHeight;
        const x = c.getContext('2d')!;
        x.drawImage(i, 0, 0);
        const d = x.getImageData(0, 0, c.width, c.height).data;
        let min = 255;
        let max = 0;
        for (let k = 0; k < d.length; k += 4 * 97) {
          min = Math.min(min, d[k]!);
          max = Math.max(max, d[k]!);
        }
        return { w: i.naturalWidth, h: i.naturalHeight, min, max };
      });
      assert.deepEqual([img.w, img.h], [512, 512], 'the streamed picture is the astronaut photo (512×512)');
      assert.ok(img.max - img.min > 100, `the streamed picture has content: ${JSON.stringify(img)}`);

      // the boxes: read the page's own frame id with the status it drew, then check the canvas pixels
      const probe = async (): Promise<{ status: Status; pixels: number[][] } | null> => {
        const status = (await page.evaluate(async () => (await (await fetch('/api/status', { cache: 'no-store' })).json()) as unknown)) as Status;
        const f = status.frame!;
        const w = f.width;
        const h = f.height;
        const points = f.detections.flatMap((d) => {
          const [x1, y1, x2, y2] = [d.box[0]! * w, d.box[1]! * h, d.box[2]! * w, d.box[3]! * h].map(Math.round) as [number, number, number, number];
          const ym = Math.round((y1 + y2) / 2);
          const xm = Math.round((x1 + x2) / 2);
          // the middle of the left, right and bottom edges, inside the stroke
          return [
            [x1 + 1, ym],
            [x2 - 2, ym],
            [xm, y2 - 2],
          ];
        });
        const out = await page.evaluate(
          ({ points, id }) => {
            const c = document.getElementById('overlay') as HTMLCanvasElement;
            if (c.dataset.frameId !== String(id)) return null;
            const x = c.getContext('2d')!;
            return points.map(([px, py]) => [...x.getImageData(px!, py!, 1, 1).data]);
          },
          { points, id: f.id },
        );
        return out ? { status, pixels: out } : null;
      };
      let drawn: Awaited<ReturnType<typeof probe>> = null;
      for (let i = 0; i < 40 && !drawn; i++) {
        await page.evaluate(() => new Promise((r) => setTimeout(r, 50)));
        drawn = await probe();
      }
      assert.ok(drawn, 'caught the page showing the status it was given');
      const dets = drawn.status.frame!.detections;
      assert.ok(
        dets.some((d) => d.label === 'person'),
        `the astronaut is detected: ${JSON.stringify(dets)}`,
      );
      dets.forEach((d, i) => {
        const want = hexRgb(labelColour(d.label));
        for (let e = 0; e < 3; e++) {
          const px = drawn!.pixels[i * 3 + e]!;
          assert.ok(
            px.slice(0, 3).every((v, k) => Math.abs(v - want[k]!) <= 10) && px[3]! > 240,
            `${d.label} box edge ${e} at the detection's coordinates has the label colour ${labelColour(d.label)}: got rgba(${px.join(',')})`,
          );
        }
      });

      // the mask: on, VOC person pixels are on the canvas; toggled off, they are gone
      const maskPixels = (): Promise<{ person: number; painted: number }> =>
        page.evaluate(() => {
          const c = document.getElementById('overlay') as HTMLCanvasElement;
          const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
          let person = 0;
          let painted = 0;
          for (let k = 0; k < d.length; k += 4) {
            if (d[k + 3]! > 0) painted++;
            // VOC person (192, 128, 128) at the overlay's alpha (canvas storage is premultiplied: ±3 on read-back)
            if (Math.abs(d[k]! - 192) <= 3 && Math.abs(d[k + 1]! - 128) <= 3 && Math.abs(d[k + 2]! - 128) <= 3 && d[k + 3]! > 80 && d[k + 3]! < 150)
              person++;
          }
          return { person, painted };
        });
      await page.check('#show-mask');
      const on = await maskPixels();
      await page.screenshot({ path: SCREENSHOT, type: 'jpeg', quality: 70 });
      await page.uncheck('#show-mask');
      const off = await maskPixels();
      assert.ok(on.person > 1000, `mask on: ${JSON.stringify(on)}`);
      assert.equal(off.person, 0, `mask off: ${JSON.stringify(off)}`);
      assert.ok(on.painted > off.painted, 'the toggle changes the overlay pixels');
      assert.equal(await page.getAttribute('#overlay', 'data-mask-shown'), 'false');

      // boxes toggled off: the edge pixels are no longer the label colour
      await page.uncheck('#show-boxes');
      const noBoxes = await page.evaluate(() => {
        const c = document.getElementById('overlay') as HTMLCanvasElement;
        const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let k = 3; k < d.length; k += 4) if (d[k]! > 0) n++;
        return n;
      });
      assert.equal(noBoxes, 0, 'nothing drawn with boxes and mask off (no zones configured)');
      await page.check('#show-boxes');

      // the zone helper: three clicks give a YAML polygon in normalised coordinates
      await page.click('#draw-zone');
      const overlay = page.locator('#overlay');
      const box = (await overlay.boundingBox())!;
      for (const [fx, fy] of [
        [0.1, 0.1],
        [0.5, 0.1],
        [0.5, 0.5],
      ] as const)
        await overlay.click({ position: { x: box.width * fx, y: box.height * fy } });
      const yaml = await page.inputValue('#yaml');
      const hint = await page.textContent('#helper-hint');
      assert.match(yaml, /zones:/, `helper: ${hint} mode button: ${await page.getAttribute('#draw-zone', 'class')}`);
      const m = /^zones:\n  zone_1:\n    polygon: (\[.*\])\n$/.exec(yaml);
      assert.ok(m, yaml);
      const pts = JSON.parse(m[1]!) as number[][];
      [
        [0.1, 0.1],
        [0.5, 0.1],
        [0.5, 0.5],
      ].forEach(([x, y], i) => assert.ok(Math.abs(pts[i]![0]! - x!) < 0.01 && Math.abs(pts[i]![1]! - y!) < 0.01, `point ${i}: ${yaml}`));

      assert.deepEqual(problems, [], 'no console errors, page errors or failed requests');
      const size = statSync(SCREENSHOT).size;
      assert.ok(size > 10_000 && size < 400_000, `screenshot ${SCREENSHOT} is a small JPEG: ${size} bytes`);
      console.log(`      screenshot: ${path.relative(REPO, SCREENSHOT)} (${Math.round(size / 1024)} KiB)`);
      await context.close();
    } finally {
      await browser.close();
    }
  });

  it('run and check-config refuse a non-loopback bind without a token: exit 78 naming the key and line', async () => {
    const cfg = await writeConfig('metrics:\n  http:\n    enabled: true\n    bind: 0.0.0.0\n');
    for (const cmd of ['check-config', 'run']) {
      const r = await runCli([cmd, '--config', cfg]);
      assert.equal(r.code, 78, `${cmd}: ${r.stderr}`);
      assert.match(
        r.stderr,
        new RegExp(`${cfg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:4: metrics\\.http\\.bind: "0\\.0\\.0\\.0" is not a loopback address`),
        `${cmd}: ${r.stderr}`,
      );
    }
    // with the token in the environment the same file is accepted
    const ok = await runCli(['check-config', '--config', cfg], { EDGESIGHT_HTTP_TOKEN: TOKEN });
    assert.equal(ok.code, 0, ok.stderr);
    // a token too short is refused at start, before any model work
    const short = await writeConfig(`metrics:\n  http:\n    enabled: true\n    token_file: ${path.join(dir, 'missing.token')}\n`);
    const r = await runCli(['run', '--config', short]);
    assert.equal(r.code, 78, r.stderr + r.stdout);
    assert.match(r.stdout + r.stderr, /metrics\.http\.token_file: .*missing\.token cannot be read: ENOENT/);
  });
});
