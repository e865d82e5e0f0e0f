import assert from 'node:assert/strict';
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { prepareFakeCamera, type FakeCamera } from './fake-camera.js';
import { pidAlive, pidRunning, waitFor } from './util.js';

const HARNESS = fileURLToPath(new URL('./harness.js', import.meta.url));

function startHarness(env: NodeJS.ProcessEnv): { proc: ChildProcessByStdio<null, Readable, Readable>; out: string[] } {
  const proc = spawn(process.execPath, [HARNESS], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: string[] = [];
  let rest = '';
  proc.stdout.setEncoding('utf8').on('data', (t: string) => {
    const lines = (rest + t).split('\n');
    rest = lines.pop()!;
    out.push(...lines);
  });
  return { proc, out };
}

const exited = (p: { exitCode: number | null; signalCode: string | null; once(e: 'exit', f: () => void): unknown }): Promise<void> =>
  p.exitCode !== null || p.signalCode !== null ? Promise.resolve() : new Promise((r) => p.once('exit', () => r()));

describe('capture shutdown: no camera child outlives the daemon', function () {
  this.timeout(40_000);
  let cam: FakeCamera;
  before(async () => {
    cam = await prepareFakeCamera({ width: 160, height: 120, frames: 10 });
  });
  after(async () => cam?.cleanup());

  it('SIGTERM to the daemon: it unsubscribes, the camera child is killed and reaped before the daemon exits', async function () {
    const { proc, out } = startHarness(cam.env);
    await waitFor(() => out.some((l) => l.startsWith('FRAME')), 'the first frame');
    const pid = Number(out.find((l) => l.startsWith('PID'))!.split(' ')[1]);
    assert.ok(pidAlive(pid));
    proc.kill('SIGTERM');
    await exited(proc);
    assert.equal(proc.exitCode, 0);
    assert.ok(out.includes('DONE'));
    assert.equal(pidAlive(pid), false, `camera child ${pid} outlived the daemon`);
  });

  it('SIGKILL to the daemon: the orphaned camera dies on its next write to the closed pipe', async function () {
    const { proc, out } = startHarness(cam.env);
    await waitFor(() => out.some((l) => l.startsWith('FRAME')), 'the first frame');
    const pid = Number(out.find((l) => l.startsWith('PID'))!.split(' ')[1]);
    proc.kill('SIGKILL');
    await exited(proc);
    // reparented to init, which reaps it (a container without an init may leave a zombie: not ours)
    await waitFor(() => !pidRunning(pid), `orphaned camera ${pid} to exit`, 10_000);
  });
});
