import * as ort from 'onnxruntime-node';

export interface SessionSettings {
  threads: number;
  spinning: boolean;
  /** when threads > 1: the cores ORT's extra intra-op threads are pinned to (its own affinity syntax) */
  intraOpAffinities?: string;
}

/**
 * The one place ONNX Runtime sessions are created, so the inference worker, the `detect`/`segment`
 * commands, the benchmark and the quantizer's calibration all run a model under the same settings.
 */
export async function createSession(modelPath: string, s: SessionSettings): Promise<ort.InferenceSession> {
  const extra: Record<string, string> = {
    'session.intra_op.allow_spinning': s.spinning ? '1' : '0',
    'session.inter_op.allow_spinning': '0',
  };
  if (s.intraOpAffinities) extra['session.intra_op_thread_affinities'] = s.intraOpAffinities;
  return ort.InferenceSession.create(modelPath, {
    intraOpNumThreads: s.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    enableCpuMemArena: true,
    extra,
  } as ort.InferenceSession.SessionOptions);
}

export { ort };
