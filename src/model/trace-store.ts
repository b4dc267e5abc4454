/**
 * @module The most recent hop traces, newest first, in a fixed-size ring: memory stays bounded whatever the
 * traffic.
 */
import { matchesTrace, type TraceFilter } from '../filter/trace-filter.js';
import type { Trace } from '../trace/trace.js';

export class TraceStore {
  private readonly ring: (Trace | undefined)[];
  private next = 0;
  private count = 0;

  constructor(readonly capacity = 10_000) {
    this.ring = new Array<Trace | undefined>(capacity);
  }

  add(trace: Trace): void {
    this.ring[this.next] = trace;
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
      const t = this.ring[(this.next - i + this.capacity) % this.capacity] as Trace;
      if (matchesTrace(filter, t)) out.push(t);
    }
    return out;
  }
}
