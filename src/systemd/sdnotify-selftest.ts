import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createNotifier } from './sdnotify.js';
import { NotifyReceiver } from './sdnotify-receiver.js';

/**
 * Loads the sd_notify addon for this platform and sends READY/STATUS/WATCHDOG/STOPPING to a socket of its
 * own, checking content and sender PID. For the arm64 emulation check and for a Pi after install:
 *   node <prefix>/lib/node_modules/edgesight/dist/src/systemd/sdnotify-selftest.js
 */
export function sdnotifySelfTest(): string {
  const receiver = NotifyReceiver.bind();
  try {
    const n = createNotifier({ NOTIFY_SOCKET: receiver.address });
    n.ready('selftest');
    n.watchdog();
    n.reloading();
    n.stopping();
    const got = receiver.drain();
    const expected = ['READY=1\nSTATUS=selftest', 'WATCHDOG=1', /^RELOADING=1\nMONOTONIC_USEC=\d+$/, 'STOPPING=1'];
    if (got.length !== expected.length) throw new Error(`expected ${expected.length} datagrams, got ${JSON.stringify(got)}`);
    got.forEach((d, i) => {
      const want = expected[i]!;
      if (typeof want === 'string' ? d.message !== want : !want.test(d.message)) {
        throw new Error(`datagram ${i}: got ${JSON.stringify(d.message)}, want ${String(want)}`);
      }
      if (d.pid !== process.pid) throw new Error(`datagram ${i} came from PID ${d.pid}, not ${process.pid}`);
    });
    return `sd_notify self-test OK on ${process.platform}-${process.arch}: ${got.length} datagrams to ${receiver.address} from PID ${process.pid}`;
  } finally {
    receiver.close();
  }
}

if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    console.log(sdnotifySelfTest());
  } catch (err) {
    console.error(`sd_notify self-test FAILED: ${(err as Error).message}`);
    process.exitCode = 1;
  }
}
