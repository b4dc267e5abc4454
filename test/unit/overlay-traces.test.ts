/**
 * Cross-node traces over flannel's VXLAN overlay, from hop lines recorded in a real 2x2 `--overlay vxlan` lab
 * (test/fixtures/recorded/lab-2x2-vxlan-icmp.txt: one ping pod-1-1 -> pod-2-1 and its reply): each node's half
 * holds the encapsulation hops (overlay egress + uplink egress on the sender, uplink ingress + overlay ingress on
 * the receiver), the uplink hops carry `encap`, and the halves join by the inner packet's identity, both in the
 * agent (CrossNodeJoiner) and in `hopscope watch` (HalfJoiner).
 */
import { describe, expect, it } from 'vitest';
import { FixedWallClock } from '../../src/clock/wall-clock.js';
import { ClockOffsetEstimator } from '../../src/cross/clock-offset.js';
import { CrossNodeJoiner } from '../../src/cross/cross-node-joiner.js';
import { DropReasons } from '../../src/decode/drop-reasons.js';
import type { HopEvent } from '../../src/decode/probe-event.js';
import { TraceAssembler } from '../../src/trace/trace-assembler.js';
import type { Trace } from '../../src/trace/trace.js';
import { formatTraceLine } from '../../src/watch/format-trace-line.js';
import { HalfJoiner } from '../../src/watch/join-halves.js';
import { recordedVxlanInventory, recordedVxlanScope } from '../fixtures/lab-scope.js';
import { recordedEvents } from '../fixtures/recorded.js';

const HOPS: HopEvent[] = recordedEvents('lab-2x2-vxlan-icmp.txt').filter((e): e is HopEvent => e.type === 'hop');
const WALL = 1_700_000_000_000_000_000n;

function assemble(node: 1 | 2): Trace[] {
  const traces: Trace[] = [];
  const a = new TraceAssembler({
    node: `node-${node}`,
    scope: recordedVxlanScope(node),
    inventory: () => recordedVxlanInventory,
    clock: new FixedWallClock(WALL),
    dropReasons: new DropReasons(new Map()),
    onTrace: (t) => traces.push(t),
  });
  for (const e of HOPS) a.onHop(e);
  a.tick(Number.MAX_SAFE_INTEGER);
  return traces;
}

const seq = (t: Trace) => t.hops.map((h) => `${h.node}:${h.kind}:${h.direction}(${h.interface})${h.encap ? `[${h.encap}]` : ''}`);
const request = (ts: Trace[]) => ts.filter((t) => t.packet.icmp_type === 8);
const reply = (ts: Trace[]) => ts.filter((t) => t.packet.icmp_type === 0);

const SENDER_1 = ['node-1:pod:egress(eth0)', 'node-1:veth:ingress(veth1p1)', 'node-1:bridge:ingress(cni0)', 'node-1:overlay:egress(flannel.1)', 'node-1:uplink:egress(eth0)[vxlan]'];
const RECEIVER_2 = ['node-2:uplink:ingress(eth0)[vxlan]', 'node-2:overlay:ingress(flannel.1)', 'node-2:bridge:egress(cni0)', 'node-2:veth:egress(veth2p1)', 'node-2:pod:ingress(eth0)'];

describe('traces over the VXLAN overlay (recorded lab)', () => {
  const node1 = assemble(1);
  const node2 = assemble(2);

  it('the sender\'s half: through flannel.1, then out of the uplink encapsulated; forwarded, cross-node', () => {
    expect(node1).toHaveLength(2);
    const [out] = request(node1);
    expect(seq(out!)).toEqual(SENDER_1);
    expect(out).toMatchObject({ path: 'cross-node', outcome: 'forwarded', protocol: 'ICMP', src: { pod: 'pod-1-1' }, dst: { pod: 'pod-2-1', node: 'node-2' } });
    // encapsulation: flannel.1 egress -> eth0 egress, 14852 ns in the recording; the outer packet is 50 bytes longer
    expect(out!.hops[4]!.delta_ns).toBe(10256744197883 - 10256744183031);
    expect(out!.latency_ns).toBe(10256744197883 - 10256744113388);
  });

  it('the receiver\'s half: into the uplink encapsulated, decapsulated at flannel.1, delivered', () => {
    expect(node2).toHaveLength(2);
    const [inb] = request(node2);
    expect(seq(inb!)).toEqual(RECEIVER_2);
    expect(inb).toMatchObject({ path: 'cross-node', outcome: 'delivered', src: { pod: 'pod-1-1', node: 'node-1' }, dst: { pod: 'pod-2-1' } });
    expect(inb!.hops[1]!.delta_ns).toBe(10256744243982 - 10256744228459); // decapsulation
    // the identity is the inner packet's, its length included: the outer 134 bytes less VXLAN's 50, as a
    // receiver without the overlay reports it at its uplink
    expect(inb!.packet).toEqual({ ip_id: request(node1)[0]!.packet.ip_id, length: 84, icmp_type: 8, icmp_code: 0, icmp_echo: { id: 30202, seq: 1 } });
    // the reply takes the mirror way
    expect(seq(reply(node1)[0]!).map((h) => h.replace(/\(.*$/, ''))).toEqual([
      'node-1:uplink:ingress', 'node-1:overlay:ingress', 'node-1:bridge:egress', 'node-1:veth:egress', 'node-1:pod:ingress',
    ]);
    expect(seq(reply(node2)[0]!).map((h) => h.replace(/\(.*$/, ''))).toEqual([
      'node-2:pod:egress', 'node-2:veth:ingress', 'node-2:bridge:ingress', 'node-2:overlay:egress', 'node-2:uplink:egress',
    ]);
  });

  it('both halves carry the inner packet\'s identity, so the agent stitches them into one 10-hop trace', () => {
    const emitted: Trace[] = [];
    const j = new CrossNodeJoiner({ node: 'node-2', offsets: new ClockOffsetEstimator(), peerConnected: () => true, emit: (t) => emitted.push(t), now: () => 0 });
    j.onLocal(request(node2)[0]!);
    j.onPeer('node-1', request(node1)[0]!);
    expect(emitted).toHaveLength(1);
    const t = emitted[0]!;
    expect(seq(t)).toEqual([...SENDER_1, ...RECEIVER_2]);
    // uplink egress on node 1 to uplink ingress on node 2 (one kernel: no offset)
    expect(t.cross_node).toMatchObject({ method: 'uncorrected', source_node: 'node-1', destination_node: 'node-2', transit_ns: 10256744228459 - 10256744197883 });
    expect(t).toMatchObject({ path: 'cross-node', outcome: 'delivered' });
    expect(t.latency_ns).toBe(t.hops.reduce((s, h) => s + h.delta_ns, 0));
  });

  it('`hopscope watch` joins the two agents\' halves the same way', () => {
    const j = new HalfJoiner();
    expect(j.push(request(node1)[0]!, 0)).toEqual([]);
    const [joined] = j.push(request(node2)[0]!, 1);
    expect(seq(joined!)).toEqual([...SENDER_1, ...RECEIVER_2]);
    expect(joined).toMatchObject({ node: 'node-1,node-2', outcome: 'delivered' });
    // and prints the encapsulated hops as such
    const line = formatTraceLine(joined!, { color: false });
    expect(line).toContain('overlay:egress(flannel.1) +13.9µs > uplink:egress(eth0 vxlan) +14.9µs > [node-2] uplink:ingress(eth0 vxlan) +30.6µs > overlay:ingress(flannel.1) +15.5µs');
  });
});
