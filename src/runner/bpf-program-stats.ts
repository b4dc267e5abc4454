/**
 * @module What the kernel accounts for each BPF program a bpftrace process holds: run count and run time, read
 * from the process's `/proc/PID/fdinfo` (no bpftool needed for the numbers). The kernel counts only while
 * `kernel.bpf_stats_enabled` is 1 (off by default: it adds two clock reads to every program run), so both stay 0
 * otherwise, and `bpfStatsEnabled` says which.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/**
 * The program types that run on tracepoints: BPF_PROG_TYPE_TRACEPOINT (5, bpftrace's) and BPF_PROG_TYPE_TRACING
 * (26, the native probes' tp_btf programs). bpftrace's BEGIN, END and intervals are other types.
 */
export const TRACEPOINT_PROG_TYPES: ReadonlySet<number> = new Set([5, 26]);

export interface BpfProgramStat {
  readonly id: number;
  /** The kernel's program type number (5: tracepoint, 26: tracing). */
  readonly type: number;
  readonly runs: number;
  readonly runNs: number;
}

export interface ProcReader {
  readonly listFds: (pid: number) => string[];
  readonly fdTarget: (pid: number, fd: string) => string;
  readonly fdinfo: (pid: number, fd: string) => string;
}

const PROC: ProcReader = {
  listFds: (pid) => readdirSync(`/proc/${pid}/fd`),
  fdTarget: (pid, fd) => readlinkSync(`/proc/${pid}/fd/${fd}`),
  fdinfo: (pid, fd) => readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'),
};

/** One BPF program's fdinfo (`prog_type:`, `prog_id:`, `run_time_ns:`, `run_cnt:` lines); undefined if it is not one. */
export function parseProgFdinfo(text: string): BpfProgramStat | undefined {
  const field = (name: string): number | undefined => {
    const m = new RegExp(`^${name}:\\s*(\\d+)\\s*$`, 'm').exec(text);
    return m ? Number(m[1]) : undefined;
  };
  const id = field('prog_id');
  const type = field('prog_type');
  if (id === undefined || type === undefined) return undefined;
  // kernels before 5.1 have no run-time accounting at all: 0, like stats switched off
  return { id, type, runs: field('run_cnt') ?? 0, runNs: field('run_time_ns') ?? 0 };
}

/** The BPF programs process `pid` holds open; empty when it is gone or its fds cannot be read. */
export function readBpfPrograms(pid: number, proc: ProcReader = PROC): BpfProgramStat[] {
  let fds: string[];
  try {
    fds = proc.listFds(pid);
  } catch {
    return [];
  }
  const out: BpfProgramStat[] = [];
  for (const fd of fds) {
    try {
      if (proc.fdTarget(pid, fd) !== 'anon_inode:bpf-prog') continue;
      const stat = parseProgFdinfo(proc.fdinfo(pid, fd));
      if (stat) out.push(stat);
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

/** Whether the kernel accounts BPF run time now; undefined when the sysctl cannot be read. */
export function bpfStatsEnabled(read: () => string = () => readFileSync('/proc/sys/kernel/bpf_stats_enabled', 'utf8')): boolean | undefined {
  try {
    return read().trim() === '1';
  } catch {
    return undefined;
  }
}
