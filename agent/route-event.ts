/**
 * @module Where each decoded probe event goes: the one place that knows which stage consumes which event.
 */
import type { ProbeEvent } from '../src/decode/probe-event.js';
import type { NodeCounters } from '../src/model/node-counters.js';
import type { TraceAssembler } from '../src/trace/trace-assembler.js';

export interface EventSinks {
  readonly assembler: TraceAssembler;
  readonly counters: NodeCounters;
  /** Kernel-side losses bpftrace reported. */
  readonly lost: (count: number) => void;
}

/** Routes one event; returns whether it counts as a probe event (for hopscope_events_total). */
export function routeEvent(e: ProbeEvent, s: EventSinks): boolean {
  switch (e.type) {
    case 'hop':
      s.assembler.onHop(e);
      return true;
    case 'drop':
      s.assembler.onDrop(e);
      s.counters.onDrop(e);
      return true;
    case 'fdb':
      s.counters.onFdb(e);
      return true;
    case 'neigh-failed':
      s.counters.onNeighFailure(e);
      return true;
    case 'counter':
      s.counters.onCounter(e);
      return false;
    case 'lost':
      s.lost(e.count);
      return false;
    case 'ready':
      return false;
  }
}
