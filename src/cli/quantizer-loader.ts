interface QuantizeModule {
  quantizeCommand(argv: string[]): Promise<number>;
}

/** The quantizer is built separately; load it lazily so the rest of `models` works without it. */
export async function quantizeSub(argv: string[]): Promise<number> {
  return (await loadQuantizer()).quantizeCommand(argv);
}

export async function loadQuantizer(): Promise<QuantizeModule> {
  let mod: Partial<QuantizeModule>;
  try {
    mod = (await import('./models-quantize.js' as string)) as Partial<QuantizeModule>;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ERR_MODULE_NOT_FOUND') throw new Error('the int8 quantizer is not part of this build (dist/src/cli/models-quantize.js is missing)');
    throw e;
  }
  if (typeof mod.quantizeCommand !== 'function') throw new Error('the quantizer module does not export quantizeCommand(argv)');
  return mod as QuantizeModule;
}
