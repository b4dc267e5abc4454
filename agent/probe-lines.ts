/**
 * @module The agent's line path: one line of a probe group's output -> decoded -> routed to the stages, with
 * the per-group counters (events, decode errors, kernel-side lost events). Never throws on any line.
 */
import { decodeLine } from '../src/decode/decode-line.js';
import type { AgentMetrics } from '../src/export/metrics.js';
import { routeEvent, type EventSinks } from './route-event.js';

export type ProbeLineHandler = (group: string, line: string) => void;

export function probeLineHandler(metrics: Pick<AgentMetrics, 'events' | 'eventsLost' | 'decodeErrors'>, sinks: Omit<EventSinks, 'lost'>): ProbeLineHandler {
  return (group, line) => {
    if (line === '') return; // bpftrace separates printed maps with blank lines
    const labels = { probe: group };
    const r = decodeLine(line);
    if (!r.ok) {
      metrics.decodeErrors.inc(labels);
      return;
    }
    if (routeEvent(r.event, { ...sinks, lost: (n) => metrics.eventsLost.inc(labels, n) })) metrics.events.inc(labels);
  };
}
