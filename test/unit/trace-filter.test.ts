import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMIT, MAX_LIMIT, matchesTrace, parseDurationNs, parseTraceFilter, type TraceFilter } from '../../src/filter/trace-filter.js';
import type { Hop, Trace } from '../../src/trace/trace.js';

function hop(node: string, kind: Hop['kind'], direction: Hop['direction'], t: number): Hop {
  return { node, interface: kind === 'pod' ? 'eth0' : `${kind}0`, kind, direction, t: String(t), delta_ns: 0 };
}

function trace(over: Partial<Trace> = {}): Trace {
  return {
    id: 't-1',
    node: 'node-1',
    src: { ip: '10.244.1.11', pod: 'pod-1-1', namespace: 'default', node: 'node-1' },
    dst: { ip: '10.244.1.12', pod: 'pod-1-2', namespace: 'default', node: 'node-1' },
    protocol: 'ICMP',
    path: 'same-node',
    hops: [hop('node-1', 'pod', 'egress', 100), hop('node-1', 'pod', 'ingress', 2100)],
    outcome: 'delivered',
    latency_ns: 2000,
    packet: { ip_id: 1, length: 84 },
    ...over,
  };
}

/** The filter of a successful parse, or a test failure with the parser's message. */
function filterOf(input: Record<string, unknown>): TraceFilter {
  const r = parseTraceFilter(input);
  if (!r.ok) throw new Error(`expected a filter, got: ${r.error}`);
  return r.filter;
}

function errorOf(input: Record<string, unknown>): string {
  const r = parseTraceFilter(input);
  if (r.ok) throw new Error(`expected an error, got ${JSON.stringify(r.filter)}`);
  return r.error;
}

describe('parseTraceFilter', () => {
  it('gives the default limit and nothing else for no words', () => {
    expect(parseTraceFilter({})).toEqual({ ok: true, filter: { limit: DEFAULT_LIMIT } });
    expect(DEFAULT_LIMIT).toBe(100);
  });

  it('parses every filter word at once', () => {
    expect(
      filterOf({
        pod: 'kube-system/coredns-5d78c9869d-abcde',
        namespace: 'default',
        node: 'node-1',
        path: 'cross-node',
        protocol: 'tcp',
        outcome: 'route-miss',
        min_latency: '1.5ms',
        limit: '25',
      }),
    ).toEqual({
      pod: { namespace: 'kube-system', name: 'coredns-5d78c9869d-abcde' },
      namespace: 'default',
      node: 'node-1',
      path: 'cross-node',
      protocol: 'TCP',
      outcome: 'route-miss',
      minLatencyNs: 1_500_000,
      limit: 25,
    });
  });

  it('skips undefined values, as a missing query parameter', () => {
    expect(filterOf({ pod: undefined, limit: undefined, node: 'n1' })).toEqual({ node: 'n1', limit: DEFAULT_LIMIT });
  });

  it('trims surrounding white space', () => {
    expect(filterOf({ node: '  node-2 ', limit: ' 7 ' })).toEqual({ node: 'node-2', limit: 7 });
  });

  it('accepts numbers from JSON (stream filter objects)', () => {
    expect(filterOf({ limit: 5, min_latency: 250 })).toEqual({ limit: 5, minLatencyNs: 250 });
  });

  it.each(['same-pod', 'same-node', 'cross-node', 'unrouted'] as const)('accepts path %s', (path) => {
    expect(filterOf({ path }).path).toBe(path);
  });

  it.each(['delivered', 'forwarded', 'dropped', 'route-miss', 'in-flight'] as const)('accepts outcome %s', (outcome) => {
    expect(filterOf({ outcome }).outcome).toBe(outcome);
  });

  it.each([
    ['udp', 'UDP'],
    ['Icmp', 'ICMP'],
    ['ip-47', 'IP-47'],
  ])('upper-cases protocol %s to %s', (protocol, expected) => {
    expect(filterOf({ protocol }).protocol).toBe(expected);
  });

  it.each([
    ['pod', 'default'],
    ['pod', 'default/'],
    ['pod', '/curl'],
    ['pod', 'a/b/c'],
    ['pod', 'Default/curl'],
    ['pod', 'default/-curl'],
    ['namespace', 'Kube-System'],
    ['namespace', 'ns_1'],
    ['namespace', '-ns'],
    ['node', 'node 1'],
    ['node', 'node-'],
    ['node', 'node/1'],
    ['path', 'cross_node'],
    ['path', 'everywhere'],
    ['protocol', 'T C P'],
    ['protocol', 'a'.repeat(17)],
    ['protocol', 'tcp;drop'],
    ['outcome', 'lost'],
    ['outcome', 'Delivered'],
    ['min_latency', 'fast'],
    ['min_latency', '1h'],
    ['min_latency', '-1ms'],
    ['limit', '0'],
    ['limit', '-1'],
    ['limit', '1.5'],
    ['limit', 'ten'],
    ['limit', String(MAX_LIMIT + 1)],
    ['limit', '9999999'],
  ])('rejects %s=%j with a message naming the word', (word, value) => {
    expect(errorOf({ [word]: value })).toMatch(new RegExp(`^${word}: `));
  });

  it('quotes the bad value in the message', () => {
    expect(errorOf({ path: 'sideways' })).toBe('path: "sideways" is not one of same-pod, same-node, cross-node, unrouted');
    expect(errorOf({ outcome: 'lost' })).toContain('"lost"');
    expect(errorOf({ min_latency: '3 weeks' })).toContain('min_latency: "3 weeks" is not a duration');
  });

  it('clips very long values in messages', () => {
    const message = errorOf({ node: `N${'x'.repeat(200)}` });
    expect(message).toContain(`"N${'x'.repeat(39)}..."`);
    expect(message.length).toBeLessThan(100);
  });

  it.each([
    ['limit', 1, 1],
    ['limit', '1', 1],
    ['limit', String(MAX_LIMIT), MAX_LIMIT],
    ['limit', '000042', 42],
  ])('accepts %s=%j at or inside the bounds', (_word, value, expected) => {
    expect(filterOf({ limit: value }).limit).toBe(expected);
  });

  it('bounds limit to 1..10000 and says so', () => {
    expect(MAX_LIMIT).toBe(10_000);
    expect(errorOf({ limit: 0 })).toBe('limit: must be an integer from 1 to 10000');
    expect(errorOf({ limit: 10_001 })).toBe('limit: must be an integer from 1 to 10000');
    expect(errorOf({ limit: 2.5 })).toMatch(/^limit: /);
    expect(errorOf({ limit: Number.NaN })).toMatch(/^limit: /);
  });

  it('rejects empty and over-long values, naming the word', () => {
    expect(errorOf({ node: '' })).toBe('node: must be 1 to 253 characters');
    expect(errorOf({ namespace: '   ' })).toBe('namespace: must be 1 to 253 characters');
    expect(errorOf({ node: 'a'.repeat(254) })).toBe('node: must be 1 to 253 characters');
    expect(filterOf({ node: 'a'.repeat(253) }).node).toHaveLength(253);
  });

  it.each([
    ['an array (a repeated query parameter)', ['a', 'b']],
    ['an object', { namespace: 'x' }],
    ['a boolean', true],
    ['null', null],
  ])('rejects %s as a value, naming the word', (_name, value) => {
    expect(errorOf({ node: value })).toBe('node: must be a single value');
  });

  it('rejects unknown words, naming the word and listing the known ones', () => {
    const message = errorOf({ node: 'n1', colour: 'red' });
    expect(message).toContain('unknown filter "colour"');
    expect(message).toContain('known: pod, namespace, node, path, protocol, outcome, min_latency, limit');
  });

  it('rejects words that differ only by case or spelling', () => {
    expect(errorOf({ Node: 'n1' })).toContain('unknown filter "Node"');
    expect(errorOf({ minLatency: '1ms' })).toContain('unknown filter "minLatency"');
    expect(errorOf({ min_latency_ns: '1' })).toContain('unknown filter "min_latency_ns"');
  });
});

describe('parseDurationNs', () => {
  it.each([
    ['800ns', 800],
    ['800', 800],
    ['0', 0],
    ['250us', 250_000],
    ['250µs', 250_000],
    ['1ms', 1_000_000],
    ['2s', 2_000_000_000],
    ['1.5s', 1_500_000_000],
    ['0.5ms', 500_000],
    ['1.25us', 1250],
    ['1.4ns', 1],
    ['1.6ns', 2],
    ['3600s', 3_600_000_000_000],
  ])('reads %s as %d ns', (text, ns) => {
    expect(parseDurationNs(text)).toBe(ns);
  });

  it.each([
    ['empty', ''],
    ['unit only', 'ms'],
    ['negative', '-1ms'],
    ['leading dot', '.5ms'],
    ['trailing dot', '5.ms'],
    ['space before unit', '5 ms'],
    ['upper-case unit', '5MS'],
    ['unknown unit', '5m'],
    ['hours', '1h'],
    ['minutes', '1min'],
    ['exponent', '1e3'],
    ['two units', '1s500ms'],
    ['words', 'soon'],
    ['comma decimal', '1,5ms'],
    ['beyond an hour', '3601s'],
    ['huge', `${'9'.repeat(400)}s`],
  ])('rejects %s (%j)', (_name, text) => {
    expect(parseDurationNs(text)).toBeUndefined();
  });
});

describe('matchesTrace', () => {
  const f = (input: Record<string, unknown>) => filterOf(input);

  it('matches everything with only a limit', () => {
    expect(matchesTrace(f({}), trace())).toBe(true);
    expect(matchesTrace(f({}), trace({ outcome: 'dropped', path: 'unrouted', protocol: 'TCP' }))).toBe(true);
  });

  it('path', () => {
    expect(matchesTrace(f({ path: 'same-node' }), trace())).toBe(true);
    expect(matchesTrace(f({ path: 'cross-node' }), trace())).toBe(false);
  });

  it('outcome', () => {
    expect(matchesTrace(f({ outcome: 'delivered' }), trace())).toBe(true);
    expect(matchesTrace(f({ outcome: 'dropped' }), trace())).toBe(false);
    expect(matchesTrace(f({ outcome: 'dropped' }), trace({ outcome: 'dropped', reason: 'NO_SOCKET' }))).toBe(true);
  });

  it('protocol, case-insensitive in the filter', () => {
    expect(matchesTrace(f({ protocol: 'icmp' }), trace())).toBe(true);
    expect(matchesTrace(f({ protocol: 'tcp' }), trace())).toBe(false);
    expect(matchesTrace(f({ protocol: 'ip-47' }), trace({ protocol: 'IP-47' }))).toBe(true);
  });

  it('min_latency is inclusive', () => {
    expect(matchesTrace(f({ min_latency: '2us' }), trace({ latency_ns: 2000 }))).toBe(true);
    expect(matchesTrace(f({ min_latency: '2us' }), trace({ latency_ns: 1999 }))).toBe(false);
    expect(matchesTrace(f({ min_latency: '0' }), trace({ latency_ns: 0 }))).toBe(true);
  });

  it('node matches the reporting node, either end or any hop', () => {
    const crossNode = trace({
      node: 'node-1',
      src: { ip: '10.244.1.11', node: 'node-1' },
      dst: { ip: '10.244.2.11', node: 'node-2' },
      hops: [hop('node-1', 'pod', 'egress', 1), hop('node-3', 'uplink', 'ingress', 2)],
    });
    expect(matchesTrace(f({ node: 'node-1' }), crossNode)).toBe(true);
    expect(matchesTrace(f({ node: 'node-2' }), crossNode)).toBe(true);
    expect(matchesTrace(f({ node: 'node-3' }), crossNode)).toBe(true);
    expect(matchesTrace(f({ node: 'node-4' }), crossNode)).toBe(false);
  });

  it('namespace matches either end', () => {
    const t = trace({ src: { ip: '10.244.1.11', namespace: 'a' }, dst: { ip: '10.244.1.12', namespace: 'b' } });
    expect(matchesTrace(f({ namespace: 'a' }), t)).toBe(true);
    expect(matchesTrace(f({ namespace: 'b' }), t)).toBe(true);
    expect(matchesTrace(f({ namespace: 'default' }), t)).toBe(false);
  });

  it('pod matches either end by namespace and name together', () => {
    const t = trace({
      src: { ip: '10.244.1.11', pod: 'curl', namespace: 'a' },
      dst: { ip: '10.244.1.12', pod: 'web', namespace: 'b' },
    });
    expect(matchesTrace(f({ pod: 'a/curl' }), t)).toBe(true);
    expect(matchesTrace(f({ pod: 'b/web' }), t)).toBe(true);
    expect(matchesTrace(f({ pod: 'b/curl' }), t)).toBe(false);
    expect(matchesTrace(f({ pod: 'a/web' }), t)).toBe(false);
    expect(matchesTrace(f({ pod: 'a/curl' }), trace({ src: { ip: '10.0.0.1' }, dst: { ip: '10.0.0.2' } }))).toBe(false);
  });

  it('needs every word to match', () => {
    const filter = f({ path: 'same-node', outcome: 'delivered', protocol: 'icmp', pod: 'default/pod-1-2', min_latency: '1us' });
    expect(matchesTrace(filter, trace())).toBe(true);
    expect(matchesTrace(filter, trace({ latency_ns: 999 }))).toBe(false);
    expect(matchesTrace(filter, trace({ protocol: 'UDP' }))).toBe(false);
    expect(matchesTrace(filter, trace({ outcome: 'in-flight' }))).toBe(false);
  });
});

describe('the service filter word', () => {
  const svcTrace = {
    id: 'x', node: 'node-1', protocol: 'TCP', path: 'cross-node', outcome: 'forwarded', latency_ns: 1, hops: [],
    src: { ip: '10.244.1.11', pod: 'pod-1-1', namespace: 'default' }, dst: { ip: '10.244.2.11', pod: 'pod-2-1', namespace: 'default' },
    packet: { ip_id: 1, length: 60 }, service: { namespace: 'default', name: 'web', ip: '10.96.0.10', port: 80 },
  } as const;

  it('parses NAMESPACE/NAME and matches the Service a trace names', () => {
    const r = parseTraceFilter({ service: 'default/web' });
    expect(r).toEqual({ ok: true, filter: { limit: 100, service: { namespace: 'default', name: 'web' } } });
    if (!r.ok) return;
    expect(matchesTrace(r.filter, svcTrace as unknown as Trace)).toBe(true);
    expect(matchesTrace(r.filter, { ...svcTrace, service: { ...svcTrace.service, name: 'api' } } as unknown as Trace)).toBe(false);
    expect(matchesTrace(r.filter, { ...svcTrace, service: undefined } as unknown as Trace)).toBe(false);
  });

  it('a bad value names the word', () => {
    expect(parseTraceFilter({ service: 'web' })).toEqual({ ok: false, error: 'service: "web" is not NAMESPACE/NAME' });
  });
});
