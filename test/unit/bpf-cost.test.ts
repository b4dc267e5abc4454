import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { BpfCostTally, registerBpfCostMetrics, type ProgramHost } from '../../src/export/bpf-cost-metrics.js';
import { ProgramNames, tracepointForProgram } from '../../src/runner/bpf-program-names.js';
import { parseProgFdinfo, readBpfPrograms, type BpfProgramStat } from '../../src/runner/bpf-program-stats.js';
import { sampleValue } from '../kernel/support/metrics-text.js';

// the fdinfo of one of hops.bt's programs on kernel 6.18, as read from /proc/PID/fdinfo
const FDINFO = `pos:\t0
flags:\t02000002
mnt_id:\t17
ino:\t1038
prog_type:\t5
prog_jited:\t1
prog_tag:\t3c85384aa37e3463
memlock:\t8192
prog_id:\t34523
run_time_ns:\t627320753
run_cnt:\t899443
recursion_misses:\t0
verified_insns:\t1091
`;

describe('a BPF program\'s run-time accounting from /proc/PID/fdinfo', () => {
  it('reads id, type, runs and run time', () => {
    expect(parseProgFdinfo(FDINFO)).toEqual({ id: 34523, type: 5, runs: 899443, runNs: 627320753 });
  });

  it('is no program without prog_id or prog_type (a map, a perf event), and counts 0 on kernels without accounting', () => {
    expect(parseProgFdinfo('pos:\t0\nflags:\t02\nmap_type:\t1\nmap_id:\t7\n')).toBeUndefined();
    expect(parseProgFdinfo('prog_type:\t5\nprog_id:\t9\n')).toEqual({ id: 9, type: 5, runs: 0, runNs: 0 });
  });

  it('reads only the bpf-prog fds of the process, and nothing when it is gone', () => {
    const proc = {
      listFds: () => ['0', '3', '4', '5'],
      fdTarget: (_: number, fd: string) => ({ '0': '/dev/null', '3': 'anon_inode:bpf-map', '4': 'anon_inode:bpf-prog', '5': 'anon_inode:bpf-prog' })[fd] as string,
      fdinfo: (_: number, fd: string) => (fd === '4' ? FDINFO : FDINFO.replace('34523', '34524').replace('prog_type:\t5', 'prog_type:\t7')),
    };
    expect(readBpfPrograms(1, proc).map((p) => [p.id, p.type])).toEqual([[34523, 5], [34524, 7]]);
    expect(readBpfPrograms(1, { ...proc, listFds: () => { throw new Error('ENOENT'); } })).toEqual([]);
  });
});

describe('which tracepoint a program runs on', () => {
  const attached = ['net:netif_receive_skb', 'net:net_dev_queue', 'syscalls:sys_enter_kill'];
  it('matches the kernel\'s 15-character name against the attached tracepoints', () => {
    expect(tracepointForProgram('netif_receive_s', attached)).toBe('net:netif_receive_skb');
    expect(tracepointForProgram('net_dev_queue', attached)).toBe('net:net_dev_queue');
    // the native hop probe's programs, named in full from their BTF
    expect(tracepointForProgram('netif_receive_skb', attached)).toBe('net:netif_receive_skb');
    expect(tracepointForProgram('netif_receive_sk', attached)).toBeUndefined();
    expect(tracepointForProgram('BEGIN', attached)).toBeUndefined();
  });
  it('names nothing when two attached tracepoints cut to the same name', () => {
    expect(tracepointForProgram('br_fdb_external', ['bridge:br_fdb_external_learn_add', 'bridge:br_fdb_external_learn_del'])).toBeUndefined();
  });
});

describe('hopscope_bpf_* from the probe groups\' programs', () => {
  const hops: ProgramHost = { probe: 'hops', pid: 100, tracepoints: ['net:netif_receive_skb', 'net:net_dev_queue'] };
  const prog = (id: number, runs: number, runNs: number, type = 5): BpfProgramStat => ({ id, type, runs, runNs });
  const names = new Map([[1, 'netif_receive_s'], [2, 'net_dev_queue'], [3, 'netif_receive_s'], [4, 'net_dev_queue'], [5, 'BEGIN']]);

  it('sums per probe and tracepoint, leaves other program types out, and carries the counts of a restarted bpftrace', async () => {
    let programs = [prog(1, 100, 40_000), prog(2, 90, 30_000), prog(5, 1, 9_000, 2)];
    let pid: number | undefined = 100;
    const tally = new BpfCostTally(() => [{ ...hops, pid }], {
      readPrograms: () => programs,
      names: new ProgramNames(async () => names),
      statsEnabled: () => true,
    });
    const registry = new Registry();
    registerBpfCostMetrics(registry, tally);
    const value = async (name: string, tracepoint: string) => sampleValue(await registry.metrics(), name, { probe: 'hops', tracepoint });

    expect(await value('hopscope_bpf_runs_total', 'net:netif_receive_skb')).toBe(100);
    expect(await value('hopscope_bpf_run_seconds_total', 'net:net_dev_queue')).toBeCloseTo(30e-6, 12);
    expect(sampleValue(await registry.metrics(), 'hopscope_bpf_stats_enabled', {})).toBe(1);
    // the BEGIN program (a uprobe) is not on the packet path
    expect(await registry.metrics()).not.toContain('unknown');

    programs = [prog(1, 150, 60_000), prog(2, 95, 31_000)];
    expect(await value('hopscope_bpf_runs_total', 'net:netif_receive_skb')).toBe(150);
    // bpftrace restarted: new programs count from 0, the old ones' last counts stay in the series
    pid = 200;
    programs = [prog(3, 7, 2_000), prog(4, 3, 1_000)];
    expect(await value('hopscope_bpf_runs_total', 'net:netif_receive_skb')).toBe(157);
    expect(await value('hopscope_bpf_runs_total', 'net:net_dev_queue')).toBe(98);
    expect(await value('hopscope_bpf_run_seconds_total', 'net:netif_receive_skb')).toBeCloseTo(62e-6, 12);
    // not running (backoff): the series stay where they were
    pid = undefined;
    expect(await value('hopscope_bpf_runs_total', 'net:netif_receive_skb')).toBe(157);
  });

  it('counts a native probe\'s tp_btf programs (type 26, named in full) as bpftrace\'s', async () => {
    const tally = new BpfCostTally(() => [hops], {
      readPrograms: () => [prog(11, 40, 4_000, 26), prog(12, 30, 3_000, 26)],
      names: new ProgramNames(async () => new Map([[11, 'netif_receive_skb'], [12, 'net_dev_queue']])),
      statsEnabled: () => true,
    });
    const registry = new Registry();
    registerBpfCostMetrics(registry, tally);
    const text = await registry.metrics();
    expect(sampleValue(text, 'hopscope_bpf_runs_total', { probe: 'hops', tracepoint: 'net:netif_receive_skb' })).toBe(40);
    expect(sampleValue(text, 'hopscope_bpf_run_seconds_total', { probe: 'hops', tracepoint: 'net:net_dev_queue' })).toBeCloseTo(3e-6, 12);
  });

  it('a read that misses programs of a bpftrace still running (a failed /proc read) neither drops nor doubles their counts', async () => {
    let programs = [prog(1, 100, 40_000)];
    const tally = new BpfCostTally(() => [hops], { readPrograms: () => programs, names: new ProgramNames(async () => names), statsEnabled: () => true });
    const runs = async () => (await tally.totals()).find((t) => t.tracepoint === 'net:netif_receive_skb')?.runs;
    expect(await runs()).toBe(100);
    programs = [];
    expect(await runs()).toBe(100);
    programs = [prog(1, 120, 50_000)];
    expect(await runs()).toBe(120);
  });

  it('series collected together in one scrape share one read of the programs', async () => {
    let reads = 0;
    let lists = 0;
    const tally = new BpfCostTally(() => [hops], {
      readPrograms: () => (reads++, [prog(1, 100, 40_000)]),
      names: new ProgramNames(async () => (lists++, names)),
      statsEnabled: () => true,
    });
    const registry = new Registry();
    registerBpfCostMetrics(registry, tally);
    await registry.metrics();
    expect(reads).toBe(1);
    expect(lists).toBe(1);
    await registry.metrics();
    expect(reads).toBe(2);
    expect(lists).toBe(1); // named once
  });

  it('a name bpftool could not give is asked for again after a minute, not on every scrape', async () => {
    let now = 0;
    let listing: ReadonlyMap<number, string> = new Map();
    let lists = 0;
    const n = new ProgramNames(async () => (lists++, listing), () => now);
    await n.refresh([1]);
    expect(n.name(1)).toBeUndefined();
    now = 30_000;
    await n.refresh([1]);
    expect(lists).toBe(1);
    listing = names;
    now = 61_000;
    await n.refresh([1]);
    expect([lists, n.name(1)]).toEqual([2, 'netif_receive_s']);
  });

  it('a program whose name cannot be looked up (no bpftool) counts under tracepoint "unknown"', async () => {
    const tally = new BpfCostTally(() => [hops], { readPrograms: () => [prog(8, 5, 500)], names: new ProgramNames(async () => new Map()), statsEnabled: () => false });
    const registry = new Registry();
    registerBpfCostMetrics(registry, tally);
    const text = await registry.metrics();
    expect(sampleValue(text, 'hopscope_bpf_runs_total', { probe: 'hops', tracepoint: 'unknown' })).toBe(5);
    expect(sampleValue(text, 'hopscope_bpf_stats_enabled', {})).toBe(0);
  });

  it('hopscope_bpf_stats_enabled is NaN when the sysctl cannot be read (not a stale or default 0)', async () => {
    let on: boolean | undefined = true;
    const registry = new Registry();
    registerBpfCostMetrics(registry, new BpfCostTally(() => [], { readPrograms: () => [], names: new ProgramNames(async () => new Map()), statsEnabled: () => on }));
    expect(sampleValue(await registry.metrics(), 'hopscope_bpf_stats_enabled', {})).toBe(1);
    on = undefined;
    expect(sampleValue(await registry.metrics(), 'hopscope_bpf_stats_enabled', {})).toBeNaN();
  });
});
