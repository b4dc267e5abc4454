/**
 * Bounded memory in the model: 1,000,000 distinct flows recorded at >= 50k new flows/s into the flow table
 * with its default cap (65,536), the agent's metrics scraped all along. Active flows never exceed the cap,
 * evictions are counted exactly (1,000,000 - cap) in the table and in hopscope_flows_evicted_total, and the
 * RSS of the whole test process (vitest included), measured after a full GC at every 50,000 flows, stays
 * <= 256 MiB (before GC it is higher: V8 collects lazily; the agent's own RSS under load is in
 * test/kernel/reliability-overload.test.ts).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { DropReasons } from '../../src/decode/drop-reasons.js';
import { AgentMetrics } from '../../src/export/metrics.js';
import { FlowTable } from '../../src/model/flow-table.js';
import { NodeCounters } from '../../src/model/node-counters.js';
import type { Trace } from '../../src/trace/trace.js';
import { recordedInventory, recordedScope } from '../fixtures/lab-scope.js';

const FLOWS = 1_000_000;

/** A full garbage collection, so memory figures show what is retained, not what V8 has yet to collect. */
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function trace(i: number): Trace {
  const t = String(1_700_000_000_000_000_000n + BigInt(i) * 1000n);
  return {
    id: `node-1-${i}`,
    node: 'node-1',
    src: { ip: `10.${(i >>> 16) & 0xff}.${(i >>> 8) & 0xff}.${i & 0xff}`, port: 1024 + (i % 60_000), pod: `pod-${i % 100}`, namespace: 'default', node: 'node-1' },
    dst: { ip: '10.244.2.11', port: 8080, pod: 'pod-2-1', namespace: 'default', node: 'node-2' },
    protocol: 'TCP',
    path: 'cross-node',
    hops: [
      { node: 'node-1', interface: 'eth0', kind: 'pod', direction: 'egress', t, delta_ns: 0 },
      { node: 'node-1', interface: 'veth1p1', kind: 'veth', direction: 'ingress', t, delta_ns: 1000 },
      { node: 'node-1', interface: 'cni0', kind: 'bridge', direction: 'ingress', t, delta_ns: 1000 },
      { node: 'node-1', interface: 'eth0', kind: 'uplink', direction: 'egress', t, delta_ns: 1000 },
    ],
    outcome: 'forwarded',
    latency_ns: 3000,
    packet: { ip_id: i & 0xffff, length: 60, tcp_flags: 'SYN', tcp_seq: i },
  };
}

describe('flow table under 1,000,000 distinct flows', () => {
  it('never exceeds its cap, counts every eviction exactly, >= 50k new flows/s, RSS <= 256 MiB', async () => {
    const flows = new FlowTable();
    const counters = new NodeCounters({ node: 'node-1', bridgeName: 'cni0', scope: recordedScope(1), inventory: () => recordedInventory, dropReasons: new DropReasons(new Map()), requestRescan: () => undefined });
    const metrics = new AgentMetrics({ node: 'node-1', bridge: 'cni0', counters, probes: () => [], flowsActive: () => flows.size, flowsEvicted: () => flows.evicted, streamClients: () => 0, streamDropped: () => 0 }, []);
    const evictedMetric = async () => Number(/^hopscope_flows_evicted_total (\d+)$/m.exec(await metrics.registry.metrics())?.[1]);
    let maxSize = 0;
    let maxRss = process.memoryUsage().rss;
    const baseRss = maxRss;
    let maxHeap = 0;
    let maxPeakRss = 0;
    let busyMs = 0;
    let lastMetric = 0;
    for (let start = 0; start < FLOWS; start += 50_000) {
      const t0 = performance.now();
      for (let i = start; i < start + 50_000; i++) {
        flows.record(trace(i));
        if (flows.size > maxSize) maxSize = flows.size;
      }
      busyMs += performance.now() - t0;
      // a scrape between batches, as Prometheus would: the counter only grows and equals the table's count
      const m = await evictedMetric();
      expect(m).toBeGreaterThanOrEqual(lastMetric);
      expect(m).toBe(flows.evicted);
      lastMetric = m;
      maxPeakRss = Math.max(maxPeakRss, process.memoryUsage().rss);
      gc();
      maxRss = Math.max(maxRss, process.memoryUsage().rss);
      maxHeap = Math.max(maxHeap, process.memoryUsage().heapUsed);
    }
    const rate = FLOWS / (busyMs / 1000);
    console.log(`[reliability] flows: ${FLOWS} distinct flows at ${Math.round(rate)} new flows/s (busy time ${Math.round(busyMs)} ms); cap ${flows.capacity}, max active ${maxSize}, evicted ${flows.evicted}; RSS after GC max ${(maxRss / 2 ** 20).toFixed(1)} MiB (at start ${(baseRss / 2 ** 20).toFixed(1)}), heap retained max ${(maxHeap / 2 ** 20).toFixed(1)} MiB, RSS before GC max ${(maxPeakRss / 2 ** 20).toFixed(1)} MiB`);
    expect(maxSize).toBe(flows.capacity);
    expect(flows.size).toBe(flows.capacity);
    expect(flows.evicted).toBe(FLOWS - flows.capacity);
    expect(await evictedMetric()).toBe(FLOWS - flows.capacity);
    expect(rate).toBeGreaterThanOrEqual(50_000);
    expect(maxRss).toBeLessThanOrEqual(256 * 2 ** 20);
    // the survivors are the newest flows
    expect(flows.list(1)[0]?.src.ip).toBe(trace(FLOWS - 1).src.ip);
  }, 120_000);
});
