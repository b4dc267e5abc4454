/**
 * @module The agent's line path: one line of a probe group's output -> decoded -> routed to the stages, with
 * the per-group counters (events, decode errors, kernel-side lost events). Never throws on any line.
 */
import { decodeLine } from '../src/decode/decode-line.js';
import type { AgentMetrics } from '../src/export/metrics.js';
import { routeEvent, type EventSinks } from './route-event.js';

export type ProbeLineHandler = (group: string, line: string) => void;

export function probeLineHandler(metrics: Pick<AgentMetrics, 'probeCounters'>, sinks: Omit<EventSinks, 'lost'>): ProbeLineHandler {
  // per group, once: this runs for every line, so no label objects or closures are built per event, and the
  // counters add to plain numbers (prom-client would hash the labels on every inc, also through labels())
  const perGroup = new Map<string, { events: { inc(): void }; decodeErrors: { inc(): void }; sinks: EventSinks }>();
  let lastGroup = '';
  let last: { events: { inc(): void }; decodeErrors: { inc(): void }; sinks: EventSinks } | undefined;
  const forGroup = (group: string) => {
    if (group === lastGroup && last) return last;
    let g = perGroup.get(group);
    if (!g) {
      const c = metrics.probeCounters(group);
      g = {
        events: c.events,
        decodeErrors: c.decodeErrors,
        sinks: { ...sinks, lost: (n) => c.eventsLost.inc(n) },
      };
      perGroup.set(group, g);
    }
    lastGroup = group;
    last = g;
    return g;
  };
  return (group, line) => {
    if (line === '') return; // bpftrace separates printed maps with blank lines
    const g = forGroup(group);
    const r = decodeLine(line);
    if (!r.ok) {
      g.decodeErrors.inc();
      return;
    }
    if (routeEvent(r.event, g.sinks)) g.events.inc();
  };
}
