import { describe, expect, it } from 'vitest';
import { parseTraceFilter, type TraceFilter } from '../../src/filter/trace-filter.js';
import { FlowTable } from '../../src/model/flow-table.js';
import { TraceStore } from '../../src/model/trace-store.js';
import type { Hop, Outcome, Trace } from '../../src/trace/trace.js';

const SAME_NODE: readonly [Hop['kind'], Hop['direction']][] = [
  ['pod', 'egress'],
  ['veth', 'ingress'],
  ['veth', 'egress'],
  ['pod', 'ingress'],
];

let nextId = 0;

/** A trace from `src` to `dst` (ip or ip:port) whose hops start at `start` ns and span `latency` ns. */
function trace(
  src: string,
  dst: string,
  o: { latency?: number; start?: number; outcome?: Outcome; protocol?: string; kinds?: readonly [Hop['kind'], Hop['direction']][]; path?: Trace['path'] } = {},
): Trace {
  const latency = o.latency ?? 1000;
  const start = o.start ?? 1_700_000_000_000_000_000;
  const kinds = o.kinds ?? SAME_NODE;
  const endpoint = (text: string) => {
    const [ip, port] = text.split(':');
    return port === undefined ? { ip: ip as string } : { ip: ip as string, port: Number(port) };
  };
  const hops: Hop[] = kinds.map(([kind, direction], i) => {
    const at = i === kinds.length - 1 ? latency : Math.floor((latency * i) / Math.max(1, kinds.length - 1));
    return { node: 'node-1', interface: kind === 'pod' ? 'eth0' : `${kind}${i}`, kind, direction, t: String(BigInt(start) + BigInt(at)), delta_ns: 0 };
  });
  nextId++;
  return {
    id: `t-${nextId}`,
    node: 'node-1',
    src: endpoint(src),
    dst: endpoint(dst),
    protocol: o.protocol ?? 'ICMP',
    path: o.path ?? 'same-node',
    hops,
    outcome: o.outcome ?? 'delivered',
    latency_ns: latency,
    packet: { ip_id: nextId, length: 84 },
  };
}

function filter(input: Record<string, unknown>): TraceFilter {
  const r = parseTraceFilter(input);
  if (!r.ok) throw new Error(r.error);
  return r.filter;
}

describe('FlowTable', () => {
  it('aggregates packets, outcomes and latency of one flow', () => {
    const table = new FlowTable();
    table.record(trace('10.244.1.11', '10.244.1.12', { latency: 3000, start: 1000 }));
    table.record(trace('10.244.1.11', '10.244.1.12', { latency: 1000, start: 5000, outcome: 'dropped' }));
    table.record(trace('10.244.1.11', '10.244.1.12', { latency: 2001, start: 9000 }));
    expect(table.size).toBe(1);
    const [f] = table.list(10);
    expect(f).toEqual({
      key: 'ICMP 10.244.1.11:0 > 10.244.1.12:0',
      src: { ip: '10.244.1.11' },
      dst: { ip: '10.244.1.12' },
      protocol: 'ICMP',
      path: 'same-node',
      hop_sequence: 'pod:egress>veth:ingress>veth:egress>pod:ingress',
      packets: 3,
      outcomes: { delivered: 2, dropped: 1 },
      latency_ns: { min: 1000, max: 3000, mean: 2000, last: 2001 },
      first_seen: '1000',
      last_seen: String(9000 + 2001),
    });
  });

  it('rounds the mean latency', () => {
    const table = new FlowTable();
    for (const latency of [1, 2]) table.record(trace('10.0.0.1', '10.0.0.2', { latency }));
    expect(table.list(1)[0]?.latency_ns).toEqual({ min: 1, max: 2, mean: 2, last: 2 });
  });

  it('keeps the first packet as min when later ones are slower', () => {
    const table = new FlowTable();
    table.record(trace('10.0.0.1', '10.0.0.2', { latency: 50 }));
    table.record(trace('10.0.0.1', '10.0.0.2', { latency: 70 }));
    expect(table.list(1)[0]?.latency_ns.min).toBe(50);
  });

  it('takes path and hop_sequence from the latest trace', () => {
    const table = new FlowTable();
    table.record(trace('10.244.1.11', '10.244.2.11', { path: 'cross-node', kinds: [['pod', 'egress'], ['veth', 'ingress'], ['uplink', 'egress']], outcome: 'forwarded' }));
    table.record(trace('10.244.1.11', '10.244.2.11', { path: 'unrouted', kinds: [['pod', 'egress'], ['veth', 'ingress']], outcome: 'route-miss' }));
    const [f] = table.list(5);
    expect(f?.path).toBe('unrouted');
    expect(f?.hop_sequence).toBe('pod:egress>veth:ingress');
    expect(f?.outcomes).toEqual({ forwarded: 1, 'route-miss': 1 });
  });

  it('keys flows by protocol, direction and ports', () => {
    const table = new FlowTable();
    table.record(trace('10.0.0.1:40000', '10.0.0.2:80', { protocol: 'TCP' }));
    table.record(trace('10.0.0.2:80', '10.0.0.1:40000', { protocol: 'TCP' }));
    table.record(trace('10.0.0.1:40000', '10.0.0.2:80', { protocol: 'UDP' }));
    table.record(trace('10.0.0.1:40001', '10.0.0.2:80', { protocol: 'TCP' }));
    table.record(trace('10.0.0.1:40000', '10.0.0.2:80', { protocol: 'TCP' }));
    expect(table.size).toBe(4);
    expect(table.list(10).map((f) => [f.key, f.packets])).toEqual([
      ['TCP 10.0.0.1:40000 > 10.0.0.2:80', 2],
      ['TCP 10.0.0.1:40001 > 10.0.0.2:80', 1],
      ['UDP 10.0.0.1:40000 > 10.0.0.2:80', 1],
      ['TCP 10.0.0.2:80 > 10.0.0.1:40000', 1],
    ]);
  });

  it('lists most recently seen first, with a limit and a match', () => {
    const table = new FlowTable();
    for (const host of [1, 2, 3, 4]) table.record(trace(`10.0.0.${host}`, '10.0.0.100'));
    table.record(trace('10.0.0.2', '10.0.0.100'));
    expect(table.list(10).map((f) => f.src.ip)).toEqual(['10.0.0.2', '10.0.0.4', '10.0.0.3', '10.0.0.1']);
    expect(table.list(2).map((f) => f.src.ip)).toEqual(['10.0.0.2', '10.0.0.4']);
    expect(table.list(0)).toEqual([]);
    expect(table.list(2, (f) => f.src.ip !== '10.0.0.4').map((f) => f.src.ip)).toEqual(['10.0.0.2', '10.0.0.3']);
  });

  it('does not expose its internal latency sum', () => {
    const table = new FlowTable();
    table.record(trace('10.0.0.1', '10.0.0.2'));
    expect(Object.keys(table.list(1)[0] ?? {})).not.toContain('latencySum');
  });

  it('evicts the least recently seen flow at capacity and counts each eviction', () => {
    const table = new FlowTable(3);
    for (const host of [1, 2, 3]) table.record(trace(`10.0.0.${host}`, '10.0.0.100'));
    expect(table.evicted).toBe(0);
    table.record(trace('10.0.0.1', '10.0.0.100')); // refreshes 1: now 2 is the oldest
    expect(table.evicted).toBe(0);
    table.record(trace('10.0.0.4', '10.0.0.100'));
    expect(table.evicted).toBe(1);
    expect(table.size).toBe(3);
    expect(table.list(10).map((f) => f.src.ip)).toEqual(['10.0.0.4', '10.0.0.1', '10.0.0.3']);
    table.record(trace('10.0.0.5', '10.0.0.100'));
    table.record(trace('10.0.0.6', '10.0.0.100'));
    expect(table.evicted).toBe(3);
    expect(table.size).toBe(3);
    expect(table.list(10).map((f) => f.src.ip)).toEqual(['10.0.0.6', '10.0.0.5', '10.0.0.4']);
    expect(table.list(10).find((f) => f.src.ip === '10.0.0.1')).toBeUndefined();
  });

  it('counts evictions exactly over many flows', () => {
    const table = new FlowTable(100);
    for (let i = 0; i < 1000; i++) table.record(trace(`10.1.${i >> 8}.${i & 0xff}`, '10.0.0.100'));
    expect(table.size).toBe(100);
    expect(table.evicted).toBe(900);
  });

  it('starts a re-seen evicted flow afresh', () => {
    const table = new FlowTable(1);
    table.record(trace('10.0.0.1', '10.0.0.100', { latency: 10 }));
    table.record(trace('10.0.0.2', '10.0.0.100'));
    table.record(trace('10.0.0.1', '10.0.0.100', { latency: 30 }));
    expect(table.evicted).toBe(2);
    expect(table.list(5)).toMatchObject([{ key: 'ICMP 10.0.0.1:0 > 10.0.0.100:0', packets: 1, latency_ns: { min: 30, max: 30, mean: 30 } }]);
  });

  it('uses "0" as first and last seen for a trace without hops', () => {
    const table = new FlowTable();
    table.record(trace('10.0.0.1', '10.0.0.2', { kinds: [] }));
    expect(table.list(1)[0]).toMatchObject({ first_seen: '0', last_seen: '0', hop_sequence: '' });
  });
});

describe('TraceStore', () => {
  it('returns traces newest first', () => {
    const store = new TraceStore(10);
    const traces = [1, 2, 3].map((h) => trace(`10.0.0.${h}`, '10.0.0.100'));
    for (const t of traces) store.add(t);
    expect(store.size).toBe(3);
    expect(store.query(filter({}))).toEqual([traces[2], traces[1], traces[0]]);
  });

  it('is empty before anything is added', () => {
    const store = new TraceStore(4);
    expect(store.size).toBe(0);
    expect(store.query(filter({}))).toEqual([]);
  });

  it('keeps only the newest `capacity` traces as the ring wraps', () => {
    const store = new TraceStore(3);
    const traces = Array.from({ length: 8 }, (_, i) => trace(`10.0.0.${i + 1}`, '10.0.0.100'));
    for (const t of traces) store.add(t);
    expect(store.size).toBe(3);
    expect(store.query(filter({ limit: 100 })).map((t) => t.src.ip)).toEqual(['10.0.0.8', '10.0.0.7', '10.0.0.6']);
  });

  it('is exact at exactly capacity and one past it', () => {
    const store = new TraceStore(2);
    store.add(trace('10.0.0.1', '10.0.0.100'));
    store.add(trace('10.0.0.2', '10.0.0.100'));
    expect(store.query(filter({})).map((t) => t.src.ip)).toEqual(['10.0.0.2', '10.0.0.1']);
    store.add(trace('10.0.0.3', '10.0.0.100'));
    expect(store.size).toBe(2);
    expect(store.query(filter({})).map((t) => t.src.ip)).toEqual(['10.0.0.3', '10.0.0.2']);
  });

  it('applies the filter before the limit', () => {
    const store = new TraceStore(100);
    for (let i = 1; i <= 20; i++) store.add(trace(`10.0.0.${i}`, '10.0.0.100', { outcome: i % 2 === 0 ? 'dropped' : 'delivered', latency: i * 1000 }));
    expect(store.query(filter({ outcome: 'dropped', limit: 3 })).map((t) => t.src.ip)).toEqual(['10.0.0.20', '10.0.0.18', '10.0.0.16']);
    expect(store.query(filter({ outcome: 'delivered', min_latency: '15us' })).map((t) => t.src.ip)).toEqual(['10.0.0.19', '10.0.0.17', '10.0.0.15']);
    expect(store.query(filter({ limit: 1 }))).toHaveLength(1);
    expect(store.query(filter({ protocol: 'tcp' }))).toEqual([]);
  });

  it('filters only among the traces it still holds', () => {
    const store = new TraceStore(2);
    store.add(trace('10.0.0.1', '10.0.0.100', { outcome: 'dropped' }));
    store.add(trace('10.0.0.2', '10.0.0.100'));
    store.add(trace('10.0.0.3', '10.0.0.100'));
    expect(store.query(filter({ outcome: 'dropped' }))).toEqual([]);
  });
});

describe('FlowTable hands out copies', () => {
  it('a listed summary does not change when the flow is counted again', () => {
    const table = new FlowTable(10);
    table.record(trace('10.244.1.11', '10.244.1.12'));
    const before = table.list(1)[0];
    table.record(trace('10.244.1.11', '10.244.1.12', { outcome: 'dropped', latency: 5000 }));
    expect(before?.outcomes).toEqual({ delivered: 1 });
    expect(before?.latency_ns.max).toBe(1000);
    expect(table.list(1)[0]?.outcomes).toEqual({ delivered: 1, dropped: 1 });
  });

  it('refuses a capacity below 1', () => {
    expect(() => new FlowTable(0)).toThrow(/capacity/);
  });
});
