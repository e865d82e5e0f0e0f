/**
 * A tiny "daemon" for the shutdown tests: subscribes to the libcamera source (fake camera via env),
 * prints `PID <pid>` per camera child and `FRAME <id>` per frame, and on SIGTERM unsubscribes, waits for
 * the camera children to exit and exits 0 — the order the real daemon must follow.
 */
import { libcameraSource } from '../../src/capture/libcamera.js';
import { waitForCameraChildren } from '../../src/capture/child.js';

const sub = libcameraSource(
  { codec: 'mjpeg', hflip: false, vflip: false, rotation: 0, args: [] },
  { width: 160, height: 120, fps: 20, stallTimeoutS: 5 },
  { onSpawn: (pid) => process.stdout.write(`PID ${pid}\n`) },
  { killGraceMs: 1000 },
).subscribe((f) => process.stdout.write(`FRAME ${f.id}\n`));

process.once('SIGTERM', () => {
  sub.unsubscribe();
  void waitForCameraChildren().then(() => {
    process.stdout.write('DONE\n');
    process.exit(0);
  });
});
