import { UsageError, EX_USAGE } from './args.js';

export const MODELS_HELP = `Usage: edgesight models <subcommand> [options]

Subcommands:
  fetch [NAME...] [--all] [--precision fp32|qdq-faithful|int8] [--from DIR]...
        fetch sources (cache → --from/EDGESIGHT_MODELS_MIRROR folders → upstream URL, sha256-checked,
        resumable) and prepare the fp32 ONNX; qdq-faithful also makes the faithful QDQ form, int8 runs
        the quantizer. No NAME = the configured detector and segmenter; --all = every catalogued model.
  convert NAME [--form float|qdq] [--force] [--out FILE.onnx [--keep-score-cap]]
  convert FILE.tflite (--out FILE.onnx | --name N --like CATALOG_NAME|--manifest FILE) [--form float|qdq]
        [--keep-score-cap]
        TFLite → ONNX: a catalogued model into the cache, or any TFLite file to a file / registered model
  import FILE.onnx [--name N] (--like CATALOG_NAME | --manifest FILE) [--labels FILE] [--precision fp32|int8]
        [--task detection|segmentation] [--input-name S] [--width N|dynamic] [--height N|dynamic]
        [--multiple-of N] [--scale X] [--offset X] [--scores S] [--boxes S] [--logits S] [--output-stride N]
        [--license S] [--notes S] [--force]
        register your own model: ONNX Runtime must load it and its outputs must have the declared shapes
  import BUNDLE.tar[.gz] [--force]   install a bundle made by export (every file sha256-checked first)
  export OUT.tar[.gz] [NAME...] [--precision P]...
        write prepared models + manifests into one archive (to copy to a Pi); alias: export-bundle
  import-bundle IN.tar[.gz] [--force]
  list [--json] [--no-verify]         cache contents (verifies sha256; exit 1 if a model is corrupt)
  info NAME|MANIFEST.json|FILE.onnx [--precision P] [--size WxH] [--check] [--json]
        inputs/outputs, op counts, int8 share, params and MAdds (beside the paper's figures)
  quantize ...                        the int8 quantizer (see edgesight models quantize --help)
  eval [NAME|MANIFEST.json] [--data DIR] [--precision int8|fp32] [--labels L,..] [--thresholds T,..] [--json]
        detector mAP and precision/recall per score threshold on a COCO-format folder
        (default: $EDGESIGHT_TEST_DATA/coco-train-sample; see edgesight models eval --help)

Common options:
  --config, -c PATH    config file (models.cache_dir, models.mirror)
  --cache DIR          model cache (default: models.cache_dir, $CACHE_DIRECTORY, $XDG_CACHE_HOME/edgesight, ~/.cache/edgesight)
  --from DIR           local folder with model sources, searched before upstream (repeatable; also EDGESIGHT_MODELS_MIRROR)
  --offline            never download (also EDGESIGHT_OFFLINE=1)
`;

type Sub = (argv: string[]) => Promise<number>;

const SUBCOMMANDS: Record<string, () => Promise<Sub>> = {
  fetch: async () => (await import('./models-prepare.js')).fetchSub,
  convert: async () => (await import('./models-prepare.js')).convertSub,
  import: async () => (await import('./models-move.js')).importSub,
  'import-bundle': async () => (await import('./models-move.js')).importBundleSub,
  export: async () => (await import('./models-move.js')).exportBundleSub,
  'export-bundle': async () => (await import('./models-move.js')).exportBundleSub,
  list: async () => (await import('./models-show.js')).listSub,
  info: async () => (await import('./models-show.js')).infoSub,
  quantize: async () => quantizeSub,
  eval: async () => (await import('./models-eval.js')).evalSub,
};

interface QuantizeModule {
  quantizeCommand(argv: string[]): Promise<number>;
}

/** The quantizer is built separately; load it lazily so the rest of `models` works without it. */
async function quantizeSub(argv: string[]): Promise<number> {
  return (await loadQuantizer()).quantizeCommand(argv);
}

export async function loadQuantizer(): Promise<QuantizeModule> {
  let mod: Partial<QuantizeModule>;
  try {
    mod = (await import('../models/quantize/cli.js' as string)) as Partial<QuantizeModule>;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ERR_MODULE_NOT_FOUND') throw new Error('the int8 quantizer is not part of this build (dist/src/models/quantize/cli.js is missing)');
    throw e;
  }
  if (typeof mod.quantizeCommand !== 'function') throw new Error('the quantizer module does not export quantizeCommand(argv)');
  return mod as QuantizeModule;
}

export async function modelsCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub || sub === '--help' || sub === '-h' || sub === 'help') {
    process.stdout.write(MODELS_HELP);
    return sub ? 0 : EX_USAGE;
  }
  const load = SUBCOMMANDS[sub];
  if (!load) throw new UsageError(`unknown models subcommand '${sub}' (fetch, convert, import, export, import-bundle, list, info, quantize, eval)`);
  if (sub !== 'quantize' && sub !== 'eval' && (rest.includes('--help') || rest.includes('-h'))) {
    process.stdout.write(MODELS_HELP);
    return 0;
  }
  return (await load())(rest);
}
