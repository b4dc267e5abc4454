/**
 * @module The flow table finds a flow by a number (a hash of its 5-tuple) and a comparison, where it used to
 * build and hash a key text per packet: the flows it lists must be exactly those of a table keyed by that text
 * (the reference below, the old way written out), on the recorded lab streams and on the bench's synthetic
 * stream (20,000 flows, with a small capacity so that eviction runs), and two 5-tuples with the same hash stay
 * two flows.
 */
import { describe, expect, it } from 'vitest';
import { FixedWallClock } from '../../src/clock/wall-clock.js';
import { feedLines, recordedLines } from '../fixtures/recorded.js';
import { DropReasons } from '../../src/decode/drop-reasons.js';
import type { Inventory } from '../../src/inventory/inventory.js';
import { FlowTable, flowHash, type FlowSummary } from '../../src/model/flow-table.js';
import type { NodeScope } from '../../src/scope/node-scope.js';
import { TraceAssembler } from '../../src/trace/trace-assembler.js';
import type { Outcome, Trace } from '../../src/trace/trace.js';
import { recordedInventory, recordedInventory6, recordedScope, recordedVxlanInventory, recordedVxlanScope } from '../fixtures/lab-scope.js';
import { servicesInventory, servicesScope } from '../fixtures/services-scope.js';
import { benchInventory, benchScope, makeStream } from '../bench/recorded-stream.js';

const REASONS = new DropReasons(new Map([[2, 'NOT_SPECIFIED'], [3, 'NO_SOCKET'], [58, 'NEIGH_FAILED'], [88, 'IP_INNOROUTES']]));

function traces(lines: readonly string[], scope: NodeScope, inventory: Inventory, node: string): Trace[] {
  const out: Trace[] = [];
  const a = new TraceAssembler({ node, scope, inventory: () => inventory, clock: new FixedWallClock(1_700_000_000_000_000_000n), dropReasons: REASONS, onTrace: (t) => out.push(t) });
  feedLines(a, lines);
  return out;
}

/** The table keyed by its text, as before: delete + set for recency, the least recent evicted at capacity. */
function reference(all: readonly Trace[], capacity: number): { list: FlowSummary[]; evicted: number } {
  let evicted = 0;
  const flows = new Map<string, FlowSummary & { sum: number }>();
  for (const t of all) {
    const key = `${t.protocol} ${t.src.ip}:${t.src.port ?? 0} > ${t.dst.ip}:${t.dst.port ?? 0}`;
    const seen = t.hops[t.hops.length - 1]?.t ?? '0';
    const sequence = t.hops.map((h) => `${h.kind}:${h.direction}`).join('>');
    let f = flows.get(key);
    if (f) {
      flows.delete(key);
      f.path = t.path;
      f.hop_sequence = sequence;
      f.latency_ns.min = Math.min(f.latency_ns.min, t.latency_ns);
      f.latency_ns.max = Math.max(f.latency_ns.max, t.latency_ns);
      f.last_seen = seen;
    } else {
      if (flows.size >= capacity) {
        flows.delete(flows.keys().next().value as string);
        evicted++;
      }
      const latency_ns = { min: t.latency_ns, max: t.latency_ns, mean: 0, last: 0 };
      f = { key, src: t.src, dst: t.dst, protocol: t.protocol, path: t.path, hop_sequence: sequence, packets: 0, outcomes: {}, latency_ns, first_seen: t.hops[0]?.t ?? seen, last_seen: seen, sum: 0 };
    }
    flows.set(key, f);
    f.packets++;
    f.outcomes[t.outcome as Outcome] = (f.outcomes[t.outcome as Outcome] ?? 0) + 1;
    f.sum += t.latency_ns;
    f.latency_ns.last = t.latency_ns;
    f.latency_ns.mean = Math.round(f.sum / f.packets);
  }
  const list = [...flows.values()].reverse().map((f) => {
    // the table lists outcomes in this order
    const outcomes: Partial<Record<Outcome, number>> = {};
    for (const o of ['delivered', 'forwarded', 'dropped', 'route-miss', 'in-flight'] as const) if (f.outcomes[o]) outcomes[o] = f.outcomes[o];
    const { key, src, dst, protocol, path, hop_sequence, packets, latency_ns, first_seen, last_seen } = f;
    return { key, src, dst, protocol, path, hop_sequence, packets, outcomes, latency_ns, first_seen, last_seen };
  });
  return { list, evicted };
}

const CASES: [string, () => Trace[]][] = [
  ['ICMP lab recording', () => [1, 2].flatMap((n) => traces(recordedLines('lab-2x2-icmp.txt'), recordedScope(n as 1 | 2), recordedInventory, `node-${n}`))],
  ['Service NAT recording', () => [1, 2].flatMap((n) => traces(recordedLines('lab-2x2-services.txt'), servicesScope(n as 1 | 2), servicesInventory, `node-${n}`))],
  ['VXLAN overlay recording', () => [1, 2].flatMap((n) => traces(recordedLines('lab-2x2-vxlan-icmp.txt'), recordedVxlanScope(n as 1 | 2), recordedVxlanInventory, `node-${n}`))],
  ['IPv6 recording', () => [1, 2].flatMap((n) => traces(recordedLines('lab-2x2-ipv6.txt'), recordedScope(n as 1 | 2), recordedInventory6, `node-${n}`))],
  ['bench stream (20,000 TCP and UDP flows)', () => traces(makeStream({ flows: 20_000, packets: 40_000, window: 32 }).text.trimEnd().split('\n'), benchScope(), benchInventory, 'node-1')],
];

describe.each(CASES)('flow table by hash: %s', (_name, make) => {
  const all = make();
  for (const capacity of [65_536, 7, 500]) {
    it(`lists exactly the flows of a table keyed by text (capacity ${capacity})`, () => {
      expect(all.length).toBeGreaterThan(0);
      const table = new FlowTable(capacity);
      for (const t of all) table.record(t);
      const want = reference(all, capacity);
      expect(table.size).toBe(want.list.length);
      expect(JSON.stringify(table.list(1e9))).toBe(JSON.stringify(want.list));
      expect(table.evicted).toBe(want.evicted);
    });
  }
});

describe('flow table last_seen', () => {
  it('gives back the last hop\'s time text exactly, whatever its form', () => {
    const table = new FlowTable();
    const at = (t: string): Trace => ({
      id: `t-${t}`, node: 'node-1', src: { ip: '10.0.0.1' }, dst: { ip: '10.0.0.2' }, protocol: 'ICMP', path: 'same-node',
      hops: [{ node: 'node-1', interface: 'eth0', kind: 'pod', direction: 'egress', t, delta_ns: 0 }], outcome: 'delivered', latency_ns: 0, packet: { ip_id: 1, length: 84 },
    });
    for (const t of ['1700000604488766385', '1700000604000000005', '9999999999999999999', '1000000000', '123456789', '0', '0123456789012', '17000006044887663851', '170000060448876638x', '1700000604 88766385', '']) {
      table.record(at(t));
      expect(table.list(1)[0]?.last_seen).toBe(t);
    }
    expect(table.list(1)[0]?.first_seen).toBe('1700000604488766385');
  });
});

describe('flow table hash collisions', () => {
  // found by search: two 5-tuples with one hash
  const a = ['TCP', '10.0.66.7', 30074, '10.244.2.122', 197] as const;
  const b = ['TCP', '10.0.163.7', 30295, '10.244.2.87', 198] as const;
  const trace = ([protocol, sip, sport, dip, dport]: typeof a | typeof b, latency: number): Trace => ({
    id: `t-${sip}-${latency}`, node: 'node-1', src: { ip: sip, port: sport }, dst: { ip: dip, port: dport }, protocol, path: 'cross-node',
    hops: [{ node: 'node-1', interface: 'eth0', kind: 'uplink', direction: 'ingress', t: String(1_700_000_000_000_000_000n + BigInt(latency)), delta_ns: 0 }],
    outcome: 'delivered', latency_ns: latency, packet: { ip_id: 1, length: 60 },
  });

  it('keeps two 5-tuples with the same hash apart, through eviction and forgetting', () => {
    expect(flowHash(...a)).toBe(flowHash(...b));
    const table = new FlowTable(2);
    table.record(trace(a, 10));
    table.record(trace(b, 20));
    table.record(trace(a, 30));
    expect(table.list(10).map((f) => [f.key, f.packets, f.latency_ns.mean])).toEqual([
      ['TCP 10.0.66.7:30074 > 10.244.2.122:197', 2, 20],
      ['TCP 10.0.163.7:30295 > 10.244.2.87:198', 1, 20],
    ]);
    // b is the least recent: a third flow evicts it, a stays findable
    table.record(trace(['TCP', '10.0.0.1', 1, '10.0.0.2', 2] as unknown as typeof a, 5));
    table.record(trace(a, 40));
    expect(table.list(10).map((f) => [f.key, f.packets])).toEqual([
      ['TCP 10.0.66.7:30074 > 10.244.2.122:197', 3],
      ['TCP 10.0.0.1:1 > 10.0.0.2:2', 1],
    ]);
    table.record(trace(b, 50)); // evicts 10.0.0.1; b is new again, behind a in the chain
    expect(table.forgetAddress('10.0.66.7')).toBe(1);
    table.record(trace(b, 60));
    expect(table.list(10).map((f) => [f.key, f.packets])).toEqual([['TCP 10.0.163.7:30295 > 10.244.2.87:198', 2]]);
    expect(table.size).toBe(1);
  });

  it('with every flow in one chain (a constant hash), flows differing in one field of the 5-tuple stay apart', () => {
    const table = new FlowTable(100, () => 7);
    const base = ['TCP', '10.244.1.11', 40000, '10.244.2.11', 8080] as unknown as typeof a;
    const variants = [
      ['UDP', '10.244.1.11', 40000, '10.244.2.11', 8080],
      ['TCP', '10.244.1.12', 40000, '10.244.2.11', 8080],
      ['TCP', '10.244.1.11', 40001, '10.244.2.11', 8080],
      ['TCP', '10.244.1.11', 40000, '10.244.2.12', 8080],
      ['TCP', '10.244.1.11', 40000, '10.244.2.11', 8081],
      ['TCP', 'fd00:10:244:1::11', 40000, '10.244.2.11', 8080],
    ] as unknown as (typeof a)[];
    table.record(trace(base, 10));
    for (const v of variants) table.record(trace(v, 20));
    table.record(trace(base, 30));
    expect(table.size).toBe(7);
    const listed = table.list(100);
    expect(listed.find((f) => f.key === 'TCP 10.244.1.11:40000 > 10.244.2.11:8080')?.packets).toBe(2);
    expect(listed.filter((f) => f.packets === 1)).toHaveLength(6);
  });
});
