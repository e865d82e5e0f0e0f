import assert from 'node:assert/strict';
import { arch, platform } from 'node:process';
import { checkPlatform, PlatformError } from '../../src/service/platform.js';

function errorOf(fn: () => void): PlatformError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof PlatformError, `expected PlatformError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected checkPlatform to throw');
}

describe('checkPlatform', () => {
  it('accepts 64-bit ARM and x86 Linux', () => {
    checkPlatform({ arch: 'arm64', platform: 'linux', machine: 'aarch64' });
    checkPlatform({ arch: 'x64', platform: 'linux' });
  });

  it('accepts the machine the tests run on (CI is linux x64 or arm64)', () => {
    checkPlatform();
    assert.ok(['x64', 'arm64'].includes(arch) && platform === 'linux');
  });

  it('rejects a 32-bit ARM userland and says how to fix it', () => {
    const err = errorOf(() => checkPlatform({ arch: 'arm', platform: 'linux', machine: 'armv7l' }));
    assert.equal(err.code, 'EPLATFORM');
    assert.equal(err.arch, 'arm');
    assert.match(err.message, /32-bit userland/);
    assert.match(err.message, /onnxruntime-node ships no 32-bit ARM build/);
    assert.match(err.message, /64-bit Raspberry Pi OS \(Bookworm\)/);
    assert.doesNotMatch(err.message, /kernel is 64-bit/);
  });

  it('names the 64-bit kernel under a 32-bit userland (the usual Pi 4 mix-up)', () => {
    const err = errorOf(() => checkPlatform({ arch: 'arm', platform: 'linux', machine: 'aarch64' }));
    assert.match(err.message, /kernel is 64-bit, but Node and the userland are not/);
  });

  it('rejects non-Linux systems by name', () => {
    for (const p of ['darwin', 'win32', 'freebsd']) {
      const err = errorOf(() => checkPlatform({ arch: 'arm64', platform: p }));
      assert.match(err.message, /Linux only/);
      assert.match(err.message, new RegExp(`'${p}'`));
      assert.equal(err.platform, p);
    }
  });

  it('rejects 32-bit x86 and other architectures by name', () => {
    assert.match(errorOf(() => checkPlatform({ arch: 'ia32', platform: 'linux' })).message, /32-bit x86/);
    const err = errorOf(() => checkPlatform({ arch: 'riscv64', platform: 'linux' }));
    assert.match(err.message, /'riscv64'/);
    assert.match(err.message, /arm64 and x64/);
  });
});
