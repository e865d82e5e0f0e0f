/** The handler of each command path in commands.ts; loaded on use, so `--help` and light commands stay fast. */
export type Handler = (argv: string[]) => Promise<number>;

export const HANDLERS: Record<string, () => Promise<Handler>> = {
  run: async () => (await import('./run-daemon.js')).runCommand,
  'check-config': async () => (await import('./check-config.js')).checkConfigCommand,
  detect: async () => (await import('./detect.js')).detectCommand,
  segment: async () => (await import('./segment.js')).segmentCommand,
  snapshot: async () => (await import('./snapshot.js')).snapshotCommand,
  'service install': async () => {
    const { serviceCommand } = await import('../systemd/install.js');
    return (argv) => serviceCommand(['install', ...argv]);
  },
  'service uninstall': async () => {
    const { serviceCommand } = await import('../systemd/install.js');
    return (argv) => serviceCommand(['uninstall', ...argv]);
  },
  'models fetch': async () => (await import('./models-prepare.js')).fetchSub,
  'models convert': async () => (await import('./models-prepare.js')).convertSub,
  'models import': async () => (await import('./models-move.js')).importSub,
  'models import-bundle': async () => (await import('./models-move.js')).importBundleSub,
  'models export': async () => (await import('./models-move.js')).exportBundleSub,
  'models list': async () => (await import('./models-show.js')).listSub,
  'models info': async () => (await import('./models-show.js')).infoSub,
  'models eval': async () => (await import('./models-eval.js')).evalSub,
  'models prepare': async () => (await import('./models-prepare.js')).prepareSub,
  'models build-prepared': async () => (await import('./models-build.js')).buildPreparedSub,
  'models quantize': async () => (await import('./quantizer-loader.js')).quantizeSub,
  bench: async () => (await import('./bench.js')).benchCommand,
  soak: async () => (await import('./soak.js')).soakCommand,
  fleet: async () => (await import('./fleet.js')).fleetCliCommand,
  stats: async () => (await import('./stats.js')).statsCliCommand,
};
