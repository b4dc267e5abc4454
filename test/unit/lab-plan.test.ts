import { describe, expect, it } from 'vitest';
import { validateInventory } from '../../src/inventory/inventory.js';
import {
  inventoryOf,
  isLabNamespace,
  LAB_DEFAULTS,
  LabOptionError,
  namespacesOf,
  nodeCommands,
  planLab,
  validateLabOptions,
  type LabNode,
  type LabPlan,
} from '../../src/lab/lab-plan.js';

/** Linux IFNAMSIZ is 16 including the NUL. */
const IFNAMSIZ_CHARS = 15;

function nodeAt(plan: LabPlan, i: number): LabNode {
  const n = plan.nodes[i];
  if (!n) throw new Error(`plan has no node ${i}`);
  return n;
}

function errorOf(fn: () => unknown): LabOptionError {
  try {
    fn();
  } catch (e) {
    if (e instanceof LabOptionError) return e;
    throw e;
  }
  throw new Error('expected a LabOptionError');
}

/** Interface names a node's commands create or configure (`link add X`, `peer name Y`, `dev Z`, `link set W`). */
function interfaceNames(lines: readonly string[]): string[] {
  const names: string[] = [];
  for (const line of lines) {
    for (const m of line.matchAll(/(?:link add|peer name|dev|link set) (\S+)/g)) if (m[1] !== undefined) names.push(m[1]);
  }
  return names;
}

describe('planLab', () => {
  const plan = planLab({ prefix: 'hs', nodes: 2, podsPerNode: 2 });

  it('names the underlay, nodes and pods after the prefix', () => {
    expect(plan.prefix).toBe('hs');
    expect(plan.underlayNetns).toBe('hsu');
    expect(plan.underlayCidrLength).toBe(24);
    expect(plan.nodes.map((n) => [n.index, n.name, n.netns])).toEqual([
      [1, 'node-1', 'hsn1'],
      [2, 'node-2', 'hsn2'],
    ]);
    expect(plan.nodes.map((n) => n.pods.map((p) => [p.name, p.netns, p.hostVeth]))).toEqual([
      [
        ['pod-1-1', 'hsn1p1', 'veth1p1'],
        ['pod-1-2', 'hsn1p2', 'veth1p2'],
      ],
      [
        ['pod-2-1', 'hsn2p1', 'veth2p1'],
        ['pod-2-2', 'hsn2p2', 'veth2p2'],
      ],
    ]);
  });

  it('addresses nodes and pods: 10.244.N.0/24, pods at .10+j, bridge .1, uplink 192.168.254.N', () => {
    expect(plan.nodes.map((n) => ({ podCIDR: n.podCIDR, bridgeIp: n.bridgeIp, internalIP: n.internalIP, switchPort: n.switchPort }))).toEqual([
      { podCIDR: '10.244.1.0/24', bridgeIp: '10.244.1.1', internalIP: '192.168.254.1', switchPort: 'n1' },
      { podCIDR: '10.244.2.0/24', bridgeIp: '10.244.2.1', internalIP: '192.168.254.2', switchPort: 'n2' },
    ]);
    expect(plan.nodes.flatMap((n) => n.pods.map((p) => p.ip))).toEqual(['10.244.1.11', '10.244.1.12', '10.244.2.11', '10.244.2.12']);
  });

  it('uses the defaults 2 nodes x 2 pods under prefix hs', () => {
    expect(LAB_DEFAULTS).toEqual({ prefix: 'hs', nodes: 2, podsPerNode: 2 });
    expect(planLab(LAB_DEFAULTS)).toEqual(plan);
  });

  it('allows nodes without pods', () => {
    const p = planLab({ prefix: 'a', nodes: 3, podsPerNode: 0 });
    expect(p.nodes.map((n) => n.pods.length)).toEqual([0, 0, 0]);
    expect(namespacesOf(p)).toEqual(['au', 'an1', 'an2', 'an3']);
  });

  it('lists every namespace once, underlay first', () => {
    expect(namespacesOf(plan)).toEqual(['hsu', 'hsn1', 'hsn1p1', 'hsn1p2', 'hsn2', 'hsn2p1', 'hsn2p2']);
  });

  describe('at the limits (200 nodes x 200 pods, 6-character prefix)', () => {
    const big = planLab({ prefix: 'abcdef', nodes: 200, podsPerNode: 200 });
    const last = nodeAt(big, 199);

    it('keeps every interface name within 15 characters', () => {
      const names = new Set<string>(['sw0']);
      for (const node of big.nodes) for (const part of nodeCommands(big, node)) for (const n of interfaceNames(part.lines)) names.add(n);
      expect(names.has('veth200p200')).toBe(true);
      expect(names.has('n200')).toBe(true);
      const tooLong = [...names].filter((n) => n.length > IFNAMSIZ_CHARS);
      expect(tooLong).toEqual([]);
    });

    it('keeps namespace names short and unique', () => {
      const all = namespacesOf(big);
      expect(all).toHaveLength(1 + 200 + 200 * 200);
      expect(new Set(all).size).toBe(all.length);
      expect(Math.max(...all.map((n) => n.length))).toBe('abcdefn200p200'.length);
    });

    it('keeps every address a valid unicast address inside its /24', () => {
      expect(last.podCIDR).toBe('10.244.200.0/24');
      expect(last.internalIP).toBe('192.168.254.200');
      expect(last.pods.at(-1)?.ip).toBe('10.244.200.210');
      expect(last.pods.at(-1)?.hostVeth).toBe('veth200p200');
      const ips = big.nodes.flatMap((n) => n.pods.map((p) => p.ip));
      expect(new Set(ips).size).toBe(ips.length);
      expect(ips.every((ip) => Number(ip.split('.')[3]) < 255)).toBe(true);
    });

    it('builds an inventory that validates', () => {
      const inv = validateInventory(inventoryOf(big));
      expect(inv.nodes).toHaveLength(200);
      expect(inv.pods).toHaveLength(40_000);
    });
  });
});

describe('validateLabOptions', () => {
  it.each([
    ['an empty prefix', { prefix: '' }],
    ['a 7-character prefix', { prefix: 'abcdefg' }],
    ['an upper-case prefix', { prefix: 'Hs' }],
    ['a prefix starting with a digit', { prefix: '1hs' }],
    ['a prefix with a dash', { prefix: 'h-s' }],
    ['a prefix with a regex character', { prefix: 'h.' }],
    ['a prefix with a slash', { prefix: 'h/s' }],
  ])('rejects %s, naming --prefix', (_name, o) => {
    expect(errorOf(() => planLab({ ...LAB_DEFAULTS, ...o })).message).toMatch(/^--prefix "/);
  });

  it.each([0, -1, 201, 1.5, Number.NaN])('rejects --nodes %s, naming --nodes', (nodes) => {
    expect(errorOf(() => planLab({ ...LAB_DEFAULTS, nodes })).message).toBe(`--nodes ${nodes}: must be an integer from 1 to 200`);
  });

  it.each([-1, 201, 2.5, Number.POSITIVE_INFINITY])('rejects --pods %s, naming --pods', (podsPerNode) => {
    expect(errorOf(() => planLab({ ...LAB_DEFAULTS, podsPerNode })).message).toBe(`--pods ${podsPerNode}: must be an integer from 0 to 200`);
  });

  it('accepts the bounds', () => {
    expect(validateLabOptions({ prefix: 'a', nodes: 1, podsPerNode: 0 })).toEqual({ prefix: 'a', nodes: 1, podsPerNode: 0 });
    expect(validateLabOptions({ prefix: 'z12345', nodes: 200, podsPerNode: 200 }).prefix).toBe('z12345');
  });

  it('is a LabOptionError', () => {
    const e = errorOf(() => validateLabOptions({ ...LAB_DEFAULTS, nodes: 0 }));
    expect(e.name).toBe('LabOptionError');
    expect(e).toBeInstanceOf(Error);
  });
});

describe('isLabNamespace', () => {
  it('matches every namespace of its own plan, of any size', () => {
    const p = planLab({ prefix: 'hs', nodes: 12, podsPerNode: 11 });
    expect(namespacesOf(p).filter((n) => !isLabNamespace('hs', n))).toEqual([]);
    expect(isLabNamespace('hs', 'hsn150p199')).toBe(true);
  });

  it.each([
    ['hsdemon1', 'another prefix (hsdemo) node'],
    ['hsdemon1p1', 'another prefix (hsdemo) pod'],
    ['hsdemou', 'another prefix (hsdemo) underlay'],
    ['hsnu', 'prefix hsn underlay'],
    ['hsnn1', 'prefix hsn node'],
    ['hsnn1p1', 'prefix hsn pod'],
    ['hsn1u', 'prefix hsn1 underlay'],
    ['hsn1n1', 'prefix hsn1 node'],
    ['hsn1p1n2p3', 'prefix hsn1p1 pod'],
    ['xhsn1', 'a name that contains the prefix later'],
    ['hs', 'the bare prefix'],
    ['hsn', 'no node number'],
    ['hsn1p', 'no pod number'],
    ['hsn1x', 'trailing text'],
    ['hsu1', 'underlay with a suffix'],
    ['cni-1234', 'a CNI namespace'],
  ])('does not match %s (%s)', (name) => {
    expect(isLabNamespace('hs', name)).toBe(false);
  });

  it('does not treat other prefixes as its own and vice versa', () => {
    const hs = namespacesOf(planLab({ prefix: 'hs', nodes: 3, podsPerNode: 3 }));
    for (const other of ['h', 'hsd', 'hsdemo', 'hsn', 'hsn1', 'hsn1p1', 'hsu']) {
      const theirs = namespacesOf(planLab({ prefix: other, nodes: 3, podsPerNode: 3 }));
      expect(theirs.filter((n) => isLabNamespace('hs', n)), `hs vs ${other}`).toEqual([]);
      expect(hs.filter((n) => isLabNamespace(other, n)), `${other} vs hs`).toEqual([]);
    }
  });
});

describe('nodeCommands', () => {
  const plan = planLab({ prefix: 'hs', nodes: 3, podsPerNode: 2 });
  const node1 = nodeAt(plan, 0);

  it('builds the node namespace first, then one part per pod', () => {
    const parts = nodeCommands(plan, node1);
    expect(parts.map((p) => p.netns)).toEqual(['hsn1', 'hsn1p1', 'hsn1p2']);
  });

  it('connects the uplink to the underlay switch and the pods to cni0', () => {
    const [nodePart] = nodeCommands(plan, node1);
    expect(nodePart?.lines).toEqual([
      'link set lo up',
      'link add eth0 type veth peer name n1 netns hsu',
      'addr add 192.168.254.1/24 dev eth0',
      'link set eth0 up',
      'link add cni0 type bridge',
      'addr add 10.244.1.1/24 dev cni0',
      'link set cni0 up',
      'link add veth1p1 type veth peer name eth0 netns hsn1p1',
      'link set veth1p1 master cni0 up',
      'link add veth1p2 type veth peer name eth0 netns hsn1p2',
      'link set veth1p2 master cni0 up',
      'route add 10.244.2.0/24 via 192.168.254.2 dev eth0',
      'route add 10.244.3.0/24 via 192.168.254.3 dev eth0',
    ]);
  });

  it('routes every other node Pod CIDR via its internalIP, and never its own', () => {
    for (const node of plan.nodes) {
      const routes = (nodeCommands(plan, node)[0]?.lines ?? []).filter((l) => l.startsWith('route '));
      const expected = plan.nodes.filter((o) => o !== node).map((o) => `route add ${o.podCIDR} via ${o.internalIP} dev eth0`);
      expect(routes).toEqual(expected);
      expect(routes.some((r) => r.includes(node.podCIDR))).toBe(false);
    }
  });

  it('gives each pod its address and a default route via the bridge', () => {
    const parts = nodeCommands(plan, nodeAt(plan, 2));
    expect(parts[2]).toEqual({
      netns: 'hsn3p2',
      lines: ['link set lo up', 'addr add 10.244.3.12/24 dev eth0', 'link set eth0 up', 'route add default via 10.244.3.1 dev eth0'],
    });
  });

  it('adds no route for a single node, and nothing for pods it has not', () => {
    const solo = planLab({ prefix: 'hs', nodes: 1, podsPerNode: 0 });
    const parts = nodeCommands(solo, nodeAt(solo, 0));
    expect(parts).toHaveLength(1);
    expect(parts[0]?.lines.filter((l) => l.startsWith('route '))).toEqual([]);
    expect(parts[0]?.lines.filter((l) => l.includes('veth'))).toEqual(['link add eth0 type veth peer name n1 netns hsu']);
  });
});

describe('inventoryOf', () => {
  it('gives the DESIGN.md inventory shape for the 2x2 lab', () => {
    const inv = inventoryOf(planLab({ prefix: 'hs', nodes: 2, podsPerNode: 2 }));
    expect(inv).toEqual({
      nodes: [
        { name: 'node-1', netns: 'hsn1', podCIDR: '10.244.1.0/24', internalIP: '192.168.254.1' },
        { name: 'node-2', netns: 'hsn2', podCIDR: '10.244.2.0/24', internalIP: '192.168.254.2' },
      ],
      pods: [
        { namespace: 'default', name: 'pod-1-1', node: 'node-1', ip: '10.244.1.11', netns: 'hsn1p1' },
        { namespace: 'default', name: 'pod-1-2', node: 'node-1', ip: '10.244.1.12', netns: 'hsn1p2' },
        { namespace: 'default', name: 'pod-2-1', node: 'node-2', ip: '10.244.2.11', netns: 'hsn2p1' },
        { namespace: 'default', name: 'pod-2-2', node: 'node-2', ip: '10.244.2.12', netns: 'hsn2p2' },
      ],
    });
  });

  it('survives a JSON round trip through the inventory validator unchanged', () => {
    const inv = inventoryOf(planLab({ prefix: 'lab7', nodes: 3, podsPerNode: 1 }));
    expect(validateInventory(JSON.parse(JSON.stringify(inv)))).toEqual(inv);
  });
});
