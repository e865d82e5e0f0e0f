import assert from 'node:assert/strict';
import { chmod, mkdtemp, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MAX_INFLIGHT } from '../../src/mqtt/client.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { makePasswordFile } from '../helpers/tls.js';
import { Collector, startDaemon, writeConfig, type DaemonProc } from '../helpers/daemon.js';
import { killDaemon } from '../helpers/e2e.js';
import { daemonYaml, dropped, faultEnv, freePort, LONG, PROCESSED, recordFigures, scrape, sleep, waitForMetric, waitForOutput } from './util.js';

const dropsByClass = (m: Map<string, number>): Record<string, number> =>
  Object.fromEntries(['stream', 'event', 'latest', 'offline', 'backpressure'].map((c) => [c, m.get(dropped(c)) ?? 0]));

describe('reliability: MQTT broker faults', function () {
  this.timeout(LONG ? 900_000 : 300_000);
  let daemon: DaemonProc | null = null;
  let broker: Mosquitto | null = null;
  afterEach(async () => {
    await killDaemon(daemon);
    daemon = null;
    await broker?.stop();
    broker = null;
  });

  it('broker flapping: killed and restarted repeatedly with random gaps, the daemon reconnects every time and never stops processing', async () => {
    broker = await startMosquitto();
    const http = await freePort();
    daemon = startDaemon(await writeConfig(daemonYaml({ id: 'flap', url: broker.url, httpPort: http })), faultEnv());
    await waitForMetric(http, 'edgesight_mqtt_reconnects_total', (v) => v >= 0, 180_000, 'the metrics endpoint', daemon);
    await waitForMetric(http, PROCESSED, (v) => v > 0, 60_000, 'the first processed frame', daemon);
    const restarts = LONG ? 20 : 4;
    const [gapMin, gapMax] = LONG ? [500, 10_000] : [500, 2000];
    const recoverMs: number[] = [];
    const gaps: number[] = [];
    let processedDuringOutages = 0;
    for (let i = 0; i < restarts; i++) {
      await broker.stop();
      const before = await scrape(http);
      const gap = Math.round(gapMin + Math.random() * (gapMax - gapMin));
      gaps.push(gap);
      await sleep(gap);
      processedDuringOutages += (await scrape(http)).get(PROCESSED)! - before.get(PROCESSED)!;
      const t = performance.now();
      await broker.start();
      await waitForMetric(http, 'edgesight_mqtt_reconnects_total', (v) => v >= i + 1, 60_000, `reconnect ${i + 1}`, daemon);
      recoverMs.push(Math.round(performance.now() - t));
    }
    // after the last outage: retained availability is the latest value and results flow again
    const sub = await Collector.connect(broker.url, ['edgesight/flap/#']);
    try {
      await sub.waitFor((t, p) => t.endsWith('/availability') && p.toString() === 'online', 20_000, 'retained availability online');
      await sub.waitFor((t) => t.endsWith('/detections'), 20_000, 'detections after the outages');
    } finally {
      await sub.close();
    }
    const m = await scrape(http);
    assert.equal(m.get('edgesight_mqtt_reconnects_total'), restarts, 'one reconnect per broker restart');
    assert.ok(processedDuringOutages > 0, 'frames are processed while the broker is down');
    assert.equal(daemon.child.exitCode, null);
    const sorted = [...recoverMs].sort((a, b) => a - b);
    recordFigures('broker flapping', {
      restarts,
      gaps_ms: gaps,
      recover_ms_median: sorted[Math.floor(sorted.length / 2)],
      recover_ms_max: sorted.at(-1),
      processed_during_outages: processedDuringOutages,
      outage_total_ms: gaps.reduce((a, b) => a + b, 0),
      drops: dropsByClass(m),
    });
  });

  it('broker restarted with a changed password: a clear error, retries, and SIGHUP with the new secret reconnects without a restart', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'edgesight-pw-'));
    await chmod(dir, 0o755); // mosquitto drops root: it must reach the password file
    const brokerPw = path.join(dir, 'broker.pw');
    await makePasswordFile(brokerPw, { edge: 'first-secret' });
    broker = await startMosquitto({
      preConfig: 'per_listener_settings true',
      extraPorts: 1,
      extraConfig: (p) => `listener ${p[0]} 127.0.0.1\nallow_anonymous false\npassword_file ${brokerPw}`,
    });
    const url = `mqtt://127.0.0.1:${broker.extraPorts[0]}`;
    const secret = path.join(dir, 'secret');
    await writeFile(secret, 'first-secret\n', { mode: 0o600 });
    const http = await freePort();
    const cfg = await writeConfig(daemonYaml({ id: 'pw', url, httpPort: http, mqtt: `username: edge, password_file: ${secret}` }));
    daemon = startDaemon(cfg, faultEnv());
    await waitForOutput(daemon, /connected to MQTT broker/, 180_000);

    await broker.stop();
    await makePasswordFile(brokerPw, { edge: 'second-secret' });
    const mark = daemon.output().length;
    const tDown = performance.now();
    await broker.start();
    const refused = await waitForOutput(daemon, /.*refused the login of user.*/, 30_000, mark);
    assert.match(refused, /not authorised/);
    assert.match(refused, /mqtt\.password_file/, 'the error says where the password comes from');
    assert.doesNotMatch(daemon.output(), /second-secret|first-secret/, 'no secret in the logs');
    const p0 = (await scrape(http)).get(PROCESSED)!;
    await sleep(3000);
    const p1 = (await scrape(http)).get(PROCESSED)!;
    assert.ok(p1 > p0, 'frames are processed while the login is refused');
    // logged once, not on every retry
    const refusals = daemon
      .output()
      .slice(mark)
      .split('\n')
      .filter((l) => /refused the login/.test(l)).length;
    assert.equal(refusals, 1, 'the same refusal is logged once');

    await writeFile(secret, 'second-secret\n');
    const mark2 = daemon.output().length;
    const tHup = performance.now();
    daemon.child.kill('SIGHUP');
    const line = await waitForOutput(daemon, /.*config reloaded.*/, 10_000, mark2);
    assert.match(line, /"mqtt_reconnected":true/);
    await waitForOutput(daemon, /connected to MQTT broker/, 30_000, mark2);
    const reconnectMs = Math.round(performance.now() - tHup);
    const sub = await Collector.connect(url.replace('mqtt://', 'mqtt://edge:second-secret@'), ['edgesight/pw/#']);
    try {
      await sub.waitFor((t, p) => t.endsWith('/availability') && p.toString() === 'online', 20_000, 'availability online after the new password');
    } finally {
      await sub.close();
    }
    assert.equal(daemon.child.exitCode, null, 'no restart');
    assert.doesNotMatch(daemon.output(), /edgesight starting[\s\S]*edgesight starting/, 'started once');
    recordFigures('changed password', {
      refused_after_restart_ms: Math.round(tHup - tDown),
      sighup_to_connected_ms: reconnectMs,
      processed_while_refused: p1 - p0,
      drops: dropsByClass(await scrape(http)),
    });
  });

  it('broker that stops acknowledging QoS 1 (backpressure): in-flight stays bounded, per-frame messages are dropped and counted, the pipeline never waits', async () => {
    const fake = await nonAckingBroker();
    try {
      const http = await freePort();
      const cfg = await writeConfig(
        daemonYaml({
          id: 'bp',
          url: `mqtt://127.0.0.1:${fake.port}`,
          httpPort: http,
          mqtt: 'qos: { state: 1, stream: 1 }, detections: { max_rate_hz: 0 }',
          extra: '',
        }).replace('fps: 8', 'fps: 15'),
      );
      daemon = startDaemon(cfg, faultEnv());
      await waitForMetric(http, dropped('backpressure'), (v) => v > 0, 240_000, 'backpressure drops', daemon);
      const a = await scrape(http);
      await sleep(4000);
      const b = await scrape(http);
      const processed = b.get(PROCESSED)! - a.get(PROCESSED)!;
      assert.ok(processed > 0, 'frames keep being processed while nothing is acknowledged');
      assert.ok(b.get(dropped('backpressure'))! > a.get(dropped('backpressure'))!, 'drops keep being counted');
      assert.ok(
        fake.published() <= MAX_INFLIGHT,
        `the broker got ${fake.published()} unacknowledged publishes; at most ${MAX_INFLIGHT} may be in flight`,
      );
      // the broker catches up: everything in flight is acknowledged and messages flow again
      const tAck = performance.now();
      const before = fake.published();
      fake.startAcking();
      const until = Date.now() + 30_000;
      while (fake.published() < before + 20 && Date.now() < until) await sleep(100);
      assert.ok(fake.published() >= before + 20, 'publishing resumes once acks come back');
      const c = await scrape(http);
      recordFigures('QoS 1 backpressure', {
        max_inflight: MAX_INFLIGHT,
        unacked_at_broker: before,
        processed_in_4s_while_stalled: processed,
        resume_ms: Math.round(performance.now() - tAck),
        drops: dropsByClass(c),
      });
      assert.equal(daemon.child.exitCode, null);
    } finally {
      await killDaemon(daemon);
      daemon = null;
      await fake.close();
    }
  });

  it('hostile input on the command topics (snapshot/get, Home Assistant status) and the HTTP endpoint: bounded work, rate limits hold, no crash, every message counted', async () => {
    broker = await startMosquitto();
    const http = await freePort();
    daemon = startDaemon(
      await writeConfig(
        daemonYaml({ id: 'fuzz', url: broker.url, httpPort: http, mqtt: 'snapshot: { max_rate_hz: 1 }, homeassistant: { enabled: true }' }),
      ),
      faultEnv(),
    );
    await waitForMetric(http, PROCESSED, (v) => v > 0, 180_000, 'the first processed frame', daemon);
    const sub = await Collector.connect(broker.url, ['edgesight/fuzz/cam/snapshot']);
    const fuzz = await Collector.connect(broker.url, ['fuzz/unused']);
    const get = 'edgesight/fuzz/cam/snapshot/get';
    const status = 'homeassistant/status';
    const t0 = performance.now();
    const mark = daemon.output().length;
    let sent = 0;
    let bad = 0;
    const pub = async (topic: string, payload: Buffer | string, isBad: boolean): Promise<void> => {
      await fuzz.client.publishAsync(topic, payload, { qos: 1 });
      sent++;
      if (isBad) bad++;
    };
    const rnd = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => Math.floor(Math.random() * 256)));
    for (let i = 0; i < 5; i++) await pub(get, Buffer.alloc(2 * 1024 * 1024, 0x41 + i), true); // oversized
    for (let i = 0; i < 5; i++) await pub(status, Buffer.alloc(100_000, 0x6f), true); // oversized
    const batch: Promise<void>[] = [];
    for (let i = 0; i < 400; i++) batch.push(pub(get, rnd(Math.floor(Math.random() * 1024)), false)); // binary floods, within size
    for (let i = 0; i < 100; i++) batch.push(pub(status, i % 2 ? rnd(20) : 'ONLINE; DROP TABLE', true)); // malformed
    for (let i = 0; i < 200; i++) batch.push(pub(status, 'online', false)); // a flood of valid births
    await Promise.all(batch);
    const m = await waitForMetric(
      http,
      'edgesight_commands_received_total',
      (v) => v >= sent,
      60_000,
      `all ${sent} command messages counted`,
      daemon,
    );
    const elapsedS = (performance.now() - t0) / 1000;
    await sleep(1500);
    const after = await scrape(http);
    assert.equal(m.get('edgesight_commands_received_total'), sent, 'every message counted once');
    assert.equal(after.get('edgesight_commands_rejected_total'), bad, 'oversized and malformed ones rejected and counted');
    const snapshots = sub.messages.filter((x) => x.topic.endsWith('/snapshot')).length;
    const allowed = Math.ceil(elapsedS + 1.5) + 1;
    assert.ok(
      snapshots >= 1 && snapshots <= allowed,
      `${snapshots} snapshots for 400 requests over ${elapsedS.toFixed(1)} s at max_rate_hz 1 (≤ ${allowed})`,
    );
    assert.ok(after.get('edgesight_commands_rate_limited_total')! >= 400 - allowed + 200 - 5, 'requests over the limits are counted');
    const republishes = daemon
      .output()
      .slice(mark)
      .split('\n')
      .filter((l) => /Home Assistant came online/.test(l)).length;
    assert.ok(
      republishes >= 1 && republishes <= Math.ceil(elapsedS / 5) + 2,
      `${republishes} discovery republishes for 200 births in ${elapsedS.toFixed(1)} s`,
    );

    // HTTP: garbage, an oversized header, a flood of idle connections, methods and paths it does not serve
    const { connect } = await import('node:net');
    const raw = (data: string | Buffer): Promise<string> =>
      new Promise((resolve) => {
        const s = connect(http, '127.0.0.1');
        let got = '';
        s.on('data', (d) => (got += d.toString()));
        s.on('error', () => resolve(got));
        s.on('close', () => resolve(got));
        s.write(data);
        setTimeout(() => s.destroy(), 3000);
      });
    const garbage = await raw(rnd(4096));
    assert.match(garbage, /^$|400/, 'garbage gets 400 or a closed socket');
    const bigHeader = await raw(`GET /metrics HTTP/1.1\r\nHost: x\r\nX-A: ${'a'.repeat(64 * 1024)}\r\n\r\n`);
    assert.match(bigHeader, /431|400|^$/);
    assert.match(await raw('POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello'), /405/);
    // a loopback Host, so the request reaches the path check (other Hosts are refused first, 403)
    assert.match(await raw('GET /../../etc/passwd HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'), /404/);
    const idle = await Promise.all(
      Array.from(
        { length: 200 },
        () =>
          new Promise<Socket>((r) => {
            const s = connect(http, '127.0.0.1', () => r(s));
            s.on('error', () => undefined);
          }),
      ),
    );
    // the server caps its connections (viewers + a few): a flood is refused, not queued; once it is gone the
    // server answers again at once
    for (const s of idle) s.destroy();
    await new Promise((r) => setTimeout(r, 200));
    const health = await fetch(`http://127.0.0.1:${http}/healthz`);
    assert.equal(health.status, 200, '/healthz answers again once 200 idle connections are gone');
    const flood = await Promise.all(
      Array.from({ length: 300 }, () =>
        fetch(`http://127.0.0.1:${http}/metrics`).then(
          (r) => r.status,
          () => 0,
        ),
      ),
    );
    // beyond the connection cap a scrape is refused (0), never half-answered; the rest are served
    assert.ok(
      flood.every((s) => s === 200 || s === 0),
      `a flood of 300 scrapes: ${[...new Set(flood)].join(',')}`,
    );
    assert.ok(flood.filter((s) => s === 200).length > 0, 'some scrapes of the flood are served');
    assert.equal((await fetch(`http://127.0.0.1:${http}/healthz`)).status, 200, 'answers again after the flood');
    assert.equal(daemon.child.exitCode, null, 'still running');
    await sub.close();
    await fuzz.close();
    recordFigures('command fuzzing', {
      messages: sent,
      rejected: after.get('edgesight_commands_rejected_total'),
      rate_limited: after.get('edgesight_commands_rate_limited_total'),
      snapshots_published: snapshots,
      ha_republishes: republishes,
      seconds: Number(elapsedS.toFixed(1)),
      http_cases: 6,
    });
  });
});

/**
 * Just enough of an MQTT 3.1.1/5 broker to accept a client and its subscriptions, then never acknowledge
 * a publish (a broker that is overloaded or wedged) until `startAcking()`.
 */
async function nonAckingBroker(): Promise<{ port: number; published(): number; startAcking(): void; close(): Promise<void> }> {
  let publishes = 0;
  let acking = false;
  const sockets = new Set<Socket>();
  const pendingIds = new Map<Socket, number[]>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    pendingIds.set(s, []);
    let buf = Buffer.alloc(0);
    let v5 = false;
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        if (buf.length < 2) return;
        let len = 0;
        let mul = 1;
        let i = 1;
        for (;;) {
          if (i >= buf.length) return;
          const b = buf[i++]!;
          len += (b & 0x7f) * mul;
          mul *= 128;
          if (!(b & 0x80)) break;
        }
        if (buf.length < i + len) return;
        const header = buf[0]!;
        const type = header >> 4;
        const body = buf.subarray(i, i + len);
        buf = buf.subarray(i + len);
        if (type === 1) {
          v5 = body[6] === 5;
          s.write(v5 ? Buffer.from([0x20, 0x03, 0x00, 0x00, 0x00]) : Buffer.from([0x20, 0x02, 0x00, 0x00]));
        } else if (type === 8) {
          const id = body.readUInt16BE(0);
          s.write(v5 ? Buffer.from([0x90, 0x04, id >> 8, id & 0xff, 0x00, 0x00]) : Buffer.from([0x90, 0x03, id >> 8, id & 0xff, 0x00]));
        } else if (type === 12) {
          s.write(Buffer.from([0xd0, 0x00]));
        } else if (type === 3) {
          publishes++;
          if (((header >> 1) & 3) === 0) continue; // QoS 0: nothing to acknowledge
          const topicLen = body.readUInt16BE(0);
          const id = body.readUInt16BE(2 + topicLen);
          if (acking) s.write(Buffer.from([0x40, 0x02, id >> 8, id & 0xff]));
          else pendingIds.get(s)!.push(id);
        }
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  return {
    port: typeof addr === 'object' && addr ? addr.port : 0,
    published: () => publishes,
    startAcking() {
      acking = true;
      for (const [s, ids] of pendingIds) for (const id of ids.splice(0)) s.write(Buffer.from([0x40, 0x02, id >> 8, id & 0xff]));
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
