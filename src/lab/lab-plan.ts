/**
 * @module The simulated cluster as data: namespace names, interfaces and addresses for a prefix, a node count
 * and a pod count. Pure, so the layout is testable without root; lab.ts carries it out.
 */
import type { InventoryData, InventoryService } from '../inventory/inventory.js';
import { LAB_SERVICE_CIDR, planServices } from './lab-services.js';

export interface LabOptions {
  /** Starts every namespace name: lets several labs (and tests) coexist. */
  readonly prefix: string;
  readonly nodes: number;
  readonly podsPerNode: number;
  /**
   * One-way delay in milliseconds added to every frame between nodes (0, the default: none). This kernel has no
   * netem, so a delay replaces the underlay bridge `sw0` with a lab-only forwarder (delay-forwarder.py).
   */
  readonly delayMs?: number;
  /**
   * How pod traffic crosses between nodes. Absent or `none` (the default): each node routes the other Pod CIDRs
   * straight to the other node's uplink. `vxlan`: flannel's VXLAN backend as on k3s, a `flannel.1` device per node
   * (VNI 1, UDP 8472) with static FDB, neighbour and route entries (see overlayCommands).
   */
  readonly overlay?: LabOverlay;
  /**
   * Dual-stack: every pod and node also gets an IPv6 address (Pod CIDRs fd00:10:244:N::/64, underlay
   * fd00:192:168:254::N/64) and routes to the other nodes' IPv6 Pod CIDRs. Default false: IPv4 only.
   */
  readonly ipv6?: boolean;
  /**
   * ClusterIP Services in 10.96.0.0/16 implemented as kube-proxy's nftables mode does, in every node's netns
   * (lab-services.ts). Off by default.
   */
  readonly services?: boolean;
}

export type LabOverlay = 'none' | 'vxlan';
export const LAB_OVERLAYS: readonly LabOverlay[] = ['none', 'vxlan'];

/** flannel's VXLAN device as flannel creates it (vxlan backend defaults): name, VNI, UDP port, MTU. */
export const FLANNEL_VXLAN = { device: 'flannel.1', vni: 1, port: 8472, mtu: 1450 } as const;

/** IPv6 Pod CIDR, bridge, pod and underlay addresses of the dual-stack lab (`--ipv6`). */
export const LAB_IPV6 = {
  podCidr: (node: number) => `fd00:10:244:${node}::/64`,
  bridge: (node: number) => `fd00:10:244:${node}::1`,
  /** Pod j of node i: ::(10+j) written in decimal digits, so fd00:10:244:1::11 reads like 10.244.1.11. */
  pod: (node: number, pod: number) => `fd00:10:244:${node}::${10 + pod}`,
  underlay: (node: number) => `fd00:192:168:254::${node}`,
  prefixLength: 64,
} as const;

export interface LabPod {
  readonly name: string;
  readonly netns: string;
  readonly ip: string;
  /** The pod's IPv6 address (`--ipv6` only). */
  readonly ip6?: string;
  /** Host side of the pod's veth, a port of the node's cni0; the pod side is `eth0`. */
  readonly hostVeth: string;
}

export interface LabNode {
  readonly index: number;
  readonly name: string;
  readonly netns: string;
  readonly podCIDR: string;
  readonly bridgeIp: string;
  /** The node's uplink `eth0` address on the underlay. */
  readonly internalIP: string;
  /** The underlay switch's port facing this node. */
  readonly switchPort: string;
  readonly pods: readonly LabPod[];
  /**
   * With the vxlan overlay: the MAC address of this node's `flannel.1` (its VTEP; fixed so every other node can
   * be given it, as flannel publishes it in a node annotation) and the device's address, `10.244.N.0`.
   */
  readonly vtep?: { readonly mac: string; readonly ip: string };
  /** `--ipv6` only: the IPv6 Pod CIDR, cni0's IPv6 address and the uplink's IPv6 address. */
  readonly podCIDR6?: string;
  readonly bridgeIp6?: string;
  readonly internalIP6?: string;
}

export interface LabPlan {
  readonly prefix: string;
  readonly underlayNetns: string;
  readonly underlayCidrLength: number;
  /** One-way delay between nodes in ms; 0: the underlay is the bridge `sw0`, otherwise the delay forwarder. */
  readonly delayMs: number;
  readonly nodes: readonly LabNode[];
  /** `none`: direct routes between nodes; `vxlan`: the flannel.1 overlay. */
  readonly overlay: LabOverlay;
  /** Dual-stack (`--ipv6`); absent: IPv4 only. */
  readonly ipv6?: true;
  /** The lab's Services (empty without `services`). */
  /** The lab's Services as the inventory lists them (backends in the order the DNAT rules number them). */
  readonly services: readonly InventoryService[];
}

export const LAB_DEFAULTS: LabOptions = { prefix: 'hs', nodes: 2, podsPerNode: 2 };
export const LAB_POD_NAMESPACE = 'default';
/** Where lab inventories and the delay forwarder's pid and log files live. */
export const LAB_STATE_DIR = '/run/hopscope';
/** Upper bound of --delay-ms: more is no longer a network, and the forwarder would hold too much. */
export const LAB_MAX_DELAY_MS = 1000;

export class LabOptionError extends Error {
  override readonly name = 'LabOptionError';
}

export function validateLabOptions(o: LabOptions): LabOptions {
  if (!/^[a-z][a-z0-9]{0,5}$/.test(o.prefix)) {
    throw new LabOptionError(`--prefix "${o.prefix}": use 1 to 6 lowercase letters or digits, starting with a letter`);
  }
  if (!Number.isInteger(o.nodes) || o.nodes < 1 || o.nodes > 200) {
    throw new LabOptionError(`--nodes ${o.nodes}: must be an integer from 1 to 200`);
  }
  if (!Number.isInteger(o.podsPerNode) || o.podsPerNode < 0 || o.podsPerNode > 200) {
    throw new LabOptionError(`--pods ${o.podsPerNode}: must be an integer from 0 to 200`);
  }
  if (o.delayMs !== undefined && (!Number.isInteger(o.delayMs) || o.delayMs < 0 || o.delayMs > LAB_MAX_DELAY_MS)) {
    throw new LabOptionError(`--delay-ms ${o.delayMs}: must be an integer from 0 to ${LAB_MAX_DELAY_MS} (milliseconds, one way)`);
  }
  if (o.overlay !== undefined && !LAB_OVERLAYS.includes(o.overlay)) {
    throw new LabOptionError(`--overlay ${JSON.stringify(o.overlay)}: must be one of ${LAB_OVERLAYS.join(', ')}`);
  }
  return o;
}

export function planLab(options: LabOptions): LabPlan {
  const o = validateLabOptions(options);
  const overlay = o.overlay ?? 'none';
  const nodes: LabNode[] = [];
  for (let i = 1; i <= o.nodes; i++) {
    const netns = `${o.prefix}n${i}`;
    const pods: LabPod[] = [];
    for (let j = 1; j <= o.podsPerNode; j++) {
      const pod: LabPod = { name: `pod-${i}-${j}`, netns: `${netns}p${j}`, ip: `10.244.${i}.${10 + j}`, hostVeth: `veth${i}p${j}` };
      pods.push(o.ipv6 ? { ...pod, ip6: LAB_IPV6.pod(i, j) } : pod);
    }
    const v6 = o.ipv6 ? { podCIDR6: LAB_IPV6.podCidr(i), bridgeIp6: LAB_IPV6.bridge(i), internalIP6: LAB_IPV6.underlay(i) } : {};
    nodes.push({
      index: i,
      name: `node-${i}`,
      netns,
      podCIDR: `10.244.${i}.0/24`,
      bridgeIp: `10.244.${i}.1`,
      internalIP: `192.168.254.${i}`,
      switchPort: `n${i}`,
      pods,
      ...v6,
      ...(overlay === 'vxlan' ? { vtep: { mac: vtepMac(i), ip: `10.244.${i}.0` } } : {}),
    });
  }
  const services = o.services === true ? planServices(nodes, LAB_POD_NAMESPACE) : [];
  const plan: LabPlan = { prefix: o.prefix, underlayNetns: `${o.prefix}u`, underlayCidrLength: 24, delayMs: o.delayMs ?? 0, nodes, overlay, services };
  return o.ipv6 ? { ...plan, ipv6: true } : plan;
}

/** A locally administered unicast MAC per node index (flannel's are random; fixed here so the plan stays pure). */
function vtepMac(index: number): string {
  const hex = (n: number) => n.toString(16).padStart(2, '0');
  return `0e:f1:00:00:${hex(index >> 8)}:${hex(index & 0xff)}`;
}

export function inventoryOf(plan: LabPlan): InventoryData {
  const data: InventoryData = {
    nodes: plan.nodes.map((n) => ({
      name: n.name,
      netns: n.netns,
      podCIDR: n.podCIDR,
      internalIP: n.internalIP,
      // dual-stack: every CIDR and address, IPv4 first, as Node.spec.podCIDRs lists them
      ...(n.podCIDR6 ? { podCIDRs: [n.podCIDR, n.podCIDR6] } : {}),
      ...(n.internalIP6 ? { internalIPs: [n.internalIP, n.internalIP6] } : {}),
    })),
    pods: plan.nodes.flatMap((n) =>
      n.pods.map((p) => ({
        namespace: LAB_POD_NAMESPACE,
        name: p.name,
        node: n.name,
        ip: p.ip,
        netns: p.netns,
        ...(p.ip6 ? { ips: [p.ip, p.ip6] } : {}),
      })),
    ),
  };
  if (plan.services.length === 0) return data;
  return {
    ...data,
    services: plan.services,
  };
}

/** Every namespace the plan creates, underlay first. */
export function namespacesOf(plan: LabPlan): string[] {
  return [plan.underlayNetns, ...plan.nodes.flatMap((n) => [n.netns, ...n.pods.map((p) => p.netns)])];
}

/** Whether a namespace name belongs to a lab with this prefix (so `lab down` removes leftovers of any size). */
export function isLabNamespace(prefix: string, name: string): boolean {
  return name === `${prefix}u` || new RegExp(`^${prefix}n\\d+(p\\d+)?$`).test(name);
}

/**
 * Commands (for `ip -n UNDERLAY -batch -`) that prepare the underlay before any node exists: the switch is the
 * bridge `sw0`; with a delay there is no bridge, the delay forwarder is the switch.
 */
export function underlayCommands(plan: LabPlan): string[] {
  return plan.delayMs > 0 ? ['link set lo up'] : ['link set lo up', 'link add sw0 type bridge', 'link set sw0 up'];
}

/**
 * Commands (for `ip -n UNDERLAY -batch -`) that connect a node's switch port once its veth exists: a port of
 * `sw0`, or (with a delay) a lone interface, up, that only the forwarder's packet socket reads and writes.
 */
export function switchPortCommands(plan: LabPlan, node: LabNode): string[] {
  return plan.delayMs > 0 ? [`link set ${node.switchPort} up`] : [`link set ${node.switchPort} master sw0 up`];
}

/**
 * The forwarder's command line (`ip netns exec UNDERLAY python3 SCRIPT --delay-ms D PORT...`), or undefined
 * when the lab has no delay.
 */
export function forwarderCommand(plan: LabPlan, script: string): { file: string; args: string[] } | undefined {
  if (plan.delayMs <= 0) return undefined;
  const ports = plan.nodes.map((n) => n.switchPort);
  return { file: 'ip', args: ['netns', 'exec', plan.underlayNetns, 'python3', script, '--delay-ms', String(plan.delayMs), ...ports] };
}

/** Commands (for `ip -n NETNS -batch -`) that build one node's part, after all namespaces exist. */
export function nodeCommands(plan: LabPlan, node: LabNode): { netns: string; lines: string[] }[] {
  const nodeLines = [
    'link set lo up',
    `link add eth0 type veth peer name ${node.switchPort} netns ${plan.underlayNetns}`,
    `addr add ${node.internalIP}/${plan.underlayCidrLength} dev eth0`,
    'link set eth0 up',
    'link add cni0 type bridge',
    `addr add ${node.bridgeIp}/24 dev cni0`,
    'link set cni0 up',
  ];
  // with the overlay, pods get flannel's MTU (the VXLAN header takes 50 bytes of the underlay's 1500)
  const podMtu = plan.overlay === 'vxlan' ? ` mtu ${FLANNEL_VXLAN.mtu}` : '';
  for (const pod of node.pods) {
    nodeLines.push(`link add ${pod.hostVeth} type veth peer name eth0 netns ${pod.netns}`);
    nodeLines.push(`link set ${pod.hostVeth} master cni0${podMtu} up`);
    // as the CNI bridge plugin's hairpinMode: a pod reaching itself through its Service gets the frame back
    if (plan.services.length > 0) nodeLines.push(`link set ${pod.hostVeth} type bridge_slave hairpin on`);
  }
  if (plan.overlay === 'vxlan') nodeLines.push(...overlayCommands(plan, node).ip);
  else {
    for (const other of plan.nodes) {
      if (other !== node) nodeLines.push(`route add ${other.podCIDR} via ${other.internalIP} dev eth0`);
    }
  }
  // node-originated traffic to a Service needs a route before the output hook's DNAT (a real node's default
  // route); it never leaves with this address, the DNAT rewrites it first
  if (plan.services.length > 0) nodeLines.push(`route add ${LAB_SERVICE_CIDR} dev eth0`);
  const v6 = LAB_IPV6.prefixLength;
  if (plan.ipv6 && node.internalIP6 && node.bridgeIp6) {
    // nodad: usable at once (no duplicate address detection delay); routes via the other node's underlay address
    nodeLines.push(`addr add ${node.internalIP6}/${v6} dev eth0 nodad`, `addr add ${node.bridgeIp6}/${v6} dev cni0 nodad`);
    for (const other of plan.nodes) {
      if (other !== node && other.podCIDR6 && other.internalIP6) nodeLines.push(`route add ${other.podCIDR6} via ${other.internalIP6} dev eth0`);
    }
  }
  const podParts = node.pods.map((pod) => {
    const lines = ['link set lo up', `addr add ${pod.ip}/24 dev eth0`, `link set eth0${podMtu} up`, `route add default via ${node.bridgeIp} dev eth0`];
    if (plan.ipv6 && pod.ip6 && node.bridgeIp6) lines.push(`addr add ${pod.ip6}/${v6} dev eth0 nodad`, `route add ::/0 via ${node.bridgeIp6} dev eth0`);
    return { netns: pod.netns, lines };
  });
  return [{ netns: node.netns, lines: nodeLines }, ...podParts];
}

/**
 * The vxlan overlay of one node, as flannel's vxlan backend programs it: `ip` lines (the `flannel.1` device with
 * local = the node's uplink address and no learning, its /32 address 10.244.N.0, and for every other node a
 * permanent neighbour entry 10.244.M.0 -> that node's VTEP MAC and the route 10.244.M.0/24 via 10.244.M.0 onlink)
 * and `bridge` lines (for `bridge -batch`: the FDB entry VTEP MAC -> dst that node's uplink address). Empty
 * without the overlay.
 */
export function overlayCommands(plan: LabPlan, node: LabNode): { ip: string[]; bridge: string[] } {
  if (plan.overlay !== 'vxlan' || !node.vtep) return { ip: [], bridge: [] };
  const dev = FLANNEL_VXLAN.device;
  const ip = [
    `link add ${dev} type vxlan id ${FLANNEL_VXLAN.vni} local ${node.internalIP} dev eth0 dstport ${FLANNEL_VXLAN.port} nolearning`,
    `link set ${dev} address ${node.vtep.mac} mtu ${FLANNEL_VXLAN.mtu} up`,
    `addr add ${node.vtep.ip}/32 dev ${dev}`,
  ];
  const bridge: string[] = [];
  for (const other of plan.nodes) {
    if (other === node || !other.vtep) continue;
    ip.push(`neigh add ${other.vtep.ip} lladdr ${other.vtep.mac} dev ${dev} nud permanent`);
    ip.push(`route add ${other.podCIDR} via ${other.vtep.ip} dev ${dev} onlink`);
    bridge.push(`fdb append ${other.vtep.mac} dev ${dev} dst ${other.internalIP} self permanent`);
  }
  return { ip, bridge };
}

/**
 * Commands run inside a node's namespace (`ip netns exec NODE ...`) after its links exist: forwarding on, for
 * that namespace only (the root namespace's sysctls are never touched).
 */
export function nodeSysctls(plan: LabPlan): string[][] {
  const v4 = [['sysctl', '-qw', 'net.ipv4.ip_forward=1']];
  return plan.ipv6 ? [...v4, ['sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1']] : v4;
}
