/**
 * @module The trace ring keeps a trace the assembler reports packed (one object, see packed-trace.ts) and
 * builds it again when read: what it serves must be byte-identical to the trace the assembler reported, on
 * the four recorded lab streams (plain, Service NAT, VXLAN overlay, IPv6) and the bench's synthetic stream,
 * also when the clock's offset changes between traces and when the ring is queried with a filter. A trace
 * that is not the one being reported (a copy, as the joiner makes) is kept as it is.
 */
import { describe, expect, it } from 'vitest';
import type { WallClock } from '../../src/clock/wall-clock.js';
import { feedLines, recordedLines } from '../fixtures/recorded.js';
import { DropReasons } from '../../src/decode/drop-reasons.js';
import { matchesTrace, parseTraceFilter, type TraceFilter } from '../../src/filter/trace-filter.js';
import type { Inventory } from '../../src/inventory/inventory.js';
import { TraceStore } from '../../src/model/trace-store.js';
import type { NodeScope } from '../../src/scope/node-scope.js';
import { pack, unpack, type PackedTrace } from '../../src/trace/packed-trace.js';
import { TraceAssembler } from '../../src/trace/trace-assembler.js';
import type { Trace } from '../../src/trace/trace.js';
import { recordedInventory, recordedInventory6, recordedScope, recordedVxlanInventory, recordedVxlanScope } from '../fixtures/lab-scope.js';
import { servicesInventory, servicesScope } from '../fixtures/services-scope.js';
import { benchInventory, benchScope, makeStream } from '../bench/recorded-stream.js';

const REASONS = new DropReasons(new Map([[2, 'NOT_SPECIFIED'], [3, 'NO_SOCKET'], [58, 'NEIGH_FAILED'], [88, 'IP_INNOROUTES']]));

/** A clock whose offset (a new bigint object) moves by 1.5 s every `every` conversions. */
function steppingClock(every: number): WallClock {
  let calls = 0;
  let offset = 1_700_000_000_123_456_789n;
  return {
    wallOffsetNs() {
      if (++calls % every === 0) offset += 1_500_000_000n;
      return offset;
    },
    toWallNs(m) {
      return BigInt(m) + offset;
    },
    nowMonoNs: () => 0,
  };
}

function filter(input: Record<string, unknown>): TraceFilter {
  const r = parseTraceFilter(input);
  if (!r.ok) throw new Error(r.error);
  return r.filter;
}

/** Feeds `lines` through an assembler whose every trace goes into a ring; returns what was reported, the ring and how many went in packed. */
function run(lines: readonly string[], scope: NodeScope, inventory: Inventory, node: string, clock: WallClock, copyEvery = 0) {
  const reported: Trace[] = [];
  const packedForms: PackedTrace[] = [];
  const store = new TraceStore(100_000);
  let packed = 0;
  const a: TraceAssembler = new TraceAssembler({
    node, scope, inventory: () => inventory, clock, dropReasons: REASONS,
    onTrace: (t) => {
      const p = a.packedFor(t);
      if (p) (packed++, packedForms.push(p));
      // a copy stands for a trace changed on the way (stitched, round trip): not the one being reported
      const kept = copyEvery > 0 && reported.length % copyEvery === 0 ? { ...t } : t;
      reported.push(kept);
      store.add(kept, a.packedFor(kept));
    },
  });
  feedLines(a, lines);
  return { reported, store, packed, packedForms };
}

const CASES: [string, () => string[], (n: 1 | 2) => NodeScope, Inventory][] = [
  ['ICMP lab recording', () => recordedLines('lab-2x2-icmp.txt'), recordedScope, recordedInventory],
  ['Service NAT recording', () => recordedLines('lab-2x2-services.txt'), servicesScope, servicesInventory],
  ['VXLAN overlay recording', () => recordedLines('lab-2x2-vxlan-icmp.txt'), recordedVxlanScope, recordedVxlanInventory],
  ['IPv6 recording', () => recordedLines('lab-2x2-ipv6.txt'), recordedScope, recordedInventory6],
  ['bench stream', () => makeStream({ flows: 2_000, packets: 20_000, window: 32 }).text.trimEnd().split('\n'), () => benchScope(), benchInventory],
];

describe.each(CASES)('packed trace ring: %s', (name, lines, scope, inventory) => {
  const text = lines();
  for (const node of name === 'bench stream' ? ([1] as const) : ([1, 2] as const)) {
    for (const [clockName, every, copyEvery] of [['a fixed offset', 1e9, 0], ['an offset that steps every 7 traces', 7, 0], ['every 5th trace a copy', 1e9, 5]] as const) {
      it(`node-${node}, ${clockName}: the ring serves exactly the traces reported`, () => {
        const { reported, store, packed } = run(text, scope(node), inventory, `node-${node}`, steppingClock(every), copyEvery);
        expect(reported.length).toBeGreaterThan(0);
        // traces went in packed (a NAT-rewritten one, or one of more than 6 hops, is kept whole): all of the bench's
        if (name === 'bench stream') expect(packed).toBe(reported.length);
        else expect(packed).toBeGreaterThan(0);
        expect(JSON.stringify(store.query(filter({ limit: '10000' })))).toBe(JSON.stringify([...reported].reverse().slice(0, 10_000)));
        const delivered = filter({ outcome: 'delivered', limit: '50' });
        expect(JSON.stringify(store.query(delivered))).toBe(JSON.stringify([...reported].reverse().filter((t) => t.outcome === 'delivered').slice(0, 50)));
        // packed traces are matched without being rebuilt: the same answers as matching the whole traces
        for (const input of [{ protocol: 'icmp' }, { node: 'node-2' }, { pod: 'default/pod-1-1' }, { namespace: 'default' }, { min_latency: '50us' }, { path: 'cross-node' }, { service: 'default/web' }]) {
          const f = filter({ ...input, limit: '200' });
          expect(JSON.stringify(store.query(f)), JSON.stringify(input)).toBe(JSON.stringify([...reported].reverse().filter((t) => matchesTrace(f, t)).slice(0, 200)));
        }
      });
    }
  }
});

describe('packed form, directly', () => {
  const { packedForms } = run(recordedLines('lab-2x2-icmp.txt'), recordedScope(1), recordedInventory, 'node-1', steppingClock(1e9), 0);
  const p = packedForms[0]!;
  const sample = unpack(p);

  it('unpack gives back a trace\'s reason and Service in their places', () => {
    expect(sample.hops.length).toBeGreaterThan(1);
    const service = { namespace: 'default', name: 'web', ip: '10.96.0.10', port: 80 };
    const withBoth = unpack({ ...p, reason: 'NO_SOCKET', service });
    expect(withBoth).toEqual({ ...sample, reason: 'NO_SOCKET', service });
    // in the assembler's order (the ring serves the same bytes): reason after outcome, service last
    const keys = Object.keys(sample);
    keys.splice(keys.indexOf('outcome') + 1, 0, 'reason');
    expect(Object.keys(withBoth)).toEqual([...keys, 'service']);
  });

  it('a trace with what the packed form has no place for is not packed: hop addresses, NAT, cross-node timing', () => {
    const source = { idPrefix: 'x', seq: 1, offset: 0n, firstMono: 1000 };
    expect(pack(sample, source)).toBeDefined();
    const hop0 = sample.hops[0]!;
    for (const extra of [{ daddr: '10.96.0.10' }, { dport: 80 }, { nat: 'dnat' as const }, { saddr: '10.96.0.10' }, { sport: 80 }, { delta_error_ns: 5 }]) {
      expect(pack({ ...sample, hops: [{ ...hop0, ...extra }, ...sample.hops.slice(1)] }, source)).toBeUndefined();
    }
    expect(pack({ ...sample, cross_node: { method: 'one-way', source_node: 'node-1', destination_node: 'node-2', transit_ns: 1, clock_offset_ns: 0, error_ns: 1 } }, source)).toBeUndefined();
  });
});
