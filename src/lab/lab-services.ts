/**
 * @module The lab's ClusterIP Services as data, and the nftables ruleset that implements them in each node's
 * network namespace the way kube-proxy's nftables mode does: a `services` chain matched in the nat prerouting
 * hook (pod traffic) and the nat output hook (node-originated traffic) jumps to a per-Service chain that picks
 * one backend with `numgen random mod N` and DNATs to it; the masquerade mark is set for traffic from outside
 * the cluster CIDR (node-originated) and for hairpin traffic (a backend reaching its own Service), and the nat
 * postrouting hook masquerades marked packets. Pure, so the ruleset is testable without root; lab.ts loads it
 * with `ip netns exec NODE nft -f -` (never in the root namespace).
 */
import type { InventoryService, InventoryServicePort } from '../inventory/inventory.js';

/** The Service CIDR (kube-apiserver --service-cluster-ip-range). */
export const LAB_SERVICE_CIDR = '10.96.0.0/16';
/** Every node's Pod CIDR lies in it (kube-proxy --cluster-cidr). */
export const LAB_CLUSTER_CIDR = '10.244.0.0/16';
/** kube-proxy's masquerade mark bit. */
export const MASQ_MARK = 0x4000;
/** The port every lab Service exposes and the port its backends listen on (the lab's tcp-echo server). */
export const LAB_SERVICE_PORT = 80;
export const LAB_TARGET_PORT = 8080;
/** And a UDP port, as kube-dns has one (53/UDP): the lab's udp-echo server answers on the target port. */
export const LAB_UDP_SERVICE_PORT = 53;
export const LAB_UDP_TARGET_PORT = 5353;


interface NodePods {
  readonly index: number;
  readonly pods: readonly { readonly name: string; readonly ip: string }[];
}

/**
 * The lab's Services: `web` (10.96.0.10) with every pod of the last node as a backend, and one `echo-I-J` per pod
 * (10.96.I.(10+J), mirroring the pod's address) with that pod as its only backend. All: port 80 -> 8080/TCP and
 * 53 -> 5353/UDP.
 */
export function planServices(nodes: readonly NodePods[], namespace: string): InventoryService[] {
  const ports: InventoryServicePort[] = [
    { port: LAB_SERVICE_PORT, targetPort: LAB_TARGET_PORT, protocol: 'TCP' },
    { port: LAB_UDP_SERVICE_PORT, targetPort: LAB_UDP_TARGET_PORT, protocol: 'UDP' },
  ];
  const last = nodes[nodes.length - 1];
  const services: InventoryService[] = [];
  if (last && last.pods.length > 0) services.push({ namespace, name: 'web', clusterIP: '10.96.0.10', ports, backends: last.pods.map((p) => p.ip) });
  for (const n of nodes) {
    n.pods.forEach((p, j) => {
      services.push({ namespace, name: `echo-${n.index}-${j + 1}`, clusterIP: `10.96.${n.index}.${10 + j + 1}`, ports, backends: [p.ip] });
    });
  }
  return services;
}

/** One Service port's chains, named like kube-proxy's (`service-...`, `endpoint-...`) but short. */
function chainBase(s: InventoryService, p: InventoryServicePort): string {
  return `${s.namespace}-${s.name}-${p.protocol.toLowerCase()}-${p.port}`;
}

/**
 * The ruleset (for `nft -f -`) of one node: the same on every node, as kube-proxy programs every Service on every
 * node. Replaces an earlier `ip kube-proxy` table, so loading it twice is harmless.
 */
export function servicesRuleset(services: readonly InventoryService[]): string {
  const mark = `0x${MASQ_MARK.toString(16)}`;
  const lines: string[] = [
    'table ip kube-proxy',
    'delete table ip kube-proxy',
    'table ip kube-proxy {',
    '  chain mark-for-masquerade {',
    `    meta mark set meta mark or ${mark}`,
    '  }',
    '  chain masquerading {',
    '    type nat hook postrouting priority srcnat; policy accept;',
    `    meta mark & ${mark} == 0 return`,
    `    meta mark set meta mark xor ${mark}`,
    '    masquerade',
    '  }',
    '  chain nat-prerouting {',
    '    type nat hook prerouting priority dstnat; policy accept;',
    '    jump services',
    '  }',
    '  chain nat-output {',
    '    type nat hook output priority -100; policy accept;',
    '    jump services',
    '  }',
    '  chain services {',
  ];
  for (const s of services) {
    for (const p of s.ports) {
      if (s.backends.length === 0) continue;
      lines.push(`    ip daddr ${s.clusterIP} ${p.protocol.toLowerCase()} dport ${p.port} goto service-${chainBase(s, p)}`);
    }
  }
  lines.push('  }');
  for (const s of services) {
    for (const p of s.ports) {
      if (s.backends.length === 0) continue;
      const base = chainBase(s, p);
      lines.push(`  chain service-${base} {`);
      // from outside the cluster CIDR (the node itself): masquerade, so the reply comes back through this node
      lines.push(`    ip saddr != ${LAB_CLUSTER_CIDR} jump mark-for-masquerade`);
      if (s.backends.length === 1) {
        lines.push(`    goto endpoint-${base}-0`);
      } else {
        const map = s.backends.map((_, i) => `${i} : goto endpoint-${base}-${i}`).join(', ');
        lines.push(`    numgen random mod ${s.backends.length} vmap { ${map} }`);
      }
      lines.push('  }');
      s.backends.forEach((ip, i) => {
        lines.push(`  chain endpoint-${base}-${i} {`);
        // hairpin: a backend reaching its own Service must see the reply come back through the node
        lines.push(`    ip saddr ${ip} jump mark-for-masquerade`);
        lines.push(`    meta l4proto ${p.protocol.toLowerCase()} dnat to ${ip}:${p.targetPort}`);
        lines.push('  }');
      });
    }
  }
  lines.push('}');
  return lines.join('\n') + '\n';
}
