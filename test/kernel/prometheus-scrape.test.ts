/**
 * A real Prometheus (Debian's package) scrapes two real agents in a lab: PromQL over what it scraped shows the
 * increases the traffic caused, and `promtool check metrics` finds nothing wrong with /metrics.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scrape } from './support/metrics-text.js';
import { nsExec, startAgentProcess, startLab, type AgentProcess, type TestLab } from './support/lab-agents.js';
import { promtoolCheckMetrics, startPrometheus, type PromServer } from './support/prometheus.js';

const PREFIX = 'hp';
let lab: TestLab | undefined;
let a1: AgentProcess;
let a2: AgentProcess;
let prom: PromServer | undefined;

beforeAll(async () => {
  lab = await startLab(PREFIX);
  [a1, a2] = await Promise.all([
    startAgentProcess('node-1', `${PREFIX}n1`, lab.inventoryPath),
    startAgentProcess('node-2', `${PREFIX}n2`, lab.inventoryPath),
  ]);
  prom = await startPrometheus({ targets: [a1.url, a2.url].map((u) => new URL(u).host), scrapeIntervalSeconds: 1 });
  await prom.waitForTargetsUp(2, 20_000);
});

afterAll(async () => {
  await prom?.stop();
  await Promise.all([a1?.stop(), a2?.stop()]);
  await lab?.down();
});

const value = (samples: { value: number }[]) => samples[0]?.value;

describe('a real Prometheus scraping two agents', () => {
  it('sees both agents up, with their probes attached', async () => {
    const up = await prom!.query('sum(up{job="hopscope"})');
    expect(value(up)).toBe(2);
    const probes = await prom!.waitForQuery('count(hopscope_probe_up == 1)', (s) => value(s) === 8, 10_000);
    expect(value(probes)).toBe(8);
  });

  it('PromQL shows the traffic: traced packets by path, route misses by destination node, drops by reason', async () => {
    const q = async (promql: string) => value(await prom!.query(promql)) ?? 0;
    const before = {
      sameNode: await q('sum(hopscope_traced_packets_total{node="node-1",path="same-node"})'),
      crossNode2: await q('sum(hopscope_traced_packets_total{node="node-2",path="cross-node"})'),
      misses: await q('sum(hopscope_route_misses_total{node="node-1",destination_node="none"})'),
      drops: await q('sum(hopscope_drops_total{node="node-1",reason="IP_INNOROUTES"})'),
    };
    expect((await nsExec(`${PREFIX}n1p1`, 'ping', ['-c', '3', '-i', '0.2', '10.244.1.12'])).exitCode).toBe(0);
    expect((await nsExec(`${PREFIX}n1p1`, 'ping', ['-c', '2', '-i', '0.2', '10.244.2.11'])).exitCode).toBe(0);
    // 3 requests + 3 replies between two pods of node-1
    await prom!.waitForQuery('sum(hopscope_traced_packets_total{node="node-1",path="same-node"})', (s) => value(s) === before.sameNode + 6, 15_000);
    // node-2 sees 2 requests arrive and 2 replies leave
    await prom!.waitForQuery('sum(hopscope_traced_packets_total{node="node-2",path="cross-node"})', (s) => value(s) === before.crossNode2 + 4, 15_000);

    await nsExec(`${PREFIX}n1p2`, 'ping', ['-c', '4', '-i', '0.2', '-W', '1', '10.99.0.1']);
    await prom!.waitForQuery('sum(hopscope_route_misses_total{node="node-1",destination_node="none"})', (s) => value(s) === before.misses + 4, 15_000);
    await prom!.waitForQuery('sum(hopscope_drops_total{node="node-1",reason="IP_INNOROUTES"})', (s) => value(s) === before.drops + 4, 15_000);
    // and nothing of it on node-2's route-miss series
    expect(await q('sum(hopscope_route_misses_total{node="node-2"})')).toBe(0);
    // per-hop latency quantiles are computable from the histogram
    const p99 = await prom!.query('histogram_quantile(0.99, sum by (le, from_kind, to_kind) (rate(hopscope_hop_latency_seconds_bucket{node="node-1"}[1m])))');
    expect(p99.some((s) => s.metric['from_kind'] === 'pod' && s.metric['to_kind'] === 'veth' && s.value > 0 && s.value <= 1)).toBe(true);
  });

  it('promtool check metrics finds nothing on either agent\'s /metrics', async () => {
    for (const url of [a1.url, a2.url]) {
      const result = await promtoolCheckMetrics(await scrape(url));
      expect(result.problems).toEqual([]);
      expect(result.ok).toBe(true);
    }
  });

  it('no series carries an IP or port label', async () => {
    const names = await prom!.query('count by (__name__) ({job="hopscope", __name__=~"hopscope_.*"})');
    expect(names.length).toBeGreaterThan(15);
    const labelled = await prom!.query('count({job="hopscope", __name__=~"hopscope_.*", ip!=""} or {job="hopscope", __name__=~"hopscope_.*", port!=""})');
    expect(labelled).toEqual([]);
  });
});
