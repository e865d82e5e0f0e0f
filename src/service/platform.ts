/**
 * Startup check for the machine edgesight runs on. onnxruntime-node only ships Linux builds for
 * x64 and arm64; on anything else its native binding fails to load with an obscure dlopen or
 * "Cannot find module" error deep in the inference worker. Checking first turns that into one clear
 * message at startup — most often for a Raspberry Pi flashed with the 32-bit Raspberry Pi OS.
 */

/** The facts the check needs; `process` satisfies it, tests inject their own. */
export interface PlatformFacts {
  /** Node's `process.arch`: the architecture of the userland Node was built for. */
  readonly arch: string;
  /** Node's `process.platform`. */
  readonly platform: string;
  /** `os.machine()` (the kernel's `uname -m`), when known: tells a 32-bit userland on a 64-bit kernel apart. */
  readonly machine?: string;
}

export const SUPPORTED_ARCHES: readonly string[] = ['arm64', 'x64'];

export class PlatformError extends Error {
  override readonly name = 'PlatformError';
  readonly code = 'EPLATFORM';
  constructor(
    message: string,
    readonly arch: string,
    readonly platform: string,
  ) {
    super(message);
  }
}

/** Throws PlatformError unless this is Linux on arm64 or x64. */
export function checkPlatform(facts: PlatformFacts = process): void {
  const { arch, platform } = facts;
  if (platform !== 'linux') {
    throw new PlatformError(
      `edgesight runs on Linux only (Raspberry Pi OS or another 64-bit Linux on arm64/x64); this is '${platform}'`,
      arch,
      platform,
    );
  }
  if (SUPPORTED_ARCHES.includes(arch)) return;
  if (arch === 'arm') {
    const kernel = facts.machine === 'aarch64' || facts.machine === 'arm64' ? ' (the kernel is 64-bit, but Node and the userland are not)' : '';
    throw new PlatformError(
      `32-bit userland (process.arch 'arm')${kernel}: onnxruntime-node ships no 32-bit ARM build. ` +
        'Install the 64-bit Raspberry Pi OS (Bookworm) and a 64-bit (arm64) Node.js 20',
      arch,
      platform,
    );
  }
  if (arch === 'ia32') {
    throw new PlatformError(
      "32-bit x86 userland (process.arch 'ia32'): onnxruntime-node ships no 32-bit build; use a 64-bit (x64) Node.js",
      arch,
      platform,
    );
  }
  throw new PlatformError(
    `unsupported CPU architecture '${arch}': onnxruntime-node ships Linux builds only for ${SUPPORTED_ARCHES.join(' and ')}`,
    arch,
    platform,
  );
}
