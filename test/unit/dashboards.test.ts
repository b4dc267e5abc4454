/**
 * Dashboard lint: the generated dashboards (grafana/dashboards/*.ts -> grafana/dashboards/json/*.json) have stable
 * uids and panel ids, read from the `${datasource}` variable, give every panel a unit, a description and a link
 * to the agent's web view, and every PromQL expression parses (promtool, with the variables substituted).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { CLUSTER_NETWORK_UID } from '../../grafana/dashboards/cluster-network.js';
import { dashboardJson, DASHBOARDS } from '../../grafana/dashboards/index.js';
import { allPanels, dashboardQueries, DEFAULT_TEST_VARIABLES, lintDashboard, substituteVariables } from '../../grafana/dashboards/lint.js';
import { NODE_UID } from '../../grafana/dashboards/node.js';
import { webViewUrl } from '../../grafana/dashboards/panels.js';
import { promtoolCheckRules } from '../kernel/support/prometheus.js';

const tmp = mkdtempSync(join(tmpdir(), 'hopscope-dashboards-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const built = DASHBOARDS.map((d) => ({ file: d.file, dashboard: d.build() }));
const byUid = (uid: string) => {
  const d = built.find((b) => b.dashboard.uid === uid)?.dashboard;
  if (!d) throw new Error(`no dashboard ${uid}`);
  return d;
};

describe('dashboards', () => {
  it('are the two of the issue, with stable uids, and the committed JSON is what the generator gives', () => {
    expect(built.map((b) => b.dashboard.uid)).toEqual([CLUSTER_NETWORK_UID, NODE_UID]);
    expect(CLUSTER_NETWORK_UID).toBe('hopscope-cluster-network');
    expect(NODE_UID).toBe('hopscope-node');
    for (const b of built) {
      const committed = readFileSync(`grafana/dashboards/json/${b.file}`, 'utf8');
      expect(committed, `${b.file}: run npm run build`).toBe(dashboardJson(b.dashboard));
      // deterministic: a second build gives the same bytes
      expect(dashboardJson(DASHBOARDS.find((d) => d.file === b.file)!.build())).toBe(committed);
      expect(JSON.parse(committed).schemaVersion).toBeGreaterThanOrEqual(39);
    }
  });

  it.each(built.map((b) => [b.file, b.dashboard] as const))('%s passes the lint (ids, ${datasource}, unit, description, web view link, layout)', (_file, d) => {
    expect(lintDashboard(d)).toEqual([]);
    expect(allPanels(d).filter((p) => p.type !== 'row').length).toBeGreaterThanOrEqual(10);
  });

  it('the lint catches a panel without unit, description or datasource variable, and duplicate ids', () => {
    const d = JSON.parse(dashboardJson(byUid(NODE_UID))) as ReturnType<typeof byUid>;
    const panels = d.panels as unknown as Record<string, unknown>[];
    const p = panels.find((x) => x['type'] === 'timeseries') as { id: number; description?: string; fieldConfig: { defaults: { unit?: string } }; datasource: unknown };
    delete p.fieldConfig.defaults.unit;
    p.description = '';
    p.datasource = { type: 'prometheus', uid: 'prom-1' };
    (panels.find((x) => x['type'] === 'stat') as { id: number }).id = p.id;
    const problems = lintDashboard(d).join('\n');
    expect(problems).toMatch(/no unit/);
    expect(problems).toMatch(/no description/);
    expect(problems).toMatch(/datasource is not/);
    expect(problems).toMatch(/used twice/);
  });

  it('has the variables datasource, node, source_node, destination_node and agent_url', () => {
    for (const b of built) {
      const vars = b.dashboard.templating?.list ?? [];
      expect(vars.map((v) => v.name)).toEqual(['datasource', 'node', 'source_node', 'destination_node', 'agent_url']);
      const agentUrl = vars.find((v) => v.name === 'agent_url');
      expect(agentUrl?.type).toBe('textbox');
      expect(agentUrl?.query).toBe('http://127.0.0.1:9940/');
      expect(vars.find((v) => v.name === 'node')?.query).toMatchObject({ query: 'label_values(hopscope_traced_packets_total, node)' });
    }
    // cluster: any set of nodes; node dashboard: one node
    expect(byUid(CLUSTER_NETWORK_UID).templating?.list?.find((v) => v.name === 'node')).toMatchObject({ multi: true, includeAll: true, allValue: '.*' });
    expect(byUid(NODE_UID).templating?.list?.find((v) => v.name === 'node')).toMatchObject({ multi: false, includeAll: false });
  });

  it('covers what the issue asks for, by metric', () => {
    const exprs = (uid: string) => dashboardQueries(byUid(uid)).map((q) => q.expr).join('\n');
    const cluster = exprs(CLUSTER_NETWORK_UID);
    for (const m of ['hopscope_traced_packets_total', 'hopscope_path_latency_seconds_bucket', 'hopscope_cross_node_latency_seconds_bucket', 'hopscope_drops_total', 'hopscope_route_misses_total', 'hopscope_bridge_fdb_learned_total', 'hopscope_bridge_unknown_unicast_total']) {
      expect(cluster, m).toContain(m);
    }
    expect(cluster).toContain('histogram_quantile(0.5, sum by (le, path)');
    expect(cluster).toContain('histogram_quantile(0.99, sum by (le, path)');
    expect(cluster).toContain('sum by (destination_node) (rate(hopscope_route_misses_total');
    const types = allPanels(byUid(CLUSTER_NETWORK_UID)).map((p) => p.type);
    expect(types).toEqual(expect.arrayContaining(['heatmap', 'table', 'timeseries', 'stat']));
    const node = exprs(NODE_UID);
    for (const m of ['hopscope_hop_latency_seconds_bucket', 'hopscope_bridge_fdb_entries', 'hopscope_neighbor_failures_total', 'hopscope_probe_up', 'hopscope_events_lost_total', 'hopscope_decode_errors_total', 'hopscope_probe_restarts_total']) {
      expect(node, m).toContain(m);
    }
    expect(node).toContain('histogram_quantile(0.99, sum by (le, from_kind, to_kind)');
  });

  it('reads only metrics that docs/metrics.md lists (and up)', () => {
    const doc = readFileSync('docs/metrics.md', 'utf8');
    const names = new Set(built.flatMap((b) => dashboardQueries(b.dashboard)).flatMap((q) => [...q.expr.matchAll(/\b(hopscope_\w+|up)\b(?=\s*[{[)])/g)].map((m) => m[1] as string)));
    expect(names.size).toBeGreaterThan(15);
    for (const n of names) {
      if (n === 'up') continue;
      expect(doc, n).toContain(n.replace(/_(bucket|count|sum)$/, ''));
    }
  });

  it('links panels to the agent web view with the panel\'s filter, in the query string and the fragment', () => {
    expect(webViewUrl({ path: 'cross-node', node: '${__field.labels.destination_node}' })).toBe(
      '${agent_url}?path=cross-node&node=${__field.labels.destination_node}#path=cross-node&node=${__field.labels.destination_node}',
    );
    expect(webViewUrl({})).toBe('${agent_url}');
    const crossNode = allPanels(byUid(CLUSTER_NETWORK_UID)).find((p) => p.title === 'Cross-node latency p99 by node pair');
    expect(crossNode?.links?.[0]?.url).toBe('${agent_url}?path=cross-node#path=cross-node');
    expect(crossNode?.fieldConfig?.defaults?.links?.[0]?.url).toContain('node=${__field.labels.destination_node}');
    const drops = allPanels(byUid(NODE_UID)).find((p) => p.title === 'Drops by reason');
    expect(drops?.links?.[0]?.url).toBe('${agent_url}?outcome=dropped&node=$node#outcome=dropped&node=$node');
  });

  it('substitutes dashboard variables as Grafana does, and refuses unknown ones', () => {
    expect(substituteVariables('rate(x{node=~"$node"}[$__rate_interval])', DEFAULT_TEST_VARIABLES)).toBe('rate(x{node=~".*"}[1m])');
    expect(substituteVariables('x{a="${node}", b="${node:regex}"}', { node: 'n1' })).toBe('x{a="n1", b="n1"}');
    expect(() => substituteVariables('x{a="$nope"}', DEFAULT_TEST_VARIABLES)).toThrow(/\$nope/);
  });

  it('every PromQL expression parses (promtool check rules on them as recording rules)', async () => {
    const queries = built.flatMap((b) => dashboardQueries(b.dashboard).map((q) => ({ ...q, uid: b.dashboard.uid })));
    expect(queries.length).toBeGreaterThan(25);
    const rules = queries.map((q, i) => ({ record: `hopscope_dashboard:q${i}`, expr: substituteVariables(q.expr, { ...DEFAULT_TEST_VARIABLES, node: 'node-1' }) }));
    const file = join(tmp, 'dashboard-queries.yaml');
    writeFileSync(file, stringify({ groups: [{ name: 'dashboard-queries', rules }] }));
    const r = await promtoolCheckRules([file]);
    expect(r.output).toContain(`SUCCESS: ${rules.length} rules found`);
    expect(r.ok).toBe(true);
    // and the same check fails on a query that does not parse
    writeFileSync(file, stringify({ groups: [{ name: 'bad', rules: [{ record: 'x:y', expr: 'histogram_quantile(0.99, sum by (le) (rate(x_bucket[1m]))' }] }] }));
    expect((await promtoolCheckRules([file])).ok).toBe(false);
  });
});
