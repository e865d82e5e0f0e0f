import assert from 'node:assert/strict';
import { baseConfig, useE2e } from '../helpers/e2e.js';
import { photo } from '../helpers/paths.js';

interface DetPayload {
  v: number;
  frame_id: number;
  captured_at: number;
  published_at: number;
  width: number;
  height: number;
  objects: Array<{ label: string; class_id: number; score: number; box: number[] }>;
}

describe('e2e: edgesight run → real mosquitto', function () {
  this.timeout(120_000);
  const e2e = useE2e();
  const config = (device: string): string => baseConfig({ device, url: e2e.broker.url, frames: photo('astronaut.png') });

  it('publishes retained online, detections with a person, and the broker delivers offline after SIGKILL', async () => {
    const sub = e2e.sub;
    const daemon = await e2e.start(config('e2e_kill'));
    const online = await sub
      .waitFor((t, p) => t === 'edgesight/e2e_kill/availability' && p.toString() === 'online', 90_000, 'availability online')
      .catch((e: Error) => {
        throw new Error(`${e.message}\ndaemon output:\n${daemon.output()}`);
      });
    assert.equal(online.payload.toString(), 'online');
    const det = await sub.waitFor(
      (t, p) => t === 'edgesight/e2e_kill/cam1/detections' && (JSON.parse(p.toString()) as DetPayload).objects.some((o) => o.label === 'person'),
      30_000,
      'a detections message with a person',
    );
    const payload = JSON.parse(det.payload.toString()) as DetPayload;
    assert.equal(payload.v, 2);
    assert.equal(payload.width, 512);
    assert.equal(payload.height, 512);
    assert.ok(payload.published_at >= payload.captured_at);
    const person = payload.objects.find((o) => o.label === 'person')!;
    assert.equal(person.class_id, 1);
    assert.ok(person.score >= 0.4);
    for (const v of person.box) assert.ok(v >= 0 && v <= 1);
    assert.match(daemon.output(), /pinned to core/);

    const before = sub.messages.length;
    daemon.child.kill('SIGKILL');
    await daemon.exited;
    const off = await sub.waitFor(
      (t, p) =>
        t === 'edgesight/e2e_kill/availability' &&
        p.toString() === 'offline' &&
        sub.messages.indexOf(sub.messages.find((m) => m.topic === t && m.payload === p)!) >= before,
      20_000,
      'last-will offline after SIGKILL',
    );
    assert.equal(off.payload.toString(), 'offline');
  });

  it('SIGTERM publishes offline and exits 0 within 5 s', async () => {
    const sub = e2e.sub;
    const daemon = await e2e.start(config('e2e_term'));
    await sub
      .waitFor((t) => t === 'edgesight/e2e_term/cam1/detections', 90_000, 'first detections')
      .catch((e: Error) => {
        throw new Error(`${e.message}\ndaemon output:\n${daemon.output()}`);
      });
    const start = Date.now();
    daemon.child.kill('SIGTERM');
    const { code } = await daemon.exited;
    const took = Date.now() - start;
    assert.equal(code, 0, daemon.output());
    assert.ok(took < 5000, `stop took ${took} ms`);
    await sub.waitFor((t, p) => t === 'edgesight/e2e_term/availability' && p.toString() === 'offline', 5000, 'offline after SIGTERM');
  });
});
