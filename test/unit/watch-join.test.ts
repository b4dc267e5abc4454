import { describe, expect, it } from 'vitest';
import { HalfJoiner, halfRole, joinHalves, nsBetween, packetKey } from '../../src/watch/join-halves.js';
import type { Trace } from '../../src/trace/trace.js';
import { hop, receiverHalf, sameNode, senderHalf, T0 } from '../fixtures/watch-traces.js';

const hopsOf = (t: Trace) => t.hops.map((h) => `${h.node}:${h.kind}:${h.direction}(${h.interface})+${h.delta_ns}`);

const JOINED_HOPS = [
  'node-1:pod:egress(eth0)+0',
  'node-1:veth:ingress(veth1p1)+10001',
  'node-1:bridge:ingress(cni0)+5002',
  'node-1:uplink:egress(eth0)+8004',
  'node-2:uplink:ingress(eth0)+37004', // T0+60_011 - (T0+23_007)
  'node-2:bridge:egress(cni0)+7002',
  'node-2:veth:egress(veth2p1)+6004',
  'node-2:pod:ingress(eth0)+9002',
];

describe('HalfJoiner', () => {
  it('joins the sender half and the receiver half into one trace, hops in order, whichever arrives first', () => {
    for (const order of [['sender', 'receiver'], ['receiver', 'sender']] as const) {
      const j = new HalfJoiner({ windowMs: 500 });
      const halves = { sender: senderHalf(), receiver: receiverHalf() };
      expect(j.push(halves[order[0]], 1000)).toEqual([]);
      expect(j.size).toBe(1);
      const out = j.push(halves[order[1]], 1200);
      expect(out).toHaveLength(1);
      const t = out[0] as Trace;
      expect(hopsOf(t)).toEqual(JOINED_HOPS);
      expect(t.node).toBe('node-1,node-2');
      expect(t.id).toBe('node-1-a-1+node-2-b-9');
      expect(t.outcome).toBe('delivered');
      expect(t.latency_ns).toBe(82_019); // first hop to last, exact only in BigInt
      expect(t.src.pod).toBe('pod-1-1');
      expect(t.dst.pod).toBe('pod-2-1');
      expect(t.packet.ip_id).toBe(47360);
      expect(j.size).toBe(0);
      expect(j.nextDeadline()).toBeUndefined();
    }
  });

  it('gives out a lone half alone once its window has ended, not before', () => {
    const j = new HalfJoiner({ windowMs: 500 });
    expect(j.push(senderHalf(), 1000)).toEqual([]);
    expect(j.nextDeadline()).toBe(1500);
    expect(j.expire(1499)).toEqual([]);
    expect(j.expire(1500)).toEqual([senderHalf()]);
    expect(j.size).toBe(0);
    // a partner that comes late is a lone half of its own
    expect(j.push(receiverHalf(), 1600)).toEqual([]);
    expect(j.expire(2100)).toEqual([receiverHalf()]);
  });

  it('does not join unrelated traces: other packet, other echo, same node, or not a half', () => {
    const j = new HalfJoiner({ windowMs: 500 });
    expect(j.push(sameNode(), 0)).toEqual([sameNode()]); // not a half: out at once
    const otherId = receiverHalf({ id: 'x', packet: { ...receiverHalf().packet, ip_id: 1 } });
    const otherEcho = receiverHalf({ id: 'y', packet: { ...receiverHalf().packet, icmp_echo: { id: 7390, seq: 2 } } });
    const sameNodeHalf = receiverHalf({ id: 'z', node: 'node-1', hops: receiverHalf().hops.map((h) => ({ ...h, node: 'node-1' })) });
    expect(j.push(senderHalf(), 0)).toEqual([]);
    for (const t of [otherId, otherEcho, sameNodeHalf]) expect(j.push(t, 10)).toEqual([]);
    expect(j.size).toBe(4);
    expect(j.expire(510).map((t) => t.id)).toEqual(['node-1-a-1', 'x', 'y', 'z']);
  });

  it('tells TCP packets apart by sequence number', () => {
    const tcp = { ip_id: 9, length: 60, tcp_flags: 'ACK|PSH', tcp_seq: 1000 };
    const j = new HalfJoiner();
    j.push(senderHalf({ protocol: 'TCP', packet: tcp }), 0);
    expect(j.push(receiverHalf({ protocol: 'TCP', packet: { ...tcp, tcp_seq: 2000 } }), 1)).toEqual([]);
    const [joined] = j.push(receiverHalf({ protocol: 'TCP', packet: tcp }), 2);
    expect(joined?.node).toBe('node-1,node-2');
    expect(j.size).toBe(1);
  });

  it('joins a receiver half that was dropped, keeping its reason', () => {
    const j = new HalfJoiner();
    j.push(senderHalf(), 0);
    const dropped = receiverHalf({ hops: receiverHalf().hops.slice(0, 2), outcome: 'dropped', reason: 'NETFILTER_DROP' });
    const [t] = j.push(dropped, 1);
    expect(t?.outcome).toBe('dropped');
    expect(t?.reason).toBe('NETFILTER_DROP');
    expect(t?.hops).toHaveLength(6);
  });

  it('gives a half out at once when its partner cannot come (the other node is not watched)', () => {
    const j = new HalfJoiner({ mayHavePartner: (node) => node === 'node-3' });
    expect(j.push(senderHalf(), 0)).toEqual([senderHalf()]);
    expect(j.size).toBe(0);
  });

  it('holds at most maxHeld halves: the oldest goes out alone to make room', () => {
    const j = new HalfJoiner({ maxHeld: 2 });
    const half = (ipId: number) => senderHalf({ id: `h${ipId}`, packet: { ip_id: ipId, length: 84 } });
    expect(j.push(half(1), 0)).toEqual([]);
    expect(j.push(half(2), 1)).toEqual([]);
    expect(j.push(half(3), 2).map((t) => t.id)).toEqual(['h1']);
    expect(j.size).toBe(2);
    expect(j.drain().map((t) => t.id)).toEqual(['h2', 'h3']);
  });

  it('lets a trace the agent already stitched replace the sender half it contains', () => {
    const stitched = receiverHalf({ id: 'st', hops: [...senderHalf().hops, ...receiverHalf().hops] });
    const j = new HalfJoiner();
    j.push(senderHalf(), 0);
    expect(j.push(stitched, 1)).toEqual([stitched]);
    expect(j.size).toBe(0);
  });
});

describe('pieces', () => {
  it('half roles', () => {
    expect(halfRole(senderHalf())).toBe('first');
    expect(halfRole(receiverHalf())).toBe('second');
    expect(halfRole(sameNode())).toBeUndefined();
    expect(halfRole(sameNode({ hops: [] }))).toBeUndefined();
  });

  it('packet identity: addresses, protocol, IP id, ICMP echo or TCP sequence', () => {
    expect(packetKey(senderHalf())).toBe('10.244.1.11|10.244.2.11|ICMP|47360|echo=7390/1');
    expect(packetKey(senderHalf({ protocol: 'TCP', packet: { ip_id: 3, length: 60, tcp_seq: 77 } }))).toBe('10.244.1.11|10.244.2.11|TCP|3|seq=77');
    expect(packetKey({ ...senderHalf(), packet: undefined } as unknown as Trace)).toBeUndefined();
  });

  it('a join with no parsable times falls back to the sum of the halves', () => {
    const t = joinHalves(senderHalf({ hops: [hop('node-1', 'uplink', 'egress', 'eth0', T0, 0)].map((h) => ({ ...h, t: 'x' })) }), receiverHalf());
    expect(t.latency_ns).toBe(23_007 + 22_008);
    expect(nsBetween('1', '3')).toBe(2);
    expect(nsBetween('x', '3')).toBeUndefined();
  });
});
