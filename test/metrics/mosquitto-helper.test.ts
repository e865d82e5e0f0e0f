import assert from 'node:assert/strict';
import { createConnection } from 'node:net';
import { connectAsync } from 'mqtt';
import { startMosquitto } from '../helpers/mosquitto.js';

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ port, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

describe('test/helpers/mosquitto', function () {
  this.timeout(20_000);

  it('starts a broker that relays messages, and stop() frees the port', async () => {
    const b = await startMosquitto();
    try {
      assert.equal(b.url, `mqtt://127.0.0.1:${b.port}`);
      const sub = await connectAsync(b.url);
      await sub.subscribeAsync('t/#');
      const got = new Promise<string>((resolve) => sub.once('message', (_t, m) => resolve(m.toString())));
      const pub = await connectAsync(b.url);
      await pub.publishAsync('t/x', 'hello');
      assert.equal(await got, 'hello');
      await pub.endAsync();
      await sub.endAsync();
    } finally {
      await b.stop();
    }
    assert.equal(await canConnect(b.port), false);
  });

  it('applies extra config and reports a config mosquitto rejects, with its output', async () => {
    const b = await startMosquitto({ extraConfig: 'max_inflight_messages 5' });
    await b.stop();
    await assert.rejects(startMosquitto({ extraConfig: 'no_such_option 1' }), /mosquitto exited \(code \d+.*\)[\s\S]*no_such_option/i);
  });
});
