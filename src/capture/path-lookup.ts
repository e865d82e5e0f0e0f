import { accessSync, constants, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** First executable called `name` on PATH (what a shell would run), or null. */
export function findOnPath(name: string, envPath: string | undefined = process.env.PATH): string | null {
  if (name.includes('/')) return isExecutable(name) ? name : null;
  for (const dir of (envPath ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return null;
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Nodes a Raspberry Pi exposes under /dev/video* that are not cameras ffmpeg can read: the codec, ISP
 * and CSI-receiver nodes belong to libcamera (a Pi 5 has dozens even with no camera attached).
 */
const NOT_A_WEBCAM = /bcm2835-codec|bcm2835-isp|bcm2835-jpeg|unicam|rp1-cfe|pispbe|rpi-hevc|hevc-dec/i;

/** /dev/video* capture devices in numeric order, skipping the Pi's internal ISP/codec nodes. */
export function listVideoDevices(devDir = '/dev', sysDir = '/sys/class/video4linux'): string[] {
  let names: string[];
  try {
    names = readdirSync(devDir).filter((n) => /^video\d+$/.test(n));
  } catch {
    return [];
  }
  names.sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)));
  return names
    .filter((n) => {
      try {
        return !NOT_A_WEBCAM.test(readFileSync(path.join(sysDir, n, 'name'), 'utf8'));
      } catch {
        return true; // no sysfs entry to judge by: let ffmpeg try it
      }
    })
    .map((n) => path.join(devDir, n));
}
