import { readFileSync, readlinkSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import os from 'node:os';

/** The calling OS thread's id (Linux): /proc/thread-self links to "<pid>/task/<tid>". */
export function currentTid(): number {
  const link = readlinkSync('/proc/thread-self');
  const tid = Number(link.split('/').pop());
  if (!Number.isInteger(tid)) throw new Error(`cannot read the thread id from /proc/thread-self (${link})`);
  return tid;
}

export function cpusAllowedList(tid: number, pid: number = process.pid): string {
  const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
  const m = /^Cpus_allowed_list:\s*(\S+)/m.exec(status);
  if (!m) throw new Error(`no Cpus_allowed_list in /proc/${pid}/task/${tid}/status`);
  return m[1]!;
}

/** The CPU a thread last ran on (field 39 of /proc/<pid>/task/<tid>/stat). */
export function lastCpu(tid: number, pid: number = process.pid): number {
  const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
  // the command name is in parentheses and may contain spaces: split after the last ')'
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[39 - 3]);
}

/** -1 means the last core, as on a Pi where core 0 takes most interrupts. */
export function resolveCore(core: number, cpus: number = os.availableParallelism()): number {
  const c = core < 0 ? cpus + core : core;
  if (c < 0 || c >= cpus) throw new Error(`inference.core ${core} does not exist on this machine (${cpus} cores: 0-${cpus - 1})`);
  return c;
}

/**
 * Pins one thread with sched_setaffinity through util-linux `taskset -p` — present on every Pi OS
 * image and honoured per thread id, so no native addon is needed just for this.
 */
export function pinThread(tid: number, cpuList: string): void {
  const r = spawnSync('taskset', ['-p', '-c', cpuList, String(tid)], { encoding: 'utf8', timeout: 5000 });
  if (r.error) throw new Error(`cannot run taskset to pin the inference thread: ${r.error.message} (install util-linux)`);
  if (r.status !== 0) throw new Error(`taskset -p -c ${cpuList} ${tid} failed: ${r.stderr.trim() || `exit ${r.status}`}`);
}

/**
 * ORT's `session.intra_op_thread_affinities`: one entry per extra intra-op thread (threads − 1),
 * `;`-separated, 1-based logical processor ids. Refuses more threads than cores from `core` upward.
 */
export function intraOpAffinities(core: number, threads: number, cpus: number = os.availableParallelism()): string | undefined {
  if (threads <= 1) return undefined;
  if (core + threads > cpus) {
    throw new Error(`inference.threads ${threads} needs cores ${core}..${core + threads - 1} but this machine has ${cpus} (0-${cpus - 1}); lower inference.threads or inference.core`);
  }
  return Array.from({ length: threads - 1 }, (_, i) => String(core + 1 + i + 1)).join(';');
}
