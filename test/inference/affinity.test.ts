import assert from 'node:assert/strict';
import {
  cpusAllowedList,
  inferenceCores,
  intraOpAffinities,
  lastCpu,
  parseCpuList,
  processCpus,
  resolveCore,
  threadIds,
} from '../../src/inference/affinity.js';
import { InferenceEngine } from '../../src/inference/engine.js';
import { fixtureInput } from '../helpers/onnx-build.js';
import { detectorSpec, SEGMENTER_SPEC, threadStatus } from './util.js';

describe('inference affinity: core and thread arithmetic', () => {
  it('parses kernel CPU lists', () => {
    assert.deepEqual(parseCpuList('0-1'), [0, 1]);
    assert.deepEqual(parseCpuList('0,2-4,7'), [0, 2, 3, 4, 7]);
    assert.deepEqual(parseCpuList('3\n'), [3]);
    assert.throws(() => parseCpuList('0-x'), /'0-x' is not a CPU list/);
  });

  it('resolves -1 to the last usable core and refuses cores the process cannot use', () => {
    assert.equal(resolveCore(-1, 4), 3);
    assert.equal(resolveCore(0, 4), 0);
    assert.equal(resolveCore(-1, [2, 3]), 3);
    assert.throws(() => resolveCore(4, 4), /inference.core 4 is not a core this process may use \(4 usable cores: 0,1,2,3\)/);
    assert.throws(() => resolveCore(0, [2, 3]), /inference.core 0 is not a core/);
    assert.throws(() => resolveCore(-2, 4), /must be -1 \(the last core\) or a core id, got -2/);
  });

  it("writes ORT's intra_op_thread_affinities: one 1-based entry per extra thread, ';'-separated", () => {
    assert.equal(intraOpAffinities(0, 1, 4), undefined);
    assert.equal(intraOpAffinities(0, 2, 2), '2'); // core 1 is ORT's logical processor 2
    assert.equal(intraOpAffinities(1, 3, 4), '3;4');
    assert.equal(intraOpAffinities(0, 3, [0, 2, 5]), '3;6'); // skips cores the process may not use
    assert.deepEqual(inferenceCores(1, 3, 4), [1, 2, 3]);
  });

  it('refuses more threads than cores from inference.core upward, saying what to change', () => {
    assert.throws(
      () => intraOpAffinities(1, 2, 2),
      /inference.threads 2 needs 2 cores from inference.core 1 upward \(one pinned thread each\), but only 1 is available \(2 usable cores: 0,1\); lower inference.threads or inference.core/,
    );
    assert.throws(() => inferenceCores(0, 0, 2), /inference.threads must be a positive integer, got 0/);
  });
});

describe('inference affinity: the worker thread really is pinned (real ORT, /proc)', function () {
  this.timeout(60_000);
  const cpus = processCpus();
  const full = cpusAllowedList(process.pid);
  let engine: InferenceEngine | null = null;
  // ORT makes one housekeeping thread per process, from the thread that creates the first session; when
  // an earlier engine here did that, it stays on that engine's core — it is ORT's, not one of "ours"
  const ortThreadsSeen = new Set<number>();
  const ours = (): number[] => threadIds().filter((t) => !ortThreadsSeen.has(t));
  afterEach(async () => {
    await engine?.stop(10_000);
    engine = null;
  });

  for (const core of [1, 0]) {
    it(`pins the inference thread to core ${core}, runs there, and leaves every other thread alone`, async function () {
      if (!cpus.includes(core) || cpus.length < 2) this.skip(); // needs a 2-core machine (cores 0 and 1)
      const before = new Set(ours());
      engine = new InferenceEngine({
        init: { detector: detectorSpec(), segmenter: SEGMENTER_SPEC, core, threads: 1, spinning: false },
        stallTimeoutMs: 30_000,
      });
      const a = await engine.start();
      for (const t of a.ortThreads) ortThreadsSeen.add(t.tid);
      assert.equal(a.error, undefined);
      assert.equal(a.requested, String(core));
      assert.equal(a.allowed, String(core));
      // independently of the report: the kernel's view of that thread
      assert.equal(threadStatus(a.tid).allowed, String(core));
      assert.ok(!before.has(a.tid), 'the inference thread is a new thread, not one of ours');
      await engine.run(fixtureInput('astronaut'), [1, 3, 320, 320], { data: new Float32Array(3 * 240 * 320), shape: [1, 3, 240, 320] });
      assert.equal(lastCpu(a.tid), core, 'the thread last ran on its core');
      assert.equal(a.lastCpu, core);
      // the threads that existed before (main, libuv pool, V8 platform) keep the process's full set
      for (const tid of before)
        if (threadIds().includes(tid)) assert.equal(threadStatus(tid).allowed, full, `thread ${tid} (${threadStatus(tid).name}) was restricted`);
      assert.equal(threadStatus(process.pid).allowed, full);
      // whatever ORT created from the pinned thread inherited the core, and nothing else appeared restricted
      for (const t of a.ortThreads) assert.equal(threadStatus(t.tid).allowed, String(core), `ORT thread ${t.tid}`);
      const restricted = ours().filter((t) => threadStatus(t).allowed !== full);
      assert.deepEqual(restricted, [a.tid], 'only the inference thread (and ORT’s own threads) are restricted');
    });
  }

  it('threads 2 from core 0: ORT accepts the affinity string and pins its extra intra-op threads to core 1', async function () {
    if (!cpus.includes(0) || !cpus.includes(1)) this.skip();
    const before = new Set(ours());
    engine = new InferenceEngine({
      init: { detector: detectorSpec(), segmenter: SEGMENTER_SPEC, core: 0, threads: 2, spinning: false },
      stallTimeoutMs: 30_000,
    });
    const a = await engine.start();
    for (const t of a.ortThreads) ortThreadsSeen.add(t.tid);
    assert.equal(a.allowed, '0');
    assert.equal(a.intraOpAffinities, '2');
    const onCore1 = a.ortThreads.filter((t) => t.allowed === '1');
    // one pool thread per session (detector + segmenter), each with threads − 1 = 1 extra thread
    assert.equal(onCore1.length, 2, JSON.stringify(a.ortThreads));
    for (const t of a.ortThreads) assert.ok(['0', '1'].includes(threadStatus(t.tid).allowed));
    const r = await engine.run(fixtureInput('astronaut'), [1, 3, 320, 320], { data: new Float32Array(3 * 240 * 320), shape: [1, 3, 240, 320] });
    assert.deepEqual(r.seg!['logits']!.dims, [1, 21, 30, 40]);
    for (const tid of before) if (threadIds().includes(tid)) assert.equal(threadStatus(tid).allowed, full);
  });

  it('threads 2 from core 1 on a 2-core machine is refused before any thread starts', function () {
    if (cpus.length !== 2) this.skip();
    assert.throws(
      () => new InferenceEngine({ init: { detector: detectorSpec(), segmenter: null, core: 1, threads: 2, spinning: false }, stallTimeoutMs: 1000 }),
      /inference.threads 2 needs 2 cores from inference.core 1 upward.*lower inference.threads or inference.core/,
    );
  });

  it('an affinity string ORT rejects fails the model load with ORT’s reason', async () => {
    // the engine never writes one, so call the session factory directly: ORT validates the entry
    const { createSession } = await import('../../src/inference/session.js');
    await assert.rejects(createSession(detectorSpec().path, { threads: 2, spinning: false, intraOpAffinities: '2;3' }), /affinit/i);
  });
});
