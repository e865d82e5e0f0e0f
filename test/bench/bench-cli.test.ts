import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TEST_CACHE } from '../helpers/daemon.js';
import { runCli, type CliResult } from '../cli/run-cli.js';
import { STAGES } from '../../src/metrics/timing.js';

type Run = CliResult;

function bench(args: string[]): Promise<Run> {
  return runCli(['bench', ...args], { EDGESIGHT_OFFLINE: '1' }, process.cwd());
}

/** Well-formedness of the hand-written SVG: one <svg> root, every tag closed in order, no stray text outside. */
function checkXml(text: string): { root: string; elements: string[] } {
  const tags = /<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g;
  const stack: string[] = [];
  const elements: string[] = [];
  let root = '';
  let last = 0;
  let m: RegExpExecArray | null;
  const body = text.replace(/^<\?xml[^>]*\?>\s*/, '');
  while ((m = tags.exec(body))) {
    const between = body.slice(last, m.index);
    assert.ok(!/[<>]/.test(between), `stray markup before offset ${m.index}: ${JSON.stringify(between.slice(0, 40))}`);
    if (stack.length === 0) assert.equal(between.trim(), '', 'text outside the root element');
    last = tags.lastIndex;
    const [, close, name, , selfClose] = m;
    if (close) {
      assert.equal(stack.pop(), name, `</${name}> closes the wrong element`);
    } else {
      if (!root) root = name!;
      else assert.ok(stack.length > 0, `second root element <${name}>`);
      elements.push(name!);
      if (!selfClose) stack.push(name!);
    }
  }
  assert.equal(stack.length, 0, `unclosed: ${stack.join(', ')}`);
  assert.equal(body.slice(last).trim(), '', 'trailing content after the root');
  return { root, elements };
}

describe('edgesight bench (real models, real JPEG frames, child process)', function () {
  this.timeout(180_000);
  let dir: string;
  let config: string;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'edgesight-bench-test-'));
    config = path.join(dir, 'config.yaml');
    await writeFile(config, `models:\n  cache_dir: ${TEST_CACHE}\nlogging: { level: warn }\n`);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('--frames 40 prints the headline numbers and writes bench.json (documented keys), bench.md and a well-formed latency.svg', async () => {
    const out = path.join(dir, 'out');
    const r = await bench([
      '--frames',
      '40',
      '--out',
      out,
      '--config',
      config,
      '--precision',
      'fp32',
      '--segmentation-every',
      '2',
      '--viewer-pairs',
      '2',
    ]);
    assert.equal(r.code, 0, `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);

    const m = /^pipeline efficiency: (\d+\.\d\d)$/m.exec(r.stdout);
    assert.ok(m, `no 'pipeline efficiency: 0.xx' line in:\n${r.stdout}`);
    assert.match(r.stdout, /640×480 JPEG/);
    assert.match(r.stdout, /^per-stage latency p50 \/ p99 ms/m);
    assert.match(r.stdout, /^int8\/fp32 detector: unavailable — .*not requested/m);
    assert.match(r.stdout, /^memory: RSS [\d.]+ MB at start/m);
    assert.match(r.stdout, /^worker hop: pinned worker ÷ main-thread session\.run on core \d+: \d+\.\d{3} \(median of 5 alternating rounds/m);
    assert.match(r.stdout, /^hop alone: \d+\.\d{3} ms per run/m);
    const rawLine = /^raw-path efficiency: (\d+\.\d\d)$/m.exec(r.stdout);
    assert.ok(rawLine, `no 'raw-path efficiency: 0.xx' line in:\n${r.stdout}`);

    const report = JSON.parse(await readFile(path.join(out, 'bench.json'), 'utf8')) as Record<string, any>;
    assert.equal(report.schema, 'edgesight-bench/1');
    for (const k of [
      'created_at',
      'edgesight_version',
      'machine',
      'settings',
      'models',
      'ceiling',
      'pipeline',
      'pipeline_segmentation',
      'pipeline_raw',
      'worker_hop',
      'precision_ratio',
      'memory',
      'loadavg_end',
      'outputs',
    ]) {
      assert.ok(k in report, `bench.json lacks ${k}`);
    }
    for (const k of ['cpu_model', 'cores', 'arch', 'node', 'onnxruntime']) assert.ok(report.machine[k], `machine.${k}`);
    assert.equal(report.machine.loadavg_start.length, 3);
    assert.equal(report.settings.width, 640);
    assert.equal(report.settings.height, 480);
    assert.equal(report.settings.frames, 40);
    assert.equal(report.settings.pipeline_precision, 'fp32');

    const eff = report.pipeline.efficiency as number;
    assert.equal(typeof eff, 'number');
    assert.ok(eff > 0 && eff <= 1.5, `efficiency ${eff}`);
    assert.equal(eff.toFixed(2), m![1]);
    assert.ok(Math.abs(eff - report.pipeline.fps / report.ceiling.worker.fps) < 0.002);
    assert.equal(report.ceiling.worker.runs, 40);
    // the reference runs on the worker's core (the main thread pinned there for its runs)
    assert.equal(report.ceiling.in_thread.pinned_core, report.settings.core);
    const hop = report.worker_hop;
    assert.equal(hop.core, report.settings.core);
    assert.equal(hop.threads, report.settings.threads);
    assert.deepEqual(
      hop.rounds.map((x: { order: string }) => x.order),
      ['worker-first', 'main-first', 'worker-first', 'main-first', 'worker-first'],
    );
    for (const x of hop.rounds)
      assert.ok(x.worker_ms > 0 && x.in_thread_ms > 0 && x.hop_ms > 0 && Math.abs(x.ratio - x.in_thread_ms / x.worker_ms) < 0.002, JSON.stringify(x));
    const sortedRatios = hop.rounds.map((x: { ratio: number }) => x.ratio).sort((a: number, b: number) => a - b);
    assert.equal(hop.worker_over_in_thread, sortedRatios[2], 'the median of the five rounds');
    assert.ok(hop.hop_ms > 0 && hop.hop_ms <= hop.hop_ms_p90, JSON.stringify(hop));
    // the hop alone leaves session.run out, so it is cheaper than a whole run through the worker
    assert.ok(hop.hop_ms < hop.worker_ms, `hop ${hop.hop_ms} ms vs worker run ${hop.worker_ms} ms`);
    assert.ok(hop.worker_session_run_ms > 0);
    // CPU time per run of each thread: both ran the detector, so both used CPU
    for (const x of hop.rounds) assert.ok(x.worker_cpu_ms > 0 && x.in_thread_cpu_ms > 0, JSON.stringify(x));
    assert.ok(hop.cpu_in_thread_over_worker > 0 && hop.worker_cpu_ms > 0 && hop.in_thread_cpu_ms > 0, JSON.stringify(hop));
    assert.match(r.stdout, /^worker hop in CPU time: main-thread session\.run ÷ worker thread per run \d+\.\d{3}/m);
    // the camera's raw path: the fake rpicam-vid streaming yuv420 at the detector's size
    const raw = report.pipeline_raw;
    assert.equal(raw.available, true, JSON.stringify(raw));
    assert.equal(raw.codec, 'yuv420');
    assert.deepEqual([raw.width, raw.height], [320, 320]);
    assert.match(raw.program, /rpicam-vid$/);
    assert.equal(raw.frames, 40);
    assert.equal(raw.corrupt, 0);
    assert.equal(raw.inference_errors, 0);
    assert.ok(raw.mqtt_messages_received >= 40, `raw messages ${raw.mqtt_messages_received}`);
    assert.equal(raw.stages.preprocess.count, 40);
    assert.equal(raw.efficiency.toFixed(2), rawLine![1]);
    assert.ok(Math.abs(raw.efficiency - raw.fps / raw.ceiling_fps) < 0.002);
    assert.equal(report.pipeline.frames, 40);
    assert.equal(report.pipeline.corrupt, 0);
    assert.equal(report.pipeline.inference_errors, 0);
    // every measured frame's detections went through the broker to the subscriber
    assert.ok(report.pipeline.mqtt_messages_received >= 40, `messages ${report.pipeline.mqtt_messages_received}`);
    for (const s of ['receive', 'preprocess', 'queue', 'detector', 'inference', 'postprocess', 'publish', 'pipeline', 'end_to_end']) {
      const st = report.pipeline.stages[s];
      assert.ok(st, `pipeline.stages.${s}`);
      assert.equal(st.count, 40, `${s} count`);
      assert.ok(st.p50 <= st.p99 && st.p99 <= st.max, `${s} percentiles ordered`);
      assert.ok(st.metrics_p50 !== null);
    }
    for (const s of Object.keys(report.pipeline.stages)) assert.ok((STAGES as readonly string[]).includes(s), `unknown stage ${s}`);
    assert.equal(report.pipeline.stages.segmenter, undefined, 'no segmenter in the detection-only run');
    const seg = report.pipeline_segmentation;
    // the live view's cost: interleaved pairs of runs without / with one viewer on /stream.mjpeg
    const lv = report.live_view;
    assert.deepEqual(
      lv.pairs.map((p: { order: string }) => p.order),
      ['AB', 'BA'],
    );
    assert.equal(lv.frames_per_run, 20);
    for (const p of lv.pairs)
      assert.ok(p.fps_no_viewer > 0 && p.fps_with_viewer > 0 && Math.abs(p.ratio - p.fps_with_viewer / p.fps_no_viewer) < 0.01, JSON.stringify(p));
    const ratios = lv.pairs.map((p: { ratio: number }) => p.ratio);
    assert.ok(
      Math.abs(lv.ratio - (ratios[0] + ratios[1]) / 2) < 0.002 && lv.ratio_min === Math.min(...ratios) && lv.ratio_max === Math.max(...ratios),
      JSON.stringify(lv),
    );
    assert.ok(lv.frames_encoded > 0 && lv.parts_received > 0, `the viewer received frames: ${JSON.stringify(lv)}`);
    assert.equal(lv.frames_encoded_without_viewer, 0, 'nothing is encoded while nobody watches');
    assert.match(r.stdout, /^live view, one viewer at 2 fps: median ratio \d\.\d{3} over 2 interleaved pairs/m);
    assert.equal(seg.segmentation_every, 2);
    assert.equal(seg.stages.segmenter.count, 20, 'every 2nd of 40 accepted frames segmented');
    assert.equal(seg.segmentations, 20);
    assert.equal(report.precision_ratio.detector.available, false);
    assert.match(report.precision_ratio.detector.reason, /int8/);
    assert.equal(report.models.detector.fp32.available, true);
    assert.match(report.models.detector.fp32.sha256, /^[0-9a-f]{64}$/);
    assert.equal(report.models.detector.int8.available, false);
    assert.ok(report.memory.rss_start_mb > 0 && report.memory.rss_after_frames_mb > 0);
    assert.equal(report.memory.soak, null);
    const shares = (report.pipeline.time_shares as Array<{ share: number }>).reduce((a, b) => a + b.share, 0);
    assert.ok(Math.abs(shares - 1) < 0.01, `shares sum to ${shares}`);

    const md = await readFile(path.join(out, 'bench.md'), 'utf8');
    assert.match(md, /^# edgesight benchmark/m);
    assert.match(md, /pipeline efficiency: \d\.\d\d/);
    assert.match(md, /\*\*worker hop: pinned worker ÷ main-thread session\.run = \d+\.\d{3}\*\*/);
    assert.match(md, /\*\*Hop alone: \d+\.\d{3} ms per run\*\*/);
    assert.match(md, /\*\*raw-path efficiency: \d+\.\d\d\*\*/);
    assert.ok(md.includes(report.machine.cpu_model), 'the Markdown names the CPU');
    assert.match(md, /!\[per-stage latency distribution\]\(latency\.svg\)/);
    assert.match(md, /\| detector \| – \| – \| unavailable: /);

    const svg = await readFile(path.join(out, 'latency.svg'), 'utf8');
    const { root, elements } = checkXml(svg);
    assert.equal(root, 'svg');
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    // one box per drawn stage row
    assert.ok(elements.filter((e) => e === 'circle').length >= 8, 'max dots for the stage rows');
    assert.ok(svg.includes('>preprocess <'), 'a preprocess row');
    assert.ok(svg.includes('segmenter (every 2)'), 'a segmenter row');
  });

  it('refuses bad options with exit 64 and names the option', async () => {
    const a = await bench(['--frames', '3']);
    assert.equal(a.code, 64);
    assert.match(a.stderr, /--frames must be an integer ≥ 10, got "3"/);
    const b = await bench(['--precision', 'int4']);
    assert.equal(b.code, 64);
    assert.match(b.stderr, /--precision takes int8 and\/or fp32/);
    const c = await bench(['--frames-dir', path.join(dir, 'nope'), '--config', config, '--frames', '10']);
    assert.equal(c.code, 1);
    assert.match(c.stderr, /--frames-dir .*nope cannot be read: ENOENT/);
  });
});
