/**
 * @module A synthetic recorded stream for the userspace benchmarks: hops.bt lines (the format of
 * test/fixtures/recorded/lab-2x2-icmp.txt) as node-1 of a 2x2 lab sees them on a real node (one kernel per node:
 * only its node namespace and its pods' namespaces), for many TCP and UDP flows, hops in the lab's order:
 * cross-node out (pod eth0 E, veth I, cni0 I, uplink eth0 E), cross-node in (uplink eth0 I, cni0 E, veth E,
 * pod eth0 I) and same-node (pod eth0 E, veth I, veth E, pod eth0 I). Packets overlap in time (a window of
 * packets in flight, their hops interleaved) and skb addresses are reused, as the kernel does.
 */
import { NodeScope, type HopKind, type NodeInterface } from '../../src/scope/node-scope.js';
import { Inventory } from '../../src/inventory/inventory.js';
import { inventoryOf, planLab } from '../../src/lab/lab-plan.js';

/** Namespace inodes of the lab in which the fixture was recorded (test/fixtures/lab-scope.ts). */
export const NETNS = { node1: 4026532246, pod11: 4026532315, pod12: 4026532384 } as const;

export function benchScope(): NodeScope {
  const list: [number, string, HopKind | 'local'][] = [
    [1, 'lo', 'local'],
    [2, 'eth0', 'uplink'],
    [3, 'cni0', 'bridge'],
    [4, 'veth1p1', 'veth'],
    [5, 'veth1p2', 'veth'],
  ];
  const interfaces = new Map<number, NodeInterface>(list.map(([ifindex, name, kind]) => [ifindex, { ifindex, name, kind }]));
  return new NodeScope({ nodeNetns: NETNS.node1, podNetns: new Set([NETNS.pod11, NETNS.pod12]), interfaces, wholeKernel: false });
}

export const benchInventory = new Inventory(inventoryOf(planLab({ prefix: 'zz', nodes: 2, podsPerNode: 2 })));

/** Raw little-endian u32 of a dotted quad, as the probe prints addresses. */
function rawIp(a: number, b: number, c: number, d: number): number {
  return (a | (b << 8) | (c << 16) | (d << 24)) >>> 0;
}
const swap16 = (v: number) => ((v & 0xff) << 8) | ((v >>> 8) & 0xff);

/** Deterministic PRNG (mulberry32), so every run benchmarks the same bytes. */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Flow {
  readonly kind: 'out' | 'in' | 'same';
  readonly pod: 1 | 2;
  readonly saddr: number;
  readonly daddr: number;
  readonly proto: 6 | 17;
  readonly sport: number;
  readonly dport: number;
  seq: number;
  ipId: number;
}

export interface StreamOptions {
  /** Distinct flows; each packet picks one at random (so flows recur). */
  readonly flows: number;
  /** Packets; each is 4 hop lines on this node. */
  readonly packets: number;
  /** Packets in flight at once, their hops interleaved. */
  readonly window?: number;
  /** Time between consecutive lines. */
  readonly nsPerLine?: number;
  /** Flows visited in order (each packet a new flow until all are used) instead of at random. */
  readonly sequentialFlows?: boolean;
  readonly seed?: number;
}

export function makeFlows(n: number, random: () => number): Flow[] {
  const flows: Flow[] = [];
  for (let i = 0; i < n; i++) {
    const r = random();
    const kind = r < 0.45 ? 'out' : r < 0.9 ? 'in' : 'same';
    const pod = random() < 0.5 ? 1 : 2;
    const local = rawIp(10, 244, 1, 10 + pod);
    const remote = kind === 'same' ? rawIp(10, 244, 1, pod === 1 ? 12 : 11) : rawIp(10, 244, 2, 11 + Math.floor(random() * 2));
    const proto = random() < 0.8 ? 6 : 17;
    const sport = 1024 + Math.floor(random() * 60000);
    const dport = [80, 443, 5201, 8080, 53][Math.floor(random() * 5)] as number;
    flows.push({
      kind,
      pod,
      saddr: kind === 'in' ? remote : local,
      daddr: kind === 'in' ? local : remote,
      proto,
      sport,
      dport,
      seq: Math.floor(random() * 2 ** 32),
      ipId: Math.floor(random() * 65536),
    });
  }
  return flows;
}

/** The 4 hops (netns, ifindex, ifname, dir) of a packet of this flow on node-1, in order. */
function hopsOf(f: Flow): [number, number, string, 'I' | 'E'][] {
  const podNs = f.pod === 1 ? NETNS.pod11 : NETNS.pod12;
  const veth = f.pod === 1 ? 4 : 5;
  const vethName = f.pod === 1 ? 'veth1p1' : 'veth1p2';
  switch (f.kind) {
    case 'out':
      return [[podNs, 2, 'eth0', 'E'], [NETNS.node1, veth, vethName, 'I'], [NETNS.node1, 3, 'cni0', 'I'], [NETNS.node1, 2, 'eth0', 'E']];
    case 'in':
      return [[NETNS.node1, 2, 'eth0', 'I'], [NETNS.node1, 3, 'cni0', 'E'], [NETNS.node1, veth, vethName, 'E'], [podNs, 2, 'eth0', 'I']];
    case 'same': {
      const otherNs = f.pod === 1 ? NETNS.pod12 : NETNS.pod11;
      const otherVeth = f.pod === 1 ? 5 : 4;
      const otherName = f.pod === 1 ? 'veth1p2' : 'veth1p1';
      return [[podNs, 2, 'eth0', 'E'], [NETNS.node1, veth, vethName, 'I'], [NETNS.node1, otherVeth, otherName, 'E'], [otherNs, 2, 'eth0', 'I']];
    }
  }
}

/** The stream as text (lines ending in \n) and its line count. */
export function makeStream(o: StreamOptions): { text: string; lines: number } {
  const random = prng(o.seed ?? 7);
  const flows = makeFlows(o.flows, random);
  const window = o.window ?? 32;
  const step = o.nsPerLine ?? 1000;
  let mono = 600_000_000_000;
  let skbNext = 0;
  const out: string[] = [];
  let next = 0;
  for (let p = 0; p < o.packets; p += window) {
    const batch: { f: Flow; skb: string; hops: ReturnType<typeof hopsOf>; ipId: number; seq: number; len: number; cpu: number }[] = [];
    for (let k = 0; k < window && p + k < o.packets; k++) {
      const f = o.sequentialFlows ? (flows[next++ % flows.length] as Flow) : (flows[Math.floor(random() * flows.length)] as Flow);
      f.ipId = (f.ipId + 1) & 0xffff;
      const len = f.proto === 6 ? (random() < 0.3 ? 52 : 1500) : 64 + Math.floor(random() * 1000);
      f.seq = (f.seq + len) >>> 0;
      // the kernel reuses sk_buff addresses: a pool of 4096
      const skb = (18446612686453469696n + BigInt((skbNext++ % 4096) * 256)).toString();
      batch.push({ f, skb, hops: hopsOf(f), ipId: f.ipId, seq: f.seq, len, cpu: k & 1 });
    }
    for (let h = 0; h < 4; h++) {
      for (const b of batch) {
        const [netns, ifindex, ifname, dir] = b.hops[h] as [number, number, string, 'I' | 'E'];
        const f = b.f;
        const flags = f.proto === 6 ? 0x10 : 0;
        const seq = f.proto === 6 ? b.seq : 0;
        const len = dir === 'E' ? b.len + 14 : b.len;
        mono += step;
        out.push(
          `H ${dir} ${mono} ${netns} ${ifindex} ${ifname} ${b.skb} ${f.saddr} ${f.daddr} ${f.proto} ${swap16(b.ipId)} ${swap16(f.sport)} ${swap16(f.dport)} ${flags} ${seq} ${len} ${b.cpu}`,
        );
      }
    }
  }
  return { text: out.join('\n') + '\n', lines: out.length };
}
