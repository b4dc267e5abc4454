/**
 * The alert rules (grafana/alerts/rules.ts -> grafana/alerts/hopscope-rules.yaml and the PrometheusRule in
 * agent/deploy/): the committed files are what the source gives, promtool accepts them, and promtool's rule unit
 * tests (grafana/alerts/tests/) show every alert firing when it should and silent when it should not. Needs
 * /usr/bin/promtool (Debian's prometheus package, installed by scripts/ensure-deps.sh).
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ALERT_NAMES, prometheusRuleYaml, ruleGroups, rulesFileYaml, spelled, THRESHOLDS, formatSeconds, type Thresholds } from '../../grafana/alerts/rules.js';
import { staleFiles } from '../../grafana/build.js';
import { promtoolCheckRules, promtoolTestRules } from '../kernel/support/prometheus.js';

const RULES_FILE = 'grafana/alerts/hopscope-rules.yaml';
const TEST_FILE = 'grafana/alerts/tests/hopscope-rules.test.yaml';
const PROMETHEUS_RULE = 'agent/deploy/prometheusrule.yaml';

const tmp = mkdtempSync(join(tmpdir(), 'hopscope-alert-rules-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface RuleJson {
  alert: string;
  expr: string;
  for: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}
const rulesOf = (groups: { rules: RuleJson[] }[]) => groups.flatMap((g) => g.rules);

/** A rules file rendered with other thresholds, beside a copy of the promtool test file (which names ../hopscope-rules.yaml). */
function renderWith(t: Thresholds, name: string): { dir: string; testFile: string } {
  const dir = join(tmp, name);
  cpSync('grafana/alerts', dir, { recursive: true });
  writeFileSync(join(dir, 'hopscope-rules.yaml'), rulesFileYaml(t));
  return { dir, testFile: join(dir, 'tests', 'hopscope-rules.test.yaml') };
}

describe('grafana/alerts/rules.ts', () => {
  it('the committed rules file, PrometheusRule and dashboards are exactly what the sources give (run `npm run build`)', () => {
    expect(staleFiles()).toEqual([]);
    expect(readFileSync(RULES_FILE, 'utf8')).toBe(rulesFileYaml());
    expect(readFileSync(PROMETHEUS_RULE, 'utf8')).toBe(prometheusRuleYaml());
    // rendering twice gives the same bytes
    expect(rulesFileYaml()).toBe(rulesFileYaml());
  });

  it('the PrometheusRule carries the same groups as the plain rules file, with the deployment\'s name, namespace and labels', () => {
    const plain = parse(readFileSync(RULES_FILE, 'utf8')) as { groups: unknown };
    const pr = parse(readFileSync(PROMETHEUS_RULE, 'utf8')) as { apiVersion: string; kind: string; metadata: { name: string; namespace: string; labels: Record<string, string> }; spec: { groups: unknown } };
    expect(pr.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(pr.kind).toBe('PrometheusRule');
    expect(pr.metadata.namespace).toBe('hopscope');
    expect(pr.metadata.name).toBe('hopscope-agent');
    expect(pr.metadata.labels).toMatchObject({ 'app.kubernetes.io/name': 'hopscope', 'app.kubernetes.io/part-of': 'hopscope' });
    expect(pr.spec.groups).toEqual(plain.groups);
  });

  it('has every required alert, each with for, severity, summary, a templated description and a runbook anchor that exists', () => {
    const rules = rulesOf(parse(readFileSync(RULES_FILE, 'utf8')).groups);
    expect([...new Set(rules.map((r) => r.alert))].sort()).toEqual([...ALERT_NAMES].sort());
    const latency = rules.filter((r) => r.alert === 'HopscopeCrossNodeLatencyHigh');
    expect(latency.map((r) => r.labels['severity']).sort()).toEqual(['critical', 'warning']);
    const anchors = [...readFileSync('docs/runbook.md', 'utf8').matchAll(/^#+\s+(.+)$/gm)].map((m) => (m[1] as string).trim().toLowerCase().replace(/[^a-z0-9 -]/g, '').replace(/ /g, '-'));
    for (const r of rules) {
      expect(r.for, r.alert).toMatch(/^\d+[smh]$/);
      expect(['warning', 'critical'], r.alert).toContain(r.labels['severity']);
      expect(r.annotations['summary'], r.alert).toBeTruthy();
      expect(r.annotations['description'], r.alert).toMatch(/\{\{ *\$labels\.\w+ *\}\}/);
      expect(r.annotations['runbook_url'], r.alert).toMatch(/docs\/runbook\.md#[a-z0-9-]+$/);
      expect(anchors, `${r.alert}: docs/runbook.md heading`).toContain(r.annotations['runbook_url']?.split('#')[1]);
    }
  });

  it('reads the thresholds from THRESHOLDS: the latency quantile, methods, route misses to a Pod CIDR, the agent job', () => {
    const rules = rulesOf(ruleGroups() as unknown as { rules: RuleJson[] }[]);
    const crit = rules.find((r) => r.alert === 'HopscopeCrossNodeLatencyHigh' && r.labels['severity'] === 'critical');
    expect(crit?.expr).toContain(`histogram_quantile(${THRESHOLDS.crossNodeLatency.quantile},`);
    expect(crit?.expr).toContain('hopscope_cross_node_latency_seconds_bucket{method=~"one-way|rtt"}');
    expect(crit?.expr).toContain(`> ${THRESHOLDS.crossNodeLatency.criticalSeconds}\n`);
    expect(rules.find((r) => r.alert === 'HopscopeRouteMisses')?.expr).toContain('destination_node!="none"');
    expect(rules.find((r) => r.alert === 'HopscopeAgentDown')?.expr).toBe('up{job=~".*hopscope.*"} == 0\nor\nabsent(up{job=~".*hopscope.*"})');
    // one number changed in one place changes the rule, its text and nothing else
    const lower: Thresholds = { ...THRESHOLDS, crossNodeLatency: { ...THRESHOLDS.crossNodeLatency, criticalSeconds: 0.2 } };
    const changed = rulesOf(ruleGroups(lower) as unknown as { rules: RuleJson[] }[]).find((r) => r.alert === 'HopscopeCrossNodeLatencyHigh' && r.labels['severity'] === 'critical');
    expect(changed?.expr).toContain('> 0.2\n');
    expect(changed?.annotations['summary']).toContain('200ms');
    expect(() => ruleGroups({ ...THRESHOLDS, crossNodeLatency: { ...THRESHOLDS.crossNodeLatency, warningSeconds: 0.3, criticalSeconds: 0.2 } })).toThrow(/warning .* below critical/);
    // excluded drop reasons become a negative regex matcher
    const drops = rulesOf(ruleGroups({ ...THRESHOLDS, drops: { ...THRESHOLDS.drops, excludeReasons: ['NO_SOCKET', 'TCP_OLD_DATA'] } }) as unknown as { rules: RuleJson[] }[]).find((r) => r.alert === 'HopscopeDropsHigh');
    expect(drops?.expr).toContain('hopscope_drops_total{reason!~"NO_SOCKET|TCP_OLD_DATA"}');
  });

  it('formats thresholds and durations as people read them', () => {
    expect(formatSeconds(0.05)).toBe('50ms');
    expect(formatSeconds(0.0025)).toBe('2.5ms');
    expect(formatSeconds(1.5)).toBe('1.5s');
    expect(formatSeconds(0.0005)).toBe('500us');
    expect(spelled('5m')).toBe('5 minutes');
    expect(spelled('1h')).toBe('1 hour');
    expect(spelled('30s')).toBe('30 seconds');
  });
});

describe('promtool', () => {
  it('check rules: the rules file and the PrometheusRule\'s spec are valid', async () => {
    const r = await promtoolCheckRules([RULES_FILE]);
    expect(r.output).toContain('SUCCESS: 7 rules found');
    expect(r.ok).toBe(true);
    const spec = join(tmp, 'prometheusrule-spec.yaml');
    writeFileSync(spec, JSON.stringify((parse(readFileSync(PROMETHEUS_RULE, 'utf8')) as { spec: unknown }).spec));
    const s = await promtoolCheckRules([spec]);
    expect(s.output).toContain('SUCCESS: 7 rules found');
  });

  it('check rules rejects a broken rule (so the check can fail)', async () => {
    const broken = join(tmp, 'broken.yaml');
    writeFileSync(broken, 'groups:\n  - name: x\n    rules:\n      - alert: X\n        expr: sum by (le (rate(x[5m]))\n');
    const r = await promtoolCheckRules([broken]);
    expect(r.ok).toBe(false);
    expect(r.output).toMatch(/parse error|unexpected/i);
  });

  it('the rule unit tests cover every alert, both firing and silent', () => {
    const tests = parse(readFileSync(TEST_FILE, 'utf8')) as { rule_files: string[]; tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[] };
    expect(tests.rule_files).toEqual(['../hopscope-rules.yaml']);
    const cases = tests.tests.flatMap((t) => t.alert_rule_test);
    for (const name of ALERT_NAMES) {
      const mine = cases.filter((c) => c.alertname === name);
      expect(mine.some((c) => c.exp_alerts.length > 0), `${name} has a firing case`).toBe(true);
      expect(mine.some((c) => c.exp_alerts.length === 0), `${name} has a silent case`).toBe(true);
    }
    const severities = cases.filter((c) => c.alertname === 'HopscopeCrossNodeLatencyHigh').flatMap((c) => c.exp_alerts as { exp_labels: { severity: string } }[]).map((a) => a.exp_labels.severity);
    expect(new Set(severities)).toEqual(new Set(['warning', 'critical']));
  });

  it('test rules: every alert fires when it should and stays silent when it should not', async () => {
    const r = await promtoolTestRules([TEST_FILE]);
    expect(r.output).toContain('SUCCESS');
    expect(r.ok).toBe(true);
  });

  it('test rules fails when a threshold no longer matches its cases (the cases discriminate)', async () => {
    // critical at 200 ms: node-1 -> node-2 at 99.2 ms no longer fires critical
    const higher = renderWith({ ...THRESHOLDS, crossNodeLatency: { ...THRESHOLDS.crossNodeLatency, criticalSeconds: 0.2 } }, 'higher');
    const r = await promtoolTestRules([higher.testFile], higher.dir);
    expect(r.ok).toBe(false);
    expect(r.output).toContain('HopscopeCrossNodeLatencyHigh');
    // route misses counted to any destination, `none` included: the silent case fires
    const anyDest = renderWith(THRESHOLDS, 'anydest');
    const file = join(anyDest.dir, 'hopscope-rules.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace('{destination_node!="none"}', ''));
    const r2 = await promtoolTestRules([anyDest.testFile], anyDest.dir);
    expect(r2.ok).toBe(false);
    expect(r2.output).toContain('HopscopeRouteMisses');
  });
});
