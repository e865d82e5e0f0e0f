// Prints an ARM /proc/cpuinfo for the CPU model qemu emulates (run with the arm64 node under QEMU_CPU).
//
// Why: qemu-user 7.2 (Debian bookworm) passes the host's x86 /proc/cpuinfo through to the guest.
// onnxruntime's cpuinfo library finds no ARM processor in it and dereferences NULL while loading the
// binding (SIGSEGV at `require('onnxruntime-node')`). A Pi's kernel shows one block per core with the
// MIDR fields and the feature list; run.sh bind-mounts this text over /proc/cpuinfo in a private mount
// namespace, so ORT identifies the core as it would on the board. Features come from the guest's own
// AT_HWCAP (what qemu really emulates), so the file cannot claim more than the emulated CPU has.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

// MIDR fields of the models run here (Arm TRMs; the revisions are those of the Pi 4's and Pi 5's SoCs).
const MODELS = {
  'cortex-a72': { variant: 0x0, part: 0xd08, revision: 3, board: 'Raspberry Pi 4 (BCM2711)' },
  'cortex-a76': { variant: 0x4, part: 0xd0b, revision: 1, board: 'Raspberry Pi 5 (BCM2712)' },
  'cortex-a53': { variant: 0x0, part: 0xd03, revision: 4, board: 'Raspberry Pi 3 / Zero 2 (BCM2837)' },
  'cortex-a55': { variant: 0x2, part: 0xd05, revision: 0, board: '(generic)' },
};

// Linux arch/arm64 HWCAP bit names, in bit order (include/uapi/asm/hwcap.h).
const HWCAP = [
  'fp',
  'asimd',
  'evtstrm',
  'aes',
  'pmull',
  'sha1',
  'sha2',
  'crc32',
  'atomics',
  'fphp',
  'asimdhp',
  'cpuid',
  'asimdrdm',
  'jscvt',
  'fcma',
  'lrcpc',
  'dcpop',
  'sha3',
  'sm3',
  'sm4',
  'asimddp',
  'sha512',
  'sve',
  'asimdfhm',
  'dit',
  'uscat',
  'ilrcpc',
  'flagm',
  'ssbs',
  'sb',
  'paca',
  'pacg',
];
const HWCAP2 = [
  'dcpodp',
  'sve2',
  'sveaes',
  'svepmull',
  'svebitperm',
  'svesha3',
  'svesm4',
  'flagm2',
  'frint',
  'svei8mm',
  'svef32mm',
  'svef64mm',
  'svebf16',
  'i8mm',
  'bf16',
  'dgh',
  'rng',
  'bti',
  'mte',
];

/** AT_HWCAP / AT_HWCAP2 of this process, as qemu set them for the emulated CPU. */
export function hwcaps() {
  const auxv = readFileSync('/proc/self/auxv');
  let hwcap = 0n,
    hwcap2 = 0n;
  for (let i = 0; i + 16 <= auxv.length; i += 16) {
    const type = auxv.readBigUInt64LE(i);
    if (type === 16n) hwcap = auxv.readBigUInt64LE(i + 8);
    if (type === 26n) hwcap2 = auxv.readBigUInt64LE(i + 8);
  }
  const names = (bits, table) => table.filter((_, i) => (bits >> BigInt(i)) & 1n);
  return [...names(hwcap, HWCAP), ...names(hwcap2, HWCAP2)];
}

export function cpuinfoText(cpu, cores) {
  const m = MODELS[cpu];
  if (!m) throw new Error(`cpuinfo.mjs: no MIDR known for QEMU_CPU '${cpu}' (known: ${Object.keys(MODELS).join(', ')})`);
  const features = hwcaps().join(' ');
  const hex = (n) => '0x' + n.toString(16);
  let text = '';
  for (let i = 0; i < cores; i++) {
    text +=
      `processor\t: ${i}\nBogoMIPS\t: 108.00\nFeatures\t: ${features}\nCPU implementer\t: 0x41\n` +
      `CPU architecture: 8\nCPU variant\t: ${hex(m.variant)}\nCPU part\t: ${hex(m.part)}\nCPU revision\t: ${m.revision}\n\n`;
  }
  return text + `Model\t\t: qemu-user ${cpu}, standing in for ${m.board}\n`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (process.arch !== 'arm64') throw new Error(`cpuinfo.mjs must run on the arm64 node (this is ${process.arch})`);
  const cpu = process.env.QEMU_CPU;
  if (!cpu) throw new Error('cpuinfo.mjs: QEMU_CPU is not set');
  // One block per host CPU: cpuinfo cross-checks the count with /sys/devices/system/cpu/present.
  process.stdout.write(cpuinfoText(cpu, availableParallelism()));
}
