import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { InferenceBusyError, InferenceEngine } from '../../src/inference/engine.js';
import { nowMs } from '../../src/metrics/timing.js';
import { REPO } from '../helpers/daemon.js';
import { controlInput, CRASH_EXIT, CRASH_THROW, CTRL_CRASH, DET_SHAPE } from './faulty-model.js';
import { detectorSpec, faultyDetector, RecordingEngine, SEGMENTER_SPEC, tempDir } from './util.js';

const CRASHING_WORKER = new URL('./crashing-worker.js', import.meta.url);
/**
 * rows for a run of seconds even on a fast idle x86 core (~0.14 ms per row measured there; more under load):
 * the stall test needs a run far longer than its 300 ms timeout on any machine, or it would be flaky
 */
const SLOW = 20000;

function crashInput(kind: number): Float32Array {
  const t = controlInput(0);
  t[CTRL_CRASH] = kind;
  return t;
}

describe('inference engine (real ORT in a worker thread)', function () {
  this.timeout(90_000);
  let engine: InferenceEngine | null = null;
  const make = (opts: Partial<ConstructorParameters<typeof InferenceEngine>[0]> = {}): RecordingEngine => {
    const e = new RecordingEngine({
      init: { detector: detectorSpec(faultyDetector()), segmenter: null, core: null, threads: 1, spinning: false },
      stallTimeoutMs: 60_000,
      backoffInitialMs: 50,
      ...opts,
    });
    engine = e;
    return e;
  };
  afterEach(async () => {
    // waits for stalled threads to leave ORT: a process exiting under one aborts (see engine.ts)
    const r = await engine?.stop(30_000);
    engine = null;
    assert.deepEqual(r?.stuckThreads ?? [], []);
  });

  it('does not block the main event loop: a timer set while a long run is in flight fires before the run ends', async () => {
    const e = make();
    await e.start();
    let timerAt: number | null = null;
    let busyInTimer = false;
    const p = e.run(controlInput(SLOW), DET_SHAPE);
    setTimeout(() => {
      timerAt = nowMs();
      busyInTimer = e.busy;
    }, 1);
    const r = await p;
    assert.ok(timerAt !== null, 'the timer fired');
    assert.ok(busyInTimer, 'the run was still in flight when the timer fired');
    // stamps from the worker, on the same process-wide clock: the timer fired inside the run
    assert.ok(timerAt! < r.detEnd, `timer at ${timerAt} is before the run's end ${r.detEnd}`);
    assert.equal(e.counters.runs, 1);
  });

  it('is busy while a run is in flight and refuses a second one (the pipeline drops that frame)', async () => {
    const e = make();
    await e.start();
    const p = e.run(controlInput(200), DET_SHAPE);
    assert.equal(e.busy, true);
    await assert.rejects(e.run(controlInput(0), DET_SHAPE), InferenceBusyError);
    await p;
    assert.equal(e.busy, false);
  });

  it('transfers the input buffers (no copy): the caller’s arrays are detached', async () => {
    const e = new RecordingEngine({
      init: { detector: detectorSpec(), segmenter: SEGMENTER_SPEC, core: null, threads: 1, spinning: false },
      stallTimeoutMs: 60_000,
    });
    engine = e;
    await e.start();
    const det = new Float32Array(3 * 320 * 320);
    const seg = new Float32Array(3 * 240 * 320);
    const r = await e.run(det, DET_SHAPE, { data: seg, shape: [1, 3, 240, 320] });
    assert.equal(det.buffer.byteLength, 0);
    assert.equal(seg.buffer.byteLength, 0);
    assert.ok(r.segStart! >= r.detEnd, 'segmentation ran after detection, one after the other');
  });

  it('hop (the benchmark’s hop alone): the input goes to the worker and comes back transferred, without a model run', async () => {
    const e = make();
    await e.start();
    // a control input that would keep session.run busy for seconds: the hop must not run it
    const input = controlInput(SLOW);
    const copy = input.slice();
    const t0 = nowMs();
    const p = e.hop(input, DET_SHAPE);
    assert.ok(e.busy, 'a hop in flight makes the engine busy like a run');
    await assert.rejects(e.run(controlInput(0), DET_SHAPE), InferenceBusyError);
    const r = await p;
    assert.ok(nowMs() - t0 < 2000, 'answered without the seconds-long run');
    assert.equal(input.buffer.byteLength, 0, 'the caller’s buffer was transferred');
    assert.deepEqual(r.det.input!.data, copy, 'the same values came back');
    assert.deepEqual(r.det.input!.dims, DET_SHAPE);
    assert.equal(r.detEnd, r.detStart);
    // and the next real run proceeds
    const ok = await e.run(controlInput(0), DET_SHAPE);
    assert.ok(ok.detEnd >= ok.detStart);
  });

  it('reports a failing run, counts it, and the next frame proceeds on the same worker', async () => {
    const e = make();
    const a = await e.start();
    await assert.rejects(e.run(controlInput(0, 9), DET_SHAPE), /detector run failed: .*indices element out of data bounds/);
    const ev = e.events.find((x) => x.type === 'run-error');
    assert.ok(ev && ev.type === 'run-error' && ev.model === 'detector');
    const r = await e.run(controlInput(0), DET_SHAPE);
    assert.deepEqual(r.det['class_predictions']!.dims, [1, 2034, 91]);
    assert.deepEqual(e.counters, { runs: 1, runErrors: 1, stalls: 0, crashes: 0, restarts: 0 });
    assert.equal(e.affinity!.tid, a.tid, 'no restart for a failed run');
  });

  it('a stalled run is reported, the worker restarted with reloaded models, and the next run succeeds', async () => {
    const e = make({ stallTimeoutMs: 300 });
    const first = await e.start();
    const ready = e.next('ready');
    await assert.rejects(e.run(controlInput(SLOW), DET_SHAPE), /inference worker stalled: a run took longer than 300 ms/);
    assert.equal(e.busy, true, 'busy while restarting: frames are skipped, not queued');
    await assert.rejects(e.run(controlInput(0), DET_SHAPE), InferenceBusyError);
    const back = await ready;
    assert.equal(back.restart, 1);
    assert.notEqual(back.affinity.tid, first.tid, 'a new thread');
    const r = await e.run(controlInput(0), DET_SHAPE);
    assert.deepEqual(r.det['box_encodings']!.dims, [1, 2034, 4]);
    assert.equal(e.counters.stalls, 1);
    assert.equal(e.counters.restarts, 1);
    const restart = e.events.find((x) => x.type === 'restart');
    assert.ok(restart && restart.type === 'restart' && /stalled/.test(restart.reason));
  });

  for (const [what, kind, reason] of [
    ['an uncaught exception in the worker', CRASH_THROW, /crashed: test: worker crashed on purpose/],
    ['the worker thread exiting', CRASH_EXIT, /exited with code 7/],
  ] as const) {
    it(`recovers from ${what}: reported as a crash, restarted, next run succeeds`, async () => {
      const e = make({ workerUrl: CRASHING_WORKER });
      await e.start();
      const ready = e.next('ready');
      await assert.rejects(e.run(crashInput(kind), DET_SHAPE), reason);
      const crash = e.events.find((x) => x.type === 'crash');
      assert.ok(crash && crash.type === 'crash' && reason.test(crash.message), JSON.stringify(e.events));
      await ready;
      const r = await e.run(controlInput(0), DET_SHAPE);
      assert.deepEqual(r.det['class_predictions']!.dims, [1, 2034, 91]);
      assert.deepEqual(e.counters, { runs: 1, runErrors: 0, stalls: 0, crashes: 1, restarts: 1 });
    });
  }

  it('backs off exponentially up to the cap while the worker keeps failing, and not below it after one good run', async () => {
    const e = make({ workerUrl: CRASHING_WORKER, backoffInitialMs: 20, backoffMaxMs: 80 });
    await e.start();
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      const ready = e.next('ready');
      await assert.rejects(e.run(crashInput(CRASH_THROW), DET_SHAPE));
      await ready;
      await e.run(controlInput(0), DET_SHAPE); // one good run does not reset the backoff (rate limit)
    }
    for (const ev of e.events) if (ev.type === 'restart') delays.push(ev.delayMs);
    assert.deepEqual(delays, [20, 40, 80, 80, 80]);
    assert.equal(e.counters.restarts, 5);
  });

  it('resets the backoff once a worker has stayed up for healthyAfterMs', async () => {
    const e = make({ workerUrl: CRASHING_WORKER, backoffInitialMs: 20, backoffMaxMs: 1000, healthyAfterMs: 0 });
    await e.start();
    for (let i = 0; i < 3; i++) {
      const ready = e.next('ready');
      await assert.rejects(e.run(crashInput(CRASH_THROW), DET_SHAPE));
      await ready;
    }
    assert.deepEqual(
      e.events.filter((x) => x.type === 'restart').map((x) => (x.type === 'restart' ? x.delayMs : 0)),
      [20, 20, 20],
    );
  });

  it('a model that cannot be loaded rejects start() with the file and ORT’s reason', async () => {
    const e = make({ init: { detector: detectorSpec('/nonexistent/model.onnx'), segmenter: null, core: null, threads: 1, spinning: false } });
    await assert.rejects(e.start(), /inference worker could not load the models: .*\/nonexistent\/model.onnx/);
  });

  it('stop() during a long run lets the run finish and the process exit cleanly (exit 0, no abort)', function () {
    this.timeout(60_000);
    const script = `
      import { InferenceEngine } from ${JSON.stringify(new URL('../../src/inference/engine.js', import.meta.url).href)};
      import { controlInput } from ${JSON.stringify(new URL('./faulty-model.js', import.meta.url).href)};
      const e = new InferenceEngine({ init: { detector: { path: ${JSON.stringify(faultyDetector())}, inputName: 'image', outputNames: ['class_predictions', 'box_encodings'] }, segmenter: null, core: null, threads: 1, spinning: false }, stallTimeoutMs: 60000 });
      await e.start();
      e.run(controlInput(${SLOW / 2}), [1, 3, 320, 320]).catch((err) => console.log('run:', err.message));
      await new Promise((r) => setTimeout(r, 100));
      const r = await e.stop(30000);
      console.log('stopped', JSON.stringify(r));
    `;
    const file = path.join(tempDir(), 'stop-during-run.mjs');
    writeFileSync(file, script);
    const r = spawnSync(process.execPath, [file], { cwd: REPO, encoding: 'utf8', timeout: 50_000 });
    assert.equal(r.signal, null, r.stderr);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /run: inference engine stopped/);
    assert.match(r.stdout, /stopped \{"stuckThreads":\[\]\}/);
  });
});
