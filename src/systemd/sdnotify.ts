import { loadSdNotifyAddon, type SdNotifyAddon } from './sdnotify-native.js';

/**
 * The daemon's side of sd_notify(3). Every message is a datagram sent from the daemon's own PID by the
 * native addon, so the unit can keep NotifyAccess=main and systemd attributes each message exactly.
 * Without NOTIFY_SOCKET (not started by systemd) every method is a no-op and `enabled` is false.
 */
export interface Notifier {
  readonly enabled: boolean;
  /** The NOTIFY_SOCKET address in use, or null when disabled. */
  readonly socket: string | null;
  /** READY=1: config valid, models loaded, pipeline running (the camera may still be missing). */
  ready(status?: string): void;
  /** STATUS=<one line> shown by `systemctl status`; newlines become spaces. */
  status(text: string): void;
  /** STOPPING=1 at the start of a clean shutdown. */
  stopping(status?: string): void;
  /** WATCHDOG=1; call it only through startWatchdog(), which checks health first. */
  watchdog(): void;
  /** RELOADING=1 with MONOTONIC_USEC (systemd ≥ 253 wants it); send ready() when the reload is done. */
  reloading(status?: string): void;
  /** Any other assignments, e.g. { EXTEND_TIMEOUT_USEC: '30000000' }. */
  notify(fields: Readonly<Record<string, string>>): void;
}

export interface NotifierOptions {
  /** Where the addon lives; tests point it elsewhere to exercise the missing-addon error. */
  addonPath?: string;
}

const MAX_STATUS = 1000;
const KEY = /^[A-Z_][A-Z0-9_]*$/;

export function createNotifier(env: NodeJS.ProcessEnv = process.env, options: NotifierOptions = {}): Notifier {
  const socket = env.NOTIFY_SOCKET;
  if (socket === undefined) return disabledNotifier;
  if (!socket.startsWith('/') && !socket.startsWith('@')) {
    throw new Error(`NOTIFY_SOCKET=${JSON.stringify(socket)} is neither an absolute path nor an abstract socket ("@name")`);
  }
  let addon: SdNotifyAddon;
  try {
    addon = loadSdNotifyAddon(options.addonPath);
  } catch (err) {
    // Started by systemd with Type=notify: without the addon READY=1 never arrives and systemd would kill
    // us after TimeoutStartSec with no hint why. Fail now, loudly.
    throw new Error(`NOTIFY_SOCKET is set but sd_notify cannot be sent: ${(err as Error).message}`, { cause: err });
  }
  return new SocketNotifier(socket, addon);
}

class SocketNotifier implements Notifier {
  readonly enabled = true;
  constructor(
    readonly socket: string,
    private readonly addon: SdNotifyAddon,
  ) {}

  ready(status?: string): void {
    this.notify(withStatus({ READY: '1' }, status));
  }
  status(text: string): void {
    this.notify({ STATUS: oneLine(text) });
  }
  stopping(status?: string): void {
    this.notify(withStatus({ STOPPING: '1' }, status));
  }
  watchdog(): void {
    this.notify({ WATCHDOG: '1' });
  }
  reloading(status?: string): void {
    this.notify(withStatus({ RELOADING: '1', MONOTONIC_USEC: this.addon.monotonicUsec().toString() }, status));
  }
  notify(fields: Readonly<Record<string, string>>): void {
    this.addon.send(this.socket, formatMessage(fields));
  }
}

const disabledNotifier: Notifier = Object.freeze({
  enabled: false,
  socket: null,
  ready(): void {},
  status(): void {},
  stopping(): void {},
  watchdog(): void {},
  reloading(): void {},
  notify(fields: Readonly<Record<string, string>>): void {
    formatMessage(fields); // same validation with or without systemd, so bugs show up in development
  },
});

export function formatMessage(fields: Readonly<Record<string, string>>): string {
  const entries = Object.entries(fields);
  if (entries.length === 0) throw new Error('sd_notify message needs at least one field');
  return entries
    .map(([k, v]) => {
      if (!KEY.test(k)) throw new Error(`sd_notify field name ${JSON.stringify(k)} is not an upper-case identifier`);
      if (/[\n\0]/.test(v)) throw new Error(`sd_notify field ${k} contains a newline or NUL`);
      return `${k}=${v}`;
    })
    .join('\n');
}

function withStatus(fields: Record<string, string>, status: string | undefined): Record<string, string> {
  return status === undefined ? fields : { ...fields, STATUS: oneLine(status) };
}

function oneLine(text: string): string {
  const flat = text.replace(/[\r\n\0]+/g, ' ').trim();
  return flat.length > MAX_STATUS ? `${flat.slice(0, MAX_STATUS - 1)}…` : flat;
}
