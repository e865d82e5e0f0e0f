import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { InferenceEngine, type EngineEvent, type EngineOptions } from '../../src/inference/engine.js';
import type { WorkerInit } from '../../src/inference/protocol.js';
import { convertedDetector, LRASPP } from '../helpers/onnx-build.js';
import { writeFaultyDetector, type FaultyModelOptions } from './faulty-model.js';

export const DET_OUTPUTS = ['class_predictions', 'box_encodings'];

/** default: the project's own float detector (the shipped TFLite, converted) */
export function detectorSpec(file = convertedDetector()): WorkerInit['detector'] {
  return { path: file, inputName: 'image', outputNames: DET_OUTPUTS };
}

export const SEGMENTER_SPEC: WorkerInit['segmenter'] = { path: LRASPP, inputName: 'image', outputNames: ['logits'] };

export function tempDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'edgesight-inf-'));
}

let faultyFile: string | undefined;
/** The input-controlled faulty detector (see faulty-model.ts), built once per test run. */
export function faultyDetector(opts?: FaultyModelOptions): string {
  if (opts) return writeFaultyDetector(tempDir(), opts);
  faultyFile ??= writeFaultyDetector(tempDir());
  return faultyFile;
}

/** An engine that records its events; `next(type)` waits for the next event of a type. */
export class RecordingEngine extends InferenceEngine {
  readonly events: EngineEvent[] = [];
  constructor(opts: EngineOptions) {
    super(opts);
    this.on('event', (ev: EngineEvent) => this.events.push(ev));
  }

  next<T extends EngineEvent['type']>(type: T, timeoutMs = 60_000): Promise<Extract<EngineEvent, { type: T }>> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no '${type}' event within ${timeoutMs} ms; events: ${JSON.stringify(this.events)}`)), timeoutMs);
      const on = (ev: EngineEvent): void => {
        if (ev.type !== type) return;
        clearTimeout(t);
        this.off('event', on);
        resolve(ev as Extract<EngineEvent, { type: T }>);
      };
      this.on('event', on);
    });
  }
}

export function threadStatus(tid: number, pid = process.pid): { allowed: string; name: string } {
  const s = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
  return { allowed: /^Cpus_allowed_list:\s*(\S+)/m.exec(s)![1]!, name: /^Name:\s*(.*)$/m.exec(s)![1]! };
}
