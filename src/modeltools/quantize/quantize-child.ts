import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { FetchContext } from '../../models/fetch.js';
import { ModelError, type ModelManifest } from '../../models/manifest.js';
import type { QuantSettings } from './settings.js';
import { settingsDiff, recordedSettings } from './settings.js';

/**
 * What the quantizer child needs: everything is plain JSON so the daemon passes it on the command line.
 * The child prepares `<cache>/<name>/int8.*` (source → fp32 → int8) under the cache's prepare lock.
 */
export interface QuantizeJob {
  name: string;
  cacheDir: string;
  mirrors: string[];
  allowNetwork: boolean;
  /** resolved calibration sources (empty = the shipped set) */
  calibration: string[];
  cameraFrames: number;
  /** the configured camera (config.camera), for cameraFrames > 0 */
  camera: unknown;
  /** the settings the result must carry; a cached model with other settings is made again */
  want: QuantSettings;
}

export interface ChildResult {
  manifest: string;
  seconds: number;
  /** the child's peak resident set, MB: the memory the daemon itself did not have to take */
  peakRssMb: number;
}

/** Why a manifest does not fit the wanted settings, or null. */
export function staleReason(m: ModelManifest, want: QuantSettings, sourceSha256?: string): string | null {
  const d = settingsDiff(recordedSettings(m.provenance), want);
  if (d.length) return `its quantizer settings differ from the configured ones (${d.join(', ')})`;
  if (sourceSha256 && m.provenance.source_sha256 !== sourceSha256)
    return `it was made from another source file (sha256 ${m.provenance.source_sha256 ?? 'unknown'})`;
  return null;
}

const CHILD_MAIN = fileURLToPath(new URL('./quantize-child-main.js', import.meta.url));

/**
 * Runs the quantizer in a child Node process: calibration loads the fp32 model, a probe graph exposing
 * every tensor and histograms of all of them, which would otherwise stay in the daemon's heap and
 * allocator for its whole life. Log lines of the child are passed to `ctx.log`.
 */
export function quantizeInChild(job: QuantizeJob, ctx: Pick<FetchContext, 'log'>): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD_MAIN], { stdio: ['pipe', 'pipe', 'inherit'], env: process.env });
    let buf = '';
    let result: ChildResult | null = null;
    let error: string | null = null;
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => {
      buf += d;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (!line.trim()) continue;
        let msg: { log?: string; extra?: Record<string, unknown>; result?: ChildResult; error?: string };
        try {
          msg = JSON.parse(line) as typeof msg;
        } catch {
          ctx.log(`quantizer: ${line}`);
          continue;
        }
        if (msg.log !== undefined) ctx.log(msg.log, msg.extra);
        if (msg.result) result = msg.result;
        if (msg.error) error = msg.error;
      }
    });
    child.on('error', (e) => reject(new ModelError(`cannot start the quantizer process: ${e.message}`)));
    child.on('exit', (code, signal) => {
      if (code === 0 && result) resolve(result);
      else
        reject(
          new ModelError(
            `quantizing ${job.name} failed: ${error ?? (signal ? `the quantizer process was killed by ${signal}` : `the quantizer process exited with status ${code}`)}`,
          ),
        );
    });
    child.stdin!.end(JSON.stringify(job));
  });
}
