/**
 * @module The inventory file (DESIGN.md): nodes with their Pod CIDR and pods with their IP, as
 * Node.spec.podCIDR and Pod.status.podIP would give them, and optionally ClusterIP Services with their ports and
 * backends (Service.spec and EndpointSlice addresses). Loading validates every field and names the bad one.
 * Dual-stack (optional, additive): nodes may list `podCIDRs` (like Node.spec.podCIDRs, IPv4 and IPv6) and
 * `internalIPs`, pods `ips` (like Pod.status.podIPs); `podCIDR`, `internalIP` and `ip` stay the IPv4 ones.
 * IPv6 addresses are kept and looked up as canonical text (RFC 5952), the form the decoder produces.
 */
import { readFileSync } from 'node:fs';
import { cidrContains, parseCidr, parseIpv4, type Ipv4Cidr } from '../net/ipv4.js';
import { canonicalIpv6, cidr6ContainsGroups, parseCidr6, parseIpv6, type Ipv6Cidr } from '../net/ipv6.js';

export interface InventoryNode {
  readonly name: string;
  readonly podCIDR: string;
  readonly internalIP: string;
  /** Lab only: the node's root network namespace. Absent: the kernel's root namespace. */
  readonly netns?: string;
  /** Every Pod CIDR of the node, IPv4 and IPv6 (Node.spec.podCIDRs); absent: just `podCIDR`. */
  readonly podCIDRs?: readonly string[];
  /** Every InternalIP of the node, IPv4 and IPv6; absent: just `internalIP`. */
  readonly internalIPs?: readonly string[];
}

export interface InventoryPod {
  readonly namespace: string;
  readonly name: string;
  readonly node: string;
  readonly ip: string;
  readonly netns?: string;
  /** Every address of the pod, IPv4 and IPv6 (Pod.status.podIPs); absent: just `ip`. */
  readonly ips?: readonly string[];
}

/** A pod's addresses: `ip` first, then its other `ips`, each once. */
export function podAddresses(pod: InventoryPod): string[] {
  return [pod.ip, ...(pod.ips ?? []).filter((ip) => ip !== pod.ip)];
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
  private readonly cidrs6: { cidr: Ipv6Cidr; node: InventoryNode }[] = [];
  private readonly servicesByIp = new Map<string, InventoryService>();

  constructor(data: InventoryData) {
    this.data = data;
    for (const node of data.nodes) {
      const cidr = parseCidr(node.podCIDR);
      if (cidr) this.cidrs.push({ cidr, node });
      this.nodesByIp.set(node.internalIP, node);
      for (const text of node.podCIDRs ?? []) {
        const c6 = text.includes(':') ? parseCidr6(text) : undefined;
        if (c6) this.cidrs6.push({ cidr: c6, node });
        else if (text !== node.podCIDR) {
          const c4 = parseCidr(text);
          if (c4) this.cidrs.push({ cidr: c4, node });
        }
      }
      for (const ip of node.internalIPs ?? []) if (!this.nodesByIp.has(keyOf(ip))) this.nodesByIp.set(keyOf(ip), node);
    }
    for (const pod of data.pods) {
      this.podsByIp.set(pod.ip, pod);
      for (const ip of podAddresses(pod).slice(1)) this.podsByIp.set(keyOf(ip), pod);
    }
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
    return this.podsByIp.get(ip) ?? (ip.includes(':') ? this.podsByIp.get(keyOf(ip)) : undefined);
  }

  /** The node whose Pod CIDR holds `ip`, or whose InternalIP it is. */
  nodeOwningIp(ip: string): InventoryNode | undefined {
    const byAddress = this.nodesByIp.get(ip) ?? (ip.includes(':') ? this.nodesByIp.get(keyOf(ip)) : undefined);
    if (byAddress) return byAddress;
    if (ip.includes(':')) {
      const groups = parseIpv6(ip);
      if (groups) for (const { cidr, node } of this.cidrs6) if (cidr6ContainsGroups(cidr, groups)) return node;
      return undefined;
    }
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
    const podCIDRs = optionalList(n, 'podCIDRs', at, fail, (c) => parseCidr(c) !== undefined || parseCidr6(c) !== undefined, 'an IPv4 or IPv6 CIDR such as fd00:10:244:1::/64');
    const internalIPs = optionalList(n, 'internalIPs', at, fail, isAddress, 'an IPv4 or IPv6 address');
    return {
      name,
      podCIDR,
      internalIP,
      ...(netns === undefined ? {} : { netns }),
      ...(podCIDRs === undefined ? {} : { podCIDRs }),
      ...(internalIPs === undefined ? {} : { internalIPs }),
    };
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
    const ips = optionalList(p, 'ips', at, fail, isAddress, 'an IPv4 or IPv6 address');
    return { namespace, name, node, ip, ...(netns === undefined ? {} : { netns }), ...(ips === undefined ? {} : { ips }) };
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

/** Lookup key of an address: IPv6 as canonical text, IPv4 as it is. */
function keyOf(ip: string): string {
  return ip.includes(':') ? (canonicalIpv6(ip) ?? ip) : ip;
}

function isAddress(s: string): boolean {
  return parseIpv4(s) !== undefined || canonicalIpv6(s) !== undefined;
}

/** An optional array of strings each passing `valid`; IPv6 entries come back canonical. */
function optionalList(o: Record<string, unknown>, key: string, at: string, fail: Fail, valid: (s: string) => boolean, what: string): string[] | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) return fail(`${at}.${key}`, 'must be an array of strings when present');
  return v.map((x: unknown, i) => {
    if (typeof x !== 'string' || !valid(x)) return fail(`${at}.${key}[${i}]`, `${JSON.stringify(x)} is not ${what}`);
    return canonicalText(x);
  });
}

/** IPv6 text (address or CIDR) in canonical form; anything else unchanged. */
function canonicalText(s: string): string {
  if (!s.includes(':')) return s;
  const [addr, len] = s.split('/');
  const c = canonicalIpv6(addr ?? '');
  return c === undefined ? s : len === undefined ? c : `${c}/${len}`;
}

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
