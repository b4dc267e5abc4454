/**
 * The shipped alert rules and dashboards against a real Prometheus scraping real agents. A 2-node lab whose
 * underlay delays every frame by 10 ms one way (`--delay-ms`), one agent per node, peers of each other, and
 * ICMP and TCP traffic both ways: HopscopeCrossNodeLatencyHigh fires (warning and critical) within the test,
 * with rules rendered from grafana/alerts/rules.ts with test thresholds (2 ms / 5 ms, 30 s window, 10 s `for`).
 * Every query of both dashboards, its variables substituted, is valid and returns data there. The same
 * rules over a lab without the delay, with the same traffic for longer than window + `for`, stay silent.
 */
import { execa, type ResultPromise } from 'execa';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rulesFileYaml, THRESHOLDS, type Thresholds } from '../../grafana/alerts/rules.js';
import { CLUSTER_NETWORK_UID } from '../../grafana/dashboards/cluster-network.js';
import { DASHBOARDS } from '../../grafana/dashboards/index.js';
import { dashboardQueries, DEFAULT_TEST_VARIABLES, substituteVariables } from '../../grafana/dashboards/lint.js';
import { freePort, nsExec, startAgentProcess, startLab, TCP_ECHO, waitFor, waitForPeerLinks, type AgentProcess, type TestLab } from './support/lab-agents.js';
import { promtoolCheckRules, startPrometheus, type PromAlert, type PromServer } from './support/prometheus.js';

const DELAY_MS = 10;

/** The shipped rules with thresholds a lab reaches in seconds: same source, same expressions. */
const TEST_THRESHOLDS: Thresholds = {
  ...THRESHOLDS,
  crossNodeLatency: { ...THRESHOLDS.crossNodeLatency, window: '30s', minSamples: 5, warningSeconds: 0.002, criticalSeconds: 0.005, for: '10s' },
};
const LATENCY_ALERT = 'HopscopeCrossNodeLatencyHigh';

const tmp = mkdtempSync(join(tmpdir(), 'hopscope-alerts-'));
const RULES = join(tmp, 'hopscope-rules.test-thresholds.yaml');
writeFileSync(RULES, rulesFileYaml(TEST_THRESHOLDS));

interface Cluster {
  lab: TestLab;
  agents: AgentProcess[];
  prom: PromServer;
  traffic: ResultPromise[];
}

/** Lab (with or without delay), two agents that are each other's peers, a Prometheus with the test rules. */
async function startCluster(prefix: string, delayMs: number, services = false): Promise<Cluster> {
  const lab = await startLab(prefix, 2, 2, delayMs, { services });
  const c: Cluster = { lab, agents: [], prom: undefined as unknown as PromServer, traffic: [] };
  try {
    const [p1, p2] = [await freePort(), await freePort()];
    c.agents = await Promise.all([
      startAgentProcess('node-1', `${prefix}n1`, lab.inventoryPath, ['--listen', `127.0.0.1:${p1}`, '--peer', `node-2=http://127.0.0.1:${p2}`]),
      startAgentProcess('node-2', `${prefix}n2`, lab.inventoryPath, ['--listen', `127.0.0.1:${p2}`, '--peer', `node-1=http://127.0.0.1:${p1}`]),
    ]);
    await waitForPeerLinks(c.agents, 'both peer links');
    c.prom = await startPrometheus({ targets: c.agents.map((a) => new URL(a.url).host), ruleFiles: [RULES], scrapeIntervalSeconds: 1, evaluationIntervalSeconds: 1, jobName: 'hopscope' });
    await c.prom.waitForTargetsUp(2, 20_000);
    return c;
  } catch (e) {
    await stopCluster(c);
    throw e;
  }
}

async function stopCluster(c: Partial<Cluster>): Promise<void> {
  for (const t of c.traffic ?? []) t.kill('SIGTERM'); // ping, and `timeout`, which passes it on to node
  await Promise.all((c.traffic ?? []).map((t) => t.catch(() => undefined)));
  await c.prom?.stop();
  await Promise.all((c.agents ?? []).map((a) => a.stop()));
  await c.lab?.down();
}

/**
 * ICMP echo both ways every 200 ms, and a TCP connection with payload both ways every 200 ms, all inside the lab's
 * pod namespaces and bounded in time (ping -w, timeout), so nothing outlives a killed test run for long.
 */
function startTraffic(c: Cluster, prefix: string, seconds: number, services = false): void {
  const inNs = (ns: string, cmd: string, args: string[]) => execa('ip', ['netns', 'exec', ns, cmd, ...args], { reject: false, buffer: false, stdin: 'ignore', stdout: 'ignore', stderr: 'ignore' });
  c.traffic.push(
    inNs(`${prefix}n2p2`, 'timeout', [String(seconds + 30), process.execPath, TCP_ECHO, 'server', '8080']),
    inNs(`${prefix}n1p2`, 'timeout', [String(seconds + 30), process.execPath, TCP_ECHO, 'server', '8080']),
    inNs(`${prefix}n1p1`, 'ping', ['-q', '-i', '0.2', '-w', String(seconds), '10.244.2.11']),
    inNs(`${prefix}n2p1`, 'ping', ['-q', '-i', '0.2', '-w', String(seconds), '10.244.1.11']),
    inNs(`${prefix}n1p2`, 'timeout', [String(seconds), process.execPath, TCP_ECHO, 'client', '10.244.2.12', '8080', '200']),
    inNs(`${prefix}n2p2`, 'timeout', [String(seconds), process.execPath, TCP_ECHO, 'client', '10.244.1.12', '8080', '200']),
  );
  // through the Service echo-2-2 (10.96.2.12:80 -> pod-2-2:8080), for the Service panels
  if (services) c.traffic.push(inNs(`${prefix}n1p1`, 'timeout', [String(seconds), process.execPath, TCP_ECHO, 'client', '10.96.2.12', '80', '200']));
}

const latencyAlerts = (alerts: PromAlert[]) => alerts.filter((a) => a.labels['alertname'] === LATENCY_ALERT);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// the kernel's BPF run-time accounting on, so that the cost panel (hopscope_bpf_*) has numbers to show; it is
// global, and put back as it was
const BPF_STATS = '/proc/sys/kernel/bpf_stats_enabled';
let bpfStatsBefore: string | undefined;
beforeAll(() => {
  bpfStatsBefore = readFileSync(BPF_STATS, 'utf8').trim();
  writeFileSync(BPF_STATS, '1');
});
afterAll(() => {
  if (bpfStatsBefore !== undefined) writeFileSync(BPF_STATS, bpfStatsBefore);
  rmSync(tmp, { recursive: true, force: true });
});

describe('with 10 ms between the nodes', () => {
  const PREFIX = 'ha';
  let c: Cluster | undefined;
  let trafficAt = 0;

  beforeAll(async () => {
    expect((await promtoolCheckRules([RULES])).ok).toBe(true);
    c = await startCluster(PREFIX, DELAY_MS, true);
    trafficAt = Date.now();
    startTraffic(c, PREFIX, 240, true);
  }, 120_000);

  afterAll(async () => {
    if (c) await stopCluster(c);
  }, 60_000);

  it('HopscopeCrossNodeLatencyHigh fires, warning and critical, for both directions, measured one-way', async () => {
    const prom = c!.prom;
    let pendingAt: number | undefined;
    const firing = await waitFor(async () => {
      const alerts = latencyAlerts(await prom.alerts());
      if (pendingAt === undefined && alerts.length > 0) pendingAt = Date.now();
      const f = alerts.filter((a) => a.state === 'firing');
      const critical = f.filter((a) => a.labels['severity'] === 'critical');
      const pairs = new Set(critical.map((a) => `${a.labels['source_node']}->${a.labels['destination_node']}`));
      return pairs.size === 2 ? f : undefined;
    }, 120_000, `${LATENCY_ALERT} critical firing for node-1->node-2 and node-2->node-1`);
    const firedAfter = (Date.now() - trafficAt) / 1000;
    console.log(`${LATENCY_ALERT}: pending ${((pendingAt! - trafficAt) / 1000).toFixed(1)} s, firing ${firedAfter.toFixed(1)} s after the traffic started (window ${TEST_THRESHOLDS.crossNodeLatency.window}, for ${TEST_THRESHOLDS.crossNodeLatency.for})`);

    for (const severity of ['warning', 'critical']) {
      const pairs = firing.filter((a) => a.labels['severity'] === severity && a.labels['method'] === 'one-way').map((a) => `${a.labels['source_node']}->${a.labels['destination_node']}`);
      expect(pairs.sort(), severity).toEqual(['node-1->node-2', 'node-2->node-1']);
    }
    const crit = firing.find((a) => a.labels['severity'] === 'critical' && a.labels['source_node'] === 'node-1' && a.labels['method'] === 'one-way')!;
    expect(crit.annotations['summary']).toBe('Packets between two nodes take longer than 5ms (p99).');
    const described = /^p99 latency from node node-1 to node node-2 \(uplink to uplink, method one-way\) is ([\d.]+)ms over the last 30s, above 5ms\.$/.exec(crit.annotations['description'] ?? '');
    expect(described, crit.annotations['description']).not.toBeNull();
    expect(Number(described![1])).toBeGreaterThanOrEqual(9.5);
    expect(crit.annotations['runbook_url']).toMatch(/docs\/runbook\.md#hopscopecrossnodelatencyhigh$/);
    // the ALERTS series says the same
    const series = await prom.query(`ALERTS{alertname="${LATENCY_ALERT}", alertstate="firing", severity="critical"}`);
    expect(series.length).toBeGreaterThanOrEqual(2);
    // and the latency behind it is the lab's 10 ms plus the forwarder's own time: the median near 10 ms, the p99
    // above it (measured: p99 13 to 22 ms, depending on the machine's load)
    const q = (quantile: number) => prom.query(`histogram_quantile(${quantile}, sum by (le, source_node, destination_node) (rate(hopscope_cross_node_latency_seconds_bucket{method="one-way"}[30s])))`);
    const [p50, p99] = [await q(0.5), await q(0.99)];
    expect(p50).toHaveLength(2);
    expect(p99).toHaveLength(2);
    for (const s of p50) {
      expect(s.value, JSON.stringify(s.metric)).toBeGreaterThanOrEqual(0.0095);
      expect(s.value, JSON.stringify(s.metric)).toBeLessThanOrEqual(0.015);
    }
    for (const s of p99) expect(s.value, JSON.stringify(s.metric)).toBeGreaterThanOrEqual(0.0095);
    const ms = (ss: typeof p50) => ss.map((s) => `${s.metric['source_node']}->${s.metric['destination_node']} ${(s.value * 1e3).toFixed(2)} ms`).join(', ');
    console.log(`with ${DELAY_MS} ms: p50 ${ms(p50)}; p99 ${ms(p99)}`);
    // the agents themselves are fine: no HopscopeAgentDown
    expect((await prom.alerts()).filter((a) => a.labels['alertname'] === 'HopscopeAgentDown')).toEqual([]);
  }, 150_000);

  it('every dashboard query, variables substituted, is valid and returns data from the lab', async () => {
    const prom = c!.prom;
    // a few packets to an address no route knows, so that the drop and route-miss panels have something to show
    await nsExec(`${PREFIX}n1p2`, 'ping', ['-c', '3', '-i', '0.2', '-W', '1', '10.99.0.1']);
    await prom.waitForQuery('sum(hopscope_route_misses_total{node="node-1"})', (s) => (s[0]?.value ?? 0) >= 3, 15_000);
    await sleep(2_000);
    const summary: string[] = [];
    const empty: string[] = [];
    let withNumbers = 0;
    for (const d of DASHBOARDS) {
      const dashboard = d.build();
      const vars = { ...DEFAULT_TEST_VARIABLES, __range: '5m', node: dashboard.uid === CLUSTER_NETWORK_UID ? '.*' : 'node-1' };
      for (const q of dashboardQueries(dashboard)) {
        const expr = substituteVariables(q.expr, vars);
        const samples = await prom.query(expr); // throws with Prometheus' error on an invalid query
        const finite = samples.filter((s) => Number.isFinite(s.value));
        if (finite.length > 0) withNumbers++;
        const max = finite.length ? Math.max(...finite.map((s) => s.value)) : NaN;
        summary.push(`${dashboard.uid} #${q.panelId} ${q.refId} "${q.panelTitle}": ${samples.length} series, max ${Number.isNaN(max) ? '-' : max.toPrecision(3)}`);
        if (samples.length === 0) empty.push(`${dashboard.uid} #${q.panelId} ${q.refId} "${q.panelTitle}": ${expr}`);
      }
    }
    console.log(summary.join('\n'));
    expect(empty).toEqual([]);
    expect(withNumbers).toBe(summary.length);
    // a few panels checked for what the lab must show
    const one = async (expr: string) => prom.query(substituteVariables(expr, { ...DEFAULT_TEST_VARIABLES, node: 'node-1' }));
    const paths = (await one('sum by (path) (rate(hopscope_traced_packets_total{node=~"$node"}[$__rate_interval]))')).filter((s) => s.value > 0).map((s) => s.metric['path']);
    expect(paths).toContain('cross-node');
    const misses = await one('sum by (destination_node) (rate(hopscope_route_misses_total{node=~"$node"}[$__rate_interval])) > 0');
    expect(misses.map((s) => s.metric['destination_node'])).toEqual(['none']);
    const drops = await one('sum by (reason) (rate(hopscope_drops_total{node=~"$node"}[$__rate_interval])) > 0');
    expect(drops.map((s) => s.metric['reason'])).toContain('IP_INNOROUTES');
    const probes = await one('max by (probe) (hopscope_probe_up * on (job, instance) group_left (node) group by (job, instance, node) (hopscope_traced_packets_total{node="$node"}))');
    expect(probes.map((s) => `${s.metric['probe']}=${s.value}`).sort()).toEqual(['bridge=1', 'drops=1', 'hops=1', 'neigh=1']);
  }, 60_000);
});

describe('without delay between the nodes', () => {
  const PREFIX = 'hb';
  let c: Cluster | undefined;

  beforeAll(async () => {
    c = await startCluster(PREFIX, 0);
    startTraffic(c, PREFIX, 120);
  }, 120_000);

  afterAll(async () => {
    if (c) await stopCluster(c);
  }, 60_000);

  it('HopscopeCrossNodeLatencyHigh stays silent (not even pending) while the rule has enough samples to judge', async () => {
    const prom = c!.prom;
    const x = TEST_THRESHOLDS.crossNodeLatency;
    // longer than window + for + scrape and evaluation delays: the delayed lab fired well within this
    const watchMs = (parseInt(x.window, 10) + parseInt(x.for, 10) + 20) * 1000;
    const seen: PromAlert[] = [];
    const deadline = Date.now() + watchMs;
    while (Date.now() < deadline) {
      seen.push(...latencyAlerts(await prom.alerts()));
      await sleep(1_000);
    }
    expect(seen).toEqual([]);
    // it had what it needs to judge both pairs: enough one-way samples in the window, and the latency is low
    const counts = await prom.query(`sum by (source_node, destination_node) (increase(hopscope_cross_node_latency_seconds_count{method="one-way"}[${x.window}]))`);
    expect(counts.map((s) => `${s.metric['source_node']}->${s.metric['destination_node']}`).sort()).toEqual(['node-1->node-2', 'node-2->node-1']);
    for (const s of counts) expect(s.value).toBeGreaterThanOrEqual(x.minSamples);
    const p99 = await prom.query(`histogram_quantile(0.99, sum by (le, source_node, destination_node) (rate(hopscope_cross_node_latency_seconds_bucket{method=~"one-way|rtt"}[${x.window}])))`);
    expect(p99).toHaveLength(2);
    for (const s of p99) expect(s.value, JSON.stringify(s.metric)).toBeLessThan(x.warningSeconds);
    console.log(`no delay: p99 ${p99.map((s) => `${s.metric['source_node']}->${s.metric['destination_node']} ${(s.value * 1e6).toFixed(0)} us`).join(', ')}; no ${LATENCY_ALERT} in ${watchMs / 1000} s`);
  }, 150_000);
});
