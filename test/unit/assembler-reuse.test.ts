/**
 * @module The assembler reuses its open traces (a pool, hops in parallel arrays): a trace built from a reused
 * one must equal the trace a fresh assembler builds. The recorded overlay, IPv6 and Service NAT streams are
 * fed twice through one assembler (the second time shifted in time, after every first-pass trace closed, so
 * every later trace starts on a pooled object that last held some other packet: encapsulated hops, rewritten
 * addresses, a drop; partial passes in between change which object meets which packet); every full pass must give
 * exactly the traces of a fresh assembler (ids and wall times aside).
 */
import { describe, expect, it } from 'vitest';
import { FixedWallClock } from '../../src/clock/wall-clock.js';
import { DropReasons } from '../../src/decode/drop-reasons.js';
import type { ProbeEvent } from '../../src/decode/probe-event.js';
import type { Inventory } from '../../src/inventory/inventory.js';
import type { NodeScope } from '../../src/scope/node-scope.js';
import { TraceAssembler } from '../../src/trace/trace-assembler.js';
import type { Trace } from '../../src/trace/trace.js';
import { recordedInventory6, recordedScope, recordedVxlanInventory, recordedVxlanScope } from '../fixtures/lab-scope.js';
import { servicesInventory, servicesScope } from '../fixtures/services-scope.js';
import { recordedEvents } from '../fixtures/recorded.js';

const REASONS = new DropReasons(new Map([[2, 'NOT_SPECIFIED'], [3, 'NO_SOCKET'], [58, 'NEIGH_FAILED'], [88, 'IP_INNOROUTES']]));
const SHIFT_NS = 100_000_000_000;

function feed(a: TraceAssembler, events: readonly ProbeEvent[], shiftNs: number): void {
  for (const e of events) {
    if (e.type === 'hop') a.onHop({ ...e, monoNs: e.monoNs + shiftNs });
    else if (e.type === 'drop') a.onDrop({ ...e, monoNs: e.monoNs + shiftNs });
  }
  a.tick(Number.MAX_SAFE_INTEGER / 2 + shiftNs);
}

/** A trace without what differs between passes: its id and the hops' wall times. */
function comparable(t: Trace): unknown {
  const { id: _id, hops, ...rest } = t;
  return { ...rest, hops: hops.map(({ t: _t, ...h }) => h) };
}

const CASES: [string, string, (n: 1 | 2) => NodeScope, Inventory][] = [
  ['Service NAT', 'lab-2x2-services.txt', servicesScope, servicesInventory],
  ['VXLAN overlay', 'lab-2x2-vxlan-icmp.txt', recordedVxlanScope, recordedVxlanInventory],
  ['IPv6 dual-stack', 'lab-2x2-ipv6.txt', recordedScope, recordedInventory6],
];

describe.each(CASES)('reused open traces: %s recording', (_name, file, scope, inventory) => {
  const events = recordedEvents(file);
  for (const node of [1, 2] as const) {
    it(`node-${node}: every full pass through one reused assembler gives a fresh assembler's traces`, () => {
      const make = (out: Trace[]) =>
        new TraceAssembler({
          node: `node-${node}`, scope: scope(node), inventory: () => inventory, clock: new FixedWallClock(1_700_000_000_000_000_000n), dropReasons: REASONS,
          onTrace: (t) => out.push(t),
        });
      const fresh: Trace[] = [];
      feed(make(fresh), events, 0);
      const out: Trace[] = [];
      const reused = make(out);
      feed(reused, events, 0);
      expect(fresh.length).toBeGreaterThan(0);
      expect(out.splice(0).map(comparable)).toEqual(fresh.map(comparable));
      // the pool's order differs after each partial pass (a tail of the recording): other objects meet other packets
      let shift = 0;
      for (const from of [0, 0.37, 0.61, 0.83]) {
        feed(reused, events.slice(Math.floor(from * events.length)), (shift += SHIFT_NS));
        out.length = 0;
        feed(reused, events, (shift += SHIFT_NS));
        expect(out.map(comparable)).toEqual(fresh.map(comparable));
      }
      // the feature each recording is about is in it (so reuse went through it)
      const all = JSON.stringify(fresh);
      if (file.includes('services') && node === 1) expect(all).toContain('"nat":"dnat"');
      if (file.includes('vxlan')) expect(all).toContain('"encap":"vxlan"');
      if (file.includes('ipv6')) expect(all).toContain('"flow_label"');
    });
  }
});
