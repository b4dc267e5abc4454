/**
 * @module The simulated cluster as data: namespace names, interfaces and addresses for a prefix, a node count
 * and a pod count. Pure, so the layout is testable without root; lab.ts carries it out.
 */
import type { InventoryData } from '../inventory/inventory.js';
import { LAB_SERVICE_CIDR, planServices, type LabService } from './lab-services.js';

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
   * ClusterIP Services in 10.96.0.0/16 implemented as kube-proxy's nftables mode does, in every node's netns
   * (lab-services.ts). Off by default.
   */
  readonly services?: boolean;
}

export interface LabPod {
  readonly name: string;
  readonly netns: string;
  readonly ip: string;
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
}

export interface LabPlan {
  readonly prefix: string;
  readonly underlayNetns: string;
  readonly underlayCidrLength: number;
  /** One-way delay between nodes in ms; 0: the underlay is the bridge `sw0`, otherwise the delay forwarder. */
  readonly delayMs: number;
  readonly nodes: readonly LabNode[];
  /** The lab's Services (empty without `services`). */
  readonly services: readonly LabService[];
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
  return o;
}

export function planLab(options: LabOptions): LabPlan {
  const o = validateLabOptions(options);
  const nodes: LabNode[] = [];
  for (let i = 1; i <= o.nodes; i++) {
    const netns = `${o.prefix}n${i}`;
    const pods: LabPod[] = [];
    for (let j = 1; j <= o.podsPerNode; j++) {
      pods.push({ name: `pod-${i}-${j}`, netns: `${netns}p${j}`, ip: `10.244.${i}.${10 + j}`, hostVeth: `veth${i}p${j}` });
    }
    nodes.push({
      index: i,
      name: `node-${i}`,
      netns,
      podCIDR: `10.244.${i}.0/24`,
      bridgeIp: `10.244.${i}.1`,
      internalIP: `192.168.254.${i}`,
      switchPort: `n${i}`,
      pods,
    });
  }
  const services = o.services === true ? planServices(nodes, LAB_POD_NAMESPACE) : [];
  return { prefix: o.prefix, underlayNetns: `${o.prefix}u`, underlayCidrLength: 24, delayMs: o.delayMs ?? 0, nodes, services };
}

export function inventoryOf(plan: LabPlan): InventoryData {
  const data: InventoryData = {
    nodes: plan.nodes.map((n) => ({ name: n.name, netns: n.netns, podCIDR: n.podCIDR, internalIP: n.internalIP })),
    pods: plan.nodes.flatMap((n) =>
      n.pods.map((p) => ({ namespace: LAB_POD_NAMESPACE, name: p.name, node: n.name, ip: p.ip, netns: p.netns })),
    ),
  };
  if (plan.services.length === 0) return data;
  return {
    ...data,
    services: plan.services.map((s) => ({
      namespace: s.namespace,
      name: s.name,
      clusterIP: s.clusterIP,
      ports: s.ports.map((p) => ({ port: p.port, targetPort: p.targetPort, protocol: p.protocol })),
      backends: [...s.backends],
    })),
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
  for (const pod of node.pods) {
    nodeLines.push(`link add ${pod.hostVeth} type veth peer name eth0 netns ${pod.netns}`);
    nodeLines.push(`link set ${pod.hostVeth} master cni0 up`);
    // as the CNI bridge plugin's hairpinMode: a pod reaching itself through its Service gets the frame back
    if (plan.services.length > 0) nodeLines.push(`link set ${pod.hostVeth} type bridge_slave hairpin on`);
  }
  for (const other of plan.nodes) {
    if (other !== node) nodeLines.push(`route add ${other.podCIDR} via ${other.internalIP} dev eth0`);
  }
  // node-originated traffic to a Service needs a route before the output hook's DNAT (a real node's default
  // route); it never leaves with this address, the DNAT rewrites it first
  if (plan.services.length > 0) nodeLines.push(`route add ${LAB_SERVICE_CIDR} dev eth0`);
  const podParts = node.pods.map((pod) => ({
    netns: pod.netns,
    lines: ['link set lo up', `addr add ${pod.ip}/24 dev eth0`, 'link set eth0 up', `route add default via ${node.bridgeIp} dev eth0`],
  }));
  return [{ netns: node.netns, lines: nodeLines }, ...podParts];
}
