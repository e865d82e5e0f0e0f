/**
 * Import rules between the folders of src/ (run by `npm run lint`). Each folder has one job and imports
 * only from the layers below it; docs/architecture.md explains the layers. Folders in the same layer do
 * not import each other either.
 */
const LAYERS = [
  ['logging', 'capture', 'tracking', 'places', 'render', 'systemd'], // foundations: import nothing of ours
  ['postprocess', 'preprocess'], // tensors ↔ frames and detections
  ['objects', 'privacy'], // tracking, zones and lines; masking people out
  ['config'], // the schema, loading and checks (knows the option types of the layers below)
  ['metrics', 'mqtt'], // counters and reporting; the MQTT transport
  ['inference', 'homeassistant', 'models'], // the ONNX worker; HA discovery; the runtime model store
  ['pipeline', 'modeltools'], // frame → result; model tooling (convert, quantize, evaluate, bundle)
  ['publish', 'live'], // results → MQTT messages and events; the live view
  ['service'], // the daemon: wiring and lifecycle
  ['bench'], // benchmark and soak runs
  ['cli'], // every command
];

/** The layers above the runtime (service, bench) may reach into the model tooling through this module only. */
const TOOLING_ENTRY = '^src/modeltools/runtime-entry\\.ts$';
const RUNTIME = LAYERS.flat().filter((f) => f !== 'modeltools' && f !== 'cli');

const layerRules = LAYERS.flatMap((layer, i) => {
  const notBelow = LAYERS.slice(i).flat();
  return layer.map((folder) => ({
    name: `layer-${folder}`,
    comment: `src/${folder}/ imports only from the layers below it (see docs/architecture.md)`,
    severity: 'error',
    from: { path: `^src/${folder}/` },
    to: { path: `^src/(${notBelow.filter((f) => f !== folder).join('|')})/` },
  }));
});

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'an import cycle makes the load order (and what is half-initialised) depend on who imports first',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'runtime-to-tooling-through-entry',
      comment: 'the daemon\'s wiring imports the model tooling only through modeltools/runtime-entry.ts',
      severity: 'error',
      from: { path: `^src/(${RUNTIME.join('|')})/` },
      to: { path: '^src/modeltools/', pathNot: TOOLING_ENTRY },
    },
    {
      name: 'model-store-not-to-tooling',
      comment: 'the runtime model store is handed its TFLite converter (models/converter.ts) by the layers above; it never imports the tooling',
      severity: 'error',
      from: { path: '^src/models/' },
      to: { path: '^src/modeltools/' },
    },
    {
      name: 'src-not-to-test',
      comment: 'the product never imports test code',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^test/' },
    },
    {
      name: 'known-folders',
      comment: 'a new folder in src/ gets a place in LAYERS',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^src/[^/]+/', pathNot: `^src/(${LAYERS.flat().join('|')})/` },
    },
    ...layerRules,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'], extensions: ['.ts', '.js', '.mjs'] },
    reporterOptions: { text: { highlightFocused: true } },
  },
};

// for test/architecture.test.ts (docs/architecture.md lists the same layers); not enumerable, so
// dependency-cruiser's config validation does not see it
Object.defineProperty(module.exports, 'LAYERS', { value: LAYERS, enumerable: false });
