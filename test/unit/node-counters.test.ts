import { describe, expect, it, vi } from 'vitest';
import { DropReasons } from '../../src/decode/drop-reasons.js';
import type { CounterEvent, DropEvent, FdbEvent, NeighFailureEvent } from '../../src/decode/probe-event.js';
import { Inventory } from '../../src/inventory/inventory.js';
import { NodeCounters, routeMissReason, ROUTE_MISS_REASONS } from '../../src/model/node-counters.js';
import type { NodeScope } from '../../src/scope/node-scope.js';
import { recordedInventory, recordedScope, RECORDED_NETNS } from '../fixtures/lab-scope.js';

const REASONS = new DropReasons(new Map([[2, 'NOT_SPECIFIED'], [3, 'NO_SOCKET'], [13, 'OTHERHOST'], [58, 'NEIGH_FAILED'], [88, 'IP_INNOROUTES']]));
const N = RECORDED_NETNS;
const MAC = '7a:37:62:66:97:4b';

function node1(scope: NodeScope = recordedScope(1)) {
  const requestRescan = vi.fn();
  const counters = new NodeCounters({ node: 'node-1', bridgeName: 'cni0', scope, inventory: () => recordedInventory, dropReasons: REASONS, requestRescan });
  return { counters, scope, requestRescan };
}

function drop(over: Partial<DropEvent> = {}): DropEvent {
  return {
    type: 'drop', monoNs: 1_000_000_000, netns: N.node1, ifindex: 3, skb: '18446612686551570944', reason: 3,
    saddr: '10.244.1.11', daddr: '10.244.2.11', protocol: 1, ipId: 4242, cpu: 0, fibErr: 0, ...over,
  };
}

function neigh(device: string, address: string): NeighFailureEvent {
  return { type: 'neigh-failed', monoNs: 1, device, family: 2, address, state: 32 };
}

function fdb(op: FdbEvent['op'], port: string | undefined, over: Partial<FdbEvent> = {}): FdbEvent {
  return { type: 'fdb', op, monoNs: 1, bridge: 'cni0', ...(port === undefined ? {} : { port }), mac: MAC, vid: 0, taskNetns: 0, ...over };
}

function counter(name: string, netns: number, ifindex: number, value: number): CounterEvent {
  return { type: 'counter', name, keys: [netns, ifindex], value };
}

describe('routeMissReason', () => {
  it.each([
    ['IP_INNOROUTES', 0, 'no-route'],
    ['IP_OUTNOROUTES', 0, 'no-route'],
    ['NEIGH_FAILED', 0, 'neighbor-failed'],
    ['NOT_SPECIFIED', -113, 'unreachable'],
    ['NOT_SPECIFIED', -13, 'prohibit'],
    ['NOT_SPECIFIED', -101, 'no-route'],
    ['IP_INNOROUTES', -113, 'unreachable'],
  ] as const)('%s with route lookup error %d -> %s', (name, fibErr, expected) => {
    expect(routeMissReason(name, fibErr)).toBe(expected);
  });

  it.each([
    ['NOT_SPECIFIED', 0],
    ['NO_SOCKET', 0],
    ['OTHERHOST', 0],
    ['NOT_SPECIFIED', -11],
  ] as const)('%s with route lookup error %d is no route miss', (name, fibErr) => {
    expect(routeMissReason(name, fibErr)).toBeUndefined();
  });
});

describe('NodeCounters: drops', () => {
  it('counts a drop by reason name in the node netns and in its pods\' netns', () => {
    const { counters } = node1();
    counters.onDrop(drop({ netns: N.node1, reason: 3 }));
    counters.onDrop(drop({ netns: N.pod11, reason: 3, skb: '2' }));
    counters.onDrop(drop({ netns: N.pod12, reason: 13, skb: '3' }));
    expect(counters.drops.get({ reason: 'NO_SOCKET' })).toBe(2);
    expect(counters.drops.get({ reason: 'OTHERHOST' })).toBe(1);
    expect(counters.ignored).toBe(0);
  });

  it.each([
    ['node 2\'s netns', N.node2],
    ['a pod of node 2', N.pod21],
    ['the underlay', N.underlay],
    ['netns 0 (no device) in lab mode', 0],
  ])('never counts a drop in %s', (_name, netns) => {
    const { counters } = node1();
    counters.onDrop(drop({ netns, reason: 88 }));
    expect(counters.drops.entries().every((e) => e.value === 0)).toBe(true);
    expect(counters.routeMisses.entries().every((e) => e.value === 0)).toBe(true);
    expect(counters.ignored).toBe(1);
  });

  it('does not count NOT_SPECIFIED as a drop, nor declare its series', () => {
    const { counters } = node1();
    counters.onDrop(drop({ reason: 2 }));
    expect(counters.drops.get({ reason: 'NOT_SPECIFIED' })).toBe(0);
    expect(counters.drops.entries().map((e) => e.labels.reason)).not.toContain('NOT_SPECIFIED');
    expect(counters.drops.entries().every((e) => e.value === 0)).toBe(true);
  });

  it('names a reason the kernel list lacks by its number', () => {
    const { counters } = node1();
    counters.onDrop(drop({ reason: 77 }));
    expect(counters.drops.get({ reason: 'REASON_77' })).toBe(1);
  });

  it('declares every named reason but NOT_SPECIFIED at 0 from the start', () => {
    const { counters } = node1();
    expect(counters.drops.entries().map((e) => [e.labels.reason, e.value]).sort()).toEqual([
      ['IP_INNOROUTES', 0],
      ['NEIGH_FAILED', 0],
      ['NO_SOCKET', 0],
      ['OTHERHOST', 0],
    ]);
  });
});

describe('NodeCounters: route misses', () => {
  it('declares every reason x destination_node series at 0 from the start', () => {
    const { counters } = node1();
    const series = counters.routeMisses.entries();
    const expected = ROUTE_MISS_REASONS.flatMap((reason) => ['node-1', 'node-2', 'none'].map((n) => `${reason}/${n}`));
    expect(series.map((e) => `${e.labels.reason}/${e.labels.destination_node}`).sort()).toEqual(expected.sort());
    expect(series).toHaveLength(12);
    expect(series.every((e) => e.value === 0)).toBe(true);
  });

  it('declares the series of a node that joins later (Kubernetes) at 0 on the next declare, once', () => {
    let inventory = Inventory.empty();
    const counters = new NodeCounters({ node: 'node-1', bridgeName: 'cni0', scope: recordedScope(1), inventory: () => inventory, dropReasons: REASONS, requestRescan: () => undefined });
    expect(counters.routeMisses.entries().map((e) => e.labels.destination_node)).toEqual(ROUTE_MISS_REASONS.map(() => 'none'));
    inventory = recordedInventory;
    counters.declareRouteMissSeries();
    counters.declareRouteMissSeries();
    expect(counters.routeMisses.entries()).toHaveLength(12);
    expect(counters.routeMisses.get({ reason: 'no-route', destination_node: 'node-2' })).toBe(0);
  });

  it.each([
    ['IP_INNOROUTES', { reason: 88 }, 'no-route'],
    ['route lookup error -113', { reason: 2, fibErr: -113 }, 'unreachable'],
    ['route lookup error -13', { reason: 2, fibErr: -13 }, 'prohibit'],
    ['NEIGH_FAILED', { reason: 58 }, 'neighbor-failed'],
  ] as const)('%s -> %s, labelled with the node owning the destination', (_name, over, reason) => {
    const { counters } = node1();
    counters.onDrop(drop({ ...over, daddr: '10.244.2.11' }));
    counters.onDrop(drop({ ...over, daddr: '10.99.0.1', skb: '99' }));
    expect(counters.routeMisses.get({ reason, destination_node: 'node-2' })).toBe(1);
    expect(counters.routeMisses.get({ reason, destination_node: 'none' })).toBe(1);
    expect(counters.routeMisses.entries().reduce((sum, e) => sum + e.value, 0)).toBe(2);
  });

  it('a reasonless drop with a route lookup error is a route miss but not a drop', () => {
    const { counters } = node1();
    counters.onDrop(drop({ reason: 2, fibErr: -113 }));
    expect(counters.routeMisses.get({ reason: 'unreachable', destination_node: 'node-2' })).toBe(1);
    expect(counters.drops.entries().every((e) => e.value === 0)).toBe(true);
  });

  it('a drop that is no route miss counts nowhere in route misses', () => {
    const { counters } = node1();
    counters.onDrop(drop({ reason: 13 }));
    expect(counters.drops.get({ reason: 'OTHERHOST' })).toBe(1);
    expect(counters.routeMisses.entries().every((e) => e.value === 0)).toBe(true);
  });

  it('counts one route miss per packet when the same drop is reported twice within 100 ms', () => {
    const { counters } = node1();
    const first = drop({ reason: 88, monoNs: 5_000_000_000 });
    counters.onDrop(first);
    counters.onDrop({ ...first, monoNs: first.monoNs + 99_000_000 });
    expect(counters.routeMisses.get({ reason: 'no-route', destination_node: 'node-2' })).toBe(1);
  });

  it('counts two route misses for two packets', () => {
    const { counters } = node1();
    const first = drop({ reason: 88, monoNs: 5_000_000_000 });
    counters.onDrop(first);
    counters.onDrop({ ...first, monoNs: first.monoNs + 1_000, ipId: first.ipId + 1 });
    counters.onDrop({ ...first, monoNs: first.monoNs + 2_000, skb: '18446612686551571200' });
    counters.onDrop({ ...first, monoNs: first.monoNs + 3_000, saddr: '10.244.1.12' });
    expect(counters.routeMisses.get({ reason: 'no-route', destination_node: 'node-2' })).toBe(4);
  });

  it('the same skb, IP id and addresses 100 ms later are another packet', () => {
    const { counters } = node1();
    const first = drop({ reason: 88, monoNs: 5_000_000_000 });
    counters.onDrop(first);
    counters.onDrop({ ...first, monoNs: first.monoNs + 100_000_000 });
    expect(counters.routeMisses.get({ reason: 'no-route', destination_node: 'node-2' })).toBe(2);
  });

  it('a destination that is another node\'s address is labelled with that node', () => {
    const { counters } = node1();
    counters.onDrop(drop({ reason: 88, daddr: '192.168.254.2' }));
    expect(counters.routeMisses.get({ reason: 'no-route', destination_node: 'node-2' })).toBe(1);
  });
});

describe('NodeCounters: neighbour failures', () => {
  it('declares every interface kind at 0 from the start', () => {
    const { counters } = node1();
    expect(counters.neighborFailures.entries().map((e) => [e.labels.interface_kind, e.value]).sort()).toEqual([
      ['bridge', 0],
      ['overlay', 0],
      ['pod', 0],
      ['uplink', 0],
    ]);
  });

  it('cni0 asking for an address in node 1\'s Pod CIDR is a bridge failure', () => {
    const { counters } = node1();
    counters.onNeighFailure(neigh('cni0', '10.244.1.99'));
    expect(counters.neighborFailures.get({ interface_kind: 'bridge' })).toBe(1);
    expect(counters.ignored).toBe(0);
  });

  it('a pod\'s eth0 asking for an address in the Pod CIDR is a pod failure', () => {
    const { counters } = node1();
    counters.onNeighFailure(neigh('eth0', '10.244.1.12'));
    expect(counters.neighborFailures.get({ interface_kind: 'pod' })).toBe(1);
    expect(counters.neighborFailures.get({ interface_kind: 'uplink' })).toBe(0);
  });

  it.each([
    ['an underlay address on eth0', 'eth0', '192.168.254.2'],
    ['an underlay address on cni0', 'cni0', '192.168.254.2'],
    ['node 2\'s cni0 (an address in node 2\'s Pod CIDR)', 'cni0', '10.244.2.99'],
    ['a pod of node 2', 'eth0', '10.244.2.12'],
    ['an overlay device', 'flannel.1', '10.244.2.0'],
  ])('ignores %s in lab mode', (_name, device, address) => {
    const { counters } = node1();
    counters.onNeighFailure(neigh(device, address));
    expect(counters.neighborFailures.entries().every((e) => e.value === 0)).toBe(true);
    expect(counters.ignored).toBe(1);
  });
});

describe('NodeCounters: FDB events', () => {
  it('applies an event for a port node 1\'s scope knows', () => {
    const { counters, requestRescan } = node1();
    counters.onFdb(fdb('update', 'veth1p1'));
    expect(counters.fdb.counts.learned).toBe(1);
    expect(counters.fdb.has(MAC, 0)).toBe(true);
    expect(requestRescan).not.toHaveBeenCalled();
  });

  it('ignores another bridge\'s events', () => {
    const { counters, requestRescan } = node1();
    counters.onFdb(fdb('update', 'veth1p1', { bridge: 'docker0' }));
    expect(counters.fdb.size).toBe(0);
    expect(counters.ignored).toBe(1);
    expect(requestRescan).not.toHaveBeenCalled();
  });

  it('ignores a port of node 2 once the scope has been refreshed', () => {
    const { counters, requestRescan } = node1();
    counters.onFdb(fdb('update', 'veth2p1'));
    expect(requestRescan).toHaveBeenCalledTimes(1);
    expect(counters.fdb.size).toBe(0);
    counters.onScopeRefreshed();
    expect(counters.fdb.size).toBe(0);
    expect(counters.fdb.counts.learned).toBe(0);
    expect(counters.ignored).toBe(1);
    // settled once: a second refresh does not count it again
    counters.onScopeRefreshed();
    expect(counters.ignored).toBe(1);
  });

  it('an unknown port asks for a rescan and is applied once the refreshed scope knows it', () => {
    const scope = recordedScope(1);
    const { counters, requestRescan } = node1(scope);
    counters.onFdb(fdb('update', 'veth1p3'));
    expect(requestRescan).toHaveBeenCalledTimes(1);
    expect(counters.fdb.size).toBe(0);
    scope.update({
      nodeNetns: N.node1,
      podNetns: new Set([N.pod11, N.pod12, 4026532660]),
      interfaces: new Map([
        [3, { ifindex: 3, name: 'cni0', kind: 'bridge' }],
        [4, { ifindex: 4, name: 'veth1p1', kind: 'veth' }],
        [5, { ifindex: 5, name: 'veth1p2', kind: 'veth' }],
        [6, { ifindex: 6, name: 'veth1p3', kind: 'veth' }],
      ]),
      wholeKernel: false,
    });
    counters.onScopeRefreshed();
    expect(counters.fdb.counts.learned).toBe(1);
    expect(counters.fdb.list()).toEqual([{ mac: MAC, vid: 0, port: 'veth1p3', permanent: false }]);
    expect(counters.ignored).toBe(0);
  });

  it('a port seen before stays known: its events need no rescan', () => {
    const { counters, requestRescan } = node1();
    counters.fdb.seed([{ mac: 'aa:bb:cc:dd:ee:01', vid: 0, port: 'veth1p9', permanent: false }]);
    counters.onFdb(fdb('update', 'veth1p9'));
    expect(requestRescan).not.toHaveBeenCalled();
    expect(counters.fdb.counts.learned).toBe(1);
  });

  it('a deletion without a port counts when the MAC is in the mirror', () => {
    const { counters } = node1();
    counters.onFdb(fdb('update', 'veth1p1'));
    counters.onFdb(fdb('delete', undefined, { taskNetns: N.node2 }));
    expect(counters.fdb.counts.deleted).toBe(1);
    expect(counters.fdb.size).toBe(0);
  });

  it('a deletion without a port counts when it ran in the node netns', () => {
    const { counters } = node1();
    counters.onFdb(fdb('delete', undefined, { taskNetns: N.node1 }));
    expect(counters.fdb.counts.deleted).toBe(1);
  });

  it.each([
    ['another node\'s netns', N.node2],
    ['no task netns (softirq)', 0],
  ])('a deletion without a port of an unknown MAC in %s is ignored', (_name, taskNetns) => {
    const { counters, requestRescan } = node1();
    counters.onFdb(fdb('update', 'veth1p1', { mac: 'aa:bb:cc:dd:ee:01' }));
    counters.onFdb(fdb('delete', undefined, { taskNetns }));
    expect(counters.fdb.counts.deleted).toBe(0);
    expect(counters.fdb.size).toBe(1);
    expect(counters.ignored).toBe(1);
    expect(requestRescan).not.toHaveBeenCalled();
  });

  it('a deletion behind a port that is gone but had entries counts', () => {
    const { counters } = node1();
    counters.fdb.seed([{ mac: MAC, vid: 0, port: 'veth1p7', permanent: false }]);
    counters.onFdb(fdb('delete', 'veth1p7', { taskNetns: 0 }));
    expect(counters.fdb.counts.deleted).toBe(1);
  });

  it('a deletion behind node 2\'s port is ignored', () => {
    const { counters } = node1();
    counters.onFdb(fdb('delete', 'veth2p1', { taskNetns: N.node2 }));
    expect(counters.fdb.counts.deleted).toBe(0);
    expect(counters.ignored).toBe(1);
  });
});

describe('NodeCounters: in-kernel frame counters', () => {
  it('turns cumulative map values into increases (5 then 8 -> 8)', () => {
    const { counters } = node1();
    counters.onCounter(counter('bridged', N.node1, 4, 5));
    counters.onCounter(counter('bridged', N.node1, 4, 8));
    expect(counters.frames.bridged).toBe(8);
    counters.onCounter(counter('bridged', N.node1, 4, 8));
    expect(counters.frames.bridged).toBe(8);
  });

  it('adds up the ports separately', () => {
    const { counters } = node1();
    counters.onCounter(counter('unknown_unicast', N.node1, 4, 5));
    counters.onCounter(counter('unknown_unicast', N.node1, 5, 3));
    counters.onCounter(counter('unknown_unicast', N.node1, 4, 6));
    counters.onCounter(counter('unknown_unicast', N.node1, 5, 7));
    expect(counters.frames.unknownUnicast).toBe(6 + 7);
    expect(counters.frames.bridged).toBe(0);
  });

  it('after onProbeRestart() counts a lower value from 0', () => {
    const { counters } = node1();
    counters.onCounter(counter('bridged', N.node1, 4, 5));
    counters.onCounter(counter('bridged', N.node1, 4, 8));
    counters.onProbeRestart();
    counters.onCounter(counter('bridged', N.node1, 4, 2));
    expect(counters.frames.bridged).toBe(10);
    counters.onCounter(counter('bridged', N.node1, 4, 3));
    expect(counters.frames.bridged).toBe(11);
  });

  it('after onProbeRestart() counts even a higher value from 0', () => {
    const { counters } = node1();
    counters.onCounter(counter('bridged', N.node1, 5, 8));
    counters.onProbeRestart();
    counters.onCounter(counter('bridged', N.node1, 5, 9));
    expect(counters.frames.bridged).toBe(17);
  });

  it('a lower value without a restart notice is a restart: counted from 0', () => {
    const { counters } = node1();
    counters.onCounter(counter('unknown_unicast', N.node1, 5, 8));
    counters.onCounter(counter('unknown_unicast', N.node1, 5, 3));
    expect(counters.frames.unknownUnicast).toBe(11);
  });

  it('counts to_host only for node 1\'s bridge (ifindex 3)', () => {
    const { counters } = node1();
    counters.onCounter(counter('to_host', N.node1, 3, 4));
    counters.onCounter(counter('to_host', N.node1, 4, 100));
    counters.onCounter(counter('to_host', N.node1, 2, 100));
    expect(counters.frames.toHost).toBe(4);
  });

  it('counts bridged and unknown unicast only on veth ports (ifindex 4, 5)', () => {
    const { counters } = node1();
    for (const ifindex of [1, 2, 3, 9]) {
      counters.onCounter(counter('bridged', N.node1, ifindex, 100));
      counters.onCounter(counter('unknown_unicast', N.node1, ifindex, 100));
    }
    expect(counters.frames).toEqual({ bridged: 0, toHost: 0, unknownUnicast: 0 });
    counters.onCounter(counter('bridged', N.node1, 5, 1));
    expect(counters.frames.bridged).toBe(1);
  });

  it.each([
    ['node 2', N.node2],
    ['a pod', N.pod11],
    ['the underlay', N.underlay],
  ])('ignores the same ifindexes in %s\'s netns', (_name, netns) => {
    const { counters } = node1();
    counters.onCounter(counter('to_host', netns, 3, 10));
    counters.onCounter(counter('bridged', netns, 4, 10));
    counters.onCounter(counter('unknown_unicast', netns, 5, 10));
    expect(counters.frames).toEqual({ bridged: 0, toHost: 0, unknownUnicast: 0 });
  });

  it('ignores other maps and lines without two keys', () => {
    const { counters } = node1();
    counters.onCounter(counter('bridge_in', N.node1, 4, 10));
    counters.onCounter({ type: 'counter', name: 'bridged', keys: [N.node1], value: 10 });
    counters.onCounter({ type: 'counter', name: 'bridged', keys: [], value: 10 });
    expect(counters.frames).toEqual({ bridged: 0, toHost: 0, unknownUnicast: 0 });
  });
});

describe('drop reasons by name, not number', () => {
  it('counts reason 2 when this kernel calls 1 NOT_SPECIFIED and 2 NO_SOCKET (6.0 to 6.2 numbering)', () => {
    const older = new DropReasons(new Map([[1, 'NOT_SPECIFIED'], [2, 'NO_SOCKET']]));
    const counters = new NodeCounters({ node: 'node-1', bridgeName: 'cni0', scope: recordedScope(1), inventory: () => recordedInventory, dropReasons: older, requestRescan: () => undefined });
    counters.onDrop(drop({ reason: 2 }));
    counters.onDrop(drop({ reason: 1, skb: '77' }));
    expect(counters.drops.get({ reason: 'NO_SOCKET' })).toBe(1);
    expect(counters.drops.get({ reason: 'NOT_SPECIFIED' })).toBe(0);
    expect(older.notSpecified()).toBe(1);
  });
});
