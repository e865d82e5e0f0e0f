import type { quantizeCommand } from './models-quantize.js';

/** `models quantize` pulls in the ONNX graph code and calibration: load it only when a command needs it. */
export async function loadQuantizer(): Promise<{ quantizeCommand: typeof quantizeCommand }> {
  return import('./models-quantize.js');
}

export async function quantizeSub(argv: string[]): Promise<number> {
  return (await loadQuantizer()).quantizeCommand(argv);
}
