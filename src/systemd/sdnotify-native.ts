import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** The C addon in native/sdnotify.c (built by native/build.mjs into native/prebuilds/<platform>-<arch>/). */
export interface SdNotifyAddon {
  /** One datagram to a unix socket ("/path" or "@abstract"), sent from this process; throws on failure. */
  send(socketAddress: string, message: string): void;
  /** CLOCK_MONOTONIC in µs, the clock systemd compares MONOTONIC_USEC with. */
  monotonicUsec(): bigint;
  /** Test receiver: a non-blocking AF_UNIX SOCK_DGRAM socket with SO_PASSCRED; returns its fd. */
  bindReceiver(socketAddress: string): number;
  /** Next queued datagram with the sender's PID from SCM_CREDENTIALS, or null if none is queued. */
  receive(fd: number): { message: string; pid: number } | null;
  closeReceiver(fd: number): void;
}

export function defaultAddonPath(): string {
  return fileURLToPath(new URL(`./native/prebuilds/${process.platform}-${process.arch}/edgesight_sdnotify.node`, import.meta.url));
}

const loaded = new Map<string, SdNotifyAddon>();

/** Loads the addon or throws an error that says where it looked and how to get it built. */
export function loadSdNotifyAddon(path: string = defaultAddonPath()): SdNotifyAddon {
  const cached = loaded.get(path);
  if (cached) return cached;
  if (!existsSync(path)) {
    throw new Error(
      `sd_notify addon not found at ${path} (platform ${process.platform}-${process.arch}). ` +
        'Reinstall edgesight from a tarball built for this platform, or build it: node src/systemd/native/build.mjs',
    );
  }
  let addon: SdNotifyAddon;
  try {
    addon = createRequire(import.meta.url)(path) as SdNotifyAddon;
  } catch (err) {
    throw new Error(`sd_notify addon at ${path} failed to load: ${(err as Error).message}`, { cause: err });
  }
  for (const fn of ['send', 'monotonicUsec', 'bindReceiver', 'receive', 'closeReceiver'] as const) {
    if (typeof addon[fn] !== 'function') throw new Error(`sd_notify addon at ${path} lacks ${fn}(); rebuild it`);
  }
  loaded.set(path, addon);
  return addon;
}
