import { GraphBuilder } from '../onnx/builder.js';
import { DataType, indexGraph, type OnnxGraph, type OnnxNode } from '../onnx/graph.js';
import type { ActivationType } from './qdq.js';

/**
 * Per-channel running min/max of an NCHW activation over the calibration inputs (the ranges always
 * contain 0, like the per-tensor ones).
 */
export class ChannelRanges {
  readonly lo: Float64Array;
  readonly hi: Float64Array;
  constructor(readonly channels: number) {
    this.lo = new Float64Array(channels);
    this.hi = new Float64Array(channels);
  }
  add(v: Float32Array): void {
    if (v.length % this.channels !== 0) throw new Error(`${v.length} values do not split into ${this.channels} channels`);
    const plane = v.length / this.channels;
    for (let c = 0; c < this.channels; c++) {
      let lo = this.lo[c]!;
      let hi = this.hi[c]!;
      for (let i = c * plane, end = (c + 1) * plane; i < end; i++) {
        const x = v[i]!;
        if (x < lo) lo = x;
        else if (x > hi) hi = x;
      }
      this.lo[c] = lo;
      this.hi[c] = hi;
    }
  }
}

/** The depthwise Conv (group = channels, float initializer weights) that is a float tensor's only reader, or null. */
export function depthwiseReader(graph: OnnxGraph, tensor: string): OnnxNode | null {
  const { consumers, initializer } = indexGraph(graph);
  const cs = consumers.get(tensor) ?? [];
  if (cs.length !== 1) return null;
  const conv = cs[0]!;
  if (conv.opType !== 'Conv' || conv.inputs[0] !== tensor) return null;
  const w = initializer.get(conv.inputs[1] ?? '');
  const group = conv.attributes['group'];
  if (!w || w.dataType !== DataType.FLOAT || w.dims.length !== 4 || w.dims[1] !== 1) return null;
  if (group?.type !== 'int' || group.value !== w.dims[0]) return null;
  return conv;
}

/**
 * Lets a depthwise Conv that reads a float tensor run as an integer kernel although the tensor's channels
 * span very different ranges (one per-tensor 8-bit scale would flatten the small channels: the detector's
 * first h-swish output goes from 0.06 to 64 by channel, and an 8-bit per-tensor stem costs half its mAP).
 *
 * A depthwise conv reads each input channel only for its own output channel, so a per-channel scale can
 * be moved into the weights: the tensor is quantized per channel (scale s_c, zero point z_c, axis 1),
 * read back by one per-tensor DequantizeLinear (scale 1, zero point = the type's minimum: v = q − qmin),
 * and the conv uses weights w_c·s_c and bias b_c − (z_c − qmin)·Σw_c·s_c. That is the same arithmetic as
 * before up to the 8-bit rounding of each channel. The conv's implicit zero padding would pad with the
 * per-tensor zero point (not each channel's 0), so the padding moves into an explicit float Pad before
 * the QuantizeLinear. ONNX Runtime fuses DequantizeLinear → Conv → QuantizeLinear into QLinearConv.
 * The conv's weights become per-channel int8 and its bias int32, like every quantized conv.
 */
export function quantizeDepthwiseInput(graph: OnnxGraph, tensor: string, ranges: ChannelRanges, type: ActivationType): void {
  const conv = depthwiseReader(graph, tensor);
  if (!conv) throw new Error(`tensor ${tensor} is not read by exactly one depthwise Conv with float weights`);
  const { initializer } = indexGraph(graph);
  const w = initializer.get(conv.inputs[1]!)!;
  const channels = w.dims[0]!;
  if (channels !== ranges.channels) throw new Error(`tensor ${tensor}: ${ranges.channels} calibrated channels, the depthwise Conv has ${channels}`);
  const biasName = conv.inputs[2] ?? '';
  const bias = biasName ? initializer.get(biasName) : undefined;
  if (biasName && (!bias || bias.dataType !== DataType.FLOAT || bias.data.length !== channels))
    throw new Error(`Conv ${conv.name}: bias ${biasName} is not a float initializer of ${channels} values`);

  const b = new GraphBuilder(graph);
  const start = graph.nodes.length;
  const qt = type === 'uint8' ? DataType.UINT8 : DataType.INT8;
  const qmin = type === 'uint8' ? 0 : -128;
  const codesOf = (vals: number[]): Uint8Array | Int8Array => (type === 'uint8' ? Uint8Array.from(vals) : Int8Array.from(vals));

  const scales = new Float32Array(channels);
  const zeros: number[] = [];
  for (let c = 0; c < channels; c++) {
    const lo = Math.min(0, ranges.lo[c]!);
    const hi = Math.max(0, ranges.hi[c]!);
    scales[c] = Math.fround(hi > lo ? (hi - lo) / 255 : 1);
    zeros.push(Math.min(255, Math.max(0, Math.round(-lo / scales[c]!))));
  }

  const padsAttr = conv.attributes['pads'];
  const pads = padsAttr?.type === 'ints' ? padsAttr.value : [0, 0, 0, 0];
  let src = tensor;
  if (pads.some((p) => p !== 0)) {
    const [top, left, bottom, right] = pads;
    src = b.op(
      'Pad',
      [tensor, b.int64s(`${tensor}/pads`, [0, 0, top ?? 0, left ?? 0, 0, 0, bottom ?? 0, right ?? 0]), b.scalarF32(`${tensor}/pad_value`, 0)],
      `${tensor}/padded`,
      { mode: 'constant' },
      { name: `${tensor}/Pad` },
    );
    conv.attributes['pads'] = { type: 'ints', value: [0, 0, 0, 0] };
  }
  const codes = b.op(
    'QuantizeLinear',
    [
      src,
      b.initializer(`${tensor}/channel_scale`, DataType.FLOAT, [channels], scales),
      b.initializer(`${tensor}/channel_zero_point`, qt, [channels], codesOf(zeros.map((z) => z + qmin))),
    ],
    `${tensor}/q`,
    { axis: 1 },
    { name: `${tensor}/QuantizeLinear` },
  );
  const unitZero = b.initializer(`${tensor}/unit_zero_point`, qt, [], codesOf([qmin]));
  const x = b.op(
    'DequantizeLinear',
    [codes, b.scalarF32(`${tensor}/unit_scale`, 1), unitZero],
    `${tensor}/dq`,
    {},
    { name: `${tensor}/DequantizeLinear` },
  );

  // weights w_c·s_c, per-channel symmetric int8; bias in int32 at the weight scale (input scale 1)
  const per = w.data.length / channels;
  const wq = new Int8Array(w.data.length);
  const ws = new Float32Array(channels);
  const wz = new Int8Array(channels);
  const bq = new Int32Array(channels);
  for (let c = 0; c < channels; c++) {
    let m = 0;
    for (let i = c * per; i < (c + 1) * per; i++) m = Math.max(m, Math.abs((w.data[i] as number) * scales[c]!));
    ws[c] = Math.fround(m > 0 ? m / 127 : 1);
    let sum = 0;
    for (let i = c * per; i < (c + 1) * per; i++) {
      wq[i] = Math.max(-127, Math.min(127, Math.round(((w.data[i] as number) * scales[c]!) / ws[c]!)));
      sum += wq[i]!;
    }
    // b − z_c·Σ(w·s_c), in units of the weight scale: the codes' offset moves into the bias
    const bf = bias ? (bias.data[c] as number) : 0;
    bq[c] = Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, Math.round(bf / ws[c]! - zeros[c]! * sum)));
  }
  const wName = conv.inputs[1]!;
  conv.inputs[0] = x;
  conv.inputs[1] = b.op(
    'DequantizeLinear',
    [
      b.initializer(`${wName}/quantized`, DataType.INT8, [...w.dims], wq),
      b.initializer(`${wName}/scale`, DataType.FLOAT, [channels], ws),
      b.initializer(`${wName}/zero_point`, DataType.INT8, [channels], wz),
    ],
    `${wName}/dq`,
    { axis: 0 },
    { name: `${wName}/DequantizeLinear` },
  );
  const bName = biasName || `${conv.name}/bias`;
  const biasDq = b.op(
    'DequantizeLinear',
    [
      b.initializer(`${bName}/quantized`, DataType.INT32, [channels], bq),
      b.initializer(`${bName}/scale`, DataType.FLOAT, [channels], ws),
      b.initializer(`${bName}/zero_point`, DataType.INT32, [channels], new Int32Array(channels)),
    ],
    `${bName}/dq`,
    { axis: 0 },
    { name: `${bName}/DequantizeLinear` },
  );
  conv.inputs[2] = biasDq;

  // the new nodes were appended: they run right before the conv
  const added = graph.nodes.splice(start);
  graph.nodes.splice(graph.nodes.indexOf(conv), 0, ...added);
  const used = new Set(graph.nodes.flatMap((n) => n.inputs));
  graph.initializers = graph.initializers.filter((t) => used.has(t.name) || (t !== w && t !== bias));
}
