/**
 * @module The agent's own cost on the packet path, as the kernel accounts it: per probe group and tracepoint,
 * the runs of hopscope's BPF programs and the time they took (`hopscope_bpf_runs_total`,
 * `hopscope_bpf_run_seconds_total`), so a dashboard shows what hopscope costs each node, in CPU seconds per
 * second and nanoseconds per run, next to what it observes. The kernel counts only while
 * `kernel.bpf_stats_enabled` is 1 (`hopscope_bpf_stats_enabled`); it is off by default because the accounting
 * itself adds two clock reads to every run. A probe process (bpftrace or a native loader) that restarts loads new programs, whose counts start at
 * 0: the last counts of the old ones are carried, so the series only grow.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { ProgramNames, tracepointForProgram } from '../runner/bpf-program-names.js';
import { bpfStatsEnabled, TRACEPOINT_PROG_TYPES, readBpfPrograms, type BpfProgramStat } from '../runner/bpf-program-stats.js';

/** A probe group's process (bpftrace or its native loader): its PID while it runs, and the tracepoints it attached. */
export interface ProgramHost {
  readonly probe: string;
  readonly pid: number | undefined;
  readonly tracepoints: readonly string[];
}

export interface BpfCostDeps {
  readonly readPrograms: (pid: number) => BpfProgramStat[];
  readonly names: ProgramNames;
  readonly statsEnabled: () => boolean | undefined;
}

interface Tally {
  readonly probe: string;
  readonly tracepoint: string;
  runs: number;
  ns: number;
}

interface Seen {
  readonly key: string;
  /** The probe process that held the program. */
  readonly pid: number;
  readonly runs: number;
  readonly ns: number;
}

/** Cumulative runs and run time per (probe, tracepoint), carried across probe process restarts. */
export class BpfCostTally {
  private readonly carried = new Map<string, Tally>();
  private lastSeen = new Map<number, Seen>();
  private inflight: Promise<Tally[]> | undefined;

  constructor(
    private readonly hosts: () => readonly ProgramHost[],
    private readonly deps: BpfCostDeps = { readPrograms: (pid) => readBpfPrograms(pid), names: new ProgramNames(), statsEnabled: () => bpfStatsEnabled() },
  ) {}

  /** The totals now; calls while one is being read (a scrape collects several series at once) share it. */
  totals(): Promise<Tally[]> {
    return (this.inflight ??= this.read().finally(() => (this.inflight = undefined)));
  }

  private async read(): Promise<Tally[]> {
    const hosts = this.hosts();
    const running = new Set<number>();
    const live: { host: ProgramHost; pid: number; stat: BpfProgramStat }[] = [];
    for (const host of hosts) {
      if (host.pid === undefined) continue;
      running.add(host.pid);
      for (const stat of this.deps.readPrograms(host.pid)) if (TRACEPOINT_PROG_TYPES.has(stat.type)) live.push({ host, pid: host.pid, stat });
    }
    await this.deps.names.refresh(live.map((l) => l.stat.id));
    const now = new Map<number, Seen>();
    for (const { host, pid, stat } of live) {
      const name = this.deps.names.name(stat.id);
      const tracepoint = (name !== undefined && tracepointForProgram(name, host.tracepoints)) || 'unknown';
      now.set(stat.id, { key: `${host.probe}\u0000${tracepoint}`, pid, runs: stat.runs, ns: stat.runNs });
    }
    for (const [id, seen] of this.lastSeen) {
      if (now.has(id)) continue;
      // its process still runs: this read missed the program (a /proc read failed), its counts stand as they were
      if (running.has(seen.pid)) now.set(id, seen);
      // its process is gone (restarted under a new PID, or stopped): the program counts no more, keep its last counts
      else add(this.carried, seen.key, seen.runs, seen.ns);
    }
    this.lastSeen = now;
    const totals = new Map<string, Tally>();
    for (const seen of now.values()) add(totals, seen.key, seen.runs, seen.ns);
    for (const [key, c] of this.carried) add(totals, key, c.runs, c.ns);
    return [...totals.values()];
  }

  statsEnabled(): boolean | undefined {
    return this.deps.statsEnabled();
  }
}

function add(map: Map<string, Tally>, key: string, runs: number, ns: number): void {
  let t = map.get(key);
  if (!t) {
    const [probe, tracepoint] = key.split('\u0000') as [string, string];
    map.set(key, (t = { probe, tracepoint, runs: 0, ns: 0 }));
  }
  t.runs += runs;
  t.ns += ns;
}

export function registerBpfCostMetrics(registry: Registry, tally: BpfCostTally): void {
  const registers = [registry];
  new Gauge({
    name: 'hopscope_bpf_stats_enabled',
    help: 'Whether the kernel accounts BPF run time now (kernel.bpf_stats_enabled); hopscope_bpf_* stay flat while it is 0.',
    registers,
    collect() {
      // NaN when the sysctl cannot be read, rather than a stale or default 0
      const on = tally.statsEnabled();
      this.set(on === undefined ? NaN : on ? 1 : 0);
    },
  });
  new Counter({
    name: 'hopscope_bpf_runs_total',
    help: "Runs of hopscope's BPF programs, by probe group and tracepoint, while kernel.bpf_stats_enabled is 1.",
    labelNames: ['probe', 'tracepoint'],
    registers,
    async collect() {
      this.reset();
      for (const t of await tally.totals()) this.inc({ probe: t.probe, tracepoint: t.tracepoint }, t.runs);
    },
  });
  new Counter({
    name: 'hopscope_bpf_run_seconds_total',
    help: "Time hopscope's BPF programs ran in the kernel, by probe group and tracepoint, while kernel.bpf_stats_enabled is 1.",
    labelNames: ['probe', 'tracepoint'],
    registers,
    async collect() {
      this.reset();
      for (const t of await tally.totals()) this.inc({ probe: t.probe, tracepoint: t.tracepoint }, t.ns / 1e9);
    },
  });
}
