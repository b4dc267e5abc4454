import { describe, expect, it } from 'vitest';
import { FixedWallClock } from '../../src/clock/wall-clock.js';
import { DropReasons } from '../../src/decode/drop-reasons.js';
import type { HopEvent, ProbeEvent } from '../../src/decode/probe-event.js';
import { TraceAssembler } from '../../src/trace/trace-assembler.js';
import type { Trace } from '../../src/trace/trace.js';
import { recordedInventory, recordedScope, RECORDED_NETNS } from '../fixtures/lab-scope.js';
import { recordedEvents } from '../fixtures/recorded.js';

const EVENTS: ProbeEvent[] = recordedEvents('lab-2x2-icmp.txt');
const REASONS = new DropReasons(new Map([[3, 'NO_SOCKET'], [88, 'IP_INNOROUTES'], [104, 'QUEUE_PURGE']]));
const WALL_OFFSET = 1_700_000_000_000_000_000n;

function assemble(node: 1 | 2, events: readonly ProbeEvent[], options: { timeoutNs?: number } = {}) {
  const traces: Trace[] = [];
  const a = new TraceAssembler({
    node: `node-${node}`,
    scope: recordedScope(node),
    inventory: () => recordedInventory,
    clock: new FixedWallClock(WALL_OFFSET),
    dropReasons: REASONS,
    onTrace: (t) => traces.push(t),
    ...options,
  });
  for (const e of events) {
    if (e.type === 'hop') a.onHop(e);
    else if (e.type === 'drop') a.onDrop(e);
  }
  a.tick(Number.MAX_SAFE_INTEGER);
  return { traces, stats: a.stats };
}

const seq = (t: Trace) => t.hops.map((h) => `${h.kind}:${h.direction}`);
const find = (traces: Trace[], src: string, dst: string) => traces.filter((t) => t.src.ip === src && t.dst.ip === dst);

describe('TraceAssembler on a recorded 2x2 lab', () => {
  const node1 = assemble(1, EVENTS);
  const node2 = assemble(2, EVENTS);

  it('same-node ping: exact hops, delivered, pods named', () => {
    const [t] = find(node1.traces, '10.244.1.11', '10.244.1.12');
    expect(t && seq(t)).toEqual(['pod:egress', 'veth:ingress', 'veth:egress', 'pod:ingress']);
    expect(t?.hops.map((h) => h.interface)).toEqual(['eth0', 'veth1p1', 'veth1p2', 'eth0']);
    expect(t).toMatchObject({ path: 'same-node', outcome: 'delivered', protocol: 'ICMP', src: { pod: 'pod-1-1', namespace: 'default', node: 'node-1' }, dst: { pod: 'pod-1-2' } });
    expect(t?.hops.every((h) => h.delta_ns >= 0)).toBe(true);
    expect(t?.latency_ns).toBe(604485235997 - 604485174065);
    expect(t?.hops[0]?.t).toBe((WALL_OFFSET + 604485174065n).toString());
  });

  it('a socket free after delivery does not turn the reply into a drop', () => {
    const [reply] = find(node1.traces, '10.244.1.12', '10.244.1.11');
    expect(reply).toMatchObject({ outcome: 'delivered', path: 'same-node' });
    expect(reply?.reason).toBeUndefined();
  });

  it('cross-node ping: node 1 sees its half up to the uplink, node 2 from its uplink', () => {
    const [out] = find(node1.traces, '10.244.1.11', '10.244.2.11');
    expect(out && seq(out)).toEqual(['pod:egress', 'veth:ingress', 'bridge:ingress', 'uplink:egress']);
    expect(out).toMatchObject({ path: 'cross-node', outcome: 'forwarded', dst: { pod: 'pod-2-1', node: 'node-2' } });
    const [inb] = find(node2.traces, '10.244.1.11', '10.244.2.11');
    expect(inb && seq(inb)).toEqual(['uplink:ingress', 'bridge:egress', 'veth:egress', 'pod:ingress']);
    expect(inb).toMatchObject({ path: 'cross-node', outcome: 'delivered', node: 'node-2' });
  });

  it('neither agent keeps a hop from another node or the underlay', () => {
    for (const { traces } of [node1, node2]) {
      for (const t of traces) for (const h of t.hops) expect(['n1', 'n2']).not.toContain(h.interface);
    }
    expect(node1.traces.every((t) => t.node === 'node-1')).toBe(true);
    expect(node1.stats.hopsIgnored).toBeGreaterThan(0);
  });

  it('same-pod traffic on lo is path same-pod', () => {
    const lo = find(node1.traces, '127.0.0.1', '127.0.0.1');
    expect(lo).toHaveLength(2);
    for (const t of lo) {
      expect(t.hops.map((h) => `${h.kind}:${h.direction}:${h.interface}`)).toEqual(['pod:egress:lo', 'pod:ingress:lo']);
      expect(t).toMatchObject({ path: 'same-pod', outcome: 'delivered' });
    }
  });

  it('ping to an address in no Pod CIDR: unrouted, route-miss, with the kernel reason name', () => {
    const [t] = find(node1.traces, '10.244.1.11', '10.99.0.1');
    expect(t && seq(t)).toEqual(['pod:egress', 'veth:ingress', 'bridge:ingress']);
    expect(t).toMatchObject({ path: 'unrouted', outcome: 'route-miss', reason: 'IP_INNOROUTES' });
  });

  it('a drop read before its hops (drops come from another bpftrace process) still ends the trace', () => {
    const drops = EVENTS.filter((e) => e.type === 'drop');
    const rest = EVENTS.filter((e) => e.type !== 'drop');
    const { traces } = assemble(1, [...drops, ...rest]);
    expect(find(traces, '10.244.1.11', '10.99.0.1')[0]).toMatchObject({ outcome: 'route-miss', reason: 'IP_INNOROUTES', path: 'unrouted' });
    const replies = find(traces, '10.244.1.12', '10.244.1.11');
    expect(replies.map((t) => t.outcome)).toEqual(['delivered']);
  });

  it('a trace without a last hop closes in-flight after the timeout, not before', () => {
    const hops = EVENTS.filter((e): e is HopEvent => e.type === 'hop' && e.daddr === '10.244.2.11').slice(0, 3);
    const traces: Trace[] = [];
    const a = new TraceAssembler({ node: 'node-1', scope: recordedScope(1), inventory: () => recordedInventory, clock: new FixedWallClock(0n), dropReasons: REASONS, onTrace: (t) => traces.push(t), timeoutNs: 1e9 });
    for (const h of hops) a.onHop(h);
    const last = hops[hops.length - 1]!.monoNs;
    a.tick(last + 0.9e9);
    expect(traces).toHaveLength(0);
    a.tick(last + 1e9);
    expect(traces.map((t) => [t.outcome, t.path, t.hops.length])).toEqual([['in-flight', 'cross-node', 3]]);
  });

  it('a reused skb address with another packet closes the first trace', () => {
    const hops = EVENTS.filter((e): e is HopEvent => e.type === 'hop' && e.netns === RECORDED_NETNS.pod11 && e.ifname === 'eth0');
    const [first, second] = [hops[0]!, { ...hops[0]!, ipId: hops[0]!.ipId + 1, monoNs: hops[0]!.monoNs + 10 }];
    const { traces } = assemble(1, [first, second]);
    expect(traces).toHaveLength(2);
    expect(traces.map((t) => t.packet.ip_id)).toEqual([first.ipId, first.ipId + 1]);
  });

  it('slots a hop that arrives late from another CPU by time', () => {
    const same = EVENTS.filter((e): e is HopEvent => e.type === 'hop' && e.daddr === '10.244.1.12' && e.saddr === '10.244.1.11');
    const shuffled = [same[0]!, same[2]!, same[1]!, same[3]!];
    const { traces } = assemble(1, shuffled);
    expect(traces[0] && seq(traces[0])).toEqual(['pod:egress', 'veth:ingress', 'veth:egress', 'pod:ingress']);
    expect(traces[0]?.hops.every((h) => h.delta_ns >= 0)).toBe(true);
  });

  it('bounds the packets in flight, evicting the oldest', () => {
    const base = EVENTS.find((e): e is HopEvent => e.type === 'hop')!;
    const traces: Trace[] = [];
    const a = new TraceAssembler({ node: 'node-1', scope: recordedScope(1), inventory: () => recordedInventory, clock: new FixedWallClock(0n), dropReasons: REASONS, onTrace: (t) => traces.push(t), maxOpen: 10 });
    for (let i = 0; i < 25; i++) a.onHop({ ...base, skb: String(1000 + i), ipId: i });
    expect(a.openCount).toBe(10);
    expect(a.stats.tracesEvicted).toBe(15);
    expect(traces.map((t) => t.packet.ip_id)).toEqual([...Array(15).keys()]);
  });
});
