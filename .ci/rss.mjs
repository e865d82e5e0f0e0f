#!/usr/bin/env node
// Daemon memory after N processed frames (npm run bench:rss): the built daemon with an empty model
// cache, (a) the default config — the shipped int8 models are loaded as they are — and (b) a config whose
// quantizer settings no shipped model has (models.calibration: [models/calibration]), so both models are
// quantized on this start, in the quantizer child process. The daemon's own VmRSS/VmHWM come from
// /proc/<pid>/status after N frames; the child's peak from the daemon's "prepared int8" log line.
// Frames: the demo photos through the files source at 10 fps, segmentation every 2nd frame, embedded
// broker. The daemon runs with the systemd unit's memory settings (NODE_OPTIONS=--max-semi-space-size=1 --max-old-space-size=256,
// MALLOC_ARENA_MAX=1, MALLOC_MMAP_THRESHOLD_=131072); --plain runs it without them.
// Usage: node .ci/rss.mjs [--frames 300] [--json FILE] [--only prepared|quantize] [--plain]
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: { frames: { type: 'string', default: '300' }, json: { type: 'string' }, only: { type: 'string' }, plain: { type: 'boolean' } },
});
const N = Number(values.frames);

const freePort = () =>
  new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
const status = (pid) =>
  Object.fromEntries(
    readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .filter((l) => /^Vm(RSS|HWM):/.test(l))
      .map((l) => [l.split(':')[0], Math.round(Number(l.split(/\s+/)[1]) / 1024)]),
  );

async function scenario(name, extraModels) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'edgesight-rss-'));
  const port = await freePort();
  const cfg = path.join(dir, 'config.yaml');
  writeFileSync(
    cfg,
    [
      'device: { id: rss }',
      `camera: { name: rss, source: files, fps: 10, files: { path: ${path.join(repo, 'config', 'demo-photos')}, loop: true } }`,
      `models: { cache_dir: ${path.join(dir, 'cache')}${extraModels} }`,
      'segmentation: { every: 2 }',
      'mqtt: { url: null, embedded_broker: { port: 0 } }',
      `metrics: { http: { enabled: true, port: ${port} } }`,
      'logging: { level: info, pretty: false }',
      '',
    ].join('\n'),
  );
  const env = { ...process.env, EDGESIGHT_OFFLINE: '1' };
  // the memory settings of the systemd unit (systemd/edgesight.service), unless --plain
  if (!values.plain)
    Object.assign(env, {
      NODE_OPTIONS: process.env.RSS_NODE_OPTIONS ?? '--max-semi-space-size=1 --max-old-space-size=256',
      MALLOC_ARENA_MAX: process.env.RSS_ARENAS ?? '1',
      MALLOC_MMAP_THRESHOLD_: '131072',
    });
  for (const k of Object.keys(env)) if (k.startsWith('EDGESIGHT__')) delete env[k];
  const child = spawn(process.execPath, [path.join(repo, 'dist/src/cli/main.js'), 'run', '--config', cfg], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const t0 = Date.now();
  let frames = 0;
  try {
    while (frames < N) {
      if (child.exitCode !== null) throw new Error(`daemon exited ${child.exitCode}:\n${out}`);
      if (Date.now() - t0 > 900_000) throw new Error(`timed out at ${frames} frames`);
      await new Promise((r) => setTimeout(r, 1000));
      const text = await fetch(`http://127.0.0.1:${port}/metrics`)
        .then((r) => r.text())
        .catch(() => '');
      const m = /^edgesight_frames_total\{result="processed"\} (\d+)/m.exec(text);
      frames = m ? Number(m[1]) : 0;
    }
    const mem = status(child.pid);
    const quantizer = [...out.matchAll(/quantizer process peak RSS (\d+) MB/g)].map((m) => Number(m[1]));
    const loaded = /"detector":"([^"]+)","segmenter":"([^"]+)"/.exec(out);
    return {
      scenario: name,
      frames,
      seconds: Math.round((Date.now() - t0) / 1000),
      daemon_rss_mb: mem.VmRSS,
      daemon_peak_rss_mb: mem.VmHWM,
      quantizer_child_peak_rss_mb: quantizer,
      detector: loaded?.[1],
      segmenter: loaded?.[2],
    };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
    rmSync(dir, { recursive: true, force: true });
  }
}

const results = [];
if (values.only !== 'quantize') results.push(await scenario('prepared: shipped int8 models, empty cache', ''));
if (values.only !== 'prepared')
  results.push(
    await scenario('clean cache, quantized on this start (child process)', `, calibration: [${path.join(repo, 'models', 'calibration')}]`),
  );
const line = (r) =>
  `| ${r.scenario} | ${r.frames} | ${r.daemon_rss_mb} MB | ${r.daemon_peak_rss_mb} MB | ${r.quantizer_child_peak_rss_mb.length ? r.quantizer_child_peak_rss_mb.map((v) => `${v} MB`).join(', ') : '—'} |`;
console.log(`| start | frames | daemon RSS | daemon peak RSS | quantizer child peak |\n|---|---|---|---|---|\n${results.map(line).join('\n')}`);
console.log(
  `(${values.plain ? 'plain node' : 'systemd unit memory settings'}; ${process.arch}, ${os.cpus()[0]?.model ?? '?'}, Node ${process.version}, ${new Date().toISOString()})`,
);
if (values.json)
  writeFileSync(values.json, JSON.stringify({ results, arch: process.arch, node: process.version, at: new Date().toISOString() }, null, 2) + '\n');
