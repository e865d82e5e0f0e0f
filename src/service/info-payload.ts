import type { Config } from '../config/types.js';
import { redactConfig } from '../config/redact.js';
import type { ConfiguredModels } from './inference-components.js';
import { VERSION } from './version.js';

/** The retained `info` payload: what runs here, with which models and config (secrets redacted). */
export function infoPayload(
  c: Config,
  models: ConfiguredModels,
  startedAt: number,
  cpusAllowed: string | null,
): { v: number } & Record<string, unknown> {
  const { detector, segmenter } = models;
  return {
    v: 2,
    version: VERSION,
    device: c.device.id,
    device_name: c.device.name ?? c.device.id,
    base_topic: c.mqtt.base_topic,
    started_at: startedAt,
    arch: process.arch,
    cameras: [{ name: c.camera.name, source: c.camera.source, width: c.camera.width, height: c.camera.height, fps: c.camera.fps }],
    models: {
      detector: {
        name: detector.manifest.name,
        precision: detector.manifest.precision,
        sha256: detector.manifest.sha256,
        labels_tracked: c.objects.track,
      },
      segmenter: segmenter
        ? {
            name: segmenter.manifest.name,
            precision: segmenter.manifest.precision,
            sha256: segmenter.manifest.sha256,
            classes: segmenter.manifest.labels,
          }
        : null,
    },
    inference: { cpus_allowed_list: cpusAllowed, threads: c.inference.threads },
    config: redactConfig(c),
  };
}
