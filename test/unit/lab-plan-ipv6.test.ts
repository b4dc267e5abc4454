/**
 * `lab up --ipv6` as data (src/lab/lab-plan.ts) and the dual-stack inventory it writes (src/inventory/
 * inventory.ts): IPv6 addresses, routes and sysctls; the default plan unchanged; podCIDRs / internalIPs / ips
 * validated, and looked up by canonical IPv6 text.
 */
import { describe, expect, it } from 'vitest';
import { Inventory, InventoryError, validateInventory } from '../../src/inventory/inventory.js';
import { inventoryOf, nodeCommands, nodeSysctls, planLab } from '../../src/lab/lab-plan.js';

const plan6 = planLab({ prefix: 'hs6', nodes: 2, podsPerNode: 2, ipv6: true });
const plan4 = planLab({ prefix: 'hs6', nodes: 2, podsPerNode: 2 });

describe('planLab with ipv6', () => {
  it('gives every node an IPv6 Pod CIDR, bridge and underlay address, and every pod an IPv6 address', () => {
    expect(plan6.ipv6).toBe(true);
    expect(plan6.nodes.map((n) => [n.podCIDR6, n.bridgeIp6, n.internalIP6])).toEqual([
      ['fd00:10:244:1::/64', 'fd00:10:244:1::1', 'fd00:192:168:254::1'],
      ['fd00:10:244:2::/64', 'fd00:10:244:2::1', 'fd00:192:168:254::2'],
    ]);
    expect(plan6.nodes.flatMap((n) => n.pods.map((p) => [p.ip, p.ip6]))).toEqual([
      ['10.244.1.11', 'fd00:10:244:1::11'],
      ['10.244.1.12', 'fd00:10:244:1::12'],
      ['10.244.2.11', 'fd00:10:244:2::11'],
      ['10.244.2.12', 'fd00:10:244:2::12'],
    ]);
  });

  it('adds nodad addresses, routes to the other nodes\' IPv6 Pod CIDRs and IPv6 forwarding, on top of the IPv4 commands', () => {
    const [node, pod11] = nodeCommands(plan6, plan6.nodes[0]!);
    const [node4, pod11v4] = nodeCommands(plan4, plan4.nodes[0]!);
    expect(node!.lines.slice(0, node4!.lines.length)).toEqual(node4!.lines);
    expect(node!.lines.slice(node4!.lines.length)).toEqual([
      'addr add fd00:192:168:254::1/64 dev eth0 nodad',
      'addr add fd00:10:244:1::1/64 dev cni0 nodad',
      'route add fd00:10:244:2::/64 via fd00:192:168:254::2 dev eth0',
    ]);
    expect(pod11!.lines).toEqual([...pod11v4!.lines, 'addr add fd00:10:244:1::11/64 dev eth0 nodad', 'route add ::/0 via fd00:10:244:1::1 dev eth0']);
    expect(nodeSysctls(plan6)).toEqual([['sysctl', '-qw', 'net.ipv4.ip_forward=1'], ['sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1']]);
  });

  it('without ipv6 the plan, its commands and its inventory are exactly the IPv4 ones', () => {
    expect('ipv6' in plan4).toBe(false);
    expect(plan4.nodes.every((n) => !('podCIDR6' in n) && n.pods.every((p) => !('ip6' in p)))).toBe(true);
    expect(nodeCommands(plan4, plan4.nodes[0]!).flatMap((p) => p.lines).some((l) => l.includes(':'))).toBe(false);
    expect(nodeSysctls(plan4)).toEqual([['sysctl', '-qw', 'net.ipv4.ip_forward=1']]);
    expect(inventoryOf(plan4).nodes[0]).toEqual({ name: 'node-1', netns: 'hs6n1', podCIDR: '10.244.1.0/24', internalIP: '192.168.254.1' });
    expect(inventoryOf(plan4).pods[0]).toEqual({ namespace: 'default', name: 'pod-1-1', node: 'node-1', ip: '10.244.1.11', netns: 'hs6n1p1' });
  });

  it('writes a dual-stack inventory the way Kubernetes lists it: podCIDRs and ips, IPv4 first', () => {
    const inv = inventoryOf(plan6);
    expect(inv.nodes[1]).toEqual({
      name: 'node-2', netns: 'hs6n2', podCIDR: '10.244.2.0/24', internalIP: '192.168.254.2',
      podCIDRs: ['10.244.2.0/24', 'fd00:10:244:2::/64'], internalIPs: ['192.168.254.2', 'fd00:192:168:254::2'],
    });
    expect(inv.pods[0]).toEqual({ namespace: 'default', name: 'pod-1-1', node: 'node-1', ip: '10.244.1.11', netns: 'hs6n1p1', ips: ['10.244.1.11', 'fd00:10:244:1::11'] });
    // the file validates and round-trips
    expect(validateInventory(JSON.parse(JSON.stringify(inv)))).toEqual(inv);
  });
});

describe('dual-stack inventory lookups', () => {
  const inv = new Inventory(inventoryOf(plan6));

  it('finds pods and nodes by IPv6 address in any spelling, and nodes by IPv6 Pod CIDR', () => {
    expect(inv.podByIp('fd00:10:244:2::12')?.name).toBe('pod-2-2');
    expect(inv.podByIp('FD00:10:244:2:0:0:0:12')?.name).toBe('pod-2-2');
    expect(inv.podByIp('10.244.2.12')?.name).toBe('pod-2-2');
    expect(inv.nodeOwningIp('fd00:10:244:2::99')?.name).toBe('node-2');
    expect(inv.nodeOwningIp('fd00:10:244:1:ffff::1')?.name).toBe('node-1');
    expect(inv.nodeOwningIp('fd00:192:168:254::2')?.name).toBe('node-2');
    expect(inv.nodeOwningIp('fd00:10:244:3::1')).toBeUndefined();
    expect(inv.nodeOwningIp('fd00:99::1')).toBeUndefined();
    expect(inv.nodeOwningIp('not-an-address:')).toBeUndefined();
  });

  it('keeps IPv6 entries of a hand-written file in canonical form', () => {
    const data = validateInventory({
      nodes: [{ name: 'a', podCIDR: '10.244.1.0/24', internalIP: '192.168.1.1', podCIDRs: ['10.244.1.0/24', 'FD00:0010:0244:0001::/64'] }],
      pods: [{ namespace: 'default', name: 'p', node: 'a', ip: '10.244.1.5', ips: ['10.244.1.5', 'FD00:10:244:1:0:0:0:5'] }],
    });
    expect(data.nodes[0]!.podCIDRs).toEqual(['10.244.1.0/24', 'fd00:10:244:1::/64']);
    expect(data.pods[0]!.ips).toEqual(['10.244.1.5', 'fd00:10:244:1::5']);
  });

  it.each([
    ['nodes[0].podCIDRs', { podCIDRs: 'fd00::/64' }, 'must be an array'],
    ['nodes[0].podCIDRs[1]', { podCIDRs: ['10.244.1.0/24', 'fd00::/129'] }, 'not an IPv4 or IPv6 CIDR'],
    ['nodes[0].internalIPs[0]', { internalIPs: ['fd00::1::2'] }, 'not an IPv4 or IPv6 address'],
  ])('names the bad field %s', (where, extra, what) => {
    const doc = { nodes: [{ name: 'a', podCIDR: '10.244.1.0/24', internalIP: '192.168.1.1', ...extra }], pods: [] };
    expect(() => validateInventory(doc)).toThrow(InventoryError);
    expect(() => validateInventory(doc)).toThrow(new RegExp(`${where.replace(/[[\].]/g, '\\$&')} .*${what}`));
  });

  it('names a bad pod address in ips', () => {
    const doc = { nodes: [], pods: [{ namespace: 'd', name: 'p', node: 'a', ip: '10.0.0.1', ips: ['10.0.0.1', 7] }] };
    expect(() => validateInventory(doc)).toThrow(/pods\[0\]\.ips\[1\] 7 is not an IPv4 or IPv6 address/);
  });
});
