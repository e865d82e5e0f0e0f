import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DataType, type OnnxGraph } from '../onnx/graph.js';
import { saveOnnx } from '../onnx/io.js';
import { createSession, ort } from '../../inference/session.js';

/**
 * Runs a copy of a graph with extra tensors exposed as graph outputs (calibration and error probes).
 * Sessions come from the one session factory the daemon uses, so calibration sees the same kernels.
 */
export class ProbeRunner {
  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly dir: string,
    private readonly inputName: string,
    private readonly inputShape: number[],
  ) {}

  /** `extra` maps an exposed output name to the tensor it shows (added as outputs of the graph, which is edited). */
  static async open(graph: OnnxGraph, extra: Map<string, string>, inputName: string, inputShape: number[], threads: number): Promise<ProbeRunner> {
    const existing = new Set(graph.outputs.map((o) => o.name));
    for (const [out, tensor] of extra) {
      if (existing.has(out)) continue;
      if (out !== tensor)
        graph.nodes.push({ name: `${out}/probe/Identity`, opType: 'Identity', domain: '', inputs: [tensor], outputs: [out], attributes: {} });
      graph.outputs.push({ name: out, elemType: DataType.FLOAT, shape: null });
    }
    const dir = await mkdtemp(path.join(os.tmpdir(), 'edgesight-quant-'));
    try {
      const file = path.join(dir, 'probe.onnx');
      await writeFile(file, saveOnnx(graph));
      const session = await createSession(file, { threads, spinning: false });
      return new ProbeRunner(session, dir, inputName, inputShape);
    } catch (e) {
      await rm(dir, { recursive: true, force: true });
      throw e;
    }
  }

  async run(input: Float32Array): Promise<Map<string, Float32Array>> {
    const need = this.inputShape.reduce((a, b) => a * b, 1);
    if (input.length !== need) throw new Error(`calibration input has ${input.length} values, ${JSON.stringify(this.inputShape)} needs ${need}`);
    const r = await this.session.run({ [this.inputName]: new ort.Tensor('float32', input, this.inputShape) });
    const out = new Map<string, Float32Array>();
    for (const [k, v] of Object.entries(r)) {
      if (v.type !== 'float32') continue;
      out.set(k, v.data as Float32Array);
    }
    return out;
  }

  async close(): Promise<void> {
    await this.session.release();
    await rm(this.dir, { recursive: true, force: true });
  }
}
