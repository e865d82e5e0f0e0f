#!/usr/bin/env node
// Builds the sd_notify addon with npm's bundled node-gyp into
//   dist/src/systemd/native/prebuilds/linux-<arch>/edgesight_sdnotify.node
// (inside "files", so `npm pack` ships it and the Pi needs no compiler at install time).
//
//   node src/systemd/native/build.mjs                  host arch (+ npm_config_cpu, e.g. `npm ci --cpu=arm64`)
//   node src/systemd/native/build.mjs --arch=arm64     host arch + arm64 (release tarball)
//
// A foreign arch is cross-compiled with Debian's gcc-<triple> (gcc-aarch64-linux-gnu for arm64). Any
// failure exits non-zero: a tarball without its addon would only fail later, on the device.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../..');
const ADDON = 'edgesight_sdnotify.node';
// arch → [cross C compiler, ELF e_machine]
const TARGETS = { x64: ['x86_64-linux-gnu-gcc', 0x3e], arm64: ['aarch64-linux-gnu-gcc', 0xb7] };

function fail(message) {
  console.error(`edgesight native build: ${message}`);
  process.exit(1);
}

function requestedArchs() {
  const archs = new Set([process.arch]);
  const add = (list, from) => {
    for (const a of String(list)
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)) {
      if (!(a in TARGETS)) fail(`unsupported arch "${a}" from ${from} (supported: ${Object.keys(TARGETS).join(', ')})`);
      archs.add(a);
    }
  };
  for (const arg of process.argv.slice(2)) {
    if (arg.startsWith('--arch=')) add(arg.slice('--arch='.length), '--arch');
    else fail(`unknown argument "${arg}" (usage: build.mjs [--arch=x64,arm64])`);
  }
  if (process.env.npm_config_cpu) add(process.env.npm_config_cpu, 'npm_config_cpu (--cpu)');
  return [...archs];
}

function nodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    join(dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
  ].filter(Boolean);
  const found = candidates.find((p) => existsSync(p));
  if (!found) fail(`node-gyp not found (looked at ${candidates.join(', ')}); it ships with npm`);
  return found;
}

// Headers of the running Node, so no download is needed (offline CI, Pi without internet).
function nodeDir() {
  const dir = resolve(dirname(process.execPath), '..');
  return existsSync(join(dir, 'include/node/node_api.h')) ? dir : null;
}

function onPath(cmd) {
  return spawnSync('sh', ['-c', `command -v "${cmd}"`], { encoding: 'utf8' }).status === 0;
}

function elfMachine(file) {
  const b = readFileSync(file);
  if (b.length < 20 || b.readUInt32BE(0) !== 0x7f454c46) fail(`${file} is not an ELF file`);
  return b.readUInt16LE(18);
}

function build(arch) {
  if (process.platform !== 'linux') fail(`the sd_notify addon is Linux-only (platform ${process.platform})`);
  const work = join(root, 'dist/native-build', arch);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  for (const f of ['binding.gyp', 'sdnotify.c']) copyFileSync(join(here, f), join(work, f));

  const env = { ...process.env };
  const args = [nodeGyp(), 'rebuild', `--arch=${arch}`];
  const headers = nodeDir();
  if (headers) args.push(`--nodedir=${headers}`);
  else console.warn(`edgesight native build: no headers next to ${process.execPath}; node-gyp will download them`);
  if (arch !== process.arch) {
    const cc = TARGETS[arch][0];
    if (!onPath(cc)) fail(`cross-compiling for ${arch} needs ${cc} (Debian: apt-get install -y gcc-${cc.replace(/-gcc$/, '')})`);
    // C only: link with the C compiler too, so no cross g++ and no libstdc++ dependency.
    Object.assign(env, { CC: cc, CXX: cc, LINK: cc, CC_target: cc, CXX_target: cc, LINK_target: cc });
  }
  const r = spawnSync(process.execPath, args, { cwd: work, env, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) {
    process.stderr.write(r.stdout + r.stderr);
    fail(`node-gyp failed for ${arch} (exit ${r.status})`);
  }
  const built = join(work, 'build/Release', ADDON);
  if (!existsSync(built)) fail(`node-gyp reported success but ${built} is missing`);
  if (elfMachine(built) !== TARGETS[arch][1]) fail(`${built} is not an ${arch} binary (e_machine ${elfMachine(built)})`);
  const outDir = join(root, 'dist/src/systemd/native/prebuilds', `linux-${arch}`);
  mkdirSync(outDir, { recursive: true });
  copyFileSync(built, join(outDir, ADDON));
  console.log(`edgesight native build: ${arch} → ${join(outDir, ADDON)}`);
}

for (const arch of requestedArchs()) build(arch);
