/**
 * @module Per-Service series: the traced packets addressed to (or answering for) each Kubernetes Service, by
 * outcome, and their latency, so a dashboard or an alert can follow one Service through the node's NAT
 * (`hopscope_service_packets_total`, `hopscope_service_latency_seconds`). The `service` label is
 * NAMESPACE/NAME, one series set per Service this agent has traced while the Service exists: once the
 * inventory no longer lists it, its series go at the next scrape (as kube-state-metrics drops a deleted object's);
 * no IP or port labels.
 *
 * Each agent counts the traces it reports. A request leaving the client's node is counted there as
 * `forwarded` and, with peer links, again at the backend's node, stitched, with its final outcome: for
 * end-to-end figures take `outcome!="forwarded"`. The latency of a stitched trace spans both nodes. Without
 * peer links the backend's node cannot tell its half went to a Service (the NAT happened on the client's
 * node), so cross-node Service traffic then shows only as `forwarded`.
 */
import { Counter, type Registry } from 'prom-client';
import type { Inventory } from '../inventory/inventory.js';
import type { Outcome, Trace } from '../trace/trace.js';
import { LATENCY_BUCKETS } from './metrics.js';
import { SeriesHistogram, type HistogramSeries } from './series-histogram.js';

interface ServiceSeries {
  readonly counts: Map<Outcome, number>;
  readonly latency: HistogramSeries;
}

export class ServiceMetrics {
  private readonly byService = new Map<string, ServiceSeries>();
  private readonly latency: SeriesHistogram<'node' | 'service'>;
  /** The Services of the inventory last looked at, by NAMESPACE/NAME (a new inventory is a new object). */
  private live: { readonly of: Inventory; readonly names: ReadonlySet<string> } | undefined = undefined;

  constructor(
    registry: Registry,
    private readonly node: string,
    /** The Services that exist; omitted: series are never dropped. */
    private readonly inventory?: () => Inventory,
  ) {
    const byService = this.byService;
    const dropDeleted = () => this.dropDeleted();
    new Counter({
      name: 'hopscope_service_packets_total',
      help: 'Traced packets addressed to a Service (or answering for it), by outcome; forwarded: counted again, stitched, by the backend node\'s agent.',
      labelNames: ['node', 'service', 'outcome'],
      registers: [registry],
      collect() {
        dropDeleted();
        this.reset();
        for (const [service, s] of byService) for (const [outcome, n] of s.counts) this.inc({ node, service, outcome }, n);
      },
    });
    this.latency = new SeriesHistogram('hopscope_service_latency_seconds', 'Time from the first hop to the last of a traced packet addressed to a Service (or answering for it); both nodes for a stitched trace.', ['node', 'service'], LATENCY_BUCKETS, registry, dropDeleted);
  }

  /**
   * Drops the series of Services the inventory no longer lists, at every scrape (a trace naming a Service may
   * still arrive after its deletion, e.g. a peer's half: its series goes at the next scrape).
   */
  private dropDeleted(): void {
    const inventory = this.inventory?.();
    if (inventory === undefined) return;
    if (this.live?.of !== inventory) this.live = { of: inventory, names: new Set((inventory.data.services ?? []).map((s) => `${s.namespace}/${s.name}`)) };
    for (const service of this.byService.keys()) {
      if (this.live.names.has(service)) continue;
      this.byService.delete(service);
      this.latency.remove({ node: this.node, service });
    }
  }

  /** A completed trace: counted only when it names a Service. */
  record(t: Trace): void {
    const ref = t.service;
    if (!ref) return;
    const service = `${ref.namespace}/${ref.name}`;
    let s = this.byService.get(service);
    if (!s) this.byService.set(service, (s = { counts: new Map(), latency: this.latency.series({ node: this.node, service }) }));
    s.counts.set(t.outcome, (s.counts.get(t.outcome) ?? 0) + 1);
    if (t.outcome !== 'forwarded' && t.outcome !== 'in-flight') s.latency.observe(t.latency_ns / 1e9);
  }
}
