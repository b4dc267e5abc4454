/**
 * @module `hopscope lab up|down|status`: the simulated cluster.
 */
import { defaultInventoryPath, labDown, labStatus, labUp } from '../lab/lab.js';
import { LAB_DEFAULTS, LAB_MAX_DELAY_MS, LAB_OVERLAYS, type LabOverlay } from '../lab/lab-plan.js';
import { intFlag, parseFlags, UsageError } from './parse-flags.js';

export const LAB_USAGE = `usage: hopscope lab up|down|status [--prefix P] [--nodes N] [--pods M] [--delay-ms D] [--overlay none|vxlan] [--ipv6] [--services] [--inventory FILE]
  up      build N nodes (default 2) with M pods each (default 2) in network namespaces named P... (default "hs");
          --delay-ms D (0 to ${LAB_MAX_DELAY_MS}, default 0) delays every frame between nodes by D ms one way
          (a lab-only forwarder in the underlay namespace replaces its bridge; it runs until \`lab down\`);
          --overlay vxlan carries pod traffic between nodes in flannel's VXLAN (flannel.1, VNI 1, UDP 8472,
          pod MTU 1450) instead of routing it directly (--overlay none, the default);
          --ipv6 makes it dual-stack: pods also get fd00:10:244:N::(10+j), nodes fd00:192:168:254::N, with routes
          to every node's IPv6 Pod CIDR fd00:10:244:N::/64;
          --services adds ClusterIP Services (10.96.0.0/16, 80 -> 8080/TCP, 53 -> 5353/UDP) as kube-proxy's nftables mode
          does, in every node's namespace: "web" (10.96.0.10, backends: the last node's pods) and "echo-I-J"
          (10.96.I.(10+J), backend: pod-I-J); backends answer once something listens on 8080 in the pod
  down    stop the lab's delay forwarder, remove every namespace of prefix P and its inventory file
  status  list the namespaces of prefix P, the inventory and the delay forwarder`;

export async function labCommand(argv: readonly string[]): Promise<number> {
  const flags = parseFlags(argv, { values: ['prefix', 'nodes', 'pods', 'delay-ms', 'overlay', 'inventory'], booleans: ['ipv6', 'services'] });
  const action = flags.positionals[0];
  const prefix = flags.values['prefix'] ?? LAB_DEFAULTS.prefix;
  const inventory = flags.values['inventory'] ?? defaultInventoryPath(prefix);
  switch (action) {
    case 'up': {
      const nodes = intFlag(flags, 'nodes', LAB_DEFAULTS.nodes);
      const pods = intFlag(flags, 'pods', LAB_DEFAULTS.podsPerNode);
      const delayMs = intFlag(flags, 'delay-ms', 0);
      const overlay = overlayFlag(flags.values['overlay']);
      const started = Date.now();
      const ipv6 = flags.booleans.has('ipv6');
      const services = flags.booleans.has('services');
      const { plan, inventoryPath, forwarderPid } = await labUp({ prefix, nodes, podsPerNode: pods, delayMs, overlay, ...(ipv6 ? { ipv6 } : {}), ...(services ? { services } : {}) }, inventory);
      console.log(`lab "${prefix}" up in ${Date.now() - started} ms: ${plan.nodes.length} nodes x ${pods} pods`);
      if (plan.overlay === 'vxlan') console.log('  overlay vxlan: flannel.1 (VNI 1, UDP 8472, MTU 1450) on every node');
      if (forwarderPid !== undefined) {
        console.log(`  delay ${plan.delayMs} ms one way between nodes: forwarder pid ${forwarderPid} in netns ${plan.underlayNetns}`);
      }
      for (const n of plan.nodes) {
        const v6 = n.podCIDR6 ? `  podCIDR6 ${n.podCIDR6}  uplink6 ${n.internalIP6}` : '';
        console.log(`  ${n.name}  netns ${n.netns}  podCIDR ${n.podCIDR}  uplink ${n.internalIP}${v6}${n.vtep ? `  vtep ${n.vtep.mac}` : ''}`);
        for (const p of n.pods) console.log(`    ${p.name}  netns ${p.netns}  ip ${p.ip}${p.ip6 ? `  ip6 ${p.ip6}` : ''}  veth ${p.hostVeth}`);
      }
      for (const s of plan.services) {
        const ports = s.ports.map((p) => `${p.port}->${p.targetPort}/${p.protocol}`).join(',');
        console.log(`  service ${s.namespace}/${s.name}  ${s.clusterIP}  ${ports}  backends ${s.backends.join(' ')}`);
      }
      console.log(`inventory: ${inventoryPath}`);
      return 0;
    }
    case 'down': {
      const removed = await labDown(prefix, inventory);
      console.log(removed.length ? `lab "${prefix}" down: removed ${removed.length} namespaces` : `lab "${prefix}": nothing to remove`);
      return 0;
    }
    case 'status': {
      const s = await labStatus(prefix, inventory);
      if (s.namespaces.length === 0) {
        console.log(`lab "${prefix}": not up`);
        return 1;
      }
      console.log(`lab "${prefix}": ${s.namespaces.length} namespaces: ${s.namespaces.join(' ')}`);
      console.log(s.inventory ? `inventory: ${s.inventoryPath}` : `inventory: missing (${s.inventoryPath})`);
      const f = s.forwarder;
      if (!f) console.log('delay: none (the underlay is the bridge sw0)');
      else if (f.running) console.log(`delay: ${f.delayMs ?? '?'} ms one way, forwarder running (pid ${f.pid}, log ${f.logPath})`);
      else console.log(`delay: forwarder NOT running (pid ${f.pid} from ${f.pidPath} is gone; see ${f.logPath}): nodes cannot reach each other`);
      return 0;
    }
    default:
      throw new UsageError(action ? `unknown lab action "${action}"\n${LAB_USAGE}` : LAB_USAGE);
  }
}

/** `--overlay`: absent means none; anything else than the known names is a usage error naming the flag. */
export function overlayFlag(value: string | undefined): LabOverlay {
  if (value === undefined) return 'none';
  if ((LAB_OVERLAYS as readonly string[]).includes(value)) return value as LabOverlay;
  throw new UsageError(`--overlay "${value}": must be one of ${LAB_OVERLAYS.join(', ')}`);
}
