/**
 * @module The most recent hop traces, newest first, in a fixed-size ring: memory stays bounded whatever the
 * traffic.
 */
import { matchesTrace, type TraceFilter } from '../filter/trace-filter.js';
import { isPacked, packedOf, unpack, type PackedTrace } from '../trace/packed-trace.js';
import type { Trace } from '../trace/trace.js';

export class TraceStore {
  /** A trace the assembler is reporting is kept packed (one object instead of ~18, see packed-trace.ts). */
  private readonly ring: (Trace | PackedTrace | undefined)[];
  private next = 0;
  private count = 0;

  constructor(readonly capacity = 10_000) {
    this.ring = new Array<Trace | PackedTrace | undefined>(capacity);
  }

  add(trace: Trace): void {
    this.ring[this.next] = packedOf(trace) ?? trace;
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
      const t = isPacked(kept) ? unpack(kept) : kept;
      if (matchesTrace(filter, t)) out.push(t);
    }
    return out;
  }
}
