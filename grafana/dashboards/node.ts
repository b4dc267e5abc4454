/**
 * @module The "hopscope / Node" dashboard: one node seen through its agent: latency of each hop (pod -> veth ->
 * bridge -> uplink ...), its bridge and neighbour table, where its packets end, and the agent's own health.
 */
import { DashboardBuilder, type Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { THRESHOLDS } from '../alerts/rules.js';
import {
  agentUrlVariable,
  dashboardsLink,
  datasourceVariable,
  labelVariable,
  NATIVE_SCRIPT,
  row,
  stat,
  TAG,
  timeseries,
  UP_DOWN,
} from './panels.js';

export const NODE_UID = 'hopscope-node';

const NODE = 'node="$node"';
const RATE = '[$__rate_interval]';
const METHODS = `method=~"${THRESHOLDS.crossNodeLatency.methods.join('|')}"`;

/**
 * The agent-health metrics carry only `probe` (plus the scrape's job and instance): this gives each series the
 * `node` of the agent at the same job and instance, and keeps only the selected node's agent.
 */
export function onNode(expr: string): string {
  return `${expr} * on (job, instance) group_left (node) group by (job, instance, node) (hopscope_traced_packets_total{${NODE}})`;
}

const HOP_LEGEND = '{{from_kind}} → {{to_kind}}';
const THIS_NODE = { title: 'Live traces of this node (web view)', filter: { node: '$node' } };

export function nodeDashboard(): Dashboard {
  return new DashboardBuilder('hopscope / Node')
    .uid(NODE_UID)
    .description("One node through its hopscope agent: latency of each hop, its bridge and neighbours, where its packets end, and the agent's health.")
    .tags([TAG])
    .editable()
    .time({ from: 'now-1h', to: 'now' })
    .refresh('30s')
    .timezone('browser')
    .link(dashboardsLink())
    .withVariable(datasourceVariable())
    .withVariable(labelVariable('node', 'Node', 'hopscope_traced_packets_total', 'The node (its agent) this dashboard shows', { single: true }))
    .withVariable(labelVariable('source_node', 'From node', 'hopscope_cross_node_latency_seconds_count', 'Nodes whose packets to this node are shown in "Cross-node latency"'))
    .withVariable(labelVariable('destination_node', 'To node', 'hopscope_cross_node_latency_seconds_count', 'Nodes this node\'s packets go to in "Cross-node latency"'))
    .withVariable(agentUrlVariable())

    .withRow(row(100, 'Hops'))
    .withPanel(
      timeseries({
        id: 1,
        title: 'Hop latency p99 (from kind → to kind)',
        description: '99th percentile of the time between two consecutive hops of traced packets on this node, by the kinds of the two hops: pod (a pod\'s eth0), veth (its host side), bridge (cni0 as the host\'s interface), overlay, uplink (hopscope_hop_latency_seconds). A slow segment points at where the time goes.',
        unit: 's',
        w: 12,
        h: 9,
        queries: [{ expr: `histogram_quantile(0.99, sum by (le, from_kind, to_kind) (rate(hopscope_hop_latency_seconds_bucket{${NODE}}${RATE})))`, legend: HOP_LEGEND }],
        web: THIS_NODE,
      }),
    )
    .withPanel(
      timeseries({
        id: 2,
        title: 'Hop latency p50 (from kind → to kind)',
        description: 'Median time between two consecutive hops of traced packets on this node, by the kinds of the two hops (hopscope_hop_latency_seconds).',
        unit: 's',
        w: 12,
        h: 9,
        queries: [{ expr: `histogram_quantile(0.5, sum by (le, from_kind, to_kind) (rate(hopscope_hop_latency_seconds_bucket{${NODE}}${RATE})))`, legend: HOP_LEGEND }],
        web: THIS_NODE,
      }),
    )
    .withPanel(
      timeseries({
        id: 3,
        title: 'Traced packets by path',
        description: 'Packets this node\'s agent traced per second, by path. The kernel selects packets (all ICMP, TCP SYN/FIN/RST, 1 in N flows).',
        unit: 'pps',
        w: 8,
        h: 8,
        stacked: true,
        queries: [{ expr: `sum by (path) (rate(hopscope_traced_packets_total{${NODE}}${RATE}))`, legend: '{{path}}' }],
        web: THIS_NODE,
        seriesLinks: [{ title: 'Live ${__field.labels.path} traces of this node', filter: { path: '${__field.labels.path}', node: '$node' } }],
      }),
    )
    .withPanel(
      timeseries({
        id: 4,
        title: 'Path latency p99',
        description: '99th percentile of the time from a traced packet\'s first hop to its last hop on this node, by path (hopscope_path_latency_seconds).',
        unit: 's',
        w: 8,
        h: 8,
        queries: [{ expr: `histogram_quantile(0.99, sum by (le, path) (rate(hopscope_path_latency_seconds_bucket{${NODE}}${RATE})))`, legend: '{{path}}' }],
        web: THIS_NODE,
        seriesLinks: [{ title: 'Live ${__field.labels.path} traces of this node', filter: { path: '${__field.labels.path}', node: '$node' } }],
      }),
    )
    .withPanel(
      timeseries({
        id: 5,
        title: 'Cross-node latency p99, to and from this node',
        description: '99th percentile of the uplink-to-uplink time of packets arriving at this node from each source node, and of packets this node sends to each destination node (hopscope_cross_node_latency_seconds; one-way or rtt).',
        unit: 's',
        w: 8,
        h: 8,
        queries: [
          {
            expr: `histogram_quantile(0.99, sum by (le, source_node, destination_node) (rate(hopscope_cross_node_latency_seconds_bucket{source_node=~"$source_node", destination_node="$node", ${METHODS}}${RATE})))`,
            legend: '{{source_node}} → {{destination_node}}',
          },
          {
            expr: `histogram_quantile(0.99, sum by (le, source_node, destination_node) (rate(hopscope_cross_node_latency_seconds_bucket{source_node="$node", destination_node=~"$destination_node", ${METHODS}}${RATE})))`,
            legend: '{{source_node}} → {{destination_node}}',
          },
        ],
        thresholdLines: [
          { color: 'green', value: null },
          { color: 'orange', value: THRESHOLDS.crossNodeLatency.warningSeconds },
          { color: 'red', value: THRESHOLDS.crossNodeLatency.criticalSeconds },
        ],
        web: { title: 'Live cross-node traces of this node (web view)', filter: { path: 'cross-node', node: '$node' } },
      }),
    )

    .withRow(row(101, 'Bridge, neighbours, routing'))
    .withPanel(
      timeseries({
        id: 6,
        title: 'Bridge FDB entries',
        description: 'Entries in the node bridge\'s forwarding database (learned and local), as the agent mirrors it (re-synced from `bridge fdb show` every 30 s). Roughly 2 per pod plus the bridge\'s own.',
        unit: 'short',
        w: 8,
        h: 8,
        queries: [{ expr: `max by (bridge) (hopscope_bridge_fdb_entries{${NODE}})`, legend: '{{bridge}}' }],
        web: { title: 'Live same-node traces of this node (web view)', filter: { path: 'same-node', node: '$node' } },
      }),
    )
    .withPanel(
      timeseries({
        id: 7,
        title: 'Bridge learning and flooding',
        description: 'Per second on this node\'s bridge: FDB entries learned, moved and deleted, and unknown-unicast frames it flooded because no entry knew the destination MAC.',
        unit: 'cps',
        w: 8,
        h: 8,
        queries: [
          { expr: `sum by (bridge) (rate(hopscope_bridge_fdb_learned_total{${NODE}}${RATE}))`, legend: '{{bridge}} learned' },
          { expr: `sum by (bridge) (rate(hopscope_bridge_fdb_moved_total{${NODE}}${RATE}))`, legend: '{{bridge}} moved' },
          { expr: `sum by (bridge) (rate(hopscope_bridge_fdb_deleted_total{${NODE}}${RATE}))`, legend: '{{bridge}} deleted' },
          { expr: `sum by (bridge) (rate(hopscope_bridge_unknown_unicast_total{${NODE}}${RATE}))`, legend: '{{bridge}} unknown unicast' },
        ],
        web: { title: 'Live same-node traces of this node (web view)', filter: { path: 'same-node', node: '$node' } },
      }),
    )
    .withPanel(
      timeseries({
        id: 8,
        title: 'Neighbour failures',
        description: 'Neighbour (ARP) resolutions per second that failed on this node, by the kind of interface that asked: bridge (toward a pod), uplink (toward another node), pod, overlay.',
        unit: 'cps',
        w: 8,
        h: 8,
        queries: [{ expr: `sum by (interface_kind) (rate(hopscope_neighbor_failures_total{${NODE}}${RATE}))`, legend: '{{interface_kind}}' }],
        web: { title: 'Live dropped packets of this node (web view)', filter: { outcome: 'dropped', node: '$node' } },
      }),
    )
    .withPanel(
      timeseries({
        id: 9,
        title: 'Route misses by reason and destination node',
        description: 'Packets per second on this node that found no usable route, by reason (no-route, unreachable, prohibit, neighbor-failed) and the node whose Pod CIDR holds the destination ("none": no node\'s). Only series with misses are shown.',
        unit: 'pps',
        w: 12,
        h: 8,
        queries: [{ expr: `sum by (reason, destination_node) (rate(hopscope_route_misses_total{${NODE}}${RATE})) > 0`, legend: '{{reason}} to {{destination_node}}' }],
        web: { title: 'Live route misses of this node (web view)', filter: { outcome: 'route-miss', node: '$node' } },
      }),
    )
    .withPanel(
      timeseries({
        id: 10,
        title: 'Drops by reason',
        description: 'Packets per second the kernel dropped on this node, by drop reason (skb:kfree_skb). Only reasons with drops are shown.',
        unit: 'pps',
        w: 12,
        h: 8,
        queries: [{ expr: `sum by (reason) (rate(hopscope_drops_total{${NODE}}${RATE})) > 0`, legend: '{{reason}}' }],
        web: { title: 'Live dropped packets of this node (web view)', filter: { outcome: 'dropped', node: '$node' } },
      }),
    )

    .withRow(row(102, 'Agent health'))
    .withPanel(
      stat({
        id: 11,
        title: 'Probes up',
        description: 'Whether each probe group of this node\'s agent (hops, drops, bridge, neigh) is attached to the kernel now (hopscope_probe_up). Down for a while: alert HopscopeProbeDown; `hopscope doctor` and the agent\'s /readyz say why.',
        unit: 'none',
        w: 6,
        h: 6,
        queries: [{ expr: `max by (probe) (${onNode('hopscope_probe_up')})`, legend: '{{probe}}', instant: true }],
        mappings: UP_DOWN,
        steps: [
          { color: 'red', value: null },
          { color: 'green', value: 1 },
        ],
        web: { title: 'Agent web view', filter: { node: '$node' } },
      }),
    )
    .withPanel(
      timeseries({
        id: 12,
        title: 'Events lost',
        description: 'Events per second the kernel overwrote before bpftrace read them, by probe group (hopscope_events_lost_total). Any steady loss: alert HopscopeEventsLost.',
        unit: 'cps',
        w: 6,
        h: 6,
        queries: [{ expr: `sum by (probe) (${onNode(`rate(hopscope_events_lost_total${RATE})`)})`, legend: '{{probe}}' }],
        web: THIS_NODE,
      }),
    )
    .withPanel(
      timeseries({
        id: 13,
        title: 'Decode errors',
        description: 'Probe output lines per second that were not a valid event, by probe group (hopscope_decode_errors_total). Non-zero: a probe and the agent disagree on the line format (version skew) or output was cut.',
        unit: 'cps',
        w: 6,
        h: 6,
        queries: [{ expr: `sum by (probe) (${onNode(`rate(hopscope_decode_errors_total${RATE})`)})`, legend: '{{probe}}' }],
        web: THIS_NODE,
      }),
    )
    .withPanel(
      timeseries({
        id: 14,
        title: 'Probe restarts',
        description: 'Restarts of each probe group after its process (bpftrace or native loader) exited unexpectedly, per interval (hopscope_probe_restarts_total).',
        unit: 'short',
        w: 6,
        h: 6,
        queries: [{ expr: `sum by (probe) (${onNode(`increase(hopscope_probe_restarts_total${RATE})`)})`, legend: '{{probe}}' }],
        web: THIS_NODE,
      }),
    )
    .withPanel(
      timeseries({
        id: 15,
        title: 'Events read',
        description: 'Events per second read from each probe group (hopscope_events_total): the load the kernel side puts on the agent.',
        unit: 'cps',
        w: 12,
        h: 6,
        queries: [{ expr: `sum by (probe) (${onNode(`rate(hopscope_events_total${RATE})`)})`, legend: '{{probe}}' }],
        web: THIS_NODE,
      }),
    )
    .withPanel(
      timeseries({
        id: 17,
        title: 'hopscope\'s kernel cost',
        description:
          'CPU time hopscope\'s BPF programs take on this node\'s packet path, by tracepoint (hopscope_bpf_run_seconds_total: 1 = one core), and the nanoseconds per program run. Flat at 0 while kernel.bpf_stats_enabled is 0 (the default): sysctl -w kernel.bpf_stats_enabled=1 to measure.',
        unit: 'short',
        w: 12,
        h: 6,
        queries: [
          { expr: `sum by (tracepoint) (${onNode(`rate(hopscope_bpf_run_seconds_total${RATE})`)})`, legend: '{{tracepoint}} cores' },
          {
            expr: `sum by (tracepoint) (${onNode(`rate(hopscope_bpf_run_seconds_total${RATE})`)}) * 1e9 / sum by (tracepoint) (${onNode(`rate(hopscope_bpf_runs_total${RATE})`)})`,
            legend: '{{tracepoint}} ns/run',
          },
        ],
        web: THIS_NODE,
      }),
    )
    .withPanel(
      timeseries({
        id: 16,
        title: 'Active flows',
        description: 'Flows (5-tuples) in the agent\'s bounded flow table (hopscope_flows_active), and flows evicted per second because it was full.',
        unit: 'short',
        w: 12,
        h: 6,
        queries: [
          { expr: `max(${onNode('hopscope_flows_active')})`, legend: 'active' },
          { expr: `sum(${onNode(`rate(hopscope_flows_evicted_total${RATE})`)})`, legend: 'evicted/s' },
        ],
        web: THIS_NODE,
      }),
    )
    .withPanel(
      stat({
        id: 18,
        title: 'Probes run as',
        description:
          'What runs each per-packet probe group of this node\'s agent (hopscope_probe_native): native (libbpf on BTF-typed raw tracepoints, the default) or bpftrace (its script: about three times the BPF time per packet, docs/performance.md). bpftrace where native is expected: the agent\'s log and `hopscope doctor` say why (not built, kernel too old, verifier).',
        unit: 'none',
        w: 12,
        h: 6,
        queries: [{ expr: `max by (probe) (${onNode('hopscope_probe_native{probe=~"hops|drops"}')})`, legend: '{{probe}}', instant: true }],
        mappings: NATIVE_SCRIPT,
        steps: [
          { color: 'orange', value: null },
          { color: 'green', value: 1 },
        ],
        web: THIS_NODE,
      }),
    )
    .build();
}
