import { readFileSync } from 'node:fs';
import os from 'node:os';
import * as ort from 'onnxruntime-node';

export interface MachineInfo {
  cpu_model: string;
  /** logical CPUs the process may use */
  cores: number;
  arch: string;
  platform: string;
  kernel: string;
  mem_total_mb: number;
  node: string;
  onnxruntime: string;
  /** Raspberry Pi (or other device-tree board) model, when /proc/device-tree/model exists */
  board: string | null;
  /** 1/5/15-minute load average when the run started: other work on the box makes every number noisy */
  loadavg_start: number[];
}

/** What the numbers were measured on: a benchmark without its machine is not a result. */
export function describeMachine(): MachineInfo {
  return {
    cpu_model: cpuModel(),
    cores: os.availableParallelism(),
    arch: process.arch,
    platform: process.platform,
    kernel: os.release(),
    mem_total_mb: Math.round(os.totalmem() / 1024 / 1024),
    node: process.version,
    onnxruntime: (ort.env.versions as { node?: string; common?: string }).node ?? ort.env.versions.common,
    board: readTrimmed('/proc/device-tree/model'),
    loadavg_start: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

function cpuModel(): string {
  const text = readTrimmed('/proc/cpuinfo') ?? '';
  // x86: "model name"; ARM: often only "Model" (Pi) or CPU part numbers
  const m = /^model name\s*:\s*(.+)$/m.exec(text) ?? /^Model\s*:\s*(.+)$/m.exec(text) ?? /^Hardware\s*:\s*(.+)$/m.exec(text);
  if (m) return m[1]!.trim();
  const part = /^CPU part\s*:\s*(\S+)$/m.exec(text);
  const known: Record<string, string> = { '0xd03': 'Cortex-A53', '0xd08': 'Cortex-A72', '0xd0b': 'Cortex-A76', '0xd05': 'Cortex-A55' };
  if (part) return `ARM ${known[part[1]!.toLowerCase()] ?? `CPU part ${part[1]}`}`;
  return os.cpus()[0]?.model ?? 'unknown';
}

function readTrimmed(file: string): string | null {
  try {
    return readFileSync(file, 'utf8').replace(/\0/g, '').trim() || null;
  } catch {
    return null;
  }
}
