/**
 * Helpers of the reliability kernel tests: the agent's bpftrace children by probe group, zombie checks, RSS,
 * and a background scraper that proves /metrics answers every scrape, that no counter ever goes down, and
 * (with promtool) that every exposition it took is valid.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { NATIVE_PROBES } from '../../../src/probes/native-probes.js';
import { childPids, spawnAgent, type AgentProcess } from './lab-agents.js';
import { promtoolCheckMetrics } from './prometheus.js';

/** The agent's direct children whose command line names a probe group (a native loader, by its name): group -> PIDs. */
export async function probeChildren(agentPid: number): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>();
  for (const pid of await childPids(agentPid)) {
    let cmd = '';
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    const program = cmd.split('\0')[0] ?? '';
    const group = /hopscope probe group ([a-z0-9-]+)/.exec(cmd)?.[1] ?? Object.entries(NATIVE_PROBES).find(([, p]) => program.endsWith(`/${p.binary}`))?.[0];
    if (!group) continue;
    out.set(group, [...(out.get(group) ?? []), pid]);
  }
  return out;
}

/** PIDs among the agent's children that are zombies (exited, not reaped). */
export async function zombieChildren(agentPid: number): Promise<number[]> {
  const zombies: number[] = [];
  for (const pid of await childPids(agentPid)) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) zombies.push(pid);
    } catch {
      // gone
    }
  }
  return zombies;
}

export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) * 1024;
}

/** Monotonic series: counters (`_total`) and the cumulative parts of histograms. */
const MONOTONIC = /^(\w+_total|\w+_bucket|\w+_count|\w+_sum)(\{[^}]*\})? (\S+)$/;

export interface Scraper {
  readonly scrapes: number;
  readonly failures: string[];
  /** Series that went down between two scrapes, with both values. */
  readonly decreases: string[];
  /** promtool's complaints about any exposition checked. */
  readonly invalid: string[];
  readonly last: string;
  stop(): Promise<void>;
}

/** Scrapes `url`/metrics every `everyMs` until stopped; every `checkEvery`-th exposition goes through promtool. */
export function startScraper(url: string, everyMs = 200, checkEvery = 10): Scraper {
  const state = { scrapes: 0, failures: [] as string[], decreases: [] as string[], invalid: [] as string[], last: '' };
  const previous = new Map<string, number>();
  let running = true;
  const checks: Promise<void>[] = [];
  const loop = (async () => {
    while (running) {
      const t0 = Date.now();
      try {
        const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5000) });
        const text = await res.text();
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        state.scrapes++;
        state.last = text;
        for (const line of text.split('\n')) {
          const m = MONOTONIC.exec(line);
          if (!m) continue;
          const series = `${m[1]}${m[2] ?? ''}`;
          const v = Number(m[3]);
          const before = previous.get(series);
          if (before !== undefined && v < before) state.decreases.push(`${series}: ${before} -> ${v}`);
          previous.set(series, v);
        }
        if (state.scrapes % checkEvery === 1) {
          checks.push(promtoolCheckMetrics(text).then((r) => void (r.ok ? undefined : state.invalid.push(...r.problems))));
        }
      } catch (e) {
        state.failures.push(`${new Date().toISOString()}: ${String(e)}`);
      }
      await new Promise((r) => setTimeout(r, Math.max(0, everyMs - (Date.now() - t0))));
    }
  })();
  return {
    get scrapes() { return state.scrapes; },
    get failures() { return state.failures; },
    get decreases() { return state.decreases; },
    get invalid() { return state.invalid; },
    get last() { return state.last; },
    async stop() {
      running = false;
      await loop;
      await Promise.all(checks);
      const r = await promtoolCheckMetrics(state.last);
      if (!r.ok) state.invalid.push(...r.problems);
    },
  };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * The BPF programs a process holds, from /proc/PID/fdinfo (`prog_id:`): exactly this process's programs, even
 * while other tests on the same kernel load theirs.
 */
export function bpfProgIdsOf(pid: number): number[] {
  const ids: number[] = [];
  let fds: string[] = [];
  try {
    fds = readdirSync(`/proc/${pid}/fdinfo`);
  } catch {
    return ids;
  }
  for (const fd of fds) {
    try {
      const m = /^prog_id:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'));
      if (m) ids.push(Number(m[1]));
    } catch {
      // closed meanwhile
    }
  }
  return ids;
}

export type StartedAgent = AgentProcess;

/** A `hopscope agent` child with extra environment, resolved once it listens (see spawnAgent). */
export async function startAgentWith(args: string[], env: Record<string, string> = {}): Promise<StartedAgent> {
  return spawnAgent(['--listen', '127.0.0.1:0', ...args], env);
}
