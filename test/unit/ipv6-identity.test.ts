/**
 * IPv6 where traces meet other traces and the API: the agent's cross-node joiner stitches IPv6 halves by
 * flow label and echo id/seq and falls back to the ICMPv6 echo round trip; Kubernetes objects with dual-stack
 * podIPs / podCIDRs feed an inventory that resolves IPv6 addresses; the watch line names ICMPv6 messages;
 * the protocol filter matches `ICMPv6` in any case.
 */
import { describe, expect, it } from 'vitest';
import { ClockOffsetEstimator } from '../../src/cross/clock-offset.js';
import { CrossNodeJoiner } from '../../src/cross/cross-node-joiner.js';
import { matchesTrace, parseTraceFilter } from '../../src/filter/trace-filter.js';
import { Inventory } from '../../src/inventory/inventory.js';
import { inventoryNode, podRecord } from '../../src/kubernetes/kube-objects.js';
import type { Hop, Trace } from '../../src/trace/trace.js';
import { formatTraceLine } from '../../src/watch/format-trace-line.js';

const T0 = 1_800_000_000_000_000_000n;
const A = 'fd00:10:244:1::11';
const B = 'fd00:10:244:2::11';

function half(node: string, role: 'sender' | 'receiver', startNs: bigint, o: Partial<Trace> = {}): Trace {
  const kinds: [Hop['kind'], Hop['direction']][] =
    role === 'sender'
      ? [['pod', 'egress'], ['veth', 'ingress'], ['bridge', 'ingress'], ['uplink', 'egress']]
      : [['uplink', 'ingress'], ['bridge', 'egress'], ['veth', 'egress'], ['pod', 'ingress']];
  const hops: Hop[] = kinds.map(([kind, direction], i) => ({ node, interface: kind === 'bridge' ? 'cni0' : 'eth0', kind, direction, t: String(startNs + BigInt(i * 10_000)), delta_ns: i === 0 ? 0 : 10_000 }));
  return {
    id: `${node}-${role}-${startNs}`, node,
    src: { ip: A, pod: 'pod-1-1', namespace: 'default', node: 'node-1' }, dst: { ip: B, pod: 'pod-2-1', namespace: 'default', node: 'node-2' },
    protocol: 'ICMPv6', path: 'cross-node', hops, outcome: role === 'sender' ? 'forwarded' : 'delivered', latency_ns: 30_000,
    packet: { ip_id: 0, length: 104, flow_label: 125579, payload_length: 64, icmp_type: 128, icmp_code: 0, icmp_echo: { id: 3866, seq: 3 } },
    ...o,
  };
}

function joiner(node: string, peerConnected = true) {
  const out: Trace[] = [];
  let now = 0;
  const j = new CrossNodeJoiner({ node, offsets: new ClockOffsetEstimator(), peerConnected: () => peerConnected, emit: (t) => out.push(t), now: () => now });
  return { j, out, advance: (ms: number) => void (now += ms) };
}

describe('cross-node joiner with IPv6', () => {
  it('stitches the sender\'s and the receiver\'s IPv6 halves by flow label and echo id/seq', () => {
    const { j, out } = joiner('node-2');
    j.onPeer('node-1', half('node-1', 'sender', T0));
    j.onLocal(half('node-2', 'receiver', T0 + 50_000n));
    expect(out).toHaveLength(1);
    expect(out[0]!.hops.map((h) => `${h.node}:${h.kind}:${h.direction}`)).toEqual([
      'node-1:pod:egress', 'node-1:veth:ingress', 'node-1:bridge:ingress', 'node-1:uplink:egress',
      'node-2:uplink:ingress', 'node-2:bridge:egress', 'node-2:veth:egress', 'node-2:pod:ingress',
    ]);
    expect(out[0]!.cross_node).toMatchObject({ source_node: 'node-1', destination_node: 'node-2' });
  });

  it('does not stitch halves whose flow labels differ (another packet with the same echo id/seq)', () => {
    const { j, out, advance } = joiner('node-2');
    j.onPeer('node-1', half('node-1', 'sender', T0, { packet: { ...half('n', 'sender', 0n).packet, flow_label: 1 } }));
    j.onLocal(half('node-2', 'receiver', T0 + 50_000n));
    expect(out).toHaveLength(0);
    advance(1000);
    j.tick();
    expect(out).toHaveLength(1);
    expect(out[0]!.hops.every((h) => h.node === 'node-2')).toBe(true);
  });

  it('without a peer: half the ICMPv6 echo round trip at the uplink', () => {
    const { j, out } = joiner('node-1', false);
    j.onLocal(half('node-1', 'sender', T0));
    const reply = half('node-1', 'receiver', T0 + 30_000n + 200_000n, {
      src: half('n', 'sender', 0n).dst, dst: half('n', 'sender', 0n).src,
      packet: { ip_id: 0, length: 104, flow_label: 9, payload_length: 64, icmp_type: 129, icmp_code: 0, icmp_echo: { id: 3866, seq: 3 } },
    });
    j.onLocal(reply);
    expect(out[1]!.cross_node).toEqual({ method: 'rtt', source_node: 'node-2', destination_node: 'node-1', transit_ns: 100_000 });
  });
});

describe('Kubernetes dual-stack objects', () => {
  it('keeps IPv6 pod addresses (canonical) and IPv6 Pod CIDRs, and the inventory resolves them', () => {
    const pod = podRecord({ metadata: { name: 'web', namespace: 'shop' }, spec: { nodeName: 'n1' }, status: { phase: 'Running', podIP: '10.244.1.5', podIPs: [{ ip: '10.244.1.5' }, { ip: 'FD00:10:244:1:0:0:0:5' }] } }, 'n1');
    expect(pod?.ips).toEqual(['10.244.1.5', 'fd00:10:244:1::5']);
    const node = inventoryNode({ metadata: { name: 'n1' }, spec: { podCIDR: '10.244.1.0/24', podCIDRs: ['10.244.1.0/24', 'fd00:10:244:1::/64'] }, status: { addresses: [{ type: 'InternalIP', address: '192.168.1.1' }, { type: 'InternalIP', address: 'fd00::1' }] } });
    expect(node).toEqual({ name: 'n1', podCIDR: '10.244.1.0/24', internalIP: '192.168.1.1', podCIDRs: ['10.244.1.0/24', 'fd00:10:244:1::/64'], internalIPs: ['192.168.1.1', 'fd00::1'] });
    // an IPv4-only node keeps the IPv4-only shape
    expect(inventoryNode({ metadata: { name: 'n2' }, spec: { podCIDR: '10.244.2.0/24' }, status: { addresses: [{ type: 'InternalIP', address: '192.168.1.2' }] } })).toEqual({ name: 'n2', podCIDR: '10.244.2.0/24', internalIP: '192.168.1.2' });
    const inv = new Inventory({ nodes: [node!], pods: [{ namespace: 'shop', name: 'web', node: 'n1', ip: '10.244.1.5', ips: pod!.ips }] });
    expect(inv.podByIp('fd00:10:244:1::5')?.name).toBe('web');
    expect(inv.nodeOwningIp('fd00:10:244:1::99')?.name).toBe('n1');
    expect(inv.nodeOwningIp('fd00::1')?.name).toBe('n1');
  });

  it('an IPv6-only pod is not lost', () => {
    const pod = podRecord({ metadata: { name: 'v6' }, status: { phase: 'Running', podIP: 'fd00:10:244:1::7', podIPs: [{ ip: 'fd00:10:244:1::7' }] } }, 'n1');
    expect(pod?.ips).toEqual(['fd00:10:244:1::7']);
  });
});

describe('IPv6 in watch lines and filters', () => {
  it('names ICMPv6 messages and shows IPv6 addresses of pods by name', () => {
    const line = formatTraceLine(half('node-1', 'sender', T0), { color: false });
    expect(line).toContain('default/pod-1-1 -> default/pod-2-1 ICMPv6 echo-request cross-node');
    const err = formatTraceLine(half('node-1', 'receiver', T0, { src: { ip: 'fd00:10:244:1::1' }, packet: { ip_id: 0, length: 152, icmp_type: 1, icmp_code: 0 } }), { color: false });
    expect(err).toContain('fd00:10:244:1::1 -> default/pod-2-1 ICMPv6 unreachable/0');
  });

  it('the protocol filter matches ICMPv6 whatever the case', () => {
    for (const word of ['ICMPv6', 'icmpv6', 'ICMPV6']) {
      const f = parseTraceFilter({ protocol: word });
      expect(f.ok && matchesTrace(f.filter, half('node-1', 'sender', T0))).toBe(true);
    }
    const icmp = parseTraceFilter({ protocol: 'icmp' });
    expect(icmp.ok && matchesTrace(icmp.filter, half('node-1', 'sender', T0))).toBe(false);
  });
});
