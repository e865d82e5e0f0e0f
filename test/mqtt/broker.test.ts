import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import { BrokerListenError, startEmbeddedBroker } from '../../src/mqtt/broker.js';

const BROKER_MODULE = new URL('../../src/mqtt/broker.js', import.meta.url).href;

describe('embedded broker', function () {
  this.timeout(60_000);

  it('a taken port: a BrokerListenError (code EADDRINUSE) that points at mqtt.url', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      await assert.rejects(startEmbeddedBroker('127.0.0.1', port), (e: Error) => {
        assert.ok(e instanceof BrokerListenError);
        assert.equal(e.code, 'EADDRINUSE');
        assert.match(
          e.message,
          new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: the port is taken .*set \`mqtt\\.url: mqtt://127\\.0\\.0\\.1:${port}\``),
        );
        return true;
      });
    } finally {
      blocker.close();
    }
  });

  it("a failed start leaves nothing running: the process ends by itself (the broker's timers were what kept a failed daemon alive)", async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      // no process.exit: the child must end because its event loop is empty; the timeout is the test's safety net
      const script = `import { startEmbeddedBroker } from ${JSON.stringify(BROKER_MODULE)};
        try { await startEmbeddedBroker('127.0.0.1', ${port}); } catch (e) { console.log('failed:', e.code); }`;
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
      assert.equal(r.signal, null, `still running after 30 s (killed): ${r.stdout}${r.stderr}`);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /failed: EADDRINUSE/);
    } finally {
      blocker.close();
    }
  });

  it('a started broker closes and leaves nothing running either', async () => {
    const script = `import { startEmbeddedBroker } from ${JSON.stringify(BROKER_MODULE)};
      const b = await startEmbeddedBroker('127.0.0.1', 0); console.log('port', b.port); await b.close();`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.signal, null, 'still running after close');
    assert.match(r.stdout, /port \d+/);
  });
});
