import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { loadOnnx, saveOnnx } from '../../src/modeltools/onnx/io.js';
import { GraphBuilder } from '../../src/modeltools/onnx/builder.js';
import { DataType } from '../../src/modeltools/onnx/graph.js';
import { convertedDetector, fixtureInput, LRASPP, runImage, session } from '../helpers/onnx-build.js';

describe('ONNX load → save round trip', () => {
  for (const [label, file] of [
    ['converted float detector', convertedDetector()],
    ['LR-ASPP segmenter', LRASPP],
  ] as const) {
    it(`${label}: ORT outputs are bit-identical after load+save`, async () => {
      const original = readFileSync(file);
      const graph = loadOnnx(original);
      const saved = saveOnnx(graph);
      // A second pass must be a fixed point: nothing is lost or reinterpreted between passes.
      assert.ok(saveOnnx(loadOnnx(saved)).equals(saved), 'save(load(save(x))) == save(x)');
      assert.equal(loadOnnx(saved).nodes.length, graph.nodes.length);
      const a = await session(original);
      const b = await session(saved);
      const x = fixtureInput('astronaut');
      const ra = await runImage(a, x);
      const rb = await runImage(b, x);
      assert.deepEqual(Object.keys(rb).sort(), Object.keys(ra).sort());
      for (const k of Object.keys(ra)) assert.ok(Buffer.from(ra[k]!.buffer).equals(Buffer.from(rb[k]!.buffer)), `${k} differs`);
    });
  }

  it('an edit (QDQ pair inserted on the LR-ASPP input) loads and runs in ORT', async () => {
    const graph = loadOnnx(LRASPP);
    const b = new GraphBuilder(graph);
    const scale = b.scalarF32('image/scale', 1 / 127.5);
    const zp = b.initializer('image/zero_point', DataType.UINT8, [], Uint8Array.of(128));
    const q = b.op('QuantizeLinear', ['image', scale, zp], 'image/q');
    const dq = b.op('DequantizeLinear', [q, scale, zp], 'image/dq');
    // Re-point the first consumers of the input at the DQ, and keep the node list topologically sorted.
    const added = graph.nodes.splice(graph.nodes.length - 2, 2);
    for (const n of graph.nodes) n.inputs = n.inputs.map((i) => (i === 'image' ? dq : i));
    graph.nodes.unshift(...added);
    const s = await session(saveOnnx(graph));
    const out = await runImage(s, fixtureInput('astronaut'));
    assert.equal(out['logits']?.length, 21 * 40 * 40);
    assert.ok(out['logits']!.every(Number.isFinite));
  });

  it('rejects bytes that are not ONNX', () => {
    assert.throws(() => loadOnnx(Buffer.from('definitely not a protobuf model')), /not a valid ONNX protobuf|has no graph/);
  });
});
