import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadSdNotifyAddon, type SdNotifyAddon } from './sdnotify-native.js';

/**
 * The receiving end of NOTIFY_SOCKET, as PID 1 has it: a real AF_UNIX datagram socket that records the
 * sender's PID of each message. For tests and for checking a notifier by hand; not used by the daemon.
 */
export interface NotifyDatagram {
  message: string;
  pid: number;
  fields: Record<string, string>;
}

export class NotifyReceiver {
  readonly history: NotifyDatagram[] = [];
  private closed = false;

  private constructor(
    readonly address: string,
    private readonly fd: number,
    private readonly addon: SdNotifyAddon,
  ) {}

  /** Binds `address` ("/path" or "@abstract"); by default a fresh abstract name. */
  static bind(address = `@edgesight-notify-${process.pid}-${randomBytes(6).toString('hex')}`): NotifyReceiver {
    const addon = loadSdNotifyAddon();
    return new NotifyReceiver(address, addon.bindReceiver(address), addon);
  }

  /** Everything queued right now (also appended to history). */
  drain(): NotifyDatagram[] {
    const got: NotifyDatagram[] = [];
    for (let d = this.addon.receive(this.fd); d !== null; d = this.addon.receive(this.fd)) {
      const datagram = { ...d, fields: parseFields(d.message) };
      got.push(datagram);
      this.history.push(datagram);
    }
    return got;
  }

  /** Resolves with the first datagram (queued now or later) that matches; rejects after `timeoutMs`. */
  async waitFor(match: (d: NotifyDatagram) => boolean, timeoutMs = 15000): Promise<NotifyDatagram> {
    const deadline = Date.now() + timeoutMs;
    let seen = this.history.length;
    for (;;) {
      this.drain();
      const hit = this.history.slice(seen).find(match);
      if (hit) return hit;
      seen = this.history.length;
      if (Date.now() > deadline) {
        throw new Error(
          `no matching sd_notify datagram on ${this.address} within ${timeoutMs} ms; got ${JSON.stringify(this.history.map((h) => h.message))}`,
        );
      }
      await sleep(5);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.addon.closeReceiver(this.fd);
    if (this.address.startsWith('/')) rmSync(this.address, { force: true });
  }
}

export function parseFields(message: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of message.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) fields[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return fields;
}
