/**
 * @module The inventory file (DESIGN.md): nodes with their Pod CIDR and pods with their IP, as
 * Node.spec.podCIDR and Pod.status.podIP would give them, and optionally ClusterIP Services with their ports and
 * backends (Service.spec and EndpointSlice addresses). Loading validates every field and names the bad one.
 */
import { readFileSync } from 'node:fs';
import { cidrContains, parseCidr, parseIpv4, type Ipv4Cidr } from '../net/ipv4.js';

export interface InventoryNode {
  readonly name: string;
  readonly podCIDR: string;
  readonly internalIP: string;
  /** Lab only: the node's root network namespace. Absent: the kernel's root namespace. */
  readonly netns?: string;
}

export interface InventoryPod {
  readonly namespace: string;
  readonly name: string;
  readonly node: string;
  readonly ip: string;
  readonly netns?: string;
}

export interface InventoryServicePort {
  readonly port: number;
  readonly targetPort: number;
  readonly protocol: 'TCP' | 'UDP' | 'SCTP';
}

/** A ClusterIP Service (Service.spec.clusterIP and ports) with its backends' pod IPs (EndpointSlice addresses). */
export interface InventoryService {
  readonly namespace: string;
  readonly name: string;
  readonly clusterIP: string;
  readonly ports: readonly InventoryServicePort[];
  readonly backends: readonly string[];
}

export interface InventoryData {
  readonly nodes: readonly InventoryNode[];
  readonly pods: readonly InventoryPod[];
  /** ClusterIP Services, when known (absent: none). */
  readonly services?: readonly InventoryService[];
}

export class InventoryError extends Error {
  override readonly name = 'InventoryError';
}

/** Lookups the trace stages need: which pod owns an IP, which node's Pod CIDR or address holds it. */
export class Inventory {
  readonly data: InventoryData;
  private readonly podsByIp = new Map<string, InventoryPod>();
  private readonly nodesByIp = new Map<string, InventoryNode>();
  private readonly cidrs: { cidr: Ipv4Cidr; node: InventoryNode }[] = [];
  private readonly servicesByIp = new Map<string, InventoryService>();

  constructor(data: InventoryData) {
    this.data = data;
    for (const node of data.nodes) {
      const cidr = parseCidr(node.podCIDR);
      if (cidr) this.cidrs.push({ cidr, node });
      this.nodesByIp.set(node.internalIP, node);
    }
    for (const pod of data.pods) this.podsByIp.set(pod.ip, pod);
    for (const service of data.services ?? []) this.servicesByIp.set(service.clusterIP, service);
  }

  /** The Service whose cluster IP this is. */
  serviceByIp(ip: string): InventoryService | undefined {
    return this.servicesByIp.size === 0 ? undefined : this.servicesByIp.get(ip);
  }

  get hasServices(): boolean {
    return this.servicesByIp.size > 0;
  }

  static empty(): Inventory {
    return new Inventory({ nodes: [], pods: [] });
  }

  podByIp(ip: string): InventoryPod | undefined {
    return this.podsByIp.get(ip);
  }

  /** The node whose Pod CIDR holds `ip`, or whose InternalIP it is. */
  nodeOwningIp(ip: string): InventoryNode | undefined {
    const byAddress = this.nodesByIp.get(ip);
    if (byAddress) return byAddress;
    for (const { cidr, node } of this.cidrs) if (cidrContains(cidr, ip)) return node;
    return undefined;
  }

  node(name: string): InventoryNode | undefined {
    return this.data.nodes.find((n) => n.name === name);
  }
}

export function loadInventoryFile(path: string): Inventory {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new InventoryError(`--inventory ${path}: cannot read the file (${(cause as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new InventoryError(`--inventory ${path}: not valid JSON (${(cause as Error).message})`);
  }
  return new Inventory(validateInventory(json, path));
}

export function validateInventory(json: unknown, source = 'inventory'): InventoryData {
  const fail = (where: string, what: string): never => {
    throw new InventoryError(`${source}: ${where} ${what}`);
  };
  if (!isRecord(json)) return fail('the document', 'must be an object with "nodes" and "pods"');
  const nodesIn = json['nodes'];
  const podsIn = json['pods'] ?? [];
  if (!Array.isArray(nodesIn)) return fail('"nodes"', 'must be an array');
  if (!Array.isArray(podsIn)) return fail('"pods"', 'must be an array');
  const nodes = nodesIn.map((n: unknown, i): InventoryNode => {
    const at = `nodes[${i}]`;
    if (!isRecord(n)) return fail(at, 'must be an object');
    const name = requireString(n, 'name', at, fail);
    const podCIDR = requireString(n, 'podCIDR', at, fail);
    if (!parseCidr(podCIDR)) fail(`${at}.podCIDR`, `"${podCIDR}" is not an IPv4 CIDR such as 10.244.1.0/24`);
    const internalIP = requireString(n, 'internalIP', at, fail);
    if (parseIpv4(internalIP) === undefined) fail(`${at}.internalIP`, `"${internalIP}" is not an IPv4 address`);
    const netns = optionalString(n, 'netns', at, fail);
    return netns === undefined ? { name, podCIDR, internalIP } : { name, podCIDR, internalIP, netns };
  });
  const pods = podsIn.map((p: unknown, i): InventoryPod => {
    const at = `pods[${i}]`;
    if (!isRecord(p)) return fail(at, 'must be an object');
    const namespace = requireString(p, 'namespace', at, fail);
    const name = requireString(p, 'name', at, fail);
    const node = requireString(p, 'node', at, fail);
    const ip = requireString(p, 'ip', at, fail);
    if (parseIpv4(ip) === undefined) fail(`${at}.ip`, `"${ip}" is not an IPv4 address`);
    const netns = optionalString(p, 'netns', at, fail);
    return netns === undefined ? { namespace, name, node, ip } : { namespace, name, node, ip, netns };
  });
  const servicesIn = json['services'];
  if (servicesIn === undefined) return { nodes, pods };
  if (!Array.isArray(servicesIn)) return fail('"services"', 'must be an array');
  const services = servicesIn.map((v: unknown, i): InventoryService => validateService(v, `services[${i}]`, fail));
  return { nodes, pods, services };
}

const SERVICE_PROTOCOLS = ['TCP', 'UDP', 'SCTP'] as const;

function validateService(v: unknown, at: string, fail: Fail): InventoryService {
  if (!isRecord(v)) return fail(at, 'must be an object');
  const namespace = requireString(v, 'namespace', at, fail);
  const name = requireString(v, 'name', at, fail);
  const clusterIP = requireString(v, 'clusterIP', at, fail);
  if (parseIpv4(clusterIP) === undefined) fail(`${at}.clusterIP`, `"${clusterIP}" is not an IPv4 address`);
  const portsIn = v['ports'] ?? [];
  if (!Array.isArray(portsIn)) return fail(`${at}.ports`, 'must be an array');
  const ports = portsIn.map((p: unknown, j): InventoryServicePort => {
    const pat = `${at}.ports[${j}]`;
    if (!isRecord(p)) return fail(pat, 'must be an object');
    const port = requirePort(p, 'port', pat, fail);
    const targetPort = p['targetPort'] === undefined ? port : requirePort(p, 'targetPort', pat, fail);
    const protocol = p['protocol'] ?? 'TCP';
    if (!(SERVICE_PROTOCOLS as readonly unknown[]).includes(protocol)) fail(`${pat}.protocol`, `must be one of ${SERVICE_PROTOCOLS.join(', ')}`);
    return { port, targetPort, protocol: protocol as InventoryServicePort['protocol'] };
  });
  const backendsIn = v['backends'] ?? [];
  if (!Array.isArray(backendsIn)) return fail(`${at}.backends`, 'must be an array of IPv4 addresses');
  const backends = backendsIn.map((b: unknown, j): string => {
    if (typeof b !== 'string' || parseIpv4(b) === undefined) return fail(`${at}.backends[${j}]`, `${JSON.stringify(b)} is not an IPv4 address`);
    return b;
  });
  return { namespace, name, clusterIP, ports, backends };
}

function requirePort(o: Record<string, unknown>, key: string, at: string, fail: Fail): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 65535) return fail(`${at}.${key}`, 'must be an integer from 1 to 65535');
  return v;
}

type Fail = (where: string, what: string) => never;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function requireString(o: Record<string, unknown>, key: string, at: string, fail: Fail): string {
  const v = o[key];
  if (typeof v !== 'string' || v === '') return fail(`${at}.${key}`, 'must be a non-empty string');
  return v;
}

function optionalString(o: Record<string, unknown>, key: string, at: string, fail: Fail): string | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v === '') return fail(`${at}.${key}`, 'must be a non-empty string when present');
  return v;
}
