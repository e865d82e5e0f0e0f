#!/usr/bin/env node
import { EX_USAGE, UsageError } from './args.js';
import { VERSION } from '../service/version.js';

const HELP = `edgesight ${VERSION} — edge vision daemon: camera → SSDLite detection + LR-ASPP segmentation → MQTT

Usage: edgesight <command> [options]

Commands:
  run [--config PATH]                 run the daemon (checks the config first; exit 78 if invalid)
  check-config [--config PATH] [--print]
                                      validate a config file; every problem with key path and line; exit 78
  detect IMAGE... [--json] [--score-threshold X] [--max-detections N] [--tracked] [--config PATH]
                                      detect objects in images; one JSON line per image with --json
  segment IMAGE... [--out-dir DIR] [--json] [--config PATH]
                                      class map of each image (the configured segmenter); with --out-dir,
                                      DIR/<name>.png holds the class indices as 8-bit grey pixels
  snapshot --out FILE.jpg [--skip N] [--timeout S] [--config PATH]
                                      one camera frame with boxes and mask drawn, as a JPEG (--out - for stdout)
  service install|uninstall [--dry-run]
                                      install the systemd unit, system user and /etc/edgesight/config.yaml
  models fetch|convert|import|export|list|info|quantize ...
                                      prepare, register, inspect and move models (edgesight models --help)
  bench [--frames N] [--width W --height H] [--out DIR] [--precision int8,fp32]
        [--segmentation-every N] [--frames-dir DIR] [--config PATH]
                                      benchmark: ceiling vs full pipeline (efficiency), per-stage latency,
                                      int8/fp32, memory; writes bench.json, bench.md, latency.svg
  soak [--frames N] [--fps F] [--out DIR] [--config PATH]
                                      the real daemon at full rate into a real broker: resource slopes
                                      with confidence, counts reconciled (npm run soak -- --frames N)
  stats [--device ID] [--once] [--url URL] [--config PATH]
                                      live per-device stats from the MQTT stats topic (JSON lines when piped)

Options:
  --config, -c PATH                   config file (default: $EDGESIGHT_CONFIG, else built-in defaults)
  --version                           print the version
  --help                              this help

Environment:
  EDGESIGHT_CONFIG=PATH               config file
  EDGESIGHT__<SECTION>__<KEY>=VALUE   override a config key, e.g. EDGESIGHT__MQTT__URL=mqtt://broker:1883
  EDGESIGHT_MODELS_MIRROR=DIR         local folder(s) with model sources, searched before upstream URLs
`;

type Command = (argv: string[]) => Promise<number>;

const COMMANDS: Record<string, () => Promise<Command>> = {
  run: async () => (await import('./run.js')).runCommand,
  'check-config': async () => (await import('./check-config.js')).checkConfigCommand,
  detect: async () => (await import('./detect.js')).detectCommand,
  segment: async () => (await import('./segment.js')).segmentCommand,
  snapshot: async () => (await import('./snapshot.js')).snapshotCommand,
  service: async () => (await import('../service/install.js')).serviceCommand,
  models: async () => (await import('./models.js')).modelsCommand,
  bench: async () => (await import('./bench.js')).benchCommand,
  soak: async () => (await import('./soak.js')).soakCommand,
  stats: async () => (await import('./stats.js')).statsCliCommand,
};

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === '--version' || cmd === '-v') {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(HELP);
    return cmd ? 0 : EX_USAGE;
  }
  const load = COMMANDS[cmd];
  if (!load) {
    process.stderr.write(`edgesight: unknown command '${cmd}'\n\n${HELP}`);
    return EX_USAGE;
  }
  try {
    return await (await load())(rest);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`edgesight ${cmd}: ${e.message}\n(see edgesight --help)\n`);
      return EX_USAGE;
    }
    process.stderr.write(`edgesight ${cmd}: ${(e as Error).message}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`edgesight: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 1;
  },
);
