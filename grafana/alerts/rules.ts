/**
 * @module The hopscope alert rules, as data: every threshold lives in THRESHOLDS (change a number there, run
 * `npm run build`), and the same source renders the plain Prometheus rules file
 * (grafana/alerts/hopscope-rules.yaml) and the PrometheusRule manifest (agent/deploy/prometheusrule.yaml).
 * Tests render the rules with lower thresholds (`ruleGroups({...THRESHOLDS, ...})`) to make them fire in a lab.
 *
 * The rules read only the metric names of docs/metrics.md (and `up`); each has `for`, `labels.severity`,
 * `annotations.summary`, a templated `description` and a `runbook_url` to docs/runbook.md.
 */
import { stringify } from 'yaml';

/** A Prometheus duration: 30s, 5m, 1h. */
export type PromDuration = `${number}${'s' | 'm' | 'h' | 'd'}`;

export interface Thresholds {
  /** Runbook base: each alert links to `${runbookUrl}#<alert name in lower case>`. */
  readonly runbookUrl: string;
  readonly crossNodeLatency: {
    /** Which quantile of hopscope_cross_node_latency_seconds, per source_node, destination_node and method. */
    readonly quantile: number;
    /** Methods that count: `one-way` (clock-corrected, from peer agents) and `rtt` (half a round trip). */
    readonly methods: readonly string[];
    readonly window: PromDuration;
    /** Fewer measured packets than this in the window: too few to judge, no alert. */
    readonly minSamples: number;
    readonly warningSeconds: number;
    readonly criticalSeconds: number;
    readonly for: PromDuration;
  };
  /** Route misses to an address inside some node's Pod CIDR (destination_node != "none"). */
  readonly routeMisses: { readonly window: PromDuration; readonly packets: number; readonly for: PromDuration };
  /** Kernel drops of one reason on one node. */
  readonly drops: { readonly window: PromDuration; readonly perSecond: number; readonly excludeReasons: readonly string[]; readonly for: PromDuration };
  /** Scrape target of a job whose name contains "hopscope" down, or no such target at all. */
  readonly agentDown: { readonly jobRegex: string; readonly for: PromDuration };
  readonly probeDown: { readonly for: PromDuration };
  /** Events the kernel overwrote before bpftrace read them. */
  readonly eventsLost: { readonly window: PromDuration; readonly events: number; readonly for: PromDuration };
}

/** The shipped thresholds. */
export const THRESHOLDS: Thresholds = {
  runbookUrl: 'https://github.com/hopscope/hopscope/blob/main/docs/runbook.md',
  crossNodeLatency: {
    quantile: 0.99,
    methods: ['one-way', 'rtt'],
    window: '5m',
    minSamples: 20,
    warningSeconds: 0.01,
    criticalSeconds: 0.05,
    for: '5m',
  },
  routeMisses: { window: '5m', packets: 0, for: '10m' },
  drops: { window: '5m', perSecond: 10, excludeReasons: [], for: '10m' },
  agentDown: { jobRegex: '.*hopscope.*', for: '5m' },
  probeDown: { for: '10m' },
  eventsLost: { window: '5m', events: 0, for: '10m' },
};

export interface AlertRule {
  readonly alert: string;
  readonly expr: string;
  readonly for: PromDuration;
  readonly labels: { readonly severity: 'warning' | 'critical' } & Record<string, string>;
  readonly annotations: { readonly summary: string; readonly description: string; readonly runbook_url: string };
}

export interface RuleGroup {
  readonly name: string;
  readonly rules: readonly AlertRule[];
}

export const ALERT_NAMES = [
  'HopscopeCrossNodeLatencyHigh',
  'HopscopeRouteMisses',
  'HopscopeDropsHigh',
  'HopscopeAgentDown',
  'HopscopeProbeDown',
  'HopscopeEventsLost',
] as const;
export type AlertName = (typeof ALERT_NAMES)[number];

/** GitHub's anchor for a heading that is the alert's name. */
export const runbookAnchor = (alert: AlertName) => alert.toLowerCase();

/** `0.05` -> `50ms`, `0.0025` -> `2.5ms`, `1.5` -> `1.5s`: thresholds as people read them. */
export function formatSeconds(s: number): string {
  if (s >= 1) return `${trim(s)}s`;
  if (s >= 1e-3) return `${trim(s * 1e3)}ms`;
  return `${trim(s * 1e6)}us`;
}

const trim = (n: number) => String(Number(n.toPrecision(6)));

const UNIT_WORDS = { s: 'second', m: 'minute', h: 'hour', d: 'day' } as const;

/** `5m` -> `5 minutes`, `1h` -> `1 hour`. */
export function spelled(d: PromDuration): string {
  const m = /^(\d+(?:\.\d+)?)([smhd])$/.exec(d);
  if (!m) return d;
  const n = Number(m[1]);
  return `${m[1]} ${UNIT_WORDS[m[2] as keyof typeof UNIT_WORDS]}${n === 1 ? '' : 's'}`;
}

/** A PromQL regex matching exactly these label values. */
function anyOf(values: readonly string[]): string {
  return values.map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, '\\\\$&')).join('|');
}

/** The agent as an alert names it: namespace/pod (when the scrape adds them, as the ServiceMonitor does) and instance. */
const AGENT = '{{ if $labels.pod }}{{ $labels.namespace }}/{{ $labels.pod }} {{ end }}({{ $labels.instance }})';

export function ruleGroups(t: Thresholds = THRESHOLDS): RuleGroup[] {
  const runbook = (a: AlertName) => `${t.runbookUrl}#${runbookAnchor(a)}`;
  const x = t.crossNodeLatency;
  if (!(x.warningSeconds < x.criticalSeconds)) throw new Error(`crossNodeLatency: warning (${x.warningSeconds}) must be below critical (${x.criticalSeconds})`);
  const pair = 'source_node, destination_node, method';
  const sel = `{method=~"${anyOf(x.methods)}"}`;
  const quantile = `histogram_quantile(${x.quantile}, sum by (le, ${pair}) (rate(hopscope_cross_node_latency_seconds_bucket${sel}[${x.window}])))`;
  const enough = `sum by (${pair}) (increase(hopscope_cross_node_latency_seconds_count${sel}[${x.window}])) >= ${x.minSamples}`;
  const q = `p${trim(x.quantile * 100)}`;
  const latency = (severity: 'warning' | 'critical', limit: number): AlertRule => ({
    alert: 'HopscopeCrossNodeLatencyHigh',
    expr: `${quantile} > ${limit}\nand on (${pair})\n${enough}`,
    for: x.for,
    labels: { severity },
    annotations: {
      summary: `Packets between two nodes take longer than ${formatSeconds(limit)} (${q}).`,
      description:
        `${q} latency from node {{ $labels.source_node }} to node {{ $labels.destination_node }} (uplink to uplink, method {{ $labels.method }}) ` +
        `is {{ $value | humanizeDuration }} over the last ${x.window}, above ${formatSeconds(limit)}.`,
      runbook_url: runbook('HopscopeCrossNodeLatencyHigh'),
    },
  });

  const rm = t.routeMisses;
  const routeMisses: AlertRule = {
    alert: 'HopscopeRouteMisses',
    expr: `sum by (node, destination_node, reason) (increase(hopscope_route_misses_total{destination_node!="none"}[${rm.window}])) > ${rm.packets}`,
    for: rm.for,
    labels: { severity: 'critical' },
    annotations: {
      summary: "A node finds no route to another node's Pod CIDR.",
      description:
        `Node {{ $labels.node }} dropped {{ $value | humanize }} packets in the last ${rm.window} for lack of a usable route (reason {{ $labels.reason }}) ` +
        `to addresses in the Pod CIDR of node {{ $labels.destination_node }}.`,
      runbook_url: runbook('HopscopeRouteMisses'),
    },
  };

  const d = t.drops;
  const dropSel = d.excludeReasons.length > 0 ? `{reason!~"${anyOf(d.excludeReasons)}"}` : '';
  const drops: AlertRule = {
    alert: 'HopscopeDropsHigh',
    expr: `sum by (node, reason) (rate(hopscope_drops_total${dropSel}[${d.window}])) > ${d.perSecond}`,
    for: d.for,
    labels: { severity: 'warning' },
    annotations: {
      summary: `The kernel drops more than ${trim(d.perSecond)} packets/s for one reason on a node.`,
      description: `Node {{ $labels.node }} drops {{ $value | humanize }} packets/s with reason {{ $labels.reason }} (over the last ${d.window}).`,
      runbook_url: runbook('HopscopeDropsHigh'),
    },
  };

  const a = t.agentDown;
  const agentDown: AlertRule = {
    alert: 'HopscopeAgentDown',
    expr: `up{job=~"${a.jobRegex}"} == 0\nor\nabsent(up{job=~"${a.jobRegex}"})`,
    for: a.for,
    labels: { severity: 'warning' },
    annotations: {
      summary: '{{ if $labels.instance }}A hopscope agent cannot be scraped.{{ else }}Prometheus scrapes no hopscope agent.{{ end }}',
      description:
        `{{ if $labels.instance }}The hopscope agent ${AGENT} has not answered Prometheus for ${spelled(a.for)}: ` +
        'its node has no hop traces, no metrics and no live stream.' +
        `{{ else }}Prometheus has had no scrape target in a job matching "${a.jobRegex}" for ${spelled(a.for)}: no node is traced.{{ end }}`,
      runbook_url: runbook('HopscopeAgentDown'),
    },
  };

  const probeDown: AlertRule = {
    alert: 'HopscopeProbeDown',
    expr: 'hopscope_probe_up == 0',
    for: t.probeDown.for,
    labels: { severity: 'warning' },
    annotations: {
      summary: 'A hopscope probe group is not attached.',
      description:
        `The {{ $labels.probe }} probe group of the hopscope agent ${AGENT} has not been attached for ${spelled(t.probeDown.for)}: ` +
        "what it traces is missing from that node's traces and counters. /readyz on the agent says why.",
      runbook_url: runbook('HopscopeProbeDown'),
    },
  };

  const e = t.eventsLost;
  const eventsLost: AlertRule = {
    alert: 'HopscopeEventsLost',
    expr: `increase(hopscope_events_lost_total[${e.window}]) > ${e.events}`,
    for: e.for,
    labels: { severity: 'warning' },
    annotations: {
      summary: 'A hopscope probe keeps losing kernel events.',
      description:
        `The {{ $labels.probe }} probe of the hopscope agent ${AGENT} lost {{ $value | humanize }} events in the last ${e.window}: ` +
        'the kernel overwrote them before bpftrace read them, so traces and counters of that node are incomplete.',
      runbook_url: runbook('HopscopeEventsLost'),
    },
  };

  return [
    { name: 'hopscope-network', rules: [latency('warning', x.warningSeconds), latency('critical', x.criticalSeconds), routeMisses, drops] },
    { name: 'hopscope-agent', rules: [agentDown, probeDown, eventsLost] },
  ];
}

const HEADER = (source: string) =>
  `# Generated from grafana/alerts/rules.ts by \`npm run build\` (${source}): change thresholds there, not here.\n`;

const YAML_OPTIONS = { lineWidth: 0, indent: 2 } as const;

/** The plain Prometheus rules file (`rule_files:`), checked by `promtool check rules`. */
export function rulesFileYaml(t: Thresholds = THRESHOLDS): string {
  return HEADER('npm run build:dashboards') + stringify({ groups: ruleGroups(t) }, YAML_OPTIONS);
}

/** Metadata of the PrometheusRule in agent/deploy/: same name, namespace and labels as the rest of the deployment. */
export const PROMETHEUS_RULE_METADATA = {
  name: 'hopscope-agent',
  namespace: 'hopscope',
  labels: { 'app.kubernetes.io/name': 'hopscope', 'app.kubernetes.io/component': 'agent', 'app.kubernetes.io/part-of': 'hopscope' },
} as const;

/** The same rules as a prometheus-operator PrometheusRule (monitoring.coreos.com/v1). */
export function prometheusRuleYaml(t: Thresholds = THRESHOLDS, metadata: { name: string; namespace: string; labels: Record<string, string> } = PROMETHEUS_RULE_METADATA): string {
  const doc = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: { name: metadata.name, namespace: metadata.namespace, labels: { ...metadata.labels } },
    spec: { groups: ruleGroups(t) },
  };
  return (
    HEADER('npm run build:dashboards') +
    '# The same rules as grafana/alerts/hopscope-rules.yaml, tested with `promtool test rules` from\n' +
    '# grafana/alerts/tests/ (every alert) and test/unit/rules/ (the agent alerts, by test/unit/manifests.test.ts).\n' +
    '# Prometheus Operator picks PrometheusRules by its ruleSelector: add the label it expects (e.g. release: NAME\n' +
    '# with kube-prometheus-stack) in an overlay.\n' +
    stringify(doc, YAML_OPTIONS)
  );
}
