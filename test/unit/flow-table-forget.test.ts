/**
 * FlowTable.forgetAddress: how a deleted pod's per-pod state (its flows) disappears with it.
 */
import { describe, expect, it } from 'vitest';
import { FlowTable } from '../../src/model/flow-table.js';
import type { Trace } from '../../src/trace/trace.js';

let n = 0;
function trace(src: string, dst: string, protocol = 'TCP'): Trace {
  n++;
  const [sip, sport] = src.split(':');
  const [dip, dport] = dst.split(':');
  return {
    id: `t-${n}`,
    node: 'node-1',
    src: { ip: sip as string, ...(sport ? { port: Number(sport) } : {}) },
    dst: { ip: dip as string, ...(dport ? { port: Number(dport) } : {}) },
    protocol,
    path: 'same-node',
    hops: [
      { node: 'node-1', interface: 'eth0', kind: 'pod', direction: 'egress', t: String(1_700_000_000_000_000_000n + BigInt(n)), delta_ns: 0 },
      { node: 'node-1', interface: 'eth0', kind: 'pod', direction: 'ingress', t: String(1_700_000_000_000_001_000n + BigInt(n)), delta_ns: 1000 },
    ],
    outcome: 'delivered',
    latency_ns: 1000,
    packet: { ip_id: n, length: 60 },
  };
}

describe('FlowTable.forgetAddress', () => {
  it('removes every flow from or to the address, and only those, and says how many', () => {
    const table = new FlowTable();
    table.record(trace('10.244.1.11:40000', '10.244.1.12:80')); // from the pod
    table.record(trace('10.244.1.12:80', '10.244.1.11:40000')); // to the pod
    table.record(trace('10.244.2.20:5000', '10.244.1.11:8080')); // to the pod, another peer
    table.record(trace('10.244.1.11', '10.244.2.20', 'ICMP')); // ICMP from the pod
    table.record(trace('10.244.1.12:80', '10.244.1.13:41000')); // not the pod
    table.record(trace('10.244.1.111:1', '10.244.1.110:2')); // prefix-alike addresses, not the pod
    expect(table.size).toBe(6);

    expect(table.forgetAddress('10.244.1.11')).toBe(4);
    expect(table.size).toBe(2);
    const left = table.list(10).map((f) => f.key);
    expect(left).toEqual(['TCP 10.244.1.111:1 > 10.244.1.110:2', 'TCP 10.244.1.12:80 > 10.244.1.13:41000']);
    expect(table.evicted).toBe(0); // forgetting is not eviction
  });

  it('returns 0 and changes nothing for an address it has no flow of', () => {
    const table = new FlowTable();
    table.record(trace('10.244.1.12:80', '10.244.1.13:41000'));
    expect(table.forgetAddress('10.244.1.11')).toBe(0);
    expect(table.size).toBe(1);
  });

  it('starts a forgotten flow afresh when the address comes back (a new pod reusing the IP)', () => {
    const table = new FlowTable();
    table.record(trace('10.244.1.11:40000', '10.244.1.12:80'));
    table.record(trace('10.244.1.11:40000', '10.244.1.12:80'));
    expect(table.list(1)[0]?.packets).toBe(2);
    table.forgetAddress('10.244.1.11');
    table.record(trace('10.244.1.11:40000', '10.244.1.12:80'));
    expect(table.list(1)[0]?.packets).toBe(1);
  });
});
