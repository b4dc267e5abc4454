/**
 * @module The most recent hop traces, newest first, in a fixed-size ring: memory stays bounded whatever the
 * traffic.
 */
import { matchesTrace, type FilterView, type TraceFilter } from '../filter/trace-filter.js';
import { isPacked, unpack, type PackedTrace } from '../trace/packed-trace.js';
import type { Trace } from '../trace/trace.js';

export class TraceStore {
  /** A trace the assembler is reporting is kept packed (one object instead of ~18, see packed-trace.ts). */
  private readonly ring: (Trace | PackedTrace | undefined)[];
  private next = 0;
  private count = 0;

  constructor(readonly capacity = 10_000) {
    this.ring = new Array<Trace | PackedTrace | undefined>(capacity);
  }

  /** `packed`: the trace's packed form when the assembler made one (TraceAssembler.packedFor), kept instead. */
  add(trace: Trace, packed?: PackedTrace): void {
    this.ring[this.next] = packed ?? trace;
    this.next = (this.next + 1) % this.capacity;
    if (this.count < this.capacity) this.count++;
  }

  get size(): number {
    return this.count;
  }

  /** Matching traces, newest first, at most `filter.limit`. */
  query(filter: TraceFilter): Trace[] {
    const out: Trace[] = [];
    for (let i = 1; i <= this.count && out.length < filter.limit; i++) {
      const kept = this.ring[(this.next - i + this.capacity) % this.capacity] as Trace | PackedTrace;
      // a packed trace is rebuilt only once it matches: a selective query scans the whole ring
      if (isPacked(kept)) {
        if (matchesTrace(filter, filterView(kept))) out.push(unpack(kept));
      } else if (matchesTrace(filter, kept)) out.push(kept);
    }
    return out;
  }
}

/** What a filter reads of a packed trace: every hop of one is on the trace's own node. */
function filterView(p: PackedTrace): FilterView {
  return { path: p.path, outcome: p.outcome, protocol: p.protocol, latency_ns: p.latency, node: p.node, src: p.src, dst: p.dst, service: p.service, hops: [{ node: p.node }] };
}
