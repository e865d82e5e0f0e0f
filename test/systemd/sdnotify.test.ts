import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createNotifier, formatMessage } from '../../src/systemd/sdnotify.js';
import { NotifyReceiver } from '../../src/systemd/sdnotify-receiver.js';
import { createReadiness, formatStatus } from '../../src/systemd/sdnotify-status.js';

const sdnotifyModule = pathToFileURL(fileURLToPath(new URL('../../src/systemd/sdnotify.js', import.meta.url))).href;

describe('sd_notify over a real AF_UNIX datagram socket', function () {
  this.timeout(20000);
  let dir: string;
  const receivers: NotifyReceiver[] = [];
  const receiver = (address?: string): NotifyReceiver => {
    const r = NotifyReceiver.bind(address);
    receivers.push(r);
    return r;
  };
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'edgesight-sdnotify-'));
  });
  after(() => {
    for (const r of receivers) r.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends READY=1 with STATUS to a filesystem socket, from this PID', async () => {
    const r = receiver(join(dir, 'notify.sock'));
    const n = createNotifier({ NOTIFY_SOCKET: r.address });
    assert.equal(n.enabled, true);
    n.ready('running: 0.0 fps');
    const d = await r.waitFor(() => true);
    assert.equal(d.message, 'READY=1\nSTATUS=running: 0.0 fps');
    assert.equal(d.pid, process.pid, 'PID 1 attributes by the sender PID; it must be ours (NotifyAccess=main)');
  });

  it('reaches an abstract-namespace socket ("@name")', async () => {
    const r = receiver();
    assert.ok(r.address.startsWith('@'));
    createNotifier({ NOTIFY_SOCKET: r.address }).watchdog();
    assert.equal((await r.waitFor(() => true)).message, 'WATCHDOG=1');
  });

  it('flattens STATUS to one line and sends STOPPING=1', async () => {
    const r = receiver();
    const n = createNotifier({ NOTIFY_SOCKET: r.address });
    n.status('degraded\n(camera not found)\r\n');
    n.stopping('stopping: draining');
    await r.waitFor((d) => 'STOPPING' in d.fields);
    assert.deepEqual(
      r.history.map((d) => d.message),
      ['STATUS=degraded (camera not found)', 'STOPPING=1\nSTATUS=stopping: draining'],
    );
  });

  it('sends RELOADING=1 with MONOTONIC_USEC read from CLOCK_MONOTONIC', async () => {
    const r = receiver();
    const before = process.hrtime.bigint() / 1000n; // libuv's hrtime is CLOCK_MONOTONIC on Linux
    createNotifier({ NOTIFY_SOCKET: r.address }).reloading();
    const after = process.hrtime.bigint() / 1000n;
    const d = await r.waitFor(() => true);
    assert.equal(d.fields.RELOADING, '1');
    const usec = BigInt(d.fields.MONOTONIC_USEC ?? 'x');
    assert.ok(usec >= before && usec <= after, `MONOTONIC_USEC ${usec} not within [${before}, ${after}]`);
  });

  it('is a no-op without NOTIFY_SOCKET, even if the addon is missing', () => {
    const n = createNotifier({}, { addonPath: join(dir, 'missing.node') });
    assert.equal(n.enabled, false);
    assert.equal(n.socket, null);
    n.ready();
    n.watchdog();
    n.stopping();
  });

  it('fails loudly when NOTIFY_SOCKET is set but the addon is missing', () => {
    assert.throws(
      () => createNotifier({ NOTIFY_SOCKET: '@x' }, { addonPath: join(dir, 'missing.node') }),
      /NOTIFY_SOCKET is set but sd_notify cannot be sent: sd_notify addon not found at .*missing\.node/,
    );
  });

  it('rejects a NOTIFY_SOCKET that is not a unix socket address', () => {
    assert.throws(() => createNotifier({ NOTIFY_SOCKET: 'vsock:2:1234' }), /NOTIFY_SOCKET="vsock:2:1234" is neither/);
    assert.throws(() => createNotifier({ NOTIFY_SOCKET: '' }), /NOTIFY_SOCKET="" is neither/);
  });

  it('throws with the errno and the address when nobody listens', () => {
    const n = createNotifier({ NOTIFY_SOCKET: join(dir, 'nobody.sock') });
    assert.throws(
      () => n.ready(),
      (e: Error & { code?: string }) => e.code === 'ENOENT' && e.message.includes('nobody.sock'),
    );
    const abstract = createNotifier({ NOTIFY_SOCKET: `@edgesight-nobody-${process.pid}` });
    assert.throws(
      () => abstract.watchdog(),
      (e: Error & { code?: string }) => e.code === 'ECONNREFUSED',
    );
  });

  it('rejects field names and values that would corrupt the message', () => {
    assert.throws(() => formatMessage({ 'bad key': '1' }), /field name "bad key"/);
    assert.throws(() => formatMessage({ STATUS: 'a\nREADY=1' }), /STATUS contains a newline/);
    assert.throws(() => formatMessage({}), /at least one field/);
    assert.equal(formatMessage({ EXTEND_TIMEOUT_USEC: '5000000' }), 'EXTEND_TIMEOUT_USEC=5000000');
  });

  it('sends READY=1 once, only after config, models and pipeline are all up', async () => {
    const r = receiver();
    const n = createNotifier({ NOTIFY_SOCKET: r.address });
    const readiness = createReadiness(n, () => formatStatus({ state: 'degraded', detail: 'camera not found, retry in 2 s', fps: 0 }));
    readiness.mark('config');
    readiness.mark('models');
    n.status('starting: models loaded'); // a marker: READY must not be queued before it
    assert.deepEqual(readiness.pending(), ['pipeline']);
    readiness.mark('pipeline');
    readiness.mark('pipeline');
    readiness.mark('models');
    assert.equal(readiness.isReady, true);
    await r.waitFor((d) => d.fields.READY === '1');
    r.drain();
    assert.deepEqual(
      r.history.map((d) => d.message),
      ['STATUS=starting: models loaded', 'READY=1\nSTATUS=degraded (camera not found, retry in 2 s): 0.0 fps'],
    );
    assert.throws(() => readiness.mark('camera' as 'config'), /unknown readiness step "camera"/);
  });

  it('formats STATUS with fps and latency, rejecting nonsense numbers', () => {
    assert.equal(
      formatStatus({ state: 'running', fps: 9.84, latencyP50Ms: 84.4, latencyP95Ms: 120.6 }),
      'running: 9.8 fps, latency p50 84 ms p95 121 ms',
    );
    assert.equal(formatStatus({ state: 'starting' }), 'starting');
    assert.throws(() => formatStatus({ state: 'running', fps: Number.NaN }), /fps must be a finite non-negative number/);
  });

  it('self-test script (for the arm64 check and a Pi after install) passes as a real process', () => {
    const script = fileURLToPath(new URL('../../src/systemd/sdnotify-selftest.js', import.meta.url));
    const r = spawnSync(process.execPath, [script], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^sd_notify self-test OK on ${process.platform}-${process.arch}: 4 datagrams`));
  });

  it("attributes a child daemon's READY/STATUS/STOPPING to the child PID, in order", async () => {
    const r = receiver();
    const script = join(dir, 'daemon.mjs');
    writeFileSync(
      script,
      `import { createNotifier } from ${JSON.stringify(sdnotifyModule)};
const n = createNotifier();
n.ready('running');
process.on('SIGTERM', () => { n.stopping(); process.exit(0); });
setInterval(() => {}, 1000);
`,
    );
    const child = spawn(process.execPath, [script], { env: { ...process.env, NOTIFY_SOCKET: r.address }, stdio: ['ignore', 'inherit', 'inherit'] });
    const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    try {
      const ready = await r.waitFor((d) => d.fields.READY === '1');
      assert.equal(ready.pid, child.pid);
      child.kill('SIGTERM');
      const stopping = await r.waitFor((d) => d.fields.STOPPING === '1');
      assert.equal(stopping.pid, child.pid);
      assert.equal(await exited, 0);
      assert.deepEqual(
        r.history.map((d) => d.message),
        ['READY=1\nSTATUS=running', 'STOPPING=1'],
      );
    } finally {
      child.kill('SIGKILL');
    }
  });
});
