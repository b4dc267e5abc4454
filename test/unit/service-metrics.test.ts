import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { ServiceMetrics } from '../../src/export/service-metrics.js';
import { Inventory } from '../../src/inventory/inventory.js';
import { joinHalves } from '../../src/watch/join-halves.js';
import { receiverHalf, sameNode, senderHalf } from '../fixtures/watch-traces.js';
import { sampleValue } from '../kernel/support/metrics-text.js';

const web = { namespace: 'default', name: 'web', ip: '10.96.0.10', port: 80 };
const echo = { namespace: 'shop', name: 'echo', ip: '10.96.1.11', port: 80 };

describe('per-Service series', () => {
  it('count the traces naming a Service by outcome, and time the finished ones; traces without a Service add nothing', async () => {
    const registry = new Registry();
    const m = new ServiceMetrics(registry, 'node-2');
    const stitched = joinHalves(senderHalf({ service: web }), receiverHalf());
    m.record(senderHalf({ service: web }));
    m.record(stitched);
    m.record(stitched);
    m.record(sameNode({ service: echo, outcome: 'dropped' }));
    m.record(sameNode());
    m.record(sameNode({ service: echo, outcome: 'in-flight' }));
    const text = await registry.metrics();
    const v = (name: string, labels: Record<string, string>) => sampleValue(text, name, labels);
    expect(v('hopscope_service_packets_total', { node: 'node-2', service: 'default/web', outcome: 'forwarded' })).toBe(1);
    expect(v('hopscope_service_packets_total', { node: 'node-2', service: 'default/web', outcome: 'delivered' })).toBe(2);
    expect(v('hopscope_service_packets_total', { node: 'node-2', service: 'shop/echo', outcome: 'dropped' })).toBe(1);
    // the forwarded half is not timed: its latency ends at the uplink
    expect(v('hopscope_service_latency_seconds_count', { node: 'node-2', service: 'default/web' })).toBe(2);
    expect(v('hopscope_service_latency_seconds_sum', { node: 'node-2', service: 'default/web' })).toBeCloseTo((2 * stitched.latency_ns) / 1e9, 12);
    // nor is one still in flight
    expect(v('hopscope_service_packets_total', { node: 'node-2', service: 'shop/echo', outcome: 'in-flight' })).toBe(1);
    expect(v('hopscope_service_latency_seconds_count', { node: 'node-2', service: 'shop/echo' })).toBe(1);
    expect(text.match(/^hopscope_service_packets_total\{/gm)).toHaveLength(4);
  });
});

describe('a deleted Service', () => {
  const services = (...names: { namespace: string; name: string; ip: string }[]) =>
    new Inventory({
      nodes: [],
      pods: [],
      services: names.map((s) => ({ namespace: s.namespace, name: s.name, clusterIP: s.ip, ports: [{ port: 80, targetPort: 8080, protocol: 'TCP' as const }], backends: [] })),
    });

  it('loses its series at the first scrape after the inventory stops listing it, also after a late trace; the others keep theirs, and it comes back if traced again', async () => {
    const registry = new Registry();
    let inventory = services(web, echo);
    const m = new ServiceMetrics(registry, 'node-2', () => inventory);
    m.record(sameNode({ service: web }));
    m.record(sameNode({ service: echo }));
    const series = (text: string) => [...new Set([...text.matchAll(/^hopscope_service_\w+\{[^}]*service="([^"]+)"/gm)].map((x) => x[1]))].sort();
    expect(series(await registry.metrics())).toEqual(['default/web', 'shop/echo']);
    inventory = services(web);
    const after = await registry.metrics();
    expect(series(after)).toEqual(['default/web']);
    expect(sampleValue(after, 'hopscope_service_packets_total', { node: 'node-2', service: 'default/web', outcome: 'delivered' })).toBe(1);
    expect(sampleValue(after, 'hopscope_service_latency_seconds_count', { node: 'node-2', service: 'default/web' })).toBe(1);
    // a late trace naming the deleted Service (a peer's half, say): its series goes again at the next scrape
    m.record(sameNode({ service: echo }));
    expect(series(await registry.metrics())).toEqual(['default/web']);
    // recreated under the same name: counted from zero
    inventory = services(web, echo);
    m.record(sameNode({ service: echo }));
    const again = await registry.metrics();
    expect(sampleValue(again, 'hopscope_service_packets_total', { node: 'node-2', service: 'shop/echo', outcome: 'delivered' })).toBe(1);
    expect(sampleValue(again, 'hopscope_service_latency_seconds_count', { node: 'node-2', service: 'shop/echo' })).toBe(1);
  });
});
