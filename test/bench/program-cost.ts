/**
 * @module Bench arm e: what each attached BPF program costs per run, from the kernel's own accounting
 * (`kernel.bpf_stats_enabled`: run count and run time per program, read with `bpftool prog show -j`). Unlike the
 * iperf3 ratios of arm a, which swing +-20 % on a shared 2-core machine, these are per-run nanoseconds that
 * other work barely moves. The sysctl is global; it is switched on only while this arm's traffic runs and put
 * back to the value it had (it adds two clock reads per program run while on, which is why arm a runs
 * without it).
 */
import { execa } from 'execa';
import { readFileSync, writeFileSync } from 'node:fs';

const STATS_SYSCTL = '/proc/sys/kernel/bpf_stats_enabled';
/** bpftool's program types of hopscope's probes: bpftrace's tracepoint programs, the native hop probe's tp_btf ("tracing"). */
const PROGRAM_TYPES = new Set(['tracepoint', 'tracing']);

interface ProgJson {
  id: number;
  type: string;
  name?: string;
  run_cnt?: number;
  run_time_ns?: number;
}

export interface ProgramRuns {
  /** bpftool's name of the program: the tracepoint's name cut to 15 characters (`netif_receive_s`). */
  readonly name: string;
  readonly runs: number;
  readonly ns: number;
}

async function programs(): Promise<ProgJson[]> {
  const out = await execa('bpftool', ['prog', 'show', '-j'], { reject: false });
  if (out.exitCode !== 0) throw new Error(`bpftool prog show: ${out.stderr.trim() || `exit ${out.exitCode}`} (apt-get install -y bpftool)`);
  return JSON.parse(out.stdout) as ProgJson[];
}

/** IDs of the programs loaded now: taken before a bpftrace starts, to tell its programs apart afterwards. */
export async function loadedProgramIds(): Promise<Set<number>> {
  return new Set((await programs()).map((p) => p.id));
}

/**
 * Runs `traffic` with BPF run-time statistics on and returns, per tracepoint program loaded since `before`,
 * the runs and nanoseconds spent during it (other programs loaded meanwhile by others would show up too: the
 * bench waits for a kernel without foreign bpftrace first).
 */
export async function measurePrograms<T>(before: ReadonlySet<number>, traffic: () => Promise<T>): Promise<{ result: T; programs: ProgramRuns[] }> {
  const previous = readFileSync(STATS_SYSCTL, 'utf8').trim();
  statsBefore ??= previous;
  writeFileSync(STATS_SYSCTL, '1');
  try {
    const start = new Map((await programs()).map((p) => [p.id, p]));
    const result = await traffic();
    const end = await programs();
    const runs = end
      .filter((p) => !before.has(p.id) && PROGRAM_TYPES.has(p.type))
      .map((p) => {
        const s = start.get(p.id);
        return { name: p.name ?? `prog ${p.id}`, runs: (p.run_cnt ?? 0) - (s?.run_cnt ?? 0), ns: (p.run_time_ns ?? 0) - (s?.run_time_ns ?? 0) };
      })
      .filter((p) => p.runs > 0);
    return { result, programs: runs };
  } finally {
    writeFileSync(STATS_SYSCTL, previous);
  }
}

/** The sysctl's value before the bench first switched it on; put back by restoreBpfStats. */
let statsBefore: string | undefined;

/** Puts kernel.bpf_stats_enabled back as it was before the bench (also on Ctrl-C, which skips `finally`). */
export function restoreBpfStats(): void {
  if (statsBefore !== undefined) writeFileSync(STATS_SYSCTL, statsBefore);
}

/** Programs of the same name (one per agent, or several tracepoints cut to one name) summed. */
export function byName(runs: readonly ProgramRuns[]): ProgramRuns[] {
  const m = new Map<string, { runs: number; ns: number }>();
  for (const p of runs) {
    const s = m.get(p.name) ?? { runs: 0, ns: 0 };
    s.runs += p.runs;
    s.ns += p.ns;
    m.set(p.name, s);
  }
  return [...m].map(([name, s]) => ({ name, ...s })).sort((a, b) => b.ns - a.ns);
}
