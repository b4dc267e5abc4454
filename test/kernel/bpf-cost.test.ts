/**
 * The agent's own kernel cost as it exports it (hopscope_bpf_*), on the real kernel: with
 * kernel.bpf_stats_enabled on, the runs of the hop probe's programs (native, by default) grow by at least the hops the test's pings
 * crossed; with it off they do not grow at all. The sysctl is global: it is put back as it was.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scrape, sampleValue } from './support/metrics-text.js';
import { nsExec, startAgentProcess, startLab, type AgentProcess, type TestLab } from './support/lab-agents.js';

const PREFIX = 'hbc';
const STATS = '/proc/sys/kernel/bpf_stats_enabled';
let lab: TestLab | undefined;
let agent: AgentProcess | undefined;
let previous: string | undefined;

beforeAll(async () => {
  previous = readFileSync(STATS, 'utf8').trim();
  lab = await startLab(PREFIX, 2, 1);
  agent = await startAgentProcess('node-1', `${PREFIX}n1`, lab.inventoryPath);
});

afterAll(async () => {
  if (previous !== undefined) writeFileSync(STATS, previous);
  await agent?.stop();
  await lab?.down();
});

const INGRESS = { probe: 'hops', tracepoint: 'net:netif_receive_skb' };
const EGRESS = { probe: 'hops', tracepoint: 'net:net_dev_queue' };

async function pings(n: number): Promise<void> {
  const pod2 = lab!.plan.nodes[1]!.pods[0]!;
  const r = await nsExec(`${PREFIX}n1p1`, 'ping', ['-q', '-c', String(n), '-i', '0.05', pod2.ip]);
  expect(r.exitCode, r.stdout + r.stderr).toBe(0);
}

describe('hopscope_bpf_*: what the hop probe costs, as the kernel accounts it', () => {
  it('with kernel.bpf_stats_enabled=1 every hop of every ping is a run of the hops programs, with its run time', async () => {
    writeFileSync(STATS, '1');
    await pings(1); // ARP and neighbour set-up out of the way
    const before = await scrape(agent!.url);
    await pings(20);
    const after = await scrape(agent!.url);
    expect(sampleValue(after, 'hopscope_bpf_stats_enabled', {})).toBe(1);
    const grew = (name: string, labels: Record<string, string>) => (sampleValue(after, name, labels) ?? NaN) - (sampleValue(before, name, labels) ?? NaN);
    // 20 requests and 20 replies, each received at 5 interfaces on this kernel (pod veth, cni0, underlay port,
    // node-2's eth0, the pod's eth0) and queued at 5; other traffic on the kernel only adds
    expect(grew('hopscope_bpf_runs_total', INGRESS)).toBeGreaterThanOrEqual(200);
    expect(grew('hopscope_bpf_runs_total', EGRESS)).toBeGreaterThanOrEqual(200);
    const seconds = grew('hopscope_bpf_run_seconds_total', INGRESS);
    expect(seconds).toBeGreaterThan(0);
    // under 1 ms per run even with every ICMP packet printed: a sanity bound, not a speed target
    expect(seconds / grew('hopscope_bpf_runs_total', INGRESS)).toBeLessThan(1e-3);
  });

  it('with kernel.bpf_stats_enabled=0 the kernel counts nothing, and the gauge says so', async () => {
    writeFileSync(STATS, '0');
    const before = await scrape(agent!.url);
    await pings(10);
    const after = await scrape(agent!.url);
    expect(sampleValue(after, 'hopscope_bpf_stats_enabled', {})).toBe(0);
    expect(sampleValue(after, 'hopscope_bpf_runs_total', INGRESS)).toBe(sampleValue(before, 'hopscope_bpf_runs_total', INGRESS));
    expect(sampleValue(after, 'hopscope_bpf_runs_total', INGRESS)).toBeGreaterThanOrEqual(200);
  });
});
