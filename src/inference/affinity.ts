import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

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

/** "0-2,4" → [0, 1, 2, 4] (the kernel's list format, as in Cpus_allowed_list and taskset -c). */
export function parseCpuList(list: string): number[] {
  const out = new Set<number>();
  for (const part of list.trim().split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new Error(`'${list}' is not a CPU list (expected e.g. "0-3" or "0,2")`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    for (let c = lo; c <= hi; c++) out.add(c);
  }
  return [...out].sort((a, b) => a - b);
}

/**
 * The CPUs this process may run on, read from the main thread (tid = pid) so the answer is the same
 * in any thread — `os.availableParallelism()` asks the *calling* thread, and inside the pinned worker
 * that is 1. Honours a systemd CPUAffinity= or a taskset around the whole service.
 */
export function processCpus(pid: number = process.pid): number[] {
  return parseCpuList(cpusAllowedList(pid, pid));
}

/** The CPU a thread last ran on (field 39 of /proc/<pid>/task/<tid>/stat). */
export function lastCpu(tid: number, pid: number = process.pid): number {
  const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
  // the command name is in parentheses and may contain spaces: split after the last ')'
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[39 - 3]);
}

/** Thread ids of a process (its /proc/<pid>/task entries). */
export function threadIds(pid: number = process.pid): number[] {
  return readdirSync(`/proc/${pid}/task`)
    .map(Number)
    .sort((a, b) => a - b);
}

function cpuSet(cpus: number | readonly number[]): number[] {
  return typeof cpus === 'number' ? Array.from({ length: cpus }, (_, i) => i) : [...cpus].sort((a, b) => a - b);
}

function describe(set: readonly number[]): string {
  return `${set.length} usable core${set.length === 1 ? '' : 's'}: ${set.join(',')}`;
}

/**
 * -1 means the last core, as on a Pi where core 0 takes most interrupts. `cpus` is a count (cores
 * 0..n-1) or the usable core ids; the default is what this process may run on.
 */
export function resolveCore(core: number, cpus: number | readonly number[] = processCpus()): number {
  const set = cpuSet(cpus);
  if (!Number.isInteger(core) || core < -1) throw new Error(`inference.core must be -1 (the last core) or a core id, got ${core}`);
  const c = core === -1 ? set[set.length - 1]! : core;
  if (!set.includes(c)) throw new Error(`inference.core ${core} is not a core this process may use (${describe(set)})`);
  return c;
}

/**
 * Pins one thread with sched_setaffinity through util-linux `taskset -p` — present on every Pi OS
 * image and honoured per thread id, so no native addon is needed just for this. It runs once per
 * worker start (tens of ms), never per frame. Threads the pinned thread creates afterwards inherit the
 * mask (Linux copies it at clone), which is how ONNX Runtime's own helper thread ends up on the core.
 */
export function pinThread(tid: number, cpuList: string): void {
  const r = spawnSync('taskset', ['-p', '-c', cpuList, String(tid)], { encoding: 'utf8', timeout: 5000 });
  if (r.error) throw new Error(`cannot run taskset to pin the inference thread: ${r.error.message} (install util-linux)`);
  if (r.status !== 0) throw new Error(`taskset -p -c ${cpuList} ${tid} failed: ${r.stderr.trim() || `exit ${r.status}`}`);
}

/**
 * The cores the inference uses: `core` for the worker thread (which is ORT's first intra-op thread —
 * the caller's thread works too), then the next usable cores upward for the threads − 1 extra ones.
 * Refuses, with what to change, when there are not enough.
 */
export function inferenceCores(core: number, threads: number, cpus: number | readonly number[] = processCpus()): number[] {
  if (!Number.isInteger(threads) || threads < 1) throw new Error(`inference.threads must be a positive integer, got ${threads}`);
  const set = cpuSet(cpus);
  if (!set.includes(core)) throw new Error(`inference.core ${core} is not a core this process may use (${describe(set)})`);
  const above = set.filter((c) => c > core);
  if (threads - 1 > above.length) {
    throw new Error(
      `inference.threads ${threads} needs ${threads} cores from inference.core ${core} upward (one pinned thread each), ` +
        `but only ${above.length + 1} ${above.length === 0 ? 'is' : 'are'} available (${describe(set)}); lower inference.threads or inference.core`,
    );
  }
  return [core, ...above.slice(0, threads - 1)];
}

/**
 * ORT's `session.intra_op_thread_affinities` for the extra intra-op threads (threads − 1 entries; ORT
 * does not touch the calling thread): `;` between threads, 1-based logical processor ids, so core 1
 * is written "2". Undefined with one thread. Throws as `inferenceCores` does.
 */
export function intraOpAffinities(core: number, threads: number, cpus: number | readonly number[] = processCpus()): string | undefined {
  const cores = inferenceCores(core, threads, cpus);
  if (cores.length === 1) return undefined;
  return cores
    .slice(1)
    .map((c) => String(c + 1))
    .join(';');
}
