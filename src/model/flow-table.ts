/**
 * @module Per-flow summaries (directional 5-tuple): packets traced, path, hop sequence, outcomes and latency
 * statistics. Bounded: at capacity the least recently seen flow is evicted and counted.
 */
import type { Endpoint, Outcome, PathKind, Trace } from '../trace/trace.js';

export interface FlowSummary {
  readonly key: string;
  readonly src: Endpoint;
  readonly dst: Endpoint;
  readonly protocol: string;
  path: PathKind;
  /** Hop kinds and directions of the latest trace, e.g. `pod:egress>veth:ingress>veth:egress>pod:ingress`. */
  hop_sequence: string;
  packets: number;
  outcomes: Partial<Record<Outcome, number>>;
  latency_ns: { min: number; max: number; mean: number; last: number };
  first_seen: string;
  last_seen: string;
}

export class FlowTable {
  private readonly flows = new Map<string, FlowSummary & { latencySum: number }>();
  evicted = 0;

  constructor(readonly capacity = 65_536) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`flow table capacity must be a positive integer, got ${capacity}`);
  }

  get size(): number {
    return this.flows.size;
  }

  record(t: Trace): void {
    const key = `${t.protocol} ${t.src.ip}:${t.src.port ?? 0} > ${t.dst.ip}:${t.dst.port ?? 0}`;
    const seen = t.hops[t.hops.length - 1]?.t ?? '0';
    const sequence = t.hops.map((h) => `${h.kind}:${h.direction}`).join('>');
    let f = this.flows.get(key);
    if (f) {
      this.flows.delete(key); // re-insert: Map order is recency order
    } else {
      if (this.flows.size >= this.capacity) this.evictOldest();
      f = {
        key,
        src: t.src,
        dst: t.dst,
        protocol: t.protocol,
        path: t.path,
        hop_sequence: sequence,
        packets: 0,
        outcomes: {},
        latency_ns: { min: t.latency_ns, max: t.latency_ns, mean: 0, last: 0 },
        latencySum: 0,
        first_seen: t.hops[0]?.t ?? seen,
        last_seen: seen,
      };
    }
    f.packets++;
    f.path = t.path;
    f.hop_sequence = sequence;
    f.outcomes[t.outcome] = (f.outcomes[t.outcome] ?? 0) + 1;
    f.latencySum += t.latency_ns;
    f.latency_ns = {
      min: Math.min(f.latency_ns.min, t.latency_ns),
      max: Math.max(f.latency_ns.max, t.latency_ns),
      mean: Math.round(f.latencySum / f.packets),
      last: t.latency_ns,
    };
    f.last_seen = seen;
    this.flows.set(key, f);
  }

  /** Most recently seen first. */
  list(limit: number, match: (f: FlowSummary) => boolean = () => true): FlowSummary[] {
    const all = [...this.flows.values()];
    const out: FlowSummary[] = [];
    for (let i = all.length - 1; i >= 0 && out.length < limit; i--) {
      const { latencySum: _sum, ...live } = all[i] as FlowSummary & { latencySum: number };
      // a copy: callers keep what they were given while the table goes on counting
      const summary = { ...live, outcomes: { ...live.outcomes }, latency_ns: { ...live.latency_ns } };
      if (match(summary)) out.push(summary);
    }
    return out;
  }

  /**
   * Forgets every flow whose source or destination is `ip` (a deleted pod's address): its per-pod state goes
   * with the pod, and a later pod given the same address starts clean. Returns how many flows were removed.
   */
  forgetAddress(ip: string): number {
    let removed = 0;
    for (const [key, f] of this.flows) {
      if (f.src.ip === ip || f.dst.ip === ip) {
        this.flows.delete(key);
        removed++;
      }
    }
    return removed;
  }

  private evictOldest(): void {
    const oldest = this.flows.keys().next();
    if (!oldest.done) {
      this.flows.delete(oldest.value);
      this.evicted++;
    }
  }
}
