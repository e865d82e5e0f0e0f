// ARM cost of a whole pipeline frame, in guest instructions, counted by the arm-insn qemu plugin:
// the ARM counterpart of the x86 bench's pipeline efficiency (pipeline fps ÷ bare-inference fps).
// Two roles:
//
//   arm64 node under `qemu-aarch64 -plugin libinsn.so` (bench.sh does this):
//     insn-pipeline.mjs --child --config <yaml> --cache <int8 models cache> --photos <dir>
//                       [--warmup 5] [--frames 20] [--fps 0.2] [--every 0,5] [--raw-camera <fake rpicam-vid>]
//     Runs the daemon's frame path in-process — files source (the photos as 640×480 JPEG) → preprocess
//     → pinned inference worker (int8 detector) → post-process → ResultPublisher → MqttPublisher → an
//     in-process aedes broker → one MQTT subscriber — once per segmentation cadence in --every. After
//     W warm-up frames it marks the plugin counter, and marks again after N more frames, each time once
//     the subscriber has received that frame's detections. The plugin counts every thread (main,
//     inference worker, libuv, GC), so Δ / N is the whole process's cost per frame. It also counts N
//     bare detector runs through the same pinned worker on a pre-made tensor (the x86 bench's ceiling).
//     With --raw-camera, one more run counts the camera's raw path: the libcamera source running that
//     program (the test fixture's fake rpicam-vid: the same photos as I420 at the model's size, 320×320)
//     with `codec: yuv420`, detection only — preprocessing is then the one-pass yuv420 fast path, no sharp.
//     The camera program is a child process (on a board: rpicam-vid and the ISP), so it is not counted;
//     reading its frames from the pipe is.
//   host node:
//     insn-pipeline.mjs --report <json out> [--insn <insn.json>] <cpu>=<stderr log>...
//     Per-frame counts, ratios to the per-inference counts of insn.mjs (same CPU model), table, JSON.
//
// The source is paced slowly enough that emulation never drops a frame as busy; frames skipped inside
// the window are reported (the count is per processed frame, so a skip only adds its file read).
import { readFileSync, writeFileSync, writeSync, existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    child: { type: 'boolean' },
    config: { type: 'string' },
    cache: { type: 'string' },
    photos: { type: 'string' },
    warmup: { type: 'string', default: '5' },
    frames: { type: 'string', default: '20' },
    fps: { type: 'string', default: '0.2' },
    every: { type: 'string', default: '0,5' },
    'raw-camera': { type: 'string' },
    report: { type: 'string' },
    insn: { type: 'string' },
  },
});

// insn.mjs case names this compares against: the product's int8 models with the activation type the
// daemon loaded on that core (`--activations auto`: uint8 on the Cortex-A72, int8 on the A76), which the
// child reports from the models' manifests.
const DET_CASE = (act) => `detector int8, ${act} act (ours)`;
const SEG_CASE = (act) => `segmenter int8, ${act} act (ours) 320×240`;
const actOf = (manifest) => manifest?.provenance?.quantization?.activation_type ?? 'int8';

function mark(label) {
  writeSync(2, `@@MARK ${label}\n`);
  try {
    writeSync(987, ''); // seen by the plugin's syscall hook; fails with EBADF, which is expected
  } catch {}
}
const info = (o) => writeSync(2, `@@INFO ${JSON.stringify(o)}\n`);

function posInt(name, v, min) {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer ≥ ${min}, got '${v}'`);
  return n;
}

async function child() {
  if (process.arch !== 'arm64') throw new Error(`insn-pipeline.mjs --child must run on the arm64 node (this is ${process.arch})`);
  for (const k of ['config', 'cache', 'photos']) if (!args[k]) throw new Error(`--${k} is required with --child`);
  const warmup = posInt('warmup', args.warmup, 1),
    frames = posInt('frames', args.frames, 1);
  const fps = Number(args.fps);
  if (!(fps > 0 && fps <= 30)) throw new Error(`--fps must be a number in (0, 30], got '${args.fps}'`);
  const everies = args.every.split(',').map((s) => posInt('every (each entry)', s.trim(), 0));

  const dist = (p) => import(resolve('dist/src', p));
  const [
    { parseConfigText },
    { createLogger },
    { loadConfiguredModels },
    { createEngine },
    { runPipeline },
    { ResultPublisher },
    { MqttPublisher },
    { startEmbeddedBroker },
    { topicsFor },
    { prepareBenchFrames },
    { filesSource },
    { toModelInput },
    { createFrameSource },
  ] = await Promise.all([
    dist('config/load.js'),
    dist('logging/logger.js'),
    dist('service/configured-models.js'),
    dist('service/configured-engine.js'),
    dist('pipeline/pipeline.js'),
    dist('publish/result-publisher.js'),
    dist('mqtt/client.js'),
    dist('mqtt/broker.js'),
    dist('mqtt/topics.js'),
    dist('bench/frames.js'),
    dist('capture/files.js'),
    dist('preprocess/preprocess.js'),
    dist('capture/source.js'),
  ]);
  const [{ SsdDecoder }, { decodeTwoLevel }] = await Promise.all([dist('postprocess/detections.js'), dist('pipeline/two-level.js')]);
  const { default: sharp } = await import('sharp');
  const { default: mqtt } = await import('mqtt');
  const { Subject } = await import('rxjs');

  // The demo config with the prepared int8 cache, no auto-prepare (a missing model is an error, not a
  // quantization under emulation), the segmenter loaded, a stall bound that emulation cannot hit, and
  // every result published (as the x86 bench does).
  const base = readFileSync(args.config, 'utf8');
  const lc = parseConfigText(base, resolve(args.config), { env: {} });
  const m = lc.config;
  const cfg = {
    ...m,
    models: { ...m.models, cache_dir: resolve(args.cache), precision: 'int8', auto_prepare: false },
    segmentation: { ...m.segmentation, every: Math.max(1, ...everies) },
    inference: { ...m.inference, stall_timeout_s: 180, spinning: false },
    mqtt: { ...m.mqtt, detections: { ...m.mqtt.detections, enabled: true, max_rate_hz: 0, only_with_objects: false } },
    logging: { ...m.logging, publish_frames: false },
  };
  const log = createLogger('warn', false, 2);
  const models = await loadConfiguredModels({ ...lc, config: cfg }, log);
  if (everies.some((e) => e > 0) && !models.segmenter) throw new Error(`no prepared segmenter in ${args.cache}`);
  info({
    detector: models.detector.file,
    segmenter: models.segmenter?.file ?? null,
    detector_act: actOf(models.detector.manifest),
    segmenter_act: models.segmenter ? actOf(models.segmenter.manifest) : null,
  });
  const photos = await prepareBenchFrames(resolve(args.photos), 640, 480);
  const { engine, core } = createEngine(models, cfg);
  const affinity = await engine.start();
  if (affinity.error) throw new Error(`could not pin the inference thread to core ${core}: ${affinity.error}`);
  info({ core, frames: photos.files.length, jpeg_bytes_mean: photos.meanBytes });

  const broker = await startEmbeddedBroker('127.0.0.1', 0);
  const topics = topicsFor(cfg.mqtt.base_topic, cfg.device.id, cfg.camera.name);
  const publisher = new MqttPublisher({
    url: broker.url,
    clientId: `edgesight_insn_${process.pid}`,
    keepaliveS: 30,
    protocolVersion: 4,
    reconnectMaxS: 1,
    qos: cfg.mqtt.qos,
    queueSize: cfg.mqtt.queue_size,
    will: { topic: topics.availability, payload: 'offline' },
  });
  await new Promise((res, rej) => {
    if (publisher.connected) return res();
    const t = setTimeout(() => rej(new Error('could not connect to the embedded broker within 60 s')), 60_000);
    publisher.on('event', (ev) => ev.type === 'connected' && (clearTimeout(t), res()));
  });
  const sub = mqtt.connect(broker.url, { clientId: `edgesight_insn_sub_${process.pid}`, protocolVersion: 4 });
  await new Promise((res, rej) => (sub.once('connect', res), sub.once('error', rej)));
  await sub.subscribeAsync(`${topics.root}/#`, { qos: 0 });
  // frame ids whose detections reached the subscriber; a waiter per frame
  const delivered = new Set(),
    waiters = new Map();
  let messages = 0;
  sub.on('message', (topic, payload) => {
    messages++;
    if (topic !== topics.detections) return;
    const id = JSON.parse(payload.toString()).frame_id;
    delivered.add(id);
    waiters.get(id)?.();
  });
  const deliveredOf = (id) => (delivered.has(id) ? Promise.resolve() : new Promise((r) => waiters.set(id, r)));

  // Bare inference: the detector through the same pinned worker on a pre-made tensor.
  {
    const spec = models.detector.manifest.input,
      w = spec.width ?? 320,
      h = spec.height ?? 320;
    const data = await readFile(photos.files[0]);
    const t = await toModelInput(
      { kind: 'encoded', id: 0, capturedAt: Date.now(), capturedMono: performance.now(), data, format: 'jpeg', origin: photos.files[0] },
      spec,
      w,
      h,
    );
    // run() transfers its input, so each run gets a copy (as the x86 bench's engineRuns does)
    for (let i = 0; i < warmup; i++) await engine.run(t.data.slice(), [1, 3, h, w]);
    mark(`engine detector int8|start|${frames}`);
    for (let i = 0; i < frames; i++) await engine.run(t.data.slice(), [1, 3, h, w]);
    mark(`engine detector int8|end|${frames}`);

    // The per-frame JavaScript parts on their own (micro-runs, same frame each time), so the pipeline's
    // excess over the bare inference can be split: preprocessing of each path, and post-processing
    // (box decoding + NMS at the tracker's low score, on the detector's real output).
    const rgb = await sharp(data).resize(w, h, { fit: 'fill' }).raw().toBuffer();
    const yuv = i420Of(rgb, w, h);
    const raw = {
      kind: 'raw',
      id: 0,
      capturedAt: Date.now(),
      capturedMono: performance.now(),
      data: yuv,
      format: 'yuv420',
      width: w,
      height: h,
      stride: w,
    };
    const jpeg = { kind: 'encoded', id: 0, capturedAt: Date.now(), capturedMono: performance.now(), data, format: 'jpeg', origin: photos.files[0] };
    // more warm-up than the pipeline runs: a micro-run is cheap, and an optimizing compile of the loop
    // on V8's background thread would otherwise land inside the window (the plugin counts every thread)
    const partWarmup = Math.max(warmup, 20);
    for (const [label, frame] of [
      ['part preprocess raw yuv420 320×320', raw],
      ['part preprocess jpeg 640×480', jpeg],
    ]) {
      for (let i = 0; i < partWarmup; i++) await toModelInput(frame, spec, w, h);
      mark(`${label}|start|${frames}`);
      for (let i = 0; i < frames; i++) await toModelInput(frame, spec, w, h);
      mark(`${label}|end|${frames}`);
    }
    const out = await engine.run(t.data.slice(), [1, 3, h, w]);
    const det = models.detector.manifest.detection;
    const decoder = new SsdDecoder(det, models.detector.manifest.labels);
    const decode = () =>
      decodeTwoLevel(decoder, out.det[det.outputs.scores].data, out.det[det.outputs.boxes].data, cfg, models.detector.manifest.labels);
    for (let i = 0; i < partWarmup; i++) decode();
    mark(`part postprocess decode+nms|start|${frames}`);
    for (let i = 0; i < frames; i++) decode();
    mark(`part postprocess decode+nms|end|${frames}`);
  }

  // The runs: the JPEG files source once per segmentation cadence, then (--raw-camera) the raw camera path.
  const runs = everies.map((every) => ({
    name: every ? `pipeline seg every ${every}` : 'pipeline detection only',
    every,
    source: () => filesSource({ path: photos.dir, loop: true, fps }),
  }));
  const cameraEvents = [];
  if (args['raw-camera']) {
    const spec = models.detector.manifest.input;
    const camera = {
      ...cfg.camera,
      source: 'libcamera',
      width: spec.width ?? 320,
      height: spec.height ?? 320,
      fps,
      stall_timeout_s: 0,
      libcamera: { ...cfg.camera.libcamera, codec: 'yuv420', binary: resolve(args['raw-camera']) },
    };
    const env = { ...process.env, FAKE_CAM_FRAMES: photos.dir };
    runs.push({
      name: 'pipeline raw yuv420 detection only',
      every: 0,
      source: () => createFrameSource(camera, { onEvent: (ev) => cameraEvents.push(ev) }, { env }),
    });
  }

  let lastOutputs = null;
  for (const { name, every, source } of runs) {
    const runCfg = { ...cfg, segmentation: { ...cfg.segmentation, every } };
    const outputs = new ResultPublisher(runCfg, topics, publisher, log);
    const stop$ = new Subject();
    const counts = { captured: 0, skipped: 0, corrupt: 0, errors: 0, segmentations: 0, objects: 0 };
    let seen = 0,
      measuring = false,
      msgs0 = 0;
    await new Promise((res, rej) => {
      const s = runPipeline(
        source(),
        {
          engine,
          detector: models.detector,
          segmenter: every ? models.segmenter : null,
          config: () => runCfg,
          onEvent: (ev) => {
            if (!measuring) return;
            if (ev.type === 'captured') counts.captured++;
            else if (ev.type === 'skipped') counts.skipped++;
            else if (ev.type === 'corrupt') counts.corrupt++;
            else counts.errors++;
          },
        },
        stop$,
      ).subscribe({
        next: (r) => {
          const n = ++seen;
          if (n > warmup && n <= warmup + frames) {
            if (r.segmentation) counts.segmentations++;
            counts.objects += r.detections.length;
          }
          // the frame is done once its messages are out and the subscriber has its detections
          void Promise.all([outputs.onResult(r), deliveredOf(r.frameId)]).then(
            () => {
              if (n === warmup) {
                measuring = true;
                msgs0 = messages;
                mark(`${name}|start|${frames}`);
              } else if (n === warmup + frames) {
                mark(`${name}|end|${frames}`);
                measuring = false;
                stop$.next();
              }
            },
            (e) => rej(new Error(`publishing a result failed: ${e.message}`)),
          );
        },
        error: (e) => rej(new Error(`frame source failed: ${e.message}`)),
        complete: () => {
          if (seen < warmup + frames) return rej(new Error(`the pipeline ended after ${seen} of ${warmup + frames} frames`));
          res();
        },
      });
      void s;
    });
    if (counts.errors || counts.corrupt) throw new Error(`${name}: ${counts.errors} inference errors, ${counts.corrupt} corrupt frames`);
    // a camera restart inside the window would count a process start and a resync as frame cost
    const trouble = cameraEvents.filter((ev) => ev.type !== 'started' && ev.type !== 'stderr');
    if (trouble.length) throw new Error(`${name}: the camera source reported ${JSON.stringify(trouble.slice(0, 3))}`);
    info({ run: name, every, fps, warmup, frames, ...counts, messages: messages - msgs0 });
    // a publisher's once-a-second timer (track ends, day reset) would otherwise tick on through the
    // later runs: one publisher at a time, as in the daemon
    clearInterval(outputs.dayTimer);
    lastOutputs = outputs;
  }

  // What the process costs per second of wall time with no frame: the emulated frame interval (1/fps,
  // seconds under qemu) carries this much besides the frame's own work, which a board at camera rate
  // spreads over many more frames. The last run's publisher ticks, as it would in the daemon.
  {
    const seconds = 15;
    const timer = setInterval(() => lastOutputs.idle(Date.now()), 1000);
    await new Promise((r) => setTimeout(r, 2000));
    mark(`idle per second|start|${seconds}`);
    await new Promise((r) => setTimeout(r, seconds * 1000));
    mark(`idle per second|end|${seconds}`);
    clearInterval(timer);
  }

  await engine.stop(5000);
  await publisher.close(undefined, 5000);
  await sub.endAsync();
  await broker.close();
  await photos.cleanup();
}

/** RGB24 → I420 (BT.601 limited range, unpadded rows), the layout rpicam-vid's yuv420 frames have. */
function i420Of(rgb, w, h) {
  const out = Buffer.alloc((w * h * 3) / 2),
    u = w * h,
    v = u + (w / 2) * (h / 2);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const p = (y * w + x) * 3,
        r = rgb[p],
        g = rgb[p + 1],
        b = rgb[p + 2];
      out[y * w + x] = Math.round(16 + 0.257 * r + 0.504 * g + 0.098 * b);
      if (!(y & 1) && !(x & 1)) {
        const c = (y / 2) * (w / 2) + x / 2;
        out[u + c] = Math.round(128 - 0.148 * r - 0.291 * g + 0.439 * b);
        out[v + c] = Math.round(128 + 0.439 * r - 0.368 * g - 0.071 * b);
      }
    }
  return out;
}

/** Marks ("@@MARK name|start|N" followed by the plugin's "INSN total") and "@@INFO {json}" lines. */
export function parsePipelineLog(text) {
  const lines = text.split('\n'),
    runs = {},
    infos = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].startsWith('@@INFO ')) infos.push(JSON.parse(lines[i].slice(7)));
    const m = /^@@MARK (.+)\|(start|end)\|(\d+)$/.exec(lines[i]);
    if (!m) continue;
    const insn = lines.slice(i + 1).find((l) => /^INSN \d+$/.test(l) || l.startsWith('@@MARK'));
    if (!insn || !insn.startsWith('INSN ')) throw new Error(`no INSN count after mark '${lines[i]}' (is the plugin loaded?)`);
    (runs[m[1]] ??= { frames: Number(m[3]) })[m[2]] = Number(insn.slice(5));
  }
  for (const [k, e] of Object.entries(runs)) {
    if (e.start === undefined || e.end === undefined) throw new Error(`incomplete marks for '${k}'`);
    e.perFrame = (e.end - e.start) / e.frames;
    const i = infos.find((x) => x.run === k);
    if (i)
      Object.assign(e, {
        every: i.every,
        fps: i.fps,
        warmup: i.warmup,
        captured: i.captured,
        skipped: i.skipped,
        segmentations: i.segmentations,
        messages: i.messages,
        objects: i.objects,
      });
  }
  if (!Object.keys(runs).length) throw new Error('no marks in the log (did the child run?)');
  return runs;
}

function report() {
  const insn = args.insn && existsSync(args.insn) ? JSON.parse(readFileSync(args.insn, 'utf8')) : null;
  const perCpu = {};
  for (const p of positionals) {
    const [cpu, log] = p.split('=');
    if (!cpu || !log) throw new Error(`expected <cpu>=<log>, got '${p}'`);
    const text = readFileSync(log, 'utf8');
    const runs = parsePipelineLog(text);
    const loaded = text
      .split('\n')
      .filter((l) => l.startsWith('@@INFO '))
      .map((l) => JSON.parse(l.slice(7)))
      .find((i) => 'detector' in i);
    // logs of a child without the *_act fields: the shipped prepared files name the type (int8-u8/-s8)
    const actIn = (file) => (/-u8\.onnx$/.test(file ?? '') ? 'uint8' : 'int8');
    const detCase = DET_CASE(loaded?.detector_act ?? actIn(loaded?.detector)),
      segCase = SEG_CASE(loaded?.segmenter_act ?? actIn(loaded?.segmenter));
    const det = insn?.perCpu?.[cpu]?.[detCase]?.perInference,
      seg = insn?.perCpu?.[cpu]?.[segCase]?.perInference;
    const engine = runs['engine detector int8']?.perFrame;
    for (const [k, e] of Object.entries(runs)) {
      if (!k.startsWith('pipeline')) continue;
      // bare inference for this frame mix: the detector every frame, the segmenter on the frames it ran
      const segShare = e.segmentations !== undefined ? e.segmentations / e.frames : 0;
      e.bareInference = det === undefined ? null : det + (segShare ? (seg ?? NaN) * segShare : 0);
      e.ratioToInsn = e.bareInference ? e.perFrame / e.bareInference : null;
      e.ratioToEngine = engine && !segShare ? e.perFrame / engine : null;
      if (e.skipped) process.stderr.write(`${cpu} ${k}: ${e.skipped} frames skipped as busy inside the window (lower --fps)\n`);
    }
    perCpu[cpu] = { runs, detectorCase: detCase, segmenterCase: segCase, insnDetector: det ?? null, insnSegmenter: seg ?? null };
  }
  const cpus = Object.keys(perCpu);
  const M = (n) => (n === undefined || n === null || Number.isNaN(n) ? '—' : `${(n / 1e6).toFixed(1)} M`);
  const X = (n) => (n === undefined || n === null || Number.isNaN(n) ? '—' : `${n.toFixed(2)}×`);
  const names = [...new Set(cpus.flatMap((c) => Object.keys(perCpu[c].runs)))];
  const rows = [];
  for (const n of names) {
    rows.push(`| ${n}${n.startsWith('idle') ? '' : ' (per frame)'} | ${cpus.map((c) => M(perCpu[c].runs[n]?.perFrame)).join(' | ')} |`);
    if (n.startsWith('pipeline')) {
      rows.push(`| ↳ bare inference (insn.mjs) for this mix | ${cpus.map((c) => M(perCpu[c].runs[n]?.bareInference)).join(' | ')} |`);
      rows.push(`| ↳ pipeline ÷ bare inference | ${cpus.map((c) => X(perCpu[c].runs[n]?.ratioToInsn)).join(' | ')} |`);
      if (cpus.some((c) => perCpu[c].runs[n]?.ratioToEngine))
        rows.push(`| ↳ pipeline ÷ engine detector run | ${cpus.map((c) => X(perCpu[c].runs[n]?.ratioToEngine)).join(' | ')} |`);
    }
  }
  const table = [`| guest instructions | ${cpus.join(' | ')} |`, `|---|${cpus.map(() => '---|').join('')}`, ...rows].join('\n');
  process.stdout.write(table + '\n');
  const json = {
    created_at: new Date().toISOString(),
    unit: 'guest instructions per processed frame, all threads of the process (qemu-user + arm-insn plugin; not time)',
    what: '640×480 JPEG files source (or, raw: the fake rpicam-vid streaming yuv420 at 320×320) → preprocess → pinned int8 detector (the activation type the daemon picks on that core) [→ segmenter every Nth] → post-process → MQTT publish → in-process aedes broker → one subscriber',
    bare_inference_case: { detector: 'perCpu.<cpu>.detectorCase', segmenter: 'perCpu.<cpu>.segmenterCase', from: args.insn ?? null },
    perCpu,
  };
  writeFileSync(args.report, JSON.stringify(json, null, 1));
  // alongside the per-inference counts in insn.json, so one file has both
  if (insn) writeFileSync(args.insn, JSON.stringify({ ...insn, pipeline: json }, null, 1));
}

if (args.child) await child();
else if (args.report) report();
else
  throw new Error(
    'usage: insn-pipeline.mjs --child --config <yaml> --cache <dir> --photos <dir> [--warmup W] [--frames N] [--fps F] [--every 0,5] | --report <json> [--insn insn.json] <cpu>=<log>...',
  );
