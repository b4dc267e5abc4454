import { describe, expect, it } from 'vitest';
import { validateInventory } from '../../src/inventory/inventory.js';
import { inventoryOf, nodeCommands, planLab } from '../../src/lab/lab-plan.js';
import { planServices, servicesRuleset } from '../../src/lab/lab-services.js';

describe('lab services', () => {
  const plan = planLab({ prefix: 'hs', nodes: 2, podsPerNode: 2, services: true });

  it('web on the last node\'s pods and one echo Service per pod, all 80 -> 8080/TCP and 53 -> 5353/UDP', () => {
    expect(plan.services.map((s) => [s.name, s.clusterIP, s.backends.join(',')])).toEqual([
      ['web', '10.96.0.10', '10.244.2.11,10.244.2.12'],
      ['echo-1-1', '10.96.1.11', '10.244.1.11'],
      ['echo-1-2', '10.96.1.12', '10.244.1.12'],
      ['echo-2-1', '10.96.2.11', '10.244.2.11'],
      ['echo-2-2', '10.96.2.12', '10.244.2.12'],
    ]);
    expect(plan.services.every((s) => s.namespace === 'default' && JSON.stringify(s.ports) === JSON.stringify([{ port: 80, targetPort: 8080, protocol: 'TCP' }, { port: 53, targetPort: 5353, protocol: 'UDP' }]))).toBe(true);
  });

  it('without the option: no services, no rules, and node commands as before', () => {
    const plain = planLab({ prefix: 'hs', nodes: 2, podsPerNode: 2 });
    expect(plain.services).toEqual([]);
    expect(inventoryOf(plain)).not.toHaveProperty('services');
    expect(nodeCommands(plain, plain.nodes[0]!)[0]!.lines.some((l) => l.includes('hairpin') || l.includes('10.96.'))).toBe(false);
  });

  it('the inventory lists the services in the DESIGN.md format and validates', () => {
    const inv = validateInventory(JSON.parse(JSON.stringify(inventoryOf(plan))));
    expect(inv.services?.[0]).toEqual({ namespace: 'default', name: 'web', clusterIP: '10.96.0.10', ports: [{ port: 80, targetPort: 8080, protocol: 'TCP' }, { port: 53, targetPort: 5353, protocol: 'UDP' }], backends: ['10.244.2.11', '10.244.2.12'] });
  });

  it('node commands: hairpin on every pod port and a route for the Service CIDR', () => {
    const lines = nodeCommands(plan, plan.nodes[0]!)[0]!.lines;
    expect(lines).toContain('link set veth1p1 type bridge_slave hairpin on');
    expect(lines).toContain('link set veth1p2 type bridge_slave hairpin on');
    expect(lines).toContain('route add 10.96.0.0/16 dev eth0');
  });

  it('the ruleset: DNAT in prerouting and output, a random backend, masquerade for hairpin and node traffic', () => {
    const rs = servicesRuleset(plan.services);
    expect(rs.startsWith('table ip kube-proxy\ndelete table ip kube-proxy\n')).toBe(true);
    expect(rs).toContain('type nat hook prerouting priority dstnat; policy accept;');
    expect(rs).toContain('type nat hook output priority -100; policy accept;');
    expect(rs).toContain('type nat hook postrouting priority srcnat; policy accept;');
    expect(rs).toContain('    ip daddr 10.96.0.10 tcp dport 80 goto service-default-web-tcp-80');
    expect(rs).toContain('    numgen random mod 2 vmap { 0 : goto endpoint-default-web-tcp-80-0, 1 : goto endpoint-default-web-tcp-80-1 }');
    expect(rs).toContain('    goto endpoint-default-echo-2-1-tcp-80-0');
    expect(rs).toContain('    ip saddr != 10.244.0.0/16 jump mark-for-masquerade');
    expect(rs).toContain('    ip saddr 10.244.2.11 jump mark-for-masquerade\n    meta l4proto tcp dnat to 10.244.2.11:8080');
    expect(rs).toContain('    ip daddr 10.96.2.11 udp dport 53 goto service-default-echo-2-1-udp-53');
    expect(rs).toContain('    meta l4proto udp dnat to 10.244.2.11:5353');
    // balanced braces: one table, every chain closed
    expect(rs.split('{').length).toBe(rs.split('}').length);
  });

  it('no pods: no services; a Service without backends gets no rule', () => {
    expect(planServices([{ index: 1, pods: [] }], 'default')).toEqual([]);
    const rs = servicesRuleset([{ namespace: 'x', name: 'y', clusterIP: '10.96.9.9', ports: [{ port: 1, targetPort: 2, protocol: 'UDP' }], backends: [] }]);
    expect(rs).not.toContain('10.96.9.9');
  });
});
