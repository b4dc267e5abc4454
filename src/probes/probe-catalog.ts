/**
 * @module The probe groups (one bpftrace process each) and how a group's script is composed from the
 * tracepoints that exist on this kernel: bpftrace 0.17 fails a whole script for one missing probe, so blocks
 * for missing tracepoints are left out before it starts.
 */
import { readFileSync } from 'node:fs';
import { packagePath } from '../package-root.js';

export interface ProbeGroup {
  /** Label value of hopscope_probe_* metrics. */
  readonly name: string;
  readonly file: string;
  /** The tracepoints the group attaches, `group:name`. */
  readonly tracepoints: readonly string[];
  /** What the group is for, for `doctor` and /readyz. */
  readonly purpose: string;
}

/** probes/ at the package root. */
export const PROBES_DIR = packagePath('probes/');

export const PROBE_GROUPS: readonly ProbeGroup[] = [
  {
    name: 'hops',
    file: 'hops.bt',
    tracepoints: ['syscalls:sys_enter_kill', 'net:netif_receive_skb', 'net:net_dev_queue'],
    purpose: 'hop traces (ingress and egress at every interface); trace on demand (via sys_enter_kill)',
  },
  {
    name: 'drops',
    file: 'drops.bt',
    tracepoints: ['fib:fib_table_lookup', 'skb:kfree_skb', 'fib6:fib6_table_lookup'],
    purpose: 'drops with the kernel reason, route misses (no route, unreachable, prohibit, neighbour failed)',
  },
  {
    name: 'bridge',
    file: 'bridge.bt',
    tracepoints: ['bridge:br_fdb_update', 'bridge:br_fdb_add', 'bridge:br_fdb_external_learn_add', 'bridge:fdb_delete'],
    purpose: 'bridge FDB learning, moves and deletions',
  },
  {
    name: 'neigh',
    file: 'neigh.bt',
    tracepoints: ['neigh:neigh_timer_handler', 'neigh:neigh_update'],
    purpose: 'neighbour (ARP) resolution failures',
  },
];

export interface ComposedScript {
  readonly group: ProbeGroup;
  readonly script: string;
  readonly attached: readonly string[];
  readonly missing: readonly string[];
}

/**
 * Keeps the preamble (header comment) and every probe block except those naming a tracepoint that does not
 * exist. A block starts at a probe line in column 0 (`BEGIN`, `tracepoint:GROUP:NAME[,...]`, `interval:...`)
 * and runs to the next one.
 */
export function composeScript(group: ProbeGroup, source: string, exists: (tracepoint: string) => boolean): ComposedScript {
  const lines = source.split('\n');
  const kept: string[] = [];
  const attached: string[] = [];
  const missing: string[] = [];
  let keep = true;
  for (const line of lines) {
    if (/^[A-Za-z]/.test(line)) {
      const tracepoints = [...line.matchAll(/tracepoint:([a-z0-9_]+:[a-z0-9_]+)/g)].map((m) => m[1] as string);
      keep = true;
      for (const tp of tracepoints) {
        const present = exists(tp);
        // several blocks may attach one tracepoint (hops.bt's IPv4 and IPv6 blocks): list it once
        const list = present ? attached : missing;
        if (!list.includes(tp)) list.push(tp);
        keep &&= present;
      }
    }
    if (keep) kept.push(line);
  }
  // the header comment documents the file; leaving it out keeps `ps` readable
  const script = kept.join('\n').replace(/\/\*[\s\S]*?\*\//g, `// hopscope probe group ${group.name}`);
  return { group, script, attached, missing };
}

export function readProbeSource(group: ProbeGroup, dir = PROBES_DIR): string {
  return readFileSync(`${dir}${group.file}`, 'utf8');
}
