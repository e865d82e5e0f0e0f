import assert from 'node:assert/strict';
import { writeConfig, type DaemonProc } from '../helpers/daemon.js';
import { useE2e, filesCameraYaml } from '../helpers/e2e.js';
import { photo } from '../helpers/paths.js';

interface Detections {
  frame_id: number;
  published_at: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** `mqtt.detections.max_rate_hz` and `mqtt.detections.enabled` on a running daemon. */
describe('e2e: detections rate limit and switch', function () {
  this.timeout(150_000);
  const e2e = useE2e();
  let daemon: DaemonProc | null = null;

  const config = (device: string, detections: string): Promise<string> =>
    writeConfig(`
${filesCameraYaml({ device, frames: photo('astronaut.png') })}
mqtt:
  url: ${e2e.broker.url}
  detections: ${detections}
  events: { min_duration_s: 0.5 }
logging: { level: info, pretty: false }
`);
  const fail = (e: Error): never => {
    throw new Error(`${e.message}\ndaemon output (tail):\n${daemon?.output().slice(-4000)}`);
  };

  it('max_rate_hz 1 at 4 fps: at most rate·span + 1 messages, while every frame is still processed', async () => {
    daemon = e2e.run(await config('rate1', '{ max_rate_hz: 1 }'));
    const topic = 'edgesight/rate1/cam1/detections';
    await e2e.sub.waitFor((t) => t === topic, 90_000, 'first detections').catch(fail);
    await sleep(6000);
    const msgs = e2e.sub.messages.filter((m) => m.topic === topic).map((m) => JSON.parse(m.payload.toString()) as Detections);
    const spanS = (msgs[msgs.length - 1]!.published_at - msgs[0]!.published_at) / 1000;
    // frame ids are the source's: the gaps between published frames are the frames the limiter held back
    const framesSpanned = msgs[msgs.length - 1]!.frame_id - msgs[0]!.frame_id + 1;
    console.log(`      ${msgs.length} detections messages over ${spanS.toFixed(1)} s covering ${framesSpanned} frames`);
    assert.ok(msgs.length >= 3, `only ${msgs.length} detections messages in ~6 s at max_rate_hz 1`);
    // GCRA with burst 1: over a span L at most rate·L + 1 (+1 for ms rounding between the two clocks)
    assert.ok(msgs.length <= Math.floor(spanS) + 2, `${msgs.length} messages over ${spanS.toFixed(1)} s exceed max_rate_hz 1`);
    assert.ok(framesSpanned > msgs.length, 'the limiter dropped no frame: frames are not being rate-limited');
  });

  it('enabled: false publishes no detections, while counts and events still flow', async () => {
    daemon = e2e.run(await config('off', '{ enabled: false }'));
    await e2e.sub
      .waitFor((t, p) => t === 'edgesight/off/cam1/objects/person' && p.toString() === '1', 90_000, 'objects/person = 1 (frames processed)')
      .catch(fail);
    await e2e.sub.waitFor((t) => t === 'edgesight/off/cam1/events', 10_000, 'an event').catch(fail);
    assert.equal(
      e2e.sub.messages.filter((m) => m.topic === 'edgesight/off/cam1/detections').length,
      0,
      'detections were published with mqtt.detections.enabled: false',
    );
  });
});
