/**
 * IPv6 through the trace stages, from lines recorded in a dual-stack 2x2 lab (test/fixtures/recorded/
 * lab-2x2-ipv6.txt): exact hop sequences (the same as IPv4's), pods named from the inventory's `ips`, packet
 * identity without an IP id (flow label, ports, TCP seq / ICMPv6 echo), route misses and ND failures counted
 * against the node whose IPv6 Pod CIDR holds the address.
 */
import { describe, expect, it, vi } from 'vitest';
import { FixedWallClock } from '../../src/clock/wall-clock.js';
import { DropReasons } from '../../src/decode/drop-reasons.js';
import type { DropEvent, HopEvent, ProbeEvent } from '../../src/decode/probe-event.js';
import { NodeCounters } from '../../src/model/node-counters.js';
import { packetKey } from '../../src/trace/packet-key.js';
import { TraceAssembler } from '../../src/trace/trace-assembler.js';
import type { Trace } from '../../src/trace/trace.js';
import { joinHalves } from '../../src/watch/join-halves.js';
import { recordedInventory6, recordedScope, RECORDED_NETNS } from '../fixtures/lab-scope.js';
import { recordedEvents } from '../fixtures/recorded.js';

const EVENTS: ProbeEvent[] = recordedEvents('lab-2x2-ipv6.txt');
const REASONS = new DropReasons(new Map([[2, 'NOT_SPECIFIED'], [3, 'NO_SOCKET'], [58, 'NEIGH_FAILED'], [88, 'IP_INNOROUTES']]));

function assemble(node: 1 | 2, events: readonly ProbeEvent[]) {
  const traces: Trace[] = [];
  const a = new TraceAssembler({
    node: `node-${node}`, scope: recordedScope(node), inventory: () => recordedInventory6, clock: new FixedWallClock(1_700_000_000_000_000_000n), dropReasons: REASONS,
    onTrace: (t) => traces.push(t),
  });
  for (const e of events) {
    if (e.type === 'hop') a.onHop(e);
    else if (e.type === 'drop') a.onDrop(e);
  }
  a.tick(Number.MAX_SAFE_INTEGER);
  return traces;
}

const seq = (t: Trace | undefined) => t?.hops.map((h) => `${h.kind}:${h.direction}`);
const find = (traces: Trace[], src: string, dst: string, type: number) => traces.find((t) => t.src.ip === src && t.dst.ip === dst && t.packet.icmp_type === type);

describe('IPv6 traces from a recorded dual-stack lab', () => {
  const node1 = assemble(1, EVENTS);
  const node2 = assemble(2, EVENTS);

  it('same-node ping: the IPv4 hop sequence, pods named by their IPv6 address', () => {
    const t = find(node1, 'fd00:10:244:1::11', 'fd00:10:244:1::12', 128);
    expect(seq(t)).toEqual(['pod:egress', 'veth:ingress', 'veth:egress', 'pod:ingress']);
    expect(t).toMatchObject({
      protocol: 'ICMPv6', path: 'same-node', outcome: 'delivered',
      src: { pod: 'pod-1-1', namespace: 'default', node: 'node-1' }, dst: { pod: 'pod-1-2', node: 'node-1' },
      packet: { ip_id: 0, icmp_type: 128, icmp_code: 0, payload_length: 64, icmp_echo: { seq: 1 } },
    });
    expect(seq(find(node1, 'fd00:10:244:1::12', 'fd00:10:244:1::11', 129))).toEqual(['pod:egress', 'veth:ingress', 'veth:egress', 'pod:ingress']);
  });

  it('cross-node ping: forwarded by node 1, delivered by node 2, halves with one packet key', () => {
    const out = find(node1, 'fd00:10:244:1::11', 'fd00:10:244:2::11', 128);
    const inb = find(node2, 'fd00:10:244:1::11', 'fd00:10:244:2::11', 128);
    expect(seq(out)).toEqual(['pod:egress', 'veth:ingress', 'bridge:ingress', 'uplink:egress']);
    expect(seq(inb)).toEqual(['uplink:ingress', 'bridge:egress', 'veth:egress', 'pod:ingress']);
    expect(out).toMatchObject({ path: 'cross-node', outcome: 'forwarded', dst: { pod: 'pod-2-1', node: 'node-2' } });
    expect(inb).toMatchObject({ path: 'cross-node', outcome: 'delivered', src: { pod: 'pod-1-1', node: 'node-1' } });
    expect(packetKey(out!)).toBe(packetKey(inb!));
    expect(packetKey(out!)).toMatch(/^fd00:10:244:1::11\|fd00:10:244:2::11\|ICMPv6\|0\|fl=\d+\|>\|echo=\d+\/1$/);
    const joined = joinHalves(out!, inb!);
    expect(seq(joined)).toEqual([...seq(out)!, ...seq(inb)!]);
    // the reply on node 2 goes back out
    expect(seq(find(node2, 'fd00:10:244:2::11', 'fd00:10:244:1::11', 129))).toEqual(['pod:egress', 'veth:ingress', 'bridge:ingress', 'uplink:egress']);
  });

  it('route miss: the IPv6 drop joins its trace; unrouted, toward node 2 by its IPv6 Pod CIDR', () => {
    const t = find(node1, 'fd00:10:244:1::11', 'fd00:10:244:2::12', 128);
    expect(seq(t)).toEqual(['pod:egress', 'veth:ingress', 'bridge:ingress']);
    expect(t).toMatchObject({ path: 'unrouted', outcome: 'route-miss', reason: 'IP_INNOROUTES', dst: { node: 'node-2' } });
    // and the ICMPv6 error back from cni0's address
    const err = node1.find((x) => x.packet.icmp_type === 1 && x.dst.ip === 'fd00:10:244:1::11');
    expect(err).toMatchObject({ protocol: 'ICMPv6', src: { ip: 'fd00:10:244:1::1', node: 'node-1' }, outcome: 'delivered' });
  });

  it('no IPv6 hop is recorded by the wrong node', () => {
    expect(node2.some((t) => t.hops.some((h) => h.interface.startsWith('veth1')))).toBe(false);
    expect(node1.some((t) => t.hops.some((h) => h.interface.startsWith('veth2')))).toBe(false);
  });
});

describe('IPv6 identity cross-check', () => {
  const hop = EVENTS.find((e): e is HopEvent => e.type === 'hop')!;
  const run = (events: HopEvent[]) => assemble(1, events);

  it('a reused skb address with another flow label or echo sequence is another packet', () => {
    const next = { ...hop, monoNs: hop.monoNs + 1000, ipv6: { ...hop.ipv6!, flowLabel: hop.ipv6!.flowLabel ^ 1 } };
    expect(run([hop, next])).toHaveLength(2);
    const nextSeq = { ...hop, monoNs: hop.monoNs + 1000, seq: hop.seq + 1 };
    expect(run([hop, nextSeq])).toHaveLength(2);
    expect(run([hop, { ...hop, monoNs: hop.monoNs + 1000, ifindex: 4, netns: RECORDED_NETNS.node1, ifname: 'veth1p1', direction: 'ingress' }])).toHaveLength(1);
  });

  it('packet keys of TCP over IPv6 carry the ports and the sequence', () => {
    const t: Trace = {
      id: 'x', node: 'node-1', src: { ip: 'fd00:10:244:1::12', port: 40000 }, dst: { ip: 'fd00:10:244:2::12', port: 8086 }, protocol: 'TCP', path: 'cross-node',
      hops: [], outcome: 'forwarded', latency_ns: 0, packet: { ip_id: 0, length: 94, tcp_flags: 'SYN', tcp_seq: 1000, flow_label: 74565, payload_length: 40 },
    };
    expect(packetKey(t)).toBe('fd00:10:244:1::12|fd00:10:244:2::12|TCP|0|fl=74565|40000>8086|seq=1000');
  });
});

describe('IPv6 route misses and ND failures in the node counters', () => {
  const counters = (node: 'node-1' | 'node-2') =>
    new NodeCounters({ node, bridgeName: 'cni0', scope: recordedScope(node === 'node-1' ? 1 : 2), inventory: () => recordedInventory6, dropReasons: REASONS, requestRescan: vi.fn() });
  const recordedMiss = EVENTS.find((e): e is DropEvent => e.type === 'drop' && e.reason === 88)!;

  it('the recorded route miss counts once against node-2; a prohibit route by its lookup error; an address in no CIDR against none', () => {
    const c = counters('node-1');
    c.onDrop(recordedMiss);
    c.onDrop(recordedMiss); // the same packet again: counted once
    c.onDrop({ ...recordedMiss, skb: '1', fibErr: -13 });
    c.onDrop({ ...recordedMiss, skb: '2', daddr: 'fd00:99::1' });
    expect(c.routeMisses.get({ reason: 'no-route', destination_node: 'node-2' })).toBe(1);
    expect(c.routeMisses.get({ reason: 'prohibit', destination_node: 'node-2' })).toBe(1);
    expect(c.routeMisses.get({ reason: 'no-route', destination_node: 'none' })).toBe(1);
    expect(c.drops.get({ reason: 'IP_INNOROUTES' })).toBe(4);
    // node 2's agent does not count node 1's drops
    const c2 = counters('node-2');
    c2.onDrop(recordedMiss);
    expect(c2.routeMisses.get({ reason: 'no-route', destination_node: 'node-2' })).toBe(0);
  });

  it('an ND failure on cni0 for an address in the node\'s IPv6 Pod CIDR counts on that node only', () => {
    const failed = { type: 'neigh-failed', monoNs: 1, device: 'cni0', family: 10, address: 'fd00:10:244:1::77', state: 32 } as const;
    const c1 = counters('node-1');
    const c2 = counters('node-2');
    for (const c of [c1, c2]) {
      c.onNeighFailure(failed);
      c.onNeighFailure({ ...failed, address: 'fe80::1' });
    }
    expect(c1.neighborFailures.get({ interface_kind: 'bridge' })).toBe(1);
    expect(c2.neighborFailures.get({ interface_kind: 'bridge' })).toBe(0);
  });
});
