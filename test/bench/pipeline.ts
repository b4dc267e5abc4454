/**
 * @module The agent's userspace pipeline for one node, built from the real stages exactly as agent/agent.ts
 * wires them (probeLineHandler: decodeLine -> routeEvent -> TraceAssembler -> CrossNodeJoiner -> TraceStore,
 * FlowTable, AgentMetrics.recordTrace, hopscope_events_total per event; the tick of both), without processes,
 * HTTP or peers, for the userspace benchmarks.
 */
import { FixedWallClock } from '../../src/clock/wall-clock.js';
import { ClockOffsetEstimator } from '../../src/cross/clock-offset.js';
import { CrossNodeJoiner } from '../../src/cross/cross-node-joiner.js';
import { decodeLine } from '../../src/decode/decode-line.js';
import { DropReasons } from '../../src/decode/drop-reasons.js';
import { AgentMetrics } from '../../src/export/metrics.js';
import { FlowTable } from '../../src/model/flow-table.js';
import { NodeCounters } from '../../src/model/node-counters.js';
import { TraceStore } from '../../src/model/trace-store.js';
import { PROBE_GROUPS } from '../../src/probes/probe-catalog.js';
import { TraceAssembler } from '../../src/trace/trace-assembler.js';
import type { Trace } from '../../src/trace/trace.js';
import { routeEvent } from '../../agent/route-event.js';
import { probeLineHandler } from '../../agent/probe-lines.js';
import { benchInventory, benchScope } from './recorded-stream.js';

export interface Pipeline {
  /** What the agent's onLine does with one probe line. */
  onLine(line: string): void;
  /** What the agent's 20 ms timer does (with the stream's own clock). */
  tick(nowMonoNs: number): void;
  readonly assembler: TraceAssembler;
  readonly flows: FlowTable;
  readonly metrics: AgentMetrics;
  readonly traces: TraceStore;
  readonly decodeErrors: number;
}

/**
 * How much of the pipeline runs (for the breakdown): `decode` only decodes; `assemble` also joins hops into
 * traces; `aggregate` also records them (trace ring, flow table); `full` is all the agent does: also the
 * Prometheus metrics (hopscope_events_total per event, recordTrace per trace) and the cross-node joiner that
 * every trace passes on its way to the ring, the flow table and the metrics.
 */
export type Stage = 'decode' | 'assemble' | 'aggregate' | 'full';

export function makePipeline(o: { flowCapacity?: number; onTrace?: (t: Trace) => void; keepTraces?: boolean; joiner?: boolean; stage?: Stage } = {}): Pipeline {
  const stage = o.stage ?? 'full';
  const scope = benchScope();
  const inventory = () => benchInventory;
  const dropReasons = new DropReasons(new Map([[2, 'NOT_SPECIFIED'], [3, 'NO_SOCKET'], [88, 'IP_INNOROUTES']]));
  const counters = new NodeCounters({ node: 'node-1', bridgeName: 'cni0', scope, inventory, dropReasons, requestRescan: () => undefined });
  const flows = new FlowTable(o.flowCapacity);
  const traces = new TraceStore();
  const metrics = new AgentMetrics(
    {
      node: 'node-1',
      bridge: 'cni0',
      counters,
      probes: () => PROBE_GROUPS.map((g) => ({ name: g.name, up: true, restarts: 0, native: false })),
      flowsActive: () => flows.size,
      flowsEvicted: () => flows.evicted,
      streamClients: () => 0,
      streamDropped: () => 0,
    },
    PROBE_GROUPS.map((g) => g.name),
  );
  const keep = o.keepTraces ?? true;
  const assembler = new TraceAssembler({
    node: 'node-1',
    scope,
    inventory,
    clock: new FixedWallClock(1_700_000_000_000_000_000n),
    dropReasons,
    onTrace: (t) => (stage === 'full' && o.joiner !== false ? joiner.onLocal(t) : report(t)),
  });
  // as agent/agent.ts: every trace goes through the cross-node joiner (no peers here, as an agent without
  // --peer), which reports it; the stream fan-out is left out (with no clients it returns at once)
  const report = (t: Trace) => {
    if (stage !== 'assemble') {
      if (keep) traces.add(t, assembler.packedFor(t));
      flows.record(t);
      if (stage === 'full') metrics.recordTrace(t);
    }
    o.onTrace?.(t);
  };
  const joiner = new CrossNodeJoiner({ node: 'node-1', offsets: new ClockOffsetEstimator(), peerConnected: () => false, emit: report });
  // the full pipeline is the agent's own line handler; the partial stages stop early on the same path
  let groupCounters: ReturnType<AgentMetrics['probeCounters']> | undefined;
  const handle = probeLineHandler({ probeCounters: (g) => (groupCounters = metrics.probeCounters(g)) }, { assembler, counters });
  const sinks = { assembler, counters, lost: () => undefined };
  let partialErrors = 0;
  const p: Pipeline = {
    assembler,
    flows,
    metrics,
    traces,
    get decodeErrors() {
      // nothing scrapes during a bench run, so the pending count is the count
      return stage === 'full' ? (groupCounters?.decodeErrors.n ?? 0) : partialErrors;
    },
    onLine(line: string) {
      if (stage === 'full') {
        handle('hops', line);
        return;
      }
      if (line === '') return;
      const r = decodeLine(line);
      if (!r.ok) {
        partialErrors++;
        return;
      }
      if (stage === 'decode') return;
      routeEvent(r.event, sinks);
    },
    tick(now: number) {
      assembler.tick(now);
      joiner.tick();
    },
  };
  return p;
}

/** The monotonic time of a hop line (its third field), without decoding it. */
export function monoOf(line: string): number {
  const a = line.indexOf(' ', 2);
  const b = line.indexOf(' ', a + 1);
  return Number(line.slice(a + 1, b));
}
