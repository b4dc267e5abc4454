import { describe, expect, it } from 'vitest';
import { ClockOffsetEstimator } from '../../src/cross/clock-offset.js';
import { CrossNodeJoiner } from '../../src/cross/cross-node-joiner.js';
import type { Hop, Trace } from '../../src/trace/trace.js';

const T0 = 1_800_000_000_000_000_000n;

/** A half on `node` whose hops start at `startNs` (its own clock) and are 10 us apart. */
function half(node: string, role: 'sender' | 'receiver', startNs: bigint, o: Partial<Trace> = {}): Trace {
  const kinds: [Hop['kind'], Hop['direction']][] =
    role === 'sender'
      ? [['pod', 'egress'], ['veth', 'ingress'], ['bridge', 'ingress'], ['uplink', 'egress']]
      : [['uplink', 'ingress'], ['bridge', 'egress'], ['veth', 'egress'], ['pod', 'ingress']];
  const hops: Hop[] = kinds.map(([kind, direction], i) => ({ node, interface: kind === 'bridge' ? 'cni0' : 'eth0', kind, direction, t: String(startNs + BigInt(i * 10_000)), delta_ns: i === 0 ? 0 : 10_000 }));
  return {
    id: `${node}-${role}-${startNs}`,
    node,
    src: { ip: '10.244.1.11', pod: 'pod-1-1', namespace: 'default', node: 'node-1' },
    dst: { ip: '10.244.2.11', pod: 'pod-2-1', namespace: 'default', node: 'node-2' },
    protocol: 'ICMP',
    path: 'cross-node',
    hops,
    outcome: role === 'sender' ? 'forwarded' : 'delivered',
    latency_ns: 30_000,
    packet: { ip_id: 7, length: 84, icmp_type: 8, icmp_code: 0, icmp_echo: { id: 1, seq: 1 } },
    ...o,
  };
}

/** The reverse packet (node-2 -> node-1) with another IP id. */
function reverse(t: Trace, ipId: number): Trace {
  return { ...t, src: t.dst, dst: t.src, packet: { ...t.packet, ip_id: ipId, icmp_type: 0 } };
}

describe('ClockOffsetEstimator', () => {
  it('recovers a clock offset from the minimum delays of both directions, with the half-round-trip bound', () => {
    const e = new ClockOffsetEstimator();
    // true one-way delay 10 ms each way, peer clock 250 ms ahead; queueing adds to some samples only
    const theta = 250e6;
    for (const extra of [0, 3e6, 1e6]) {
      e.addOutbound('node-2', 10e6 + extra + theta, 0);
      e.addInbound('node-2', 10e6 + extra - theta, 0);
    }
    const est = e.estimate('node-2', 1000)!;
    expect(est.offsetNs).toBe(theta);
    expect(est.errorNs).toBe(10e6);
    expect(est).toMatchObject({ samplesOut: 3, samplesIn: 3 });
  });

  it('needs both directions, and forgets samples older than its window', () => {
    const e = new ClockOffsetEstimator(1000);
    e.addOutbound('n', 5, 0);
    expect(e.estimate('n', 10)).toBeUndefined();
    e.addInbound('n', 5, 0);
    expect(e.estimate('n', 10)).toBeDefined();
    expect(e.estimate('n', 5000)).toBeUndefined();
  });

  it('with asymmetric delays the true offset stays within the bound', () => {
    const e = new ClockOffsetEstimator();
    const theta = -40e6;
    e.addOutbound('n', 2e6 + theta, 0); // 2 ms out
    e.addInbound('n', 8e6 - theta, 0); // 8 ms back
    const est = e.estimate('n', 0)!;
    expect(Math.abs(est.offsetNs - theta)).toBeLessThanOrEqual(est.errorNs);
  });
});

describe('CrossNodeJoiner', () => {
  function setup(peerUp = true) {
    let now = 0;
    const emitted: Trace[] = [];
    const offsets = new ClockOffsetEstimator();
    const j = new CrossNodeJoiner({ node: 'node-2', offsets, peerConnected: () => peerUp, emit: (t) => emitted.push(t), holdMs: 500, now: () => now });
    return { j, emitted, offsets, advance: (ms: number) => (now += ms) };
  }
  const SKEW = 250_000_000n; // node-2's clock is 250 ms ahead
  const TRANSIT = 10_000_000n; // 10 ms between the uplinks

  it('stitches the sender half from the peer with this node\'s half: every hop in order, one trace', () => {
    const { j, emitted } = setup();
    const sent = half('node-1', 'sender', T0);
    const arrived = half('node-2', 'receiver', T0 + 30_000n + TRANSIT + SKEW);
    j.onLocal(arrived);
    expect(emitted).toHaveLength(0); // held for the peer's half
    j.onPeer('node-1', sent);
    expect(emitted).toHaveLength(1);
    const t = emitted[0]!;
    expect(t.hops.map((h) => `${h.node}:${h.kind}:${h.direction}`)).toEqual([
      'node-1:pod:egress', 'node-1:veth:ingress', 'node-1:bridge:ingress', 'node-1:uplink:egress',
      'node-2:uplink:ingress', 'node-2:bridge:egress', 'node-2:veth:egress', 'node-2:pod:ingress',
    ]);
    expect(t.id).toBe(arrived.id);
    // no offset known yet: the uncorrected gap, said so
    expect(t.cross_node).toMatchObject({ method: 'uncorrected', transit_ns: Number(TRANSIT + SKEW) });
  });

  it('removes the clock offset once traffic in both directions taught it, and states the bound', () => {
    const { j, emitted } = setup();
    // node-2 -> node-1: node-2's sender half here, node-1's arriving half from the peer
    const out = reverse(half('node-2', 'sender', T0 + SKEW), 9);
    j.onLocal(out);
    j.onPeer('node-1', reverse(half('node-1', 'receiver', T0 + 30_000n + TRANSIT), 9));
    // node-1 -> node-2, arriving here
    j.onPeer('node-1', half('node-1', 'sender', T0));
    j.onLocal(half('node-2', 'receiver', T0 + 30_000n + TRANSIT + SKEW));
    const stitched = emitted.find((t) => t.hops.length === 8)!;
    expect(stitched.cross_node).toMatchObject({ method: 'one-way', source_node: 'node-1', destination_node: 'node-2', transit_ns: Number(TRANSIT), clock_offset_ns: Number(SKEW), error_ns: Number(TRANSIT) });
    expect(stitched.hops[4]).toMatchObject({ delta_ns: Number(TRANSIT), delta_error_ns: Number(TRANSIT) });
    expect(stitched.latency_ns).toBe(30_000 + Number(TRANSIT) + 30_000);
  });

  it('keeps a departed half for an offset sample only while the destination node\'s peer is connected', () => {
    let peerUp = false;
    const emitted: Trace[] = [];
    const j = new CrossNodeJoiner({ node: 'node-2', offsets: new ClockOffsetEstimator(), peerConnected: () => peerUp, emit: (t) => emitted.push(t), holdMs: 500, now: () => 0 });
    // node-2 -> node-1 leaves while no peer streams node-1's halves: nothing is kept (no packet key either)
    j.onLocal(reverse(half('node-2', 'sender', T0 + SKEW), 9));
    peerUp = true;
    j.onPeer('node-1', reverse(half('node-1', 'receiver', T0 + 30_000n + TRANSIT), 9));
    j.onPeer('node-1', half('node-1', 'sender', T0));
    j.onLocal(half('node-2', 'receiver', T0 + 30_000n + TRANSIT + SKEW));
    // so no outbound sample: the stitched trace says its offset is unknown
    expect(emitted.find((t) => t.hops.length === 8)?.cross_node).toMatchObject({ method: 'uncorrected' });
    expect(emitted).toHaveLength(2);
  });

  it('lets an arriving half go alone when the peer\'s half does not come within the window', () => {
    const { j, emitted, advance } = setup();
    j.onLocal(half('node-2', 'receiver', T0));
    advance(499);
    j.tick();
    expect(emitted).toHaveLength(0);
    advance(1);
    j.tick();
    expect(emitted).toHaveLength(1);
    expect(emitted[0]!.hops).toHaveLength(4);
    expect(j.stats.unmatched).toBe(1);
  });

  it('does not wait when the source node has no connected peer; falls back to the round trip', () => {
    const { j, emitted } = setup(false);
    // node-2 pings node-1: request leaves here, the reply comes back 20 ms later (this node's clock)
    const request = reverse(half('node-2', 'sender', T0), 3);
    j.onLocal({ ...request, packet: { ...request.packet, icmp_type: 8 } });
    const reply = half('node-2', 'receiver', T0 + 30_000n + 20_000_000n, { packet: { ip_id: 4, length: 84, icmp_type: 0, icmp_code: 0, icmp_echo: { id: 1, seq: 1 } } });
    j.onLocal({ ...reply, src: reply.src, dst: reply.dst });
    const back = emitted[emitted.length - 1]!;
    expect(back.cross_node).toMatchObject({ method: 'rtt', source_node: 'node-1', destination_node: 'node-2', transit_ns: 10_000_000 });
  });

  it('never joins different packets', () => {
    const { j, emitted } = setup();
    j.onLocal(half('node-2', 'receiver', T0 + 1000n));
    j.onPeer('node-1', half('node-1', 'sender', T0, { packet: { ip_id: 8, length: 84, icmp_type: 8, icmp_code: 0, icmp_echo: { id: 1, seq: 2 } } }));
    expect(emitted).toHaveLength(0);
  });
});
