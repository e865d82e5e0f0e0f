import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { writeConfig, type DaemonProc } from '../helpers/daemon.js';
import { catalogEntry } from '../../src/models/catalog.js';
import { baseManifest, writeModel } from '../../src/models/store.js';
import { buildFaultyDetector } from '../inference/faulty-model.js';
import { tempDir } from '../inference/util.js';
import { useE2e } from '../helpers/e2e.js';
import { photo as photoFile } from '../helpers/paths.js';

function threadAllowed(pid: number, tid: number): string {
  return /^Cpus_allowed_list:\s*(\S+)/m.exec(readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8'))![1]!;
}

function waitForLog(d: DaemonProc, re: RegExp, timeoutMs: number, what: string): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const tick = (): void => {
      const m = d.output().match(re);
      if (m) return resolve(m);
      if (d.child.exitCode !== null || d.child.signalCode !== null) return reject(new Error(`daemon exited before ${what}:\n${d.output()}`));
      if (Date.now() - t0 > timeoutMs) return reject(new Error(`no ${what} within ${timeoutMs} ms:\n${d.output()}`));
      setTimeout(tick, 100);
    };
    tick();
  });
}

describe('e2e: the daemon’s pinned inference thread (edgesight run, real mosquitto)', function () {
  this.timeout(120_000);
  const e2e = useE2e();
  let daemon: DaemonProc | null = null;
  const photo = photoFile('astronaut.png');

  it('logs the core, the kernel confirms only that thread is pinned, and detection + segmentation both run', async () => {
    daemon = e2e.run(
      await writeConfig(`
device: { id: e2e_pin }
camera: { name: cam1, source: files, fps: 4, files: { path: ${photo}, loop: true } }
segmentation: { every: 2 }
mqtt: { url: ${e2e.broker.url}, reconnect_max_s: 1 }
logging: { level: info, pretty: false }
`),
    );
    const pid = daemon.child.pid!;
    const m = await waitForLog(daemon, /inference thread (\d+) pinned to core (\d+)/, 90_000, 'the pinned-core log line');
    const tid = Number(m[1]);
    const core = m[2]!;
    const full = threadAllowed(pid, pid);
    assert.equal(full, '0-1', 'the daemon process itself may use both cores');
    assert.equal(core, '1', 'inference.core defaults to the last core');
    assert.equal(threadAllowed(pid, tid), core);

    await e2e.sub.waitFor(
      (t, p) => t === 'edgesight/e2e_pin/cam1/detections' && p.toString().includes('"person"'),
      30_000,
      'detections with a person',
    );
    await e2e.sub.waitFor((t) => t === 'edgesight/e2e_pin/cam1/mask', 30_000, 'a segmentation mask');

    // while it runs: the main thread and the rest stay free. Threads on the core besides the inference
    // thread can only be ones it created (ORT's), which are newer than it.
    const tids = (await import('node:fs')).readdirSync(`/proc/${pid}/task`).map(Number);
    const restricted = tids.filter((t) => threadAllowed(pid, t) !== full);
    assert.ok(restricted.includes(tid));
    for (const t of restricted) {
      assert.equal(threadAllowed(pid, t), core, `thread ${t} is restricted to something else`);
      assert.ok(t >= tid, `thread ${t} (older than the inference thread) is restricted`);
    }
    assert.ok(restricted.length <= 3, `only the inference thread and ORT's own threads are pinned: ${restricted.join(', ')}`);
    assert.ok(tids.length - restricted.length >= 5, 'main, libuv pool and V8 platform threads stay free');
    daemon.child.kill('SIGTERM');
    const { code } = await daemon.exited;
    assert.equal(code, 0, daemon.output());
  });

  it('a stalling detector: the daemon reports the stall, restarts the worker, counts it in stats, and stays up', async () => {
    // a stand-in detector with the real one's I/O and manifest whose every run takes ~7 s even on a fast idle
    // x86 core (5000×512·512×512, 240 times), so it exceeds stall_timeout_s 1 on any machine
    const dir = tempDir();
    const base = baseManifest(catalogEntry('ssdlite_mobilenet_v3_small_coco')!, 'fp32');
    base.name = 'slow_test_detector';
    const manifest = await writeModel(dir, base, buildFaultyDetector({ baseRows: 5000, matmuls: 240 }));
    daemon = e2e.run(
      await writeConfig(`
device: { id: e2e_stall }
camera: { name: cam1, source: files, fps: 2, files: { path: ${photo}, loop: true } }
models: { detector: ${manifest} }
segmentation: { every: 0 }
inference: { stall_timeout_s: 1 }
metrics: { stats_interval_s: 5 }
mqtt: { url: ${e2e.broker.url}, reconnect_max_s: 1 }
logging: { level: info, pretty: false }
`),
    );
    await waitForLog(daemon, /inference stalled: restarting the worker/, 90_000, 'a stall report');
    await waitForLog(daemon, /inference worker back/, 60_000, 'the restarted worker');
    const stats = await e2e.sub.waitFor(
      (t, p) => t === 'edgesight/e2e_stall/stats' && (JSON.parse(p.toString()) as { worker_restarts_total?: number }).worker_restarts_total! >= 1,
      60_000,
      'stats with worker_restarts_total >= 1',
    );
    assert.ok((JSON.parse(stats.payload.toString()) as { worker_restarts_total: number }).worker_restarts_total >= 1);
    assert.equal(daemon.child.exitCode, null, 'the daemon is still running');
    assert.doesNotMatch(daemon.output(), /terminate called|Aborted/);
  });
});
