import assert from 'node:assert/strict';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { Collector, startDaemon, testEnv, writeConfig, type DaemonProc } from '../helpers/daemon.js';
import { assertFramesGrow, freeLoopbackPort, makePasswordFile, makeTestPki, waitUntil, type TestPki } from '../helpers/tls.js';
import { MqttPublisher, type ClientEvent } from '../../src/mqtt/client.js';
import { describeMqttError, tlsMaterialProblems, type MqttErrorContext } from '../../src/mqtt/errors.js';
import { filesCameraYaml, killDaemon } from '../helpers/e2e.js';
import { photo } from '../helpers/paths.js';

/**
 * TLS, client certificates and passwords against a real mosquitto with one listener per situation,
 * certificates made by openssl in the test. Each failure must give its own clear sentence; the daemon
 * must keep processing frames while MQTT fails, and the password must never appear anywhere.
 */

const PASSWORD = 'pw-Zq7-never-log-me';
const WRONG_PASSWORD = 'wrong-Xv3-never-log-me-either';

describe('e2e: MQTT security (TLS, client certificates, passwords) with a real mosquitto', function () {
  this.timeout(120_000);
  let pki: TestPki;
  let broker: Mosquitto;
  let pwFile: string;
  /** listener ports by role */
  let port: { tls: number; clientCert: number; password: number; wrongHost: number; expired: number };

  before(async () => {
    pki = await makeTestPki();
    const brokerPw = path.join(pki.dir, 'mosquitto.passwd');
    await makePasswordFile(brokerPw, { edge: PASSWORD, limited: PASSWORD });
    const acl = path.join(pki.dir, 'mosquitto.acl');
    await writeFile(
      acl,
      ['user edge', 'topic readwrite edgesight/#', 'topic readwrite homeassistant/#', '', 'user limited', 'topic readwrite other/#', ''].join('\n'),
      { mode: 0o644 },
    );
    const tls = (c: { cert: string; key: string }): string => `cafile ${pki.ca}\ncertfile ${c.cert}\nkeyfile ${c.key}`;
    broker = await startMosquitto({
      preConfig: 'per_listener_settings true',
      extraPorts: 5,
      extraConfig: (p) =>
        [
          `listener ${p[0]} 127.0.0.1`,
          'allow_anonymous true',
          tls(pki.server),
          `listener ${p[1]} 127.0.0.1`,
          'allow_anonymous true',
          tls(pki.server),
          'require_certificate true',
          `listener ${p[2]} 127.0.0.1`,
          'allow_anonymous false',
          `password_file ${brokerPw}`,
          `acl_file ${acl}`,
          tls(pki.server),
          `listener ${p[3]} 127.0.0.1`,
          'allow_anonymous true',
          tls(pki.wrongHost),
          `listener ${p[4]} 127.0.0.1`,
          'allow_anonymous true',
          tls(pki.expired),
        ].join('\n'),
    });
    const [tlsPort, clientCert, password, wrongHost, expired] = broker.extraPorts as [number, number, number, number, number];
    port = { tls: tlsPort, clientCert, password, wrongHost, expired };
    pwFile = path.join(pki.dir, 'edgesight.password');
    await writeFile(pwFile, PASSWORD + '\n', { mode: 0o600 });
  });

  after(async () => {
    await broker?.stop();
    await pki?.remove();
  });

  describe('each failure has its own message (MqttPublisher → describeMqttError, MQTT 5 and 3.1.1)', () => {
    const pem = async (f: string): Promise<Buffer> => readFile(f);

    /** Connects like the daemon does; resolves with the described first error, or 'connected'. */
    async function outcome(
      url: string,
      o: {
        ca?: string;
        cert?: string;
        key?: string;
        username?: string;
        password?: string;
        reject?: boolean;
        protocolVersion?: 4 | 5;
        publishTo?: string;
      },
    ): Promise<string> {
      const tls = url.startsWith('mqtts')
        ? {
            ca: o.ca ? await pem(o.ca) : undefined,
            cert: o.cert ? await pem(o.cert) : undefined,
            key: o.key ? await pem(o.key) : undefined,
            rejectUnauthorized: o.reject ?? true,
          }
        : undefined;
      const p = new MqttPublisher({
        url,
        clientId: `tls_matrix_${Math.random().toString(16).slice(2)}`,
        username: o.username,
        password: o.password,
        keepaliveS: 30,
        protocolVersion: o.protocolVersion ?? 5,
        reconnectMaxS: 1,
        qos: { state: 1, stream: 0 },
        queueSize: 10,
        will: { topic: 'edgesight/matrix/availability', payload: 'offline' },
        tls,
      });
      const ctx: MqttErrorContext = { username: o.username ?? null, hasPassword: o.password !== undefined, hasClientCert: Boolean(o.cert) };
      try {
        return await new Promise<string>((resolve, reject) => {
          const t = setTimeout(() => reject(new Error(`no outcome within 15 s for ${url}`)), 15_000);
          p.on('event', (ev: ClientEvent) => {
            if (ev.type === 'error') {
              clearTimeout(t);
              resolve(describeMqttError(ev.message, ev.code, url, ctx));
            } else if (ev.type === 'connected') {
              if (!o.publishTo) {
                clearTimeout(t);
                resolve('connected');
              } else {
                p.publish(o.publishTo, 'x', { cls: 'event' });
              }
            }
          });
        });
      } finally {
        await p.close(undefined, 500);
      }
    }

    for (const protocolVersion of [5, 4] as const) {
      it(`MQTT ${protocolVersion === 5 ? '5' : '3.1.1'}: good TLS connects; unknown CA, wrong host, expired, client-cert and login failures are told apart`, async () => {
        const at = (p: number, host = 'localhost'): string => `mqtts://${host}:${p}`;
        assert.equal(await outcome(at(port.tls), { ca: pki.ca, protocolVersion }), 'connected');
        // the certificate names 127.0.0.1 as well
        assert.equal(await outcome(at(port.tls, '127.0.0.1'), { ca: pki.ca, protocolVersion }), 'connected');
        assert.match(
          await outcome(at(port.tls), { protocolVersion }),
          /^TLS: the certificate of MQTT broker localhost:\d+ is signed by an unknown CA .*set mqtt\.ca/,
        );
        assert.match(await outcome(at(port.tls), { ca: pki.otherCa, protocolVersion }), /signed by an unknown CA/);
        // reject_unauthorized: false accepts it (the operator's explicit choice)
        assert.equal(await outcome(at(port.tls), { protocolVersion, reject: false }), 'connected');
        assert.match(
          await outcome(at(port.wrongHost), { ca: pki.ca, protocolVersion }),
          /is not valid for this host name: use the name in its certificate in mqtt\.url/,
        );
        assert.match(await outcome(at(port.expired), { ca: pki.ca, protocolVersion }), /certificate of MQTT broker localhost:\d+ has expired/);

        assert.match(
          await outcome(at(port.clientCert), { ca: pki.ca, protocolVersion }),
          /requires a client certificate: set mqtt\.cert and mqtt\.key/,
        );
        assert.match(
          await outcome(at(port.clientCert), { ca: pki.ca, cert: pki.clientUntrusted.cert, key: pki.clientUntrusted.key, protocolVersion }),
          /does not trust the client certificate in mqtt\.cert/,
        );
        // a server certificate used as a client certificate (serverAuth only)
        assert.match(
          await outcome(at(port.clientCert), { ca: pki.ca, cert: pki.server.cert, key: pki.server.key, protocolVersion }),
          /rejected the client certificate .* clientAuth/,
        );
        assert.equal(await outcome(at(port.clientCert), { ca: pki.ca, cert: pki.client.cert, key: pki.client.key, protocolVersion }), 'connected');

        assert.match(
          await outcome(at(port.password), { ca: pki.ca, protocolVersion }),
          /not authorised without a login; set mqtt\.username and mqtt\.password_file/,
        );
        assert.match(await outcome(at(port.password), { ca: pki.ca, username: 'edge', protocolVersion }), /no password is configured/);
        assert.match(
          await outcome(at(port.password), { ca: pki.ca, username: 'edge', password: WRONG_PASSWORD, protocolVersion }),
          /refused the login of user "edge": not authorised \(wrong password/,
        );
        assert.equal(await outcome(at(port.password), { ca: pki.ca, username: 'edge', password: PASSWORD, protocolVersion }), 'connected');

        // plain MQTT to a TLS port
        assert.match(
          await outcome(`mqtt://localhost:${port.tls}`, { protocolVersion }),
          /closed the connection during the handshake .*check the scheme and port/,
        );
      });
    }

    it('MQTT 5: a publish the ACL refuses is reported as not authorised to publish (3.1.1 gives no signal)', async () => {
      const text = await outcome(`mqtts://localhost:${port.password}`, {
        ca: pki.ca,
        username: 'limited',
        password: PASSWORD,
        publishTo: 'edgesight/x/stats',
      });
      assert.match(text, /refused a publish: not authorised; the broker's ACL must let this user\/client id write its topics/);
    });

    it('bad TLS files are config problems naming the key, checked before connecting', async () => {
      const ca = await pem(pki.ca);
      const cert = await pem(pki.client.cert);
      const key = await pem(pki.client.key);
      const files = { ca: pki.ca, cert: pki.client.cert, key: pki.client.key };
      assert.deepEqual(tlsMaterialProblems({ ca, cert, key }, files), []);
      assert.deepEqual(
        tlsMaterialProblems({ ca, cert, key: await pem(pki.server.key) }, { ...files, key: pki.server.key }).map((p) => [p.path, p.message]),
        [['mqtt.key', `${pki.server.key} is not the private key of the certificate ${pki.client.cert}`]],
      );
      assert.deepEqual(
        tlsMaterialProblems({ ca: key, cert: key, key: cert }, { ca: pki.client.key, cert: pki.client.key, key: pki.client.cert }).map((p) => p.path),
        ['mqtt.ca', 'mqtt.cert', 'mqtt.key'],
      );
      assert.deepEqual(
        tlsMaterialProblems({ cert }, files).map((p) => p.path),
        ['mqtt.key'],
      );
      assert.deepEqual(
        tlsMaterialProblems({ key }, files).map((p) => p.path),
        ['mqtt.cert'],
      );
    });
  });

  describe('the daemon', () => {
    let daemon: DaemonProc | null = null;
    let sub: Collector;
    before(async () => {
      sub = await Collector.connect(broker.url, ['#']);
    });
    afterEach(async () => {
      await killDaemon(daemon);
      daemon = null;
    });
    after(async () => {
      await sub?.close();
    });

    async function config(device: string, mqttYaml: string, metricsPort: number): Promise<string> {
      const file = await writeConfig(`
${filesCameraYaml({ device, frames: photo('astronaut.png') })}
mqtt:
  reconnect_max_s: 1
${mqttYaml
  .trim()
  .split('\n')
  .map((l) => '  ' + l)
  .join('\n')}
metrics:
  http: { enabled: true, port: ${metricsPort} }
logging: { level: info, pretty: false }
`);
      await chmod(file, 0o600);
      return file;
    }

    const logged = (d: DaemonProc, re: RegExp): boolean =>
      d
        .output()
        .split('\n')
        .some((l) => re.test(l));

    /** Start, wait for the specific message, check frames keep flowing, stop cleanly. */
    async function failingRun(
      device: string,
      mqttYaml: string,
      expected: RegExp,
      opts: { env?: NodeJS.ProcessEnv; worldReadable?: boolean } = {},
    ): Promise<DaemonProc> {
      const metricsPort = await freeLoopbackPort();
      const file = await config(device, mqttYaml, metricsPort);
      if (opts.worldReadable) await chmod(file, 0o644);
      const d = (daemon = startDaemon(file, testEnv(opts.env)));
      await waitUntil(() => logged(d, expected), 60_000, `the log line ${expected}`, d.output);
      await assertFramesGrow(metricsPort, d.output);
      assert.equal(d.child.exitCode, null, 'the daemon must keep running while MQTT fails');
      // logged once, not on every retry
      assert.equal(
        d
          .output()
          .split('\n')
          .filter((l) => expected.test(l)).length,
        1,
        d.output(),
      );
      assert.ok(!logged(d, /MQTT connection lost/), 'never connected: no "connection lost" line per retry');
      assert.ok(!sub.messages.some((m) => m.topic.startsWith(`edgesight/${device}/`)), `nothing of ${device} may reach the broker`);
      d.child.kill('SIGTERM');
      assert.equal((await d.exited).code, 0, d.output());
      return d;
    }

    it('wrong password (in a world-readable config): warns about the file, says the login was refused, keeps processing, never shows the password', async () => {
      const d = await failingRun(
        'tls_badpw',
        `url: mqtts://localhost:${port.password}\nca: ${pki.ca}\nusername: edge\npassword: ${WRONG_PASSWORD}`,
        /refused the login of user \\"edge\\": not authorised \(wrong password/,
        { worldReadable: true },
      );
      assert.ok(logged(d, /the config file holds mqtt\.password and is readable by every user/), d.output());
      assert.ok(!d.output().includes(WRONG_PASSWORD), 'the password appeared in the log');
    });

    it('untrusted CA (mqtt.ca not set): says the CA is unknown and to set mqtt.ca, keeps processing', async () => {
      await failingRun('tls_noca', `url: mqtts://localhost:${port.tls}`, /signed by an unknown CA \(SELF_SIGNED_CERT_IN_CHAIN\): set mqtt\.ca/);
    });

    it('wrong host name: says the certificate does not match the host, keeps processing', async () => {
      await failingRun('tls_wronghost', `url: mqtts://localhost:${port.wrongHost}\nca: ${pki.ca}`, /is not valid for this host name/);
    });

    it('TLS + client certificate + password from mqtt.password_file: detections arrive; the password is nowhere in logs or payloads', async () => {
      const metricsPort = await freeLoopbackPort();
      // the listener requiring a password, plus a client certificate (sent; this listener does not demand one)
      const file = await config(
        'tls_good',
        `url: mqtts://localhost:${port.password}\nca: ${pki.ca}\ncert: ${pki.client.cert}\nkey: ${pki.client.key}\nusername: edge\npassword_file: ${pwFile}`,
        metricsPort,
      );
      const d = (daemon = startDaemon(file));
      await sub
        .waitFor((t, p) => t === 'edgesight/tls_good/cam1/detections' && p.toString().includes('"person"'), 60_000, 'detections over TLS')
        .catch((e: Error) => {
          throw new Error(`${e.message}\n${d.output()}`);
        });
      await sub.waitFor((t) => t === 'edgesight/tls_good/info', 10_000, 'retained info');
      assert.ok(logged(d, /connected to MQTT broker/), d.output());
      assert.ok(!logged(d, /readable by every user/), 'no permission warning for a 0600 config and password file');
      d.child.kill('SIGTERM');
      assert.equal((await d.exited).code, 0, d.output());
      assert.ok(!d.output().includes(PASSWORD), 'the password appeared in the log');
      const leaked = sub.messages.filter((m) => m.payload.includes(PASSWORD));
      assert.deepEqual(
        leaked.map((m) => m.topic),
        [],
        'the password appeared in a published payload',
      );
      const info = JSON.parse(sub.messages.find((m) => m.topic === 'edgesight/tls_good/info')!.payload.toString()) as {
        config: { mqtt: Record<string, unknown> };
      };
      assert.equal(info.config.mqtt.password_file, pwFile, 'the path of the password file is fine to show');
    });

    it('password from EDGESIGHT__MQTT__PASSWORD: connects; no file warning (the password is not in the file); never logged', async () => {
      const file = await config('tls_envpw', `url: mqtts://localhost:${port.password}\nca: ${pki.ca}\nusername: edge`, await freeLoopbackPort());
      await chmod(file, 0o644);
      const d = (daemon = startDaemon(file, testEnv({ EDGESIGHT__MQTT__PASSWORD: PASSWORD })));
      await sub
        .waitFor((t) => t === 'edgesight/tls_envpw/cam1/detections', 60_000, 'detections with the env password')
        .catch((e: Error) => {
          throw new Error(`${e.message}\n${d.output()}`);
        });
      d.child.kill('SIGTERM');
      assert.equal((await d.exited).code, 0, d.output());
      assert.ok(!logged(d, /readable by every user/), d.output());
      assert.ok(!d.output().includes(PASSWORD), 'the password appeared in the log');
      assert.deepEqual(
        sub.messages.filter((m) => m.payload.includes(PASSWORD)).map((m) => m.topic),
        [],
        'the password appeared in a published payload',
      );
    });

    it('a client certificate on the listener that requires one: detections arrive over TLS', async () => {
      const metricsPort = await freeLoopbackPort();
      const file = await config(
        'tls_cert',
        `url: mqtts://localhost:${port.clientCert}\nca: ${pki.ca}\ncert: ${pki.client.cert}\nkey: ${pki.client.key}`,
        metricsPort,
      );
      const d = (daemon = startDaemon(file));
      await sub
        .waitFor((t) => t === 'edgesight/tls_cert/cam1/detections', 60_000, 'detections over TLS with a client certificate')
        .catch((e: Error) => {
          throw new Error(`${e.message}\n${d.output()}`);
        });
      d.child.kill('SIGTERM');
      assert.equal((await d.exited).code, 0, d.output());
    });

    it('a key that does not belong to the certificate stops the start with exit 78, naming mqtt.key', async () => {
      const file = await config(
        'tls_badkey',
        `url: mqtts://localhost:${port.clientCert}\nca: ${pki.ca}\ncert: ${pki.client.cert}\nkey: ${pki.server.key}`,
        0,
      );
      const d = (daemon = startDaemon(file));
      const { code } = await d.exited;
      assert.equal(code, 78, d.output());
      assert.match(d.output(), /mqtt\.key: .*server\.key is not the private key of the certificate .*client\.crt/);
    });
  });
});
