/**
 * @module The agent's Prometheus metrics (names and labels from DESIGN.md). Gauges and table sizes are read
 * at scrape time in collect(); per-trace series are updated as traces complete. No IP or port labels.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { LabeledCounts } from '../model/labeled-counts.js';
import type { NodeCounters } from '../model/node-counters.js';
import type { HopKind } from '../scope/node-scope.js';
import { PATH_KINDS, type PathKind, type Trace } from '../trace/trace.js';
import { SeriesHistogram, type HistogramSeries } from './series-histogram.js';

/** 1 us to 1 s, roughly x2.5 per step. */
/** Time between nodes: finer steps in the millisecond range where node-to-node latencies live (50 us .. 1 s). */
export const CROSS_NODE_BUCKETS = [
  5e-5, 1e-4, 2e-4, 3e-4, 5e-4, 7.5e-4, 1e-3, 1.5e-3, 2e-3, 3e-3, 4e-3, 5e-3, 6e-3, 7e-3, 8e-3, 9e-3, 1e-2, 1.1e-2, 1.2e-2, 1.4e-2, 1.6e-2,
  1.8e-2, 2e-2, 2.5e-2, 3e-2, 4e-2, 5e-2, 7.5e-2, 0.1, 0.15, 0.2, 0.3, 0.5, 1,
];

export const LATENCY_BUCKETS = [1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1];

export interface ProbeView {
  readonly name: string;
  readonly up: boolean;
  readonly restarts: number;
  /** Runs its native probe (libbpf, BTF-typed raw tracepoints) rather than its bpftrace script. */
  readonly native: boolean;
}

export interface MetricsSources {
  readonly node: string;
  readonly bridge: string;
  readonly probes: () => readonly ProbeView[];
  readonly flowsActive: () => number;
  readonly flowsEvicted: () => number;
  readonly counters: NodeCounters;
  readonly streamClients: () => number;
  readonly streamDropped: () => number;
  /** Peer agents and the clock offset to each (peer minus this node), when known. */
  readonly peers?: () => readonly { name: string; connected: boolean; offsetNs?: number; errorNs?: number }[];
}

export class AgentMetrics {
  readonly registry = new Registry();
  readonly events: Counter<'probe'>;
  readonly eventsLost: Counter<'probe'>;
  readonly decodeErrors: Counter<'probe'>;
  private readonly tracedPackets: Counter<'node' | 'path'>;
  private readonly pathLatency: SeriesHistogram<'node' | 'path'>;
  private readonly hopLatency: SeriesHistogram<'node' | 'from_kind' | 'to_kind'>;
  private readonly crossNode: Histogram<'source_node' | 'destination_node' | 'method'>;
  /** Counts not yet added to their prom-client counter (added at scrape time, in collect()). */
  private readonly pending: PendingCount[] = [];
  /** Traced packets by path (PATH_KINDS order), added to hopscope_traced_packets_total at scrape time. */
  private readonly tracedPending: PendingCount[];
  private readonly pathSeries: HistogramSeries[];
  /** Hop latency series by from-kind * KINDS + to-kind, made on first use. */
  private readonly hopSeries: (HistogramSeries | undefined)[] = new Array<HistogramSeries | undefined>(KINDS.length * KINDS.length).fill(undefined);

  constructor(private readonly s: MetricsSources, probeNames: readonly string[]) {
    const registers = [this.registry];
    const pending = this.pending;
    // counters of the line path keep their per-event increments in plain numbers (see probeCounters)
    const flushPending = function (this: Counter<string>) {
      for (const p of pending) {
        if (p.counter === this && p.n !== 0) {
          this.inc(p.labels, p.n);
          p.n = 0;
        }
      }
    };
    this.events = new Counter({ name: 'hopscope_events_total', help: 'Events read from the probes.', labelNames: ['probe'], registers, collect: flushPending });
    this.eventsLost = new Counter({ name: 'hopscope_events_lost_total', help: 'Events the kernel dropped before the probe process read them, as bpftrace or the native loader reports.', labelNames: ['probe'], registers, collect: flushPending });
    this.decodeErrors = new Counter({ name: 'hopscope_decode_errors_total', help: 'Probe output lines that were not a valid event.', labelNames: ['probe'], registers, collect: flushPending });
    for (const probe of probeNames) {
      this.events.inc({ probe }, 0);
      this.eventsLost.inc({ probe }, 0);
      this.decodeErrors.inc({ probe }, 0);
    }
    new Gauge({
      name: 'hopscope_probe_up',
      help: '1 when the probe group is attached, 0 otherwise.',
      labelNames: ['probe'],
      registers,
      collect() {
        for (const p of s.probes()) this.set({ probe: p.name }, p.up ? 1 : 0);
      },
    });
    new Gauge({
      name: 'hopscope_probe_native',
      help: '1 when the probe group runs its native probe (libbpf, BTF-typed raw tracepoints), 0 when it runs its bpftrace script.',
      labelNames: ['probe'],
      registers,
      collect() {
        for (const p of s.probes()) this.set({ probe: p.name }, p.native ? 1 : 0);
      },
    });
    const restartsSeen = new Map<string, number>();
    new Counter({
      name: 'hopscope_probe_restarts_total',
      help: 'Restarts of the probe group after its process (bpftrace or the native loader) exited unexpectedly.',
      labelNames: ['probe'],
      registers,
      collect() {
        for (const p of s.probes()) {
          const seen = restartsSeen.get(p.name) ?? 0;
          this.inc({ probe: p.name }, Math.max(0, p.restarts - seen));
          restartsSeen.set(p.name, Math.max(seen, p.restarts));
        }
      },
    });
    new Gauge({ name: 'hopscope_flows_active', help: 'Flows in the flow table.', registers, collect() { this.set(s.flowsActive()); } });
    let evictedSeen = 0;
    new Counter({
      name: 'hopscope_flows_evicted_total',
      help: 'Flows evicted from the full flow table.',
      registers,
      collect() {
        const now = s.flowsEvicted();
        this.inc(Math.max(0, now - evictedSeen));
        evictedSeen = Math.max(evictedSeen, now);
      },
    });
    this.registerNodeCounters(s, registers);
    new Gauge({ name: 'hopscope_stream_clients', help: 'Clients of the live trace stream.', registers, collect() { this.set(s.streamClients()); } });
    new Counter({
      name: 'hopscope_stream_dropped_total',
      help: 'Stream messages dropped because a client did not read fast enough.',
      registers,
      collect() {
        this.reset();
        this.inc(s.streamDropped());
      },
    });
    this.tracedPackets = new Counter({ name: 'hopscope_traced_packets_total', help: 'Packets traced hop by hop, by path.', labelNames: ['node', 'path'], registers, collect: flushPending });
    for (const path of PATH_KINDS) this.tracedPackets.inc({ node: s.node, path }, 0);
    this.tracedPending = PATH_KINDS.map((path) => this.pendingCount(this.tracedPackets, { node: s.node, path }));
    this.pathLatency = new SeriesHistogram('hopscope_path_latency_seconds', 'Time from a traced packet\'s first hop to its last hop on this node.', ['node', 'path'], LATENCY_BUCKETS, this.registry);
    this.pathSeries = PATH_KINDS.map((path) => this.pathLatency.series({ node: s.node, path }));
    this.crossNode = new Histogram({
      name: 'hopscope_cross_node_latency_seconds',
      help: 'Uplink-to-uplink time between two nodes: one-way (clock offset removed) or half a round trip (rtt) when the peer is unreachable.',
      labelNames: ['source_node', 'destination_node', 'method'],
      buckets: CROSS_NODE_BUCKETS,
      registers,
    });
    const peers = s.peers;
    if (peers) {
      new Gauge({
        name: 'hopscope_peer_up',
        help: '1 while the live stream of the peer agent is connected.',
        labelNames: ['peer'],
        registers,
        collect() {
          for (const p of peers()) this.set({ peer: p.name }, p.connected ? 1 : 0);
        },
      });
      new Gauge({
        name: 'hopscope_clock_offset_seconds',
        help: "The peer node's clock minus this node's, estimated from traffic in both directions.",
        labelNames: ['peer'],
        registers,
        collect() {
          this.reset();
          for (const p of peers()) if (p.offsetNs !== undefined) this.set({ peer: p.name }, p.offsetNs / 1e9);
        },
      });
      new Gauge({
        name: 'hopscope_clock_offset_error_seconds',
        help: 'The bound (+/-) on the error of hopscope_clock_offset_seconds.',
        labelNames: ['peer'],
        registers,
        collect() {
          this.reset();
          for (const p of peers()) if (p.errorNs !== undefined) this.set({ peer: p.name }, p.errorNs / 1e9);
        },
      });
    }
    this.hopLatency = new SeriesHistogram('hopscope_hop_latency_seconds', 'Time between consecutive hops of traced packets, by hop kinds.', ['node', 'from_kind', 'to_kind'], LATENCY_BUCKETS, this.registry);
  }

  private pendingCount(counter: Counter<string>, labels: Record<string, string>): PendingCount {
    const p = new PendingCount(counter, labels);
    this.pending.push(p);
    return p;
  }

  /**
   * A probe group's line-path counters (hopscope_events_total, _decode_errors_total, _events_lost_total):
   * inc() adds to a plain number, which the counter takes up at scrape time. Call once per group and keep them.
   */
  probeCounters(probe: string): { readonly events: PendingCount; readonly decodeErrors: PendingCount; readonly eventsLost: PendingCount } {
    return {
      events: this.pendingCount(this.events, { probe }),
      decodeErrors: this.pendingCount(this.decodeErrors, { probe }),
      eventsLost: this.pendingCount(this.eventsLost, { probe }),
    };
  }

  /** Counters kept by the model (NodeCounters), copied at scrape time. */
  private registerNodeCounters(s: MetricsSources, registers: Registry[]): void {
    const c = s.counters;
    const node = s.node;
    const bridge = s.bridge;
    const fromCounts = <L extends string>(name: string, help: string, counts: LabeledCounts<L>, beforeCollect?: () => void) =>
      new Counter({
        name,
        help,
        labelNames: ['node', ...counts.labelNames],
        registers,
        collect() {
          beforeCollect?.();
          this.reset();
          for (const { labels, value } of counts.entries()) this.inc({ node, ...labels } as never, value);
        },
      });
    fromCounts('hopscope_drops_total', "Packets the kernel dropped with a reason (skb:kfree_skb), by the running kernel's reason name.", c.drops);
    fromCounts('hopscope_route_misses_total', "Packets that found no usable route, once per packet, by reason and by the node whose Pod CIDR holds the destination (none: no node's).", c.routeMisses, () => c.declareRouteMissSeries());
    fromCounts('hopscope_neighbor_failures_total', 'Neighbour (ARP) resolutions that failed, by the kind of interface that asked.', c.neighborFailures);
    const bridgeCounter = (name: string, help: string, read: () => number) =>
      new Counter({
        name,
        help,
        labelNames: ['node', 'bridge'],
        registers,
        collect() {
          this.reset();
          this.inc({ node, bridge }, read());
        },
      });
    bridgeCounter('hopscope_bridge_fdb_learned_total', 'Addresses the bridge learned (new FDB entries).', () => c.fdb.counts.learned);
    bridgeCounter('hopscope_bridge_fdb_moved_total', 'FDB entries that moved to another port.', () => c.fdb.counts.moved);
    bridgeCounter('hopscope_bridge_fdb_deleted_total', 'FDB entries deleted, aged out or flushed.', () => c.fdb.counts.deleted);
    bridgeCounter('hopscope_bridge_unknown_unicast_total', 'Unicast frames the bridge flooded because no FDB entry knew the destination, once per frame.', () => c.frames.unknownUnicast);
    new Gauge({
      name: 'hopscope_bridge_fdb_entries',
      help: "Entries in the bridge's FDB (learned and local), as mirrored by the agent.",
      labelNames: ['node', 'bridge'],
      registers,
      collect() {
        this.set({ node, bridge }, c.fdb.size);
      },
    });
    new Counter({
      name: 'hopscope_bridge_frames_total',
      help: 'Frames through the bridge: bridged from one port to another, or handed up to the host.',
      labelNames: ['node', 'bridge', 'action'],
      registers,
      collect() {
        this.reset();
        this.inc({ node, bridge, action: 'bridged' }, c.frames.bridged);
        this.inc({ node, bridge, action: 'to-host' }, c.frames.toHost);
      },
    });
  }

  recordTrace(t: Trace): void {
    const node = this.s.node;
    const x = t.cross_node;
    if (x && x.method !== 'uncorrected' && x.transit_ns >= 0) {
      this.crossNode.observe({ source_node: x.source_node, destination_node: x.destination_node, method: x.method }, x.transit_ns / 1e9);
    }
    const p = pathIndex(t.path);
    if (p >= 0) (this.tracedPending[p] as PendingCount).n++;
    else this.tracedPackets.inc({ node, path: t.path });
    // a stitched trace also holds the peer's hops, which the peer's agent counts: only this node's part here
    let own = 0;
    const hops = t.hops;
    for (let i = 1; i < hops.length; i++) {
      const from = hops[i - 1];
      const to = hops[i];
      if (!from || !to || from.node !== node || to.node !== node) continue;
      own += to.delta_ns;
      this.hopSeriesOf(from.kind, to.kind).observe(to.delta_ns / 1e9);
    }
    const latency = (t.cross_node ? own : t.latency_ns) / 1e9;
    (p >= 0 ? (this.pathSeries[p] as HistogramSeries) : this.pathLatency.series({ node, path: t.path })).observe(latency);
  }

  private hopSeriesOf(from: HopKind, to: HopKind): HistogramSeries {
    const a = kindIndex(from);
    const b = kindIndex(to);
    if (a < 0 || b < 0) return this.hopLatency.series({ node: this.s.node, from_kind: from, to_kind: to });
    const k = a * KINDS.length + b;
    return (this.hopSeries[k] ??= this.hopLatency.series({ node: this.s.node, from_kind: from, to_kind: to }));
  }
}

/** An increment kept in a plain number until the next scrape adds it to its counter. */
export class PendingCount {
  n = 0;
  constructor(
    readonly counter: Counter<string>,
    readonly labels: Record<string, string>,
  ) {}
  inc(by = 1): void {
    this.n += by;
  }
}

const KINDS: readonly HopKind[] = ['pod', 'veth', 'bridge', 'overlay', 'uplink'];

function kindIndex(k: HopKind): number {
  switch (k) {
    case 'pod':
      return 0;
    case 'veth':
      return 1;
    case 'bridge':
      return 2;
    case 'overlay':
      return 3;
    case 'uplink':
      return 4;
    default:
      return -1;
  }
}

function pathIndex(p: PathKind): number {
  switch (p) {
    case 'same-pod':
      return 0;
    case 'same-node':
      return 1;
    case 'cross-node':
      return 2;
    case 'unrouted':
      return 3;
    default:
      return -1;
  }
}
