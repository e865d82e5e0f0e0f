import { performance } from 'node:perf_hooks';
import { catalogEntry } from '../../models/catalog.js';
import { prepareModel, type PrepareContext } from '../../models/store.js';
import { tfliteConverter } from '../convert.js';
import { staleReason, type QuantizeJob } from './quantize-child.js';
import { makeQuantizer } from './manifest-quantizer.js';

/*
 * The quantizer child (see child.ts): reads one QuantizeJob as JSON on stdin, prepares the int8 model into
 * the cache and answers with JSON lines on stdout ({log}, then {result} or {error}).
 */

function send(msg: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(msg) + '\n');
}

async function readStdin(): Promise<string> {
  let s = '';
  for await (const chunk of process.stdin) s += chunk as string;
  return s;
}

async function main(): Promise<void> {
  process.stdin.setEncoding('utf8');
  const job = JSON.parse(await readStdin()) as QuantizeJob;
  const t0 = performance.now();
  const ctx: PrepareContext = {
    converter: tfliteConverter,
    cacheDir: job.cacheDir,
    mirrors: job.mirrors,
    allowNetwork: job.allowNetwork,
    log: (msg, extra) => send({ log: msg, ...(extra ? { extra } : {}) }),
  };
  const quantize = makeQuantizer({
    calibration: job.calibration,
    activations: job.want.activation_type,
    ...(job.cameraFrames > 0
      ? {
          cameraFrames: async (dir: string) => {
            const { grabCameraFrames } = await import('./camera.js');
            return grabCameraFrames(job.camera as Parameters<typeof grabCameraFrames>[0], job.cameraFrames, dir);
          },
          cameraFrameCount: job.cameraFrames,
        }
      : {}),
  });
  const sha = catalogEntry(job.name)?.source.sha256;
  const manifest = await prepareModel(job.name, 'int8', ctx, quantize, { staleBecause: (m) => staleReason(m, job.want, sha) });
  send({ result: { manifest, seconds: (performance.now() - t0) / 1000, peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024) } });
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    send({ error: (e as Error).message });
    process.exit(1);
  },
);
