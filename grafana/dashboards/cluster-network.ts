/**
 * @module The "hopscope / Cluster network" dashboard: what the agents of every node trace, path latency, the
 * latency between each pair of nodes, where packets end (drops, route misses) and what the bridges do.
 */
import { DashboardBuilder, type Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { formatSeconds, THRESHOLDS } from '../alerts/rules.js';
import {
  agentUrlVariable,
  dashboardsLink,
  datasourceVariable,
  heatmap,
  labelVariable,
  row,
  stat,
  table,
  TAG,
  timeseries,
} from './panels.js';

export const CLUSTER_NETWORK_UID = 'hopscope-cluster-network';

const NODE = 'node=~"$node"';
const PAIR = 'source_node=~"$source_node", destination_node=~"$destination_node"';
const METHODS = `method=~"${THRESHOLDS.crossNodeLatency.methods.join('|')}"`;
const RATE = '[$__rate_interval]';

/** Green below the warning threshold, orange from it, red from the critical one (seconds). */
const LATENCY_STEPS = [
  { color: 'green', value: null },
  { color: 'orange', value: THRESHOLDS.crossNodeLatency.warningSeconds },
  { color: 'red', value: THRESHOLDS.crossNodeLatency.criticalSeconds },
];
const LIMITS = `warning from ${formatSeconds(THRESHOLDS.crossNodeLatency.warningSeconds)}, critical from ${formatSeconds(THRESHOLDS.crossNodeLatency.criticalSeconds)}`;

export function clusterNetworkDashboard(): Dashboard {
  return new DashboardBuilder('hopscope / Cluster network')
    .uid(CLUSTER_NETWORK_UID)
    .description('Packets traced hop by hop by the hopscope agents of every node: paths, latency between nodes, drops, route misses, bridges.')
    .tags([TAG])
    .editable()
    .time({ from: 'now-1h', to: 'now' })
    .refresh('30s')
    .timezone('browser')
    .link(dashboardsLink())
    .withVariable(datasourceVariable())
    .withVariable(labelVariable('node', 'Node', 'hopscope_traced_packets_total', 'Nodes whose agents report (the node label of the agents\' metrics)'))
    .withVariable(labelVariable('source_node', 'Source node', 'hopscope_cross_node_latency_seconds_count', 'Sending node of cross-node latency'))
    .withVariable(labelVariable('destination_node', 'Destination node', 'hopscope_cross_node_latency_seconds_count', 'Receiving node of cross-node latency'))
    .withVariable(agentUrlVariable())

    .withRow(row(100, 'Traffic and path latency'))
    .withPanel(
      timeseries({
        id: 1,
        title: 'Traced packets by path',
        description: 'Packets traced hop by hop per second, by path (same-pod, same-node, cross-node, unrouted), summed over the selected nodes. The kernel selects packets (all ICMP, TCP SYN/FIN/RST, 1 in N flows), so this is a sample of the traffic.',
        unit: 'pps',
        w: 8,
        h: 8,
        stacked: true,
        queries: [{ expr: `sum by (path) (rate(hopscope_traced_packets_total{${NODE}}${RATE}))`, legend: '{{path}}' }],
        web: { title: 'Live traces (web view)', filter: {} },
        seriesLinks: [{ title: 'Live ${__field.labels.path} traces', filter: { path: '${__field.labels.path}' } }],
      }),
    )
    .withPanel(
      timeseries({
        id: 2,
        title: 'Path latency p50',
        description: 'Median time from a traced packet\'s first hop to its last hop on its node, by path (hopscope_path_latency_seconds). Cross-node packets count only the part on each node; the time between nodes is in "Cross-node latency".',
        unit: 's',
        w: 8,
        h: 8,
        queries: [{ expr: `histogram_quantile(0.5, sum by (le, path) (rate(hopscope_path_latency_seconds_bucket{${NODE}}${RATE})))`, legend: '{{path}}' }],
        web: { title: 'Live traces (web view)', filter: {} },
        seriesLinks: [{ title: 'Live ${__field.labels.path} traces', filter: { path: '${__field.labels.path}' } }],
      }),
    )
    .withPanel(
      timeseries({
        id: 3,
        title: 'Path latency p99',
        description: '99th percentile of the time from a traced packet\'s first hop to its last hop on its node, by path (hopscope_path_latency_seconds).',
        unit: 's',
        w: 8,
        h: 8,
        queries: [{ expr: `histogram_quantile(0.99, sum by (le, path) (rate(hopscope_path_latency_seconds_bucket{${NODE}}${RATE})))`, legend: '{{path}}' }],
        web: { title: 'Live traces (web view)', filter: {} },
        seriesLinks: [{ title: 'Live ${__field.labels.path} traces', filter: { path: '${__field.labels.path}' } }],
      }),
    )

    .withRow(row(101, 'Between nodes'))
    .withPanel(
      timeseries({
        id: 4,
        title: 'Cross-node latency p99 by node pair',
        description: `99th percentile of the uplink-to-uplink time from source node to destination node (hopscope_cross_node_latency_seconds): one-way with the clock offset removed when the agents are peers, else half a round trip (rtt). The alert HopscopeCrossNodeLatencyHigh uses the same quantile (${LIMITS}).`,
        unit: 's',
        w: 12,
        h: 9,
        queries: [
          {
            expr: `histogram_quantile(0.99, sum by (le, source_node, destination_node, method) (rate(hopscope_cross_node_latency_seconds_bucket{${PAIR}, ${METHODS}}${RATE})))`,
            legend: '{{source_node}} → {{destination_node}} ({{method}})',
          },
        ],
        thresholdLines: LATENCY_STEPS,
        web: { title: 'Live cross-node traces (web view)', filter: { path: 'cross-node' } },
        seriesLinks: [
          { title: 'Live traces ${__field.labels.source_node} → ${__field.labels.destination_node}', filter: { path: 'cross-node', node: '${__field.labels.destination_node}' } },
        ],
      }),
    )
    .withPanel(
      table({
        id: 5,
        title: 'Cross-node latency p99 matrix',
        description: `99th percentile of the uplink-to-uplink time over the dashboard's time range, one row per source node and one column per destination node (hopscope_cross_node_latency_seconds, methods ${THRESHOLDS.crossNodeLatency.methods.join(' and ')}). Colours follow the alert thresholds: ${LIMITS}.`,
        unit: 's',
        w: 12,
        h: 9,
        queries: [
          {
            expr: `histogram_quantile(0.99, sum by (le, source_node, destination_node) (rate(hopscope_cross_node_latency_seconds_bucket{${PAIR}, ${METHODS}}[$__range])))`,
            instant: true,
            format: 'table',
          },
        ],
        transformations: [
          { id: 'groupingToMatrix', options: { rowField: 'source_node', columnField: 'destination_node', valueField: 'Value', emptyValue: 'empty' } },
          { id: 'organize', options: { renameByName: { 'source_node\\destination_node': 'from \\ to' } } },
        ],
        steps: LATENCY_STEPS,
        plainColumns: ['from \\ to'],
        web: { title: 'Live cross-node traces (web view)', filter: { path: 'cross-node' } },
      }),
    )
    .withPanel(
      heatmap({
        id: 6,
        title: 'Cross-node latency distribution',
        description: 'How many measured packets fell in each latency bucket per interval, for the selected source and destination nodes (hopscope_cross_node_latency_seconds buckets, 50 us to 1 s). A second band means some packets take another, slower way.',
        unit: 's',
        w: 12,
        h: 9,
        queries: [{ expr: `sum by (le) (increase(hopscope_cross_node_latency_seconds_bucket{${PAIR}, ${METHODS}}${RATE}))`, legend: '{{le}}', format: 'heatmap' }],
        web: { title: 'Live cross-node traces (web view)', filter: { path: 'cross-node' } },
      }),
    )
    .withPanel(
      timeseries({
        id: 7,
        title: 'Cross-node packets measured by node pair',
        description: `Packets per second whose time between nodes was measured, by pair and method. The latency alert needs at least ${THRESHOLDS.crossNodeLatency.minSamples} in ${THRESHOLDS.crossNodeLatency.window} to judge a pair.`,
        unit: 'pps',
        w: 12,
        h: 9,
        queries: [{ expr: `sum by (source_node, destination_node, method) (rate(hopscope_cross_node_latency_seconds_count{${PAIR}}${RATE}))`, legend: '{{source_node}} → {{destination_node}} ({{method}})' }],
        web: { title: 'Live cross-node traces (web view)', filter: { path: 'cross-node' } },
        seriesLinks: [
          { title: 'Live traces ${__field.labels.source_node} → ${__field.labels.destination_node}', filter: { path: 'cross-node', node: '${__field.labels.destination_node}' } },
        ],
      }),
    )

    .withRow(row(102, 'Where packets end'))
    .withPanel(
      timeseries({
        id: 8,
        title: 'Drops by reason',
        description: 'Packets the kernel dropped per second on the selected nodes, by the running kernel\'s drop reason (skb:kfree_skb; NOT_SPECIFIED frees are not counted). Only reasons with drops are shown.',
        unit: 'pps',
        w: 8,
        h: 8,
        queries: [{ expr: `sum by (reason) (rate(hopscope_drops_total{${NODE}}${RATE})) > 0`, legend: '{{reason}}' }],
        web: { title: 'Live dropped packets (web view)', filter: { outcome: 'dropped' } },
        seriesLinks: [{ title: 'Live dropped packets', filter: { outcome: 'dropped' } }],
      }),
    )
    .withPanel(
      timeseries({
        id: 9,
        title: 'Drops by node',
        description: 'Packets the kernel dropped per second, by node (all reasons).',
        unit: 'pps',
        w: 8,
        h: 8,
        queries: [{ expr: `sum by (node) (rate(hopscope_drops_total{${NODE}}${RATE}))`, legend: '{{node}}' }],
        web: { title: 'Live dropped packets (web view)', filter: { outcome: 'dropped' } },
        seriesLinks: [{ title: 'Live dropped packets on ${__field.labels.node}', filter: { outcome: 'dropped', node: '${__field.labels.node}' } }],
      }),
    )
    .withPanel(
      timeseries({
        id: 10,
        title: 'Route misses by destination node',
        description: 'Packets per second that found no usable route, by the node whose Pod CIDR holds the destination ("none": no node\'s). A miss toward a node means the cluster routing table lacks that node\'s Pod CIDR route (alert HopscopeRouteMisses). Only series with misses are shown.',
        unit: 'pps',
        w: 8,
        h: 8,
        queries: [{ expr: `sum by (destination_node) (rate(hopscope_route_misses_total{${NODE}}${RATE})) > 0`, legend: 'to {{destination_node}}' }],
        web: { title: 'Live route misses (web view)', filter: { outcome: 'route-miss' } },
        seriesLinks: [{ title: 'Live route misses', filter: { outcome: 'route-miss' } }],
      }),
    )

    .withRow(row(103, 'Bridges (cni0)'))
    .withPanel(
      timeseries({
        id: 11,
        title: 'Bridge learning',
        description: 'FDB entries per second that the node bridges learned (a new MAC behind a port), moved (the same MAC now behind another port) or deleted (aged out, flushed, port gone). Bursts follow pod churn; steady moves mean a MAC flapping between ports.',
        unit: 'cps',
        w: 8,
        h: 8,
        queries: [
          { expr: `sum by (node) (rate(hopscope_bridge_fdb_learned_total{${NODE}}${RATE}))`, legend: '{{node}} learned' },
          { expr: `sum by (node) (rate(hopscope_bridge_fdb_moved_total{${NODE}}${RATE}))`, legend: '{{node}} moved' },
          { expr: `sum by (node) (rate(hopscope_bridge_fdb_deleted_total{${NODE}}${RATE}))`, legend: '{{node}} deleted' },
        ],
        web: { title: 'Live same-node traces (web view)', filter: { path: 'same-node' } },
        seriesLinks: [{ title: 'Live same-node traces on ${__field.labels.node}', filter: { path: 'same-node', node: '${__field.labels.node}' } }],
      }),
    )
    .withPanel(
      timeseries({
        id: 12,
        title: 'Bridge unknown unicast (flooded)',
        description: 'Unicast frames per second that a node bridge flooded to every port because no FDB entry knew the destination MAC, once per frame. Steady flooding means the bridge keeps forgetting (or never learns) a pod\'s MAC.',
        unit: 'pps',
        w: 8,
        h: 8,
        queries: [{ expr: `sum by (node) (rate(hopscope_bridge_unknown_unicast_total{${NODE}}${RATE}))`, legend: '{{node}}' }],
        web: { title: 'Live same-node traces (web view)', filter: { path: 'same-node' } },
        seriesLinks: [{ title: 'Live same-node traces on ${__field.labels.node}', filter: { path: 'same-node', node: '${__field.labels.node}' } }],
      }),
    )
    .withPanel(
      timeseries({
        id: 13,
        title: 'Bridged vs routed frames',
        description: 'Frames per second through the node bridges: bridged from one pod port to another (same node) or handed up to the host for routing (to another node or outside).',
        unit: 'pps',
        w: 8,
        h: 8,
        stacked: true,
        queries: [{ expr: `sum by (node, action) (rate(hopscope_bridge_frames_total{${NODE}}${RATE}))`, legend: '{{node}} {{action}}' }],
        web: { title: 'Live traces (web view)', filter: {} },
        seriesLinks: [{ title: 'Live traces on ${__field.labels.node}', filter: { node: '${__field.labels.node}' } }],
      }),
    )

    .withRow(row(104, 'Agents'))
    .withPanel(
      stat({
        id: 14,
        title: 'Agents up',
        description: 'hopscope agents Prometheus scrapes successfully, out of all hopscope scrape targets (jobs whose name contains "hopscope"). Below the total: alert HopscopeAgentDown.',
        unit: 'none',
        w: 8,
        h: 5,
        queries: [
          { expr: 'sum(up{job=~".*hopscope.*"})', legend: 'up', instant: true },
          { expr: 'count(up{job=~".*hopscope.*"})', legend: 'targets', instant: true },
        ],
        web: { title: 'Agent web view', filter: {} },
      }),
    )
    .withPanel(
      stat({
        id: 15,
        title: 'Probe groups down',
        description: 'Probe groups (hops, drops, bridge, neigh) of all agents that are not attached to the kernel right now (hopscope_probe_up == 0). Above 0 for a while: alert HopscopeProbeDown.',
        unit: 'none',
        w: 8,
        h: 5,
        queries: [{ expr: 'count(hopscope_probe_up == 0) or vector(0)', legend: 'down', instant: true }],
        steps: [
          { color: 'green', value: null },
          { color: 'red', value: 1 },
        ],
        web: { title: 'Agent web view', filter: {} },
      }),
    )
    .withPanel(
      timeseries({
        id: 16,
        title: 'Events lost by probe',
        description: 'Events per second the kernel overwrote before bpftrace read them, summed over all agents by probe group. Any steady loss makes traces and counters incomplete (alert HopscopeEventsLost).',
        unit: 'cps',
        w: 8,
        h: 5,
        queries: [{ expr: `sum by (probe) (rate(hopscope_events_lost_total${RATE}))`, legend: '{{probe}}' }],
        web: { title: 'Agent web view', filter: {} },
      }),
    )
    .withPanel(
      timeseries({
        id: 17,
        title: 'Service packets by outcome',
        description:
          'Traced packets per second addressed to each Kubernetes Service (or answering for it, through the node\'s NAT), by final outcome (hopscope_service_packets_total; the client node\'s forwarded halves left out, their stitched traces counted at the backend\'s node; agents without peer links see cross-node Service traffic only as forwarded). Traced packets: SYN, FIN, RST and ICMP always, other packets as sampled.',
        unit: 'pps',
        w: 12,
        h: 6,
        queries: [{ expr: `sum by (service, outcome) (rate(hopscope_service_packets_total{${NODE}, outcome!="forwarded"}${RATE}))`, legend: '{{service}} {{outcome}}' }],
        web: { title: 'Agent web view', filter: {} },
      }),
    )
    .withPanel(
      timeseries({
        id: 18,
        title: 'Service latency p99',
        description: 'p99 of the time from the first hop to the last of traced packets to or from each Service (hopscope_service_latency_seconds), across both nodes for a stitched trace.',
        unit: 's',
        w: 12,
        h: 6,
        queries: [{ expr: `histogram_quantile(0.99, sum by (le, service) (rate(hopscope_service_latency_seconds_bucket{${NODE}}${RATE})))`, legend: '{{service}}' }],
        web: { title: 'Agent web view', filter: {} },
      }),
    )
    .build();
}
