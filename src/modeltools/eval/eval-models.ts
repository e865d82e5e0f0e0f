import type { Precision } from '../../models/manifest.js';
import { makeQuantizer, type ActivationChoice } from '../quantize/manifest-quantizer.js';
import { loadModel, prepareModel, type LoadedModel, type PrepareContext } from '../../models/store.js';
import type { EvalModel } from './evaluate.js';

export const DETECTOR = 'ssdlite_mobilenet_v3_small_coco';
export const SEGMENTER = 'lraspp_mobilenet_v3_small_voc';

export interface PreparedSet {
  detector: Record<'fp32' | 'qdq-faithful' | 'int8', LoadedModel>;
  segmenter: Record<'fp32' | 'int8', LoadedModel>;
}

/**
 * The models as the product prepares them (fetch/convert, then quantize with the shipped calibration set
 * and the catalog profiles), in `ctx.cacheDir`: the figures are measured on exactly what users run.
 */
export async function prepareEvalModels(ctx: PrepareContext, activations: ActivationChoice = 'auto'): Promise<PreparedSet> {
  const quantize = makeQuantizer({ activations });
  const get = async (name: string, p: Precision): Promise<LoadedModel> => loadModel(await prepareModel(name, p, ctx, quantize));
  return {
    detector: { fp32: await get(DETECTOR, 'fp32'), 'qdq-faithful': await get(DETECTOR, 'qdq-faithful'), int8: await get(DETECTOR, 'int8') },
    segmenter: { fp32: await get(SEGMENTER, 'fp32'), int8: await get(SEGMENTER, 'int8') },
  };
}

export function evalModel(m: LoadedModel): EvalModel {
  return {
    file: m.file,
    input: m.manifest.input,
    labels: m.manifest.labels,
    ...(m.manifest.detection ? { detection: m.manifest.detection } : {}),
    ...(m.manifest.segmentation ? { segmentation: { outputs: { logits: m.manifest.segmentation.outputs.logits } } } : {}),
  };
}
