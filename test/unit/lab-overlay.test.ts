/**
 * `--overlay vxlan`: the lab plan builds flannel's VXLAN backend (flannel.1, VNI 1, UDP 8472, nolearning, MTU 1450,
 * static FDB / neighbour / onlink route per remote node) instead of direct routes; without it nothing changes.
 */
import { describe, expect, it } from 'vitest';
import { overlayFlag } from '../../src/cli/lab-command.js';
import { UsageError } from '../../src/cli/parse-flags.js';
import { FLANNEL_VXLAN, LabOptionError, nodeCommands, overlayCommands, planLab, type LabOverlay } from '../../src/lab/lab-plan.js';

const direct = planLab({ prefix: 'hs', nodes: 3, podsPerNode: 1 });
const vxlan = planLab({ prefix: 'hs', nodes: 3, podsPerNode: 1, overlay: 'vxlan' });
const node = (plan: typeof direct, i: number) => plan.nodes[i]!;

describe('lab plan with --overlay vxlan', () => {
  it('gives every node a VTEP: a distinct unicast, locally administered MAC and 10.244.N.0', () => {
    expect(vxlan.overlay).toBe('vxlan');
    expect(vxlan.nodes.map((n) => n.vtep)).toEqual([
      { mac: '0e:f1:00:00:00:01', ip: '10.244.1.0' },
      { mac: '0e:f1:00:00:00:02', ip: '10.244.2.0' },
      { mac: '0e:f1:00:00:00:03', ip: '10.244.3.0' },
    ]);
    const first = parseInt(vxlan.nodes[0]!.vtep!.mac.slice(0, 2), 16);
    expect(first & 1).toBe(0); // unicast
    expect(first & 2).toBe(2); // locally administered
    expect(planLab({ prefix: 'hs', nodes: 200, podsPerNode: 0, overlay: 'vxlan' }).nodes[199]!.vtep!.mac).toBe('0e:f1:00:00:00:c8');
  });

  it('node 1: flannel.1 as flannel builds it, and for each other node a neighbour, an onlink route and an FDB entry', () => {
    const o = overlayCommands(vxlan, node(vxlan, 0));
    expect(o.ip).toEqual([
      'link add flannel.1 type vxlan id 1 local 192.168.254.1 dev eth0 dstport 8472 nolearning',
      'link set flannel.1 address 0e:f1:00:00:00:01 mtu 1450 up',
      'addr add 10.244.1.0/32 dev flannel.1',
      'neigh add 10.244.2.0 lladdr 0e:f1:00:00:00:02 dev flannel.1 nud permanent',
      'route add 10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink',
      'neigh add 10.244.3.0 lladdr 0e:f1:00:00:00:03 dev flannel.1 nud permanent',
      'route add 10.244.3.0/24 via 10.244.3.0 dev flannel.1 onlink',
    ]);
    expect(o.bridge).toEqual([
      'fdb append 0e:f1:00:00:00:02 dev flannel.1 dst 192.168.254.2 self permanent',
      'fdb append 0e:f1:00:00:00:03 dev flannel.1 dst 192.168.254.3 self permanent',
    ]);
    expect(FLANNEL_VXLAN).toEqual({ device: 'flannel.1', vni: 1, port: 8472, mtu: 1450 });
  });

  it('routes other Pod CIDRs over flannel.1 instead of the uplink, and gives pods MTU 1450', () => {
    const [nodePart, ...pods] = nodeCommands(vxlan, node(vxlan, 1));
    expect(nodePart!.lines.filter((l) => l.startsWith('route add'))).toEqual([
      'route add 10.244.1.0/24 via 10.244.1.0 dev flannel.1 onlink',
      'route add 10.244.3.0/24 via 10.244.3.0 dev flannel.1 onlink',
    ]);
    expect(nodePart!.lines).toContain('link set veth2p1 master cni0 mtu 1450 up');
    expect(nodePart!.lines.filter((l) => l.includes('via 192.168.254.'))).toEqual([]);
    // the neighbour entry exists before the route that needs it
    const lines = nodePart!.lines;
    expect(lines.indexOf('neigh add 10.244.1.0 lladdr 0e:f1:00:00:00:01 dev flannel.1 nud permanent')).toBeLessThan(
      lines.indexOf('route add 10.244.1.0/24 via 10.244.1.0 dev flannel.1 onlink'),
    );
    expect(pods[0]!.lines).toContain('link set eth0 mtu 1450 up');
  });

  it('without --overlay (or with none) the plan and its commands are exactly as before', () => {
    expect(direct.overlay).toBe('none');
    expect(direct.nodes.every((n) => n.vtep === undefined)).toBe(true);
    expect(planLab({ prefix: 'hs', nodes: 3, podsPerNode: 1, overlay: 'none' })).toEqual(direct);
    const [nodePart, pod] = nodeCommands(direct, node(direct, 0));
    expect(nodePart!.lines).toEqual([
      'link set lo up',
      'link add eth0 type veth peer name n1 netns hsu',
      'addr add 192.168.254.1/24 dev eth0',
      'link set eth0 up',
      'link add cni0 type bridge',
      'addr add 10.244.1.1/24 dev cni0',
      'link set cni0 up',
      'link add veth1p1 type veth peer name eth0 netns hsn1p1',
      'link set veth1p1 master cni0 up',
      'route add 10.244.2.0/24 via 192.168.254.2 dev eth0',
      'route add 10.244.3.0/24 via 192.168.254.3 dev eth0',
    ]);
    expect(pod!.lines).toEqual(['link set lo up', 'addr add 10.244.1.11/24 dev eth0', 'link set eth0 up', 'route add default via 10.244.1.1 dev eth0']);
    expect(overlayCommands(direct, node(direct, 0))).toEqual({ ip: [], bridge: [] });
  });

  it('a one-node overlay lab has the device but no remote entries', () => {
    const one = planLab({ prefix: 'hs', nodes: 1, podsPerNode: 0, overlay: 'vxlan' });
    const o = overlayCommands(one, node(one, 0));
    expect(o.ip).toHaveLength(3);
    expect(o.bridge).toEqual([]);
  });

  it('rejects an unknown overlay, naming the flag', () => {
    expect(() => planLab({ prefix: 'hs', nodes: 1, podsPerNode: 0, overlay: 'geneve' as LabOverlay })).toThrow(LabOptionError);
    expect(() => planLab({ prefix: 'hs', nodes: 1, podsPerNode: 0, overlay: 'geneve' as LabOverlay })).toThrow('--overlay "geneve": must be one of none, vxlan');
    expect(overlayFlag(undefined)).toBe('none');
    expect(overlayFlag('vxlan')).toBe('vxlan');
    expect(() => overlayFlag('flannel')).toThrow(UsageError);
    expect(() => overlayFlag('flannel')).toThrow('--overlay "flannel": must be one of none, vxlan');
  });
});
