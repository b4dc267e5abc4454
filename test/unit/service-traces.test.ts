/**
 * Traces through a Service's NAT, from probe lines recorded in a lab with kube-proxy-style nftables rules
 * (test/fixtures/services-scope.ts says what traffic ran): one trace per packet although the DNAT rewrote its
 * destination in the middle, the Service named, the backend as `dst`, the addresses of each hop where they
 * differ; the same packets without Services in the inventory split at the rewrite as before.
 */
import { describe, expect, it } from 'vitest';
import { FixedWallClock } from '../../src/clock/wall-clock.js';
import { ClockOffsetEstimator } from '../../src/cross/clock-offset.js';
import { CrossNodeJoiner } from '../../src/cross/cross-node-joiner.js';
import { DropReasons } from '../../src/decode/drop-reasons.js';
import type { ProbeEvent } from '../../src/decode/probe-event.js';
import { Inventory } from '../../src/inventory/inventory.js';
import { TraceAssembler } from '../../src/trace/trace-assembler.js';
import type { Trace } from '../../src/trace/trace.js';
import { joinHalves } from '../../src/watch/join-halves.js';
import { servicesInventory, servicesScope } from '../fixtures/services-scope.js';
import { recordedEvents } from '../fixtures/recorded.js';

const EVENTS: ProbeEvent[] = recordedEvents('lab-2x2-services.txt');

function assemble(node: 1 | 2, inventory: Inventory = servicesInventory) {
  const traces: Trace[] = [];
  const a = new TraceAssembler({
    node: `node-${node}`,
    scope: servicesScope(node),
    inventory: () => inventory,
    clock: new FixedWallClock(1_700_000_000_000_000_000n),
    dropReasons: new DropReasons(new Map()),
    onTrace: (t) => traces.push(t),
  });
  for (const e of EVENTS) if (e.type === 'hop') a.onHop(e);
  a.tick(Number.MAX_SAFE_INTEGER);
  return { traces, stats: a.stats };
}

const seq = (t: Trace) => t.hops.map((h) => `${h.kind}:${h.direction}(${h.interface})`);
const flags = (f: string) => (t: Trace) => t.packet.tcp_flags === f;
const byPort = (traces: Trace[], port: number, f: string) => traces.filter((t) => (t.src.port === port || t.dst.port === port) && flags(f)(t));

describe('a Service trace on the client node (cross-node backend)', () => {
  const { traces, stats } = assemble(1);

  it('the SYN to web is one trace: DNAT between veth:ingress and bridge:ingress, dst the backend', () => {
    const [syn, ...more] = byPort(traces, 40001, 'SYN');
    expect(more).toHaveLength(0);
    expect(seq(syn!)).toEqual(['pod:egress(eth0)', 'veth:ingress(veth1p1)', 'bridge:ingress(cni0)', 'uplink:egress(eth0)']);
    expect(syn).toMatchObject({
      path: 'cross-node',
      outcome: 'forwarded',
      src: { ip: '10.244.1.11', port: 40001, pod: 'pod-1-1' },
      dst: { ip: '10.244.2.11', port: 8080, pod: 'pod-2-1', node: 'node-2' },
      service: { namespace: 'default', name: 'web', ip: '10.96.0.10', port: 80 },
    });
    // hops before the DNAT carry the Service address; the first rewritten hop says so
    expect(syn!.hops.map((h) => [h.daddr, h.dport, h.nat, h.saddr])).toEqual([
      ['10.96.0.10', 80, undefined, undefined],
      ['10.96.0.10', 80, undefined, undefined],
      [undefined, undefined, 'dnat', undefined],
      [undefined, undefined, undefined, undefined],
    ]);
    expect(stats.hopsRewritten).toBeGreaterThan(0);
  });

  it('the SYN|ACK is reverse-translated at the client node: src the backend, later hops from the Service', () => {
    const [synAck, ...more] = byPort(traces, 40001, 'SYN|ACK');
    expect(more).toHaveLength(0);
    expect(seq(synAck!)).toEqual(['uplink:ingress(eth0)', 'bridge:egress(cni0)', 'veth:egress(veth1p1)', 'pod:ingress(eth0)']);
    expect(synAck).toMatchObject({
      outcome: 'delivered',
      src: { ip: '10.244.2.11', port: 8080, pod: 'pod-2-1' },
      dst: { ip: '10.244.1.11', port: 40001, pod: 'pod-1-1' },
      service: { name: 'web', ip: '10.96.0.10', port: 80 },
    });
    expect(synAck!.hops.map((h) => [h.saddr, h.sport, h.nat])).toEqual([
      [undefined, undefined, undefined],
      ['10.96.0.10', 80, 'snat'],
      ['10.96.0.10', 80, undefined],
      ['10.96.0.10', 80, undefined],
    ]);
  });

  it('a same-node backend: bridged DNAT (cni0 egress without ingress) and the reply un-NATed on the bridge', () => {
    const [syn] = byPort(traces, 40003, 'SYN');
    expect(seq(syn!)).toEqual(['pod:egress(eth0)', 'veth:ingress(veth1p1)', 'bridge:egress(cni0)', 'veth:egress(veth1p2)', 'pod:ingress(eth0)']);
    expect(syn).toMatchObject({ path: 'same-node', outcome: 'delivered', dst: { pod: 'pod-1-2', port: 8080 }, service: { name: 'echo-1-2', ip: '10.96.1.12' } });
    expect(syn!.hops[2]?.nat).toBe('dnat');
    const [synAck] = byPort(traces, 40003, 'SYN|ACK');
    expect(seq(synAck!)).toEqual(['pod:egress(eth0)', 'veth:ingress(veth1p2)', 'veth:egress(veth1p1)', 'pod:ingress(eth0)']);
    expect(synAck).toMatchObject({ src: { pod: 'pod-1-2' }, dst: { pod: 'pod-1-1' }, service: { name: 'echo-1-2', port: 80 } });
    expect(synAck!.hops[2]).toMatchObject({ nat: 'snat', saddr: '10.96.1.12', sport: 80 });
  });

  it('every packet of the pods\' connections is one trace (no half split at the rewrite)', () => {
    const pods = traces.filter((t) => t.src.port !== 40004 && t.dst.port !== 40004);
    expect(pods.length).toBeGreaterThan(10);
    for (const t of pods) expect(t.hops.length, JSON.stringify(seq(t))).toBeGreaterThan(2);
  });

  it('node-originated: the output hook rewrote the packet before its first hop, so no Service is visible', () => {
    const [syn] = byPort(traces, 40004, 'SYN');
    expect(seq(syn!)).toEqual(['uplink:egress(eth0)']);
    expect(syn).toMatchObject({ src: { ip: '192.168.254.1', node: 'node-1' }, dst: { pod: 'pod-2-1', port: 8080 } });
    expect(syn!.service).toBeUndefined();
  });
});

describe('hairpin on the backend node: DNAT and masquerade in one step', () => {
  const { traces } = assemble(2);

  it('pod-2-1 through its own Service: the source becomes the bridge address, the trace stays one', () => {
    const [syn, ...more] = byPort(traces, 40002, 'SYN');
    expect(more).toHaveLength(0);
    expect(seq(syn!)).toEqual(['pod:egress(eth0)', 'veth:ingress(veth2p1)', 'veth:egress(veth2p1)', 'pod:ingress(eth0)']);
    expect(syn).toMatchObject({ path: 'same-node', src: { ip: '10.244.2.11', port: 40002 }, dst: { ip: '10.244.2.11', port: 8080 }, service: { name: 'echo-2-1', port: 80 } });
    expect(syn!.hops[2]).toMatchObject({ nat: 'dnat+snat', saddr: '10.244.2.1' });
    expect(syn!.hops[0]).toMatchObject({ daddr: '10.96.2.11', dport: 80 });
    const [synAck] = byPort(traces, 40002, 'SYN|ACK');
    expect(synAck).toMatchObject({ src: { ip: '10.244.2.11', port: 8080 }, dst: { ip: '10.244.2.11', port: 40002 }, service: { name: 'echo-2-1' } });
    expect(synAck!.hops[0]).toMatchObject({ daddr: '10.244.2.1' });
    expect(synAck!.hops[2]).toMatchObject({ nat: 'dnat+snat', saddr: '10.96.2.11', sport: 80 });
  });

  it('the backend node\'s half of the cross-node SYN carries no NAT and has the same packet key', () => {
    const [half] = byPort(traces, 40001, 'SYN');
    expect(seq(half!)).toEqual(['uplink:ingress(eth0)', 'bridge:egress(cni0)', 'veth:egress(veth2p1)', 'pod:ingress(eth0)']);
    expect(half!.service).toBeUndefined();
    expect(half!.hops.every((h) => h.nat === undefined && h.daddr === undefined)).toBe(true);
  });
});

describe('stitching a Service trace across nodes', () => {
  const n1 = assemble(1).traces;
  const n2 = assemble(2).traces;
  const sender = byPort(n1, 40001, 'SYN')[0]!;
  const receiver = byPort(n2, 40001, 'SYN')[0]!;

  it('joinHalves (watch) names the Service and keeps the per-hop addresses', () => {
    const t = joinHalves(sender, receiver);
    expect(t.hops).toHaveLength(8);
    expect(t.service).toEqual({ namespace: 'default', name: 'web', ip: '10.96.0.10', port: 80 });
    expect(t.dst).toMatchObject({ pod: 'pod-2-1', port: 8080 });
    expect(t.hops.findIndex((h) => h.nat === 'dnat')).toBe(2);
  });

  it('the agent\'s joiner names the Service from the sender\'s half; the reply\'s from its own', () => {
    const out: Trace[] = [];
    const j = new CrossNodeJoiner({ node: 'node-2', offsets: new ClockOffsetEstimator(), peerConnected: () => true, emit: (t) => out.push(t) });
    j.onLocal(receiver);
    j.onPeer('node-1', sender);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ node: 'node-2', outcome: 'delivered', service: { name: 'web' }, dst: { pod: 'pod-2-1' } });
    expect(out[0]!.hops.map((h) => h.node)).toEqual(['node-1', 'node-1', 'node-1', 'node-1', 'node-2', 'node-2', 'node-2', 'node-2']);
    const back: Trace[] = [];
    const j1 = new CrossNodeJoiner({ node: 'node-1', offsets: new ClockOffsetEstimator(), peerConnected: () => true, emit: (t) => back.push(t) });
    j1.onLocal(byPort(n1, 40001, 'SYN|ACK')[0]!);
    j1.onPeer('node-2', byPort(n2, 40001, 'SYN|ACK')[0]!);
    expect(back).toHaveLength(1);
    expect(back[0]).toMatchObject({ service: { name: 'web' }, src: { pod: 'pod-2-1' }, dst: { pod: 'pod-1-1' } });
    expect(back[0]!.hops).toHaveLength(8);
  });
});

describe('without Services in the inventory', () => {
  it('the rewrite splits the packet as before (the cross-check still rejects changed addresses)', () => {
    const plain = new Inventory({ nodes: servicesInventory.data.nodes, pods: servicesInventory.data.pods });
    const { traces } = assemble(1, plain);
    const syns = byPort(traces, 40001, 'SYN');
    expect(syns.map((t) => [t.dst.ip, t.hops.length])).toEqual([['10.96.0.10', 2], ['10.244.2.11', 2]]);
    expect(traces.every((t) => t.service === undefined)).toBe(true);
  });
});

describe('hops arriving out of order (another CPU\'s buffer)', () => {
  it('a rewritten hop that arrives before the hops it follows still joins, and the trace is the same', () => {
    const syn = EVENTS.filter((e) => e.type === 'hop' && (e.srcPort === 40001 || e.dstPort === 40001) && e.tcpFlags === 0x02 && servicesScope(1).classify(e.netns, e.ifindex, e.ifname).mine);
    expect(syn).toHaveLength(4);
    // bridge:ingress (after the DNAT) first, then the two hops before it, then the uplink
    const shuffled = [syn[2]!, syn[0]!, syn[1]!, syn[3]!];
    const traces: Trace[] = [];
    const a = new TraceAssembler({
      node: 'node-1',
      scope: servicesScope(1),
      inventory: () => servicesInventory,
      clock: new FixedWallClock(1_700_000_000_000_000_000n),
      dropReasons: new DropReasons(new Map()),
      onTrace: (t) => traces.push(t),
    });
    for (const e of shuffled) if (e.type === 'hop') a.onHop(e);
    a.tick(Number.MAX_SAFE_INTEGER);
    const inOrder = byPort(assemble(1).traces, 40001, 'SYN')[0]!;
    expect(traces).toHaveLength(1);
    // (packet.length is the first arriving event's: ingress lengths exclude the Ethernet header, egress include it)
    expect({ ...traces[0]!, id: '', packet: undefined }).toEqual({ ...inOrder, id: '', packet: undefined });
  });
});
