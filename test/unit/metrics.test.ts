import { describe, expect, it } from 'vitest';
import { DropReasons } from '../../src/decode/drop-reasons.js';
import type { DropEvent, FdbEvent } from '../../src/decode/probe-event.js';
import { AgentMetrics, LATENCY_BUCKETS, type ProbeView } from '../../src/export/metrics.js';
import { NodeCounters } from '../../src/model/node-counters.js';
import type { HopKind } from '../../src/scope/node-scope.js';
import type { Hop, PathKind, Trace } from '../../src/trace/trace.js';
import { recordedInventory, recordedScope, RECORDED_NETNS } from '../fixtures/lab-scope.js';

const REASONS = new DropReasons(new Map([[2, 'NOT_SPECIFIED'], [3, 'NO_SOCKET'], [13, 'OTHERHOST'], [58, 'NEIGH_FAILED'], [88, 'IP_INNOROUTES']]));
const PROBE_NAMES = ['hops', 'drops', 'bridge', 'neigh'];

interface Setup {
  metrics: AgentMetrics;
  counters: NodeCounters;
  state: { probes: ProbeView[]; flowsActive: number; flowsEvicted: number };
}

function setup(): Setup {
  const counters = new NodeCounters({
    node: 'node-1', bridgeName: 'cni0', scope: recordedScope(1), inventory: () => recordedInventory, dropReasons: REASONS, requestRescan: () => undefined,
  });
  const state = {
    probes: PROBE_NAMES.map((name) => ({ name, up: true, restarts: 0, native: name === 'hops' })),
    flowsActive: 0,
    flowsEvicted: 0,
    streamClients: 0,
    streamDropped: 0,
  };
  const metrics = new AgentMetrics(
    { node: 'node-1', bridge: 'cni0', probes: () => state.probes, flowsActive: () => state.flowsActive, flowsEvicted: () => state.flowsEvicted, counters,
      streamClients: () => state.streamClients, streamDropped: () => state.streamDropped },
    PROBE_NAMES,
  );
  return { metrics, counters, state };
}

interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

/** The exposition's sample lines (neither comments nor blank lines). */
function sampleLines(text: string): string[] {
  return text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
}

function parse(text: string): Sample[] {
  return sampleLines(text).map((line) => {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1] as string] = l[2] as string;
    return { name: m[1] as string, labels, value: m[3] === '+Inf' ? Infinity : Number(m[3]) };
  });
}

function typesOf(text: string): Map<string, string> {
  const types = new Map<string, string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) types.set(m[1] as string, m[2] as string);
  return types;
}

async function scrape(metrics: AgentMetrics): Promise<{ text: string; samples: Sample[] }> {
  const text = await metrics.registry.metrics();
  return { text, samples: parse(text) };
}

function valueOf(samples: Sample[], name: string, labels: Record<string, string>): number | undefined {
  const found = samples.filter((s) => s.name === name && Object.keys(labels).length === Object.keys(s.labels).length && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} ${JSON.stringify(labels)}`);
  return found[0]?.value;
}

const key = (s: Sample) => `${s.name}${JSON.stringify(Object.entries(s.labels).sort())}`;

// ---- traces ---------------------------------------------------------------------------------------------

interface Shape {
  readonly path: PathKind;
  readonly outcome: Trace['outcome'];
  readonly hops: readonly [HopKind, Hop['direction'], string][];
}

const SHAPES: readonly Shape[] = [
  { path: 'same-pod', outcome: 'delivered', hops: [['pod', 'egress', 'lo'], ['pod', 'ingress', 'lo']] },
  { path: 'same-node', outcome: 'delivered', hops: [['pod', 'egress', 'eth0'], ['veth', 'ingress', 'veth1p1'], ['veth', 'egress', 'veth1p2'], ['pod', 'ingress', 'eth0']] },
  { path: 'cross-node', outcome: 'forwarded', hops: [['pod', 'egress', 'eth0'], ['veth', 'ingress', 'veth1p1'], ['bridge', 'ingress', 'cni0'], ['uplink', 'egress', 'eth0']] },
  { path: 'cross-node', outcome: 'delivered', hops: [['uplink', 'ingress', 'eth0'], ['bridge', 'egress', 'cni0'], ['veth', 'egress', 'veth1p2'], ['pod', 'ingress', 'eth0']] },
  { path: 'cross-node', outcome: 'forwarded', hops: [['pod', 'egress', 'eth0'], ['veth', 'ingress', 'veth1p1'], ['bridge', 'ingress', 'cni0'], ['overlay', 'egress', 'flannel.1']] },
  { path: 'unrouted', outcome: 'route-miss', hops: [['pod', 'egress', 'eth0'], ['veth', 'ingress', 'veth1p1'], ['bridge', 'ingress', 'cni0']] },
  { path: 'same-node', outcome: 'in-flight', hops: [['pod', 'egress', 'eth0']] },
];

/** Flow `i`: its own addresses and ports, one of the shapes, latencies from 100 ns to a few seconds. */
function flowTrace(i: number): Trace {
  const shape = SHAPES[i % SHAPES.length] as Shape;
  const ip = (n: number) => `10.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
  const start = 1_700_000_000_000_000_000n + BigInt(i) * 1_000n;
  let t = start;
  let latency = 0;
  const hops: Hop[] = shape.hops.map(([kind, direction, iface], j) => {
    const delta = j === 0 ? 0 : ((i * 7919 + j * 104729) % 100_000) * 10 ** (i % 5);
    t += BigInt(delta);
    latency += delta;
    return { node: 'node-1', interface: iface, kind, direction, t: t.toString(), delta_ns: delta };
  });
  return {
    id: `node-1-${i}`,
    node: 'node-1',
    src: { ip: ip(i), port: 1024 + (i % 60_000) },
    dst: { ip: ip(i + 5_000_000), port: 1 + ((i * 31) % 65_535) },
    protocol: i % 2 === 0 ? 'TCP' : 'UDP',
    path: shape.path,
    hops,
    outcome: shape.outcome,
    ...(shape.outcome === 'route-miss' ? { reason: 'IP_INNOROUTES' } : {}),
    latency_ns: latency,
    packet: { ip_id: i & 0xffff, length: 60 + (i % 1400) },
  };
}

function drop(over: Partial<DropEvent>): DropEvent {
  return {
    type: 'drop', monoNs: 1_000_000_000, netns: RECORDED_NETNS.node1, ifindex: 3, skb: '18446612686551570944', reason: 3,
    saddr: '10.244.1.11', daddr: '10.244.2.11', protocol: 6, ipId: 1, cpu: 0, fibErr: 0, ...over,
  };
}

function fdb(op: FdbEvent['op'], port: string, mac: string): FdbEvent {
  return { type: 'fdb', op, monoNs: 1, bridge: 'cni0', port, mac, vid: 0, taskNetns: 0 };
}

// ---- tests ----------------------------------------------------------------------------------------------

/** DESIGN.md metrics that src/export/metrics.ts implements, with their types. */
const DESIGN_METRICS: Record<string, string> = {
  hopscope_drops_total: 'counter',
  hopscope_route_misses_total: 'counter',
  hopscope_neighbor_failures_total: 'counter',
  hopscope_bridge_fdb_learned_total: 'counter',
  hopscope_bridge_fdb_moved_total: 'counter',
  hopscope_bridge_fdb_deleted_total: 'counter',
  hopscope_bridge_fdb_entries: 'gauge',
  hopscope_bridge_unknown_unicast_total: 'counter',
  hopscope_bridge_frames_total: 'counter',
  hopscope_traced_packets_total: 'counter',
  hopscope_path_latency_seconds: 'histogram',
  hopscope_hop_latency_seconds: 'histogram',
  hopscope_probe_up: 'gauge',
  hopscope_probe_native: 'gauge',
  hopscope_probe_restarts_total: 'counter',
  hopscope_events_total: 'counter',
  hopscope_events_lost_total: 'counter',
  hopscope_decode_errors_total: 'counter',
  hopscope_flows_active: 'gauge',
  hopscope_flows_evicted_total: 'counter',
};

describe('AgentMetrics after construction', () => {
  it('exposes every DESIGN.md metric it implements, with its type', async () => {
    const { text } = await scrape(setup().metrics);
    const types = typesOf(text);
    for (const [name, type] of Object.entries(DESIGN_METRICS)) expect(types.get(name), name).toBe(type);
  });

  it('each instance has its own registry', async () => {
    const a = setup();
    const b = setup();
    expect(a.metrics.registry).not.toBe(b.metrics.registry);
    a.metrics.events.inc({ probe: 'hops' }, 3);
    expect(valueOf((await scrape(a.metrics)).samples, 'hopscope_events_total', { probe: 'hops' })).toBe(3);
    expect(valueOf((await scrape(b.metrics)).samples, 'hopscope_events_total', { probe: 'hops' })).toBe(0);
  });

  it('has the known label sets of every counter and gauge at 0', async () => {
    const { samples } = await scrape(setup().metrics);
    const node = 'node-1';
    const bridge = 'cni0';
    const expected: [string, Record<string, string>][] = [
      ...['NO_SOCKET', 'OTHERHOST', 'NEIGH_FAILED', 'IP_INNOROUTES'].map((reason): [string, Record<string, string>] => ['hopscope_drops_total', { node, reason }]),
      ...['no-route', 'unreachable', 'prohibit', 'neighbor-failed'].flatMap((reason) =>
        ['node-1', 'node-2', 'none'].map((d): [string, Record<string, string>] => ['hopscope_route_misses_total', { node, reason, destination_node: d }]),
      ),
      ...['pod', 'bridge', 'overlay', 'uplink'].map((k): [string, Record<string, string>] => ['hopscope_neighbor_failures_total', { node, interface_kind: k }]),
      ...['learned', 'moved', 'deleted'].map((c): [string, Record<string, string>] => [`hopscope_bridge_fdb_${c}_total`, { node, bridge }]),
      ['hopscope_bridge_fdb_entries', { node, bridge }],
      ['hopscope_bridge_unknown_unicast_total', { node, bridge }],
      ['hopscope_bridge_frames_total', { node, bridge, action: 'bridged' }],
      ['hopscope_bridge_frames_total', { node, bridge, action: 'to-host' }],
      ...['same-pod', 'same-node', 'cross-node', 'unrouted'].map((path): [string, Record<string, string>] => ['hopscope_traced_packets_total', { node, path }]),
      ...['hopscope_events_total', 'hopscope_events_lost_total', 'hopscope_decode_errors_total', 'hopscope_probe_restarts_total'].flatMap((name) =>
        PROBE_NAMES.map((probe): [string, Record<string, string>] => [name, { probe }]),
      ),
      ['hopscope_flows_active', {}],
      ['hopscope_flows_evicted_total', {}],
    ];
    for (const [name, labels] of expected) expect(valueOf(samples, name, labels), `${name} ${JSON.stringify(labels)}`).toBe(0);
    expect(samples.filter((s) => s.name === 'hopscope_route_misses_total')).toHaveLength(12);
    expect(samples.filter((s) => s.name === 'hopscope_drops_total').map((s) => s.labels['reason'])).not.toContain('NOT_SPECIFIED');
    for (const probe of PROBE_NAMES) expect(valueOf(samples, 'hopscope_probe_up', { probe })).toBe(1);
  });
});

describe('AgentMetrics reflects the model at scrape time', () => {
  it('copies NodeCounters, the probes and the flow table into the exposition', async () => {
    const { metrics, counters, state } = setup();
    counters.onDrop(drop({ reason: 3, skb: '1' }));
    counters.onDrop(drop({ reason: 3, skb: '2', netns: RECORDED_NETNS.pod11 }));
    counters.onDrop(drop({ reason: 88, skb: '3', daddr: '10.99.0.1' }));
    counters.onDrop(drop({ reason: 2, skb: '4', fibErr: -113 }));
    counters.onNeighFailure({ type: 'neigh-failed', monoNs: 1, device: 'cni0', family: 2, address: '10.244.1.99', state: 32 });
    counters.onFdb(fdb('update', 'veth1p1', 'aa:bb:cc:dd:ee:01'));
    counters.onFdb(fdb('update', 'veth1p2', 'aa:bb:cc:dd:ee:02'));
    counters.onFdb(fdb('update', 'veth1p2', 'aa:bb:cc:dd:ee:01'));
    counters.onFdb(fdb('delete', 'veth1p2', 'aa:bb:cc:dd:ee:02'));
    counters.onCounter({ type: 'counter', name: 'bridged', keys: [RECORDED_NETNS.node1, 4], value: 7 });
    counters.onCounter({ type: 'counter', name: 'to_host', keys: [RECORDED_NETNS.node1, 3], value: 4 });
    counters.onCounter({ type: 'counter', name: 'unknown_unicast', keys: [RECORDED_NETNS.node1, 5], value: 2 });
    state.probes = [{ name: 'hops', up: true, restarts: 0, native: true }, { name: 'drops', up: false, restarts: 2, native: false }];
    state.flowsActive = 42;
    state.flowsEvicted = 5;
    metrics.recordTrace(flowTrace(1));

    const { samples } = await scrape(metrics);
    const node = 'node-1';
    const bridge = 'cni0';
    expect(valueOf(samples, 'hopscope_drops_total', { node, reason: 'NO_SOCKET' })).toBe(2);
    expect(valueOf(samples, 'hopscope_drops_total', { node, reason: 'IP_INNOROUTES' })).toBe(1);
    expect(valueOf(samples, 'hopscope_route_misses_total', { node, reason: 'no-route', destination_node: 'none' })).toBe(1);
    expect(valueOf(samples, 'hopscope_route_misses_total', { node, reason: 'unreachable', destination_node: 'node-2' })).toBe(1);
    expect(valueOf(samples, 'hopscope_neighbor_failures_total', { node, interface_kind: 'bridge' })).toBe(1);
    expect(valueOf(samples, 'hopscope_bridge_fdb_learned_total', { node, bridge })).toBe(2);
    expect(valueOf(samples, 'hopscope_bridge_fdb_moved_total', { node, bridge })).toBe(1);
    expect(valueOf(samples, 'hopscope_bridge_fdb_deleted_total', { node, bridge })).toBe(1);
    expect(valueOf(samples, 'hopscope_bridge_fdb_entries', { node, bridge })).toBe(1);
    expect(valueOf(samples, 'hopscope_bridge_frames_total', { node, bridge, action: 'bridged' })).toBe(7);
    expect(valueOf(samples, 'hopscope_bridge_frames_total', { node, bridge, action: 'to-host' })).toBe(4);
    expect(valueOf(samples, 'hopscope_bridge_unknown_unicast_total', { node, bridge })).toBe(2);
    expect(valueOf(samples, 'hopscope_probe_up', { probe: 'hops' })).toBe(1);
    expect(valueOf(samples, 'hopscope_probe_up', { probe: 'drops' })).toBe(0);
    expect(valueOf(samples, 'hopscope_probe_native', { probe: 'hops' })).toBe(1);
    expect(valueOf(samples, 'hopscope_probe_native', { probe: 'drops' })).toBe(0);
    expect(valueOf(samples, 'hopscope_probe_restarts_total', { probe: 'drops' })).toBe(2);
    expect(valueOf(samples, 'hopscope_flows_active', {})).toBe(42);
    expect(valueOf(samples, 'hopscope_flows_evicted_total', {})).toBe(5);
    expect(valueOf(samples, 'hopscope_traced_packets_total', { node, path: 'same-node' })).toBe(1);
    expect(valueOf(samples, 'hopscope_path_latency_seconds_count', { node, path: 'same-node' })).toBe(1);
    expect(valueOf(samples, 'hopscope_hop_latency_seconds_count', { node, from_kind: 'pod', to_kind: 'veth' })).toBe(1);
    expect(valueOf(samples, 'hopscope_hop_latency_seconds_count', { node, from_kind: 'veth', to_kind: 'veth' })).toBe(1);
  });

  it('records path and hop latency in seconds', async () => {
    const { metrics } = setup();
    const t = flowTrace(1);
    metrics.recordTrace(t);
    const { samples } = await scrape(metrics);
    expect(valueOf(samples, 'hopscope_path_latency_seconds_sum', { node: 'node-1', path: t.path })).toBeCloseTo(t.latency_ns / 1e9, 12);
    expect(valueOf(samples, 'hopscope_hop_latency_seconds_sum', { node: 'node-1', from_kind: 'veth', to_kind: 'veth' })).toBeCloseTo((t.hops[2]?.delta_ns ?? NaN) / 1e9, 12);
  });

  it('counters never go down across scrapes, and a scrape without news changes nothing', async () => {
    const { metrics, counters, state } = setup();
    const rounds: Map<string, number>[] = [];
    const counterNames = (text: string) => new Set([...typesOf(text)].filter(([, t]) => t === 'counter' || t === 'histogram').map(([n]) => n));
    for (let round = 0; round < 5; round++) {
      const { text, samples } = await scrape(metrics);
      const names = counterNames(text);
      const monotone = samples.filter((s) => names.has(s.name) || names.has(s.name.replace(/_(bucket|sum|count)$/, '')));
      rounds.push(new Map(monotone.map((s) => [key(s), s.value])));
      if (round === 3) continue; // the scrape of round 4 repeats round 3's without any change
      counters.onDrop(drop({ reason: 3, skb: String(round) }));
      counters.onDrop(drop({ reason: 88, skb: String(round), monoNs: 1e9 * (round + 1) }));
      counters.onFdb(fdb('update', round % 2 === 0 ? 'veth1p1' : 'veth1p2', 'aa:bb:cc:dd:ee:01'));
      counters.onCounter({ type: 'counter', name: 'bridged', keys: [RECORDED_NETNS.node1, 4], value: 10 * (round + 1) });
      state.probes = PROBE_NAMES.map((name) => ({ name, up: round % 2 === 0, restarts: round, native: false }));
      state.flowsEvicted += 3;
      metrics.events.inc({ probe: 'hops' }, 10);
      metrics.recordTrace(flowTrace(round));
    }
    for (let i = 1; i < rounds.length; i++) {
      const before = rounds[i - 1] as Map<string, number>;
      const after = rounds[i] as Map<string, number>;
      for (const [k, v] of before) {
        expect(after.has(k), k).toBe(true);
        expect(after.get(k), k).toBeGreaterThanOrEqual(v);
      }
    }
    expect(rounds[4]).toEqual(rounds[3]);
    const last = rounds[4] as Map<string, number>;
    expect(last.get(key({ name: 'hopscope_drops_total', labels: { node: 'node-1', reason: 'NO_SOCKET' }, value: 0 }))).toBe(3);
    expect(last.get(key({ name: 'hopscope_bridge_frames_total', labels: { node: 'node-1', bridge: 'cni0', action: 'bridged' }, value: 0 }))).toBe(30);
    expect(last.get(key({ name: 'hopscope_probe_restarts_total', labels: { probe: 'hops' }, value: 0 }))).toBe(2);
    expect(last.get(key({ name: 'hopscope_flows_evicted_total', labels: {}, value: 0 }))).toBe(9);
  });

  it('histogram buckets span 1 us to 1 s (plus +Inf)', async () => {
    const { metrics } = setup();
    expect(LATENCY_BUCKETS[0]).toBe(1e-6);
    expect(LATENCY_BUCKETS[LATENCY_BUCKETS.length - 1]).toBe(1);
    metrics.recordTrace(flowTrace(1));
    const { samples } = await scrape(metrics);
    for (const name of ['hopscope_path_latency_seconds_bucket', 'hopscope_hop_latency_seconds_bucket']) {
      const les = [...new Set(samples.filter((s) => s.name === name).map((s) => Number(s.labels['le'] === '+Inf' ? Infinity : s.labels['le'])))].sort((a, b) => a - b);
      expect(les[0], name).toBe(1e-6);
      expect(les[les.length - 2], name).toBe(1);
      expect(les[les.length - 1], name).toBe(Infinity);
      expect(les.length, name).toBeGreaterThanOrEqual(10);
    }
  });

  it('an observation below 1 us lands in the first bucket, above 1 s only in +Inf', async () => {
    const { metrics } = setup();
    const base = flowTrace(0); // same-pod: two hops
    metrics.recordTrace({ ...base, latency_ns: 500, hops: base.hops.map((h, j) => ({ ...h, delta_ns: j === 0 ? 0 : 500 })) });
    metrics.recordTrace({ ...base, latency_ns: 3e9, hops: base.hops.map((h, j) => ({ ...h, delta_ns: j === 0 ? 0 : 3e9 })) });
    const { samples } = await scrape(metrics);
    const labels = { node: 'node-1', path: 'same-pod' };
    expect(valueOf(samples, 'hopscope_path_latency_seconds_bucket', { ...labels, le: '0.000001' })).toBe(1);
    expect(valueOf(samples, 'hopscope_path_latency_seconds_bucket', { ...labels, le: '1' })).toBe(1);
    expect(valueOf(samples, 'hopscope_path_latency_seconds_bucket', { ...labels, le: '+Inf' })).toBe(2);
  });
});

describe('AgentMetrics has no IP or port labels', () => {
  const FORBIDDEN = /^(ip|port|src|dst|address|addr|saddr|daddr|sport|dport)$|(^|_)(ip|ips|port|ports|src|dst|address|addr)(_|$)/;

  it('no label is named like an IP or port, and no label value looks like an IP address', async () => {
    const { metrics, counters } = setup();
    for (let i = 0; i < 200; i++) metrics.recordTrace(flowTrace(i));
    counters.onDrop(drop({ reason: 88, daddr: '10.99.0.1' }));
    counters.onDrop(drop({ reason: 58, daddr: '10.244.2.11', skb: '9' }));
    counters.onNeighFailure({ type: 'neigh-failed', monoNs: 1, device: 'eth0', family: 2, address: '10.244.1.12', state: 32 });
    const { samples } = await scrape(metrics);
    expect(samples.length).toBeGreaterThan(100);
    const names = new Set(samples.flatMap((s) => Object.keys(s.labels)));
    expect(names.size).toBeGreaterThan(5);
    for (const n of names) expect(n, n).not.toMatch(FORBIDDEN);
    for (const s of samples) {
      for (const v of Object.values(s.labels)) expect(v, `${s.name} ${v}`).not.toMatch(/\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}|[0-9a-f]{0,4}:[0-9a-f]{0,4}:[0-9a-f:]*/i);
    }
  });

  it('the forbidden-name check itself catches IP and port labels', () => {
    for (const bad of ['ip', 'port', 'src', 'dst', 'address', 'src_ip', 'destination_port', 'source_address']) expect(bad).toMatch(FORBIDDEN);
    for (const ok of ['node', 'probe', 'reason', 'destination_node', 'source_node', 'interface_kind', 'path', 'le']) expect(ok).not.toMatch(FORBIDDEN);
  });
});

describe('AgentMetrics series are bounded', () => {
  async function seriesAfter(flows: number): Promise<number> {
    const { metrics } = setup();
    for (let i = 0; i < flows; i++) metrics.recordTrace(flowTrace(i));
    const { text } = await scrape(metrics);
    return sampleLines(text).length;
  }

  it('1,000 and 100,000 distinct flows give the same number of series', async () => {
    const none = await seriesAfter(0);
    const few = await seriesAfter(1_000);
    const many = await seriesAfter(100_000);
    console.log(`series with 1000 flows: ${few}; with 100000 flows: ${many}`);
    expect(few).toBeGreaterThan(none); // the traces did add histogram series
    expect(many).toBe(few);
  }, 60_000);
});
