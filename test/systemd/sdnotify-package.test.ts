import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = fileURLToPath(new URL('../../../', import.meta.url));
const ADDON = (arch: string): string => `dist/src/systemd/native/prebuilds/linux-${arch}/edgesight_sdnotify.node`;

describe('packed tarball carries what the service needs', function () {
  this.timeout(60000);
  let files: string[];
  before(() => {
    // --ignore-scripts: list what `npm pack` would ship from the current build, without rebuilding.
    const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: pkg, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    files = (JSON.parse(r.stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
  });

  it('ships the unit template, the default config and the installer', () => {
    for (const f of ['systemd/edgesight.service', 'config/edgesight.yaml', 'dist/src/systemd/install.js', 'dist/src/systemd/sdnotify.js']) {
      assert.ok(files.includes(f), `${f} missing from the tarball`);
    }
  });

  it('ships the sd_notify addon prebuilt for x64 and arm64, each the right ELF machine', () => {
    for (const [arch, machine] of [
      ['x64', 0x3e],
      ['arm64', 0xb7],
    ] as const) {
      assert.ok(
        files.includes(ADDON(arch)),
        `${ADDON(arch)} missing: build it with \`node src/systemd/native/build.mjs --arch=arm64\` (needs gcc-aarch64-linux-gnu)`,
      );
      assert.equal(readFileSync(join(pkg, ADDON(arch))).readUInt16LE(18), machine, `${ADDON(arch)} has the wrong e_machine`);
    }
    assert.ok(!files.some((f) => f.startsWith('dist/native-build/')), 'node-gyp build trees must not be packed');
    assert.ok(!files.some((f) => f.endsWith('.c') || f.endsWith('binding.gyp')), 'no build on the device: sources stay out');
  });
});
