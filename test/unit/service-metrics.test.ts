import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { ServiceMetrics } from '../../src/export/service-metrics.js';
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
