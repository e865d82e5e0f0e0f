import assert from 'node:assert/strict';
import { writeConfig, type DaemonProc } from '../helpers/daemon.js';
import { validatePayload } from '../helpers/schema.js';
import { useE2e, filesCameraYaml } from '../helpers/e2e.js';
import { photo } from '../helpers/paths.js';

const DEVICE = 'outage';
const ROOT = `edgesight/${DEVICE}`;
const QUEUE_SIZE = 20;
const OUTAGE_MS = 30_000;

interface Stats {
  ts: number;
  frames_processed_total: number;
  mqtt_queue_drops_total: number;
  mqtt_reconnects_total: number;
}
interface Detections {
  frame_id: number;
  captured_at: number;
  published_at: number;
}

/** When the daemon logged its reconnect (pino JSON lines, ms resolution). */
function reconnectedAt(output: string): number {
  for (const line of output.split('\n')) {
    if (!line.startsWith('{')) continue;
    const l = JSON.parse(line) as { msg?: string; reconnect?: boolean; time?: string };
    if (l.msg === 'connected to MQTT broker' && l.reconnect === true) return Date.parse(l.time!);
  }
  throw new Error(`no reconnect in the daemon log:\n${output.slice(-3000)}`);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * The broker goes away for 30 s mid-run and comes back on the same port. The daemon must keep running
 * (and keep processing frames), hold a bounded queue while disconnected and count what it drops, and
 * be back — availability online and info republished — within about reconnect_max_s (5 s) of the broker.
 */
describe('e2e: broker outage (mosquitto stopped 30 s, restarted on the same port)', function () {
  this.timeout(180_000);
  const e2e = useE2e({ topics: [`${ROOT}/#`], daemonPerTest: false });
  let daemon: DaemonProc;

  const fail = (e: Error): never => {
    throw new Error(`${e.message}\ndaemon output (tail):\n${daemon.output().slice(-4000)}`);
  };

  it('stays up, queues at most mqtt.queue_size, counts drops, and is online again within ~5 s', async () => {
    const cfg = await writeConfig(`
${filesCameraYaml({ device: DEVICE, frames: photo('astronaut.png') })}
mqtt:
  url: ${e2e.broker.url}
  queue_size: ${QUEUE_SIZE}
  reconnect_max_s: 5
metrics: { stats_interval_s: 5 }
logging: { level: info, pretty: false }
`);
    daemon = e2e.run(cfg);
    await e2e.sub.waitFor((t, p) => t === `${ROOT}/availability` && p.toString() === 'online', 90_000, 'availability online').catch(fail);
    const statsBefore = JSON.parse(
      (await e2e.sub.waitFor((t) => t === `${ROOT}/stats`, 30_000, 'stats before the outage').catch(fail)).payload.toString(),
    ) as Stats;

    await e2e.broker.stop();
    const downAt = Date.now();
    const seenBeforeRestart = (): number => e2e.sub.messages.length;
    await sleep(OUTAGE_MS);
    assert.equal(daemon.child.exitCode, null, `the daemon exited during the outage:\n${daemon.output().slice(-3000)}`);
    assert.equal(daemon.child.signalCode, null);
    assert.match(daemon.output(), /MQTT connection lost; retrying with backoff/);
    assert.match(daemon.output(), /refused the connection: is it running/, 'the daemon log shows no failed retry');

    const mark = seenBeforeRestart();
    const upAt = Date.now();
    await e2e.broker.start();
    const afterRestart =
      (topic: string, pred: (p: string) => boolean = () => true) =>
      (t: string, p: Buffer) =>
        t === topic && pred(p.toString()) && e2e.sub.messages.slice(mark).some((m) => m.topic === t && m.payload.equals(p));
    await e2e.sub
      .waitFor(
        afterRestart(`${ROOT}/availability`, (p) => p === 'online'),
        20_000,
        'availability online after the broker is back',
      )
      .catch(fail);
    const onlineAfterS = (Date.now() - upAt) / 1000;
    await e2e.sub.waitFor(afterRestart(`${ROOT}/info`), 20_000, 'info republished after the broker is back').catch(fail);
    const infoAfterS = (Date.now() - upAt) / 1000;
    console.log(
      `      broker down ${((upAt - downAt) / 1000).toFixed(1)} s; back → online after ${onlineAfterS.toFixed(2)} s, info after ${infoAfterS.toFixed(2)} s`,
    );
    // reconnect_max_s 5 caps the backoff; 8 s leaves room for a loaded machine
    assert.ok(onlineAfterS <= 8, `online only ${onlineAfterS.toFixed(1)} s after the broker came back (reconnect_max_s 5)`);
    assert.ok(infoAfterS <= 8, `info only ${infoAfterS.toFixed(1)} s after the broker came back`);

    // the next stats message counted the reconnect and the drops (a stats message queued during the
    // outage may be delivered first; it predates the reconnect)
    const statsMsg = await e2e.sub
      .waitFor(
        (t, p) => t === `${ROOT}/stats` && (JSON.parse(p.toString()) as Stats).mqtt_reconnects_total >= 1,
        30_000,
        'stats counting the reconnect',
      )
      .catch(fail);
    validatePayload('stats', statsMsg.payload);
    const stats = JSON.parse(statsMsg.payload.toString()) as Stats;
    const processedDuringOutage = stats.frames_processed_total - statsBefore.frames_processed_total;
    console.log(
      `      stats: mqtt_reconnects_total ${stats.mqtt_reconnects_total}, mqtt_queue_drops_total ${stats.mqtt_queue_drops_total}, frames processed since the last stats before the outage ${processedDuringOutage}`,
    );
    assert.ok(stats.mqtt_queue_drops_total > 0, 'a 30 s outage at 4 fps overflows a 20-message queue: drops must be counted');
    // the pipeline kept going (4 fps × 30 s = 120 frames; a loose floor for a loaded machine)
    assert.ok(processedDuringOutage >= 20, `only ${processedDuringOutage} frames processed across the outage: the pipeline stalled`);

    // bounded queue: detections handed to the publisher (published_at) while it was disconnected and
    // delivered after the reconnect are exactly what the queue held — at most queue_size, the newest
    const connectedAt = reconnectedAt(daemon.output());
    const queued = e2e.sub.messages
      .slice(mark)
      .filter((m) => m.topic === `${ROOT}/cam1/detections`)
      .map((m) => JSON.parse(m.payload.toString()) as Detections)
      .filter((d) => d.published_at >= downAt && d.published_at < connectedAt);
    console.log(`      detections captured while disconnected and delivered after the reconnect: ${queued.length} (queue_size ${QUEUE_SIZE})`);
    assert.ok(queued.length > 0, 'nothing queued during the outage was delivered');
    assert.ok(queued.length <= QUEUE_SIZE, `${queued.length} queued detections delivered, more than queue_size ${QUEUE_SIZE}`);
    const oldestKept = Math.min(...queued.map((d) => d.captured_at));
    assert.ok(oldestKept - downAt > OUTAGE_MS / 2, 'the queue kept old frames: streams must drop the oldest');

    // and frames keep flowing live
    const liveFrom = Date.now();
    await e2e.sub
      .waitFor(
        (t, p) => t === `${ROOT}/cam1/detections` && (JSON.parse(p.toString()) as Detections).captured_at > liveFrom,
        15_000,
        'live detections after the outage',
      )
      .catch(fail);
    assert.equal(daemon.child.exitCode, null);
  });
});
