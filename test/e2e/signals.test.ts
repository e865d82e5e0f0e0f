import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { writeConfig, type DaemonProc } from '../helpers/daemon.js';
import { useE2e } from '../helpers/e2e.js';
import { photo } from '../helpers/paths.js';

const waitForOutput = async (d: DaemonProc, re: RegExp, timeoutMs: number, from = 0): Promise<string> => {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const out = d.output().slice(from);
    const m = re.exec(out);
    if (m) return m[0];
    if (Date.now() > until) throw new Error(`timed out waiting for ${re} in daemon output:\n${d.output()}`);
    if (d.child.exitCode !== null) throw new Error(`daemon exited (${d.child.exitCode}) while waiting for ${re}:\n${d.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

describe('e2e: signals (SIGHUP reload)', function () {
  this.timeout(120_000);
  const e2e = useE2e({ daemonPerTest: false });
  let daemon: DaemonProc | null = null;

  const yaml = (threshold: number, extra = ''): string => `
device: { id: hup }
camera:
  name: cam
  source: files
  fps: 4
  files: { path: ${photo('messi5.jpg')} }
segmentation: { every: 0 }
detection: { score_threshold: ${threshold} }
mqtt: { url: ${e2e.broker.url} }
logging: { pretty: false }
${extra}`;

  it('applies live changes, reports restart-only changes, and keeps the old config when the new one is invalid', async () => {
    const file = await writeConfig(yaml(0.45));
    daemon = e2e.run(file);
    const count = (p: Buffer): number => (JSON.parse(p.toString()) as { objects: unknown[] }).objects.length;
    const first = await e2e.sub
      .waitFor((t) => t === 'edgesight/hup/cam/detections', 90_000, 'detections at 0.45')
      .catch((e: Error) => {
        throw new Error(`${e.message}\n${daemon!.output()}`);
      });
    const before = count(first.payload);

    // a lower threshold is a live change: more objects per frame afterwards
    await writeFile(file, yaml(0.3));
    let mark = daemon.output().length;
    daemon.child.kill('SIGHUP');
    await waitForOutput(daemon, /config reloaded/, 10_000, mark);
    const n0 = e2e.sub.messages.length;
    const after = await e2e.sub.waitFor(
      (t, p) => t === 'edgesight/hup/cam/detections' && e2e.sub.messages.findIndex((m) => m.payload === p) >= n0,
      10_000,
      'detections after reload',
    );
    assert.ok(count(after.payload) > before, `threshold 0.3 should report more than ${before} objects, got ${count(after.payload)}`);

    // a camera change needs a restart: reported, not applied
    await writeFile(file, yaml(0.3).replace('fps: 4', 'fps: 3'));
    mark = daemon.output().length;
    daemon.child.kill('SIGHUP');
    const line = await waitForOutput(daemon, /.*some changes need a restart.*/, 10_000, mark);
    assert.match(line, /camera\.fps/);

    // an invalid file: every error logged, the daemon keeps running on the old config
    await writeFile(file, yaml(0.3).replace('fps: 4', 'fps: -1').replace('segmentation: { every: 0 }', 'segmentation: { every: 0, bogus: 1 }'));
    mark = daemon.output().length;
    daemon.child.kill('SIGHUP');
    await waitForOutput(daemon, /still running on the previous one/, 10_000, mark);
    const out = daemon.output().slice(mark);
    assert.match(out, /camera\.fps/);
    assert.match(out, /segmentation\.bogus/);
    const n1 = e2e.sub.messages.length;
    await e2e.sub.waitFor(
      (t, p) => t === 'edgesight/hup/cam/detections' && e2e.sub.messages.findIndex((m) => m.payload === p) >= n1,
      10_000,
      'detections after a refused reload',
    );
    assert.equal(daemon.child.exitCode, null);
  });
});
