/**
 * @module Services and EndpointSlices as the API serves them, reduced to what the inventory holds: a ClusterIP
 * Service's cluster IP and ports (Service.spec.clusterIP, spec.ports) and its backends, the ready IPv4
 * addresses of the EndpointSlices labelled `kubernetes.io/service-name` with its name (discovery.k8s.io/v1). A
 * named targetPort is resolved from the slices' ports, as kube-proxy does. Never throws on a malformed object:
 * it yields nothing.
 */
import type { InventoryService, InventoryServicePort } from '../inventory/inventory.js';
import { parseIpv4 } from '../net/ipv4.js';

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/** The fields of a Service that are read; both V1Service and a watch event's plain object fit. */
export interface ServiceLike {
  readonly metadata?: { readonly name?: string; readonly namespace?: string; readonly resourceVersion?: string } | null;
  readonly spec?: {
    readonly type?: string;
    readonly clusterIP?: string;
    readonly clusterIPs?: readonly string[] | null;
    readonly ports?: readonly ({ readonly name?: string; readonly port?: number; readonly targetPort?: number | string | object; readonly protocol?: string } | null)[] | null;
  } | null;
}

/** The fields of an EndpointSlice that are read. */
export interface EndpointSliceLike {
  readonly metadata?: { readonly name?: string; readonly namespace?: string; readonly labels?: Record<string, string> | null; readonly resourceVersion?: string } | null;
  readonly addressType?: string;
  readonly endpoints?: readonly ({ readonly addresses?: readonly string[] | null; readonly conditions?: { readonly ready?: boolean | null } | null } | null)[] | null;
  readonly ports?: readonly ({ readonly name?: string | null; readonly port?: number | null; readonly protocol?: string | null } | null)[] | null;
}

export interface ServiceRecord {
  readonly namespace: string;
  readonly name: string;
  readonly clusterIP: string;
  readonly ports: readonly { readonly name: string; readonly port: number; readonly targetPort: number | string; readonly protocol: InventoryServicePort['protocol'] }[];
}

export interface SliceRecord {
  readonly namespace: string;
  readonly name: string;
  /** The Service it belongs to (its `kubernetes.io/service-name` label). */
  readonly service: string;
  /** Ready IPv4 endpoint addresses. */
  readonly addresses: readonly string[];
  readonly ports: readonly { readonly name: string; readonly port: number; readonly protocol: string }[];
}

const PROTOCOLS = ['TCP', 'UDP', 'SCTP'] as const;

function namespaceOf(m: { readonly namespace?: string } | null | undefined): string {
  return typeof m?.namespace === 'string' && m.namespace !== '' ? m.namespace : 'default';
}

const isPort = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65535;

/** A Service with an IPv4 cluster IP, or undefined (headless `None`, ExternalName, no name, malformed). */
export function serviceRecord(svc: ServiceLike | null | undefined): ServiceRecord | undefined {
  const name = svc?.metadata?.name;
  if (typeof name !== 'string' || name === '' || svc?.spec?.type === 'ExternalName') return undefined;
  const candidates: unknown[] = [svc?.spec?.clusterIP, ...(Array.isArray(svc?.spec?.clusterIPs) ? svc.spec.clusterIPs : [])];
  const clusterIP = candidates.find((c): c is string => typeof c === 'string' && parseIpv4(c) !== undefined);
  if (clusterIP === undefined) return undefined;
  const ports: ServiceRecord['ports'][number][] = [];
  for (const p of Array.isArray(svc?.spec?.ports) ? svc.spec.ports : []) {
    if (!p || !isPort(p.port)) continue;
    const protocol = (PROTOCOLS as readonly unknown[]).includes(p.protocol ?? 'TCP') ? ((p.protocol ?? 'TCP') as InventoryServicePort['protocol']) : undefined;
    if (!protocol) continue;
    const t = p.targetPort;
    const targetPort = isPort(t) ? t : typeof t === 'string' && t !== '' ? (/^\d+$/.test(t) && isPort(Number(t)) ? Number(t) : t) : p.port;
    ports.push({ name: typeof p.name === 'string' ? p.name : '', port: p.port, targetPort, protocol });
  }
  return { namespace: namespaceOf(svc?.metadata), name, clusterIP, ports };
}

/** An IPv4 EndpointSlice that names its Service, or undefined. Endpoints whose `ready` is false are left out. */
export function sliceRecord(slice: EndpointSliceLike | null | undefined): SliceRecord | undefined {
  const name = slice?.metadata?.name;
  const service = slice?.metadata?.labels?.[SERVICE_NAME_LABEL];
  if (typeof name !== 'string' || name === '' || typeof service !== 'string' || service === '') return undefined;
  if (slice?.addressType !== undefined && slice.addressType !== 'IPv4') return undefined;
  const addresses: string[] = [];
  for (const e of Array.isArray(slice?.endpoints) ? slice.endpoints : []) {
    if (!e || e.conditions?.ready === false) continue;
    for (const a of Array.isArray(e.addresses) ? e.addresses : []) if (typeof a === 'string' && parseIpv4(a) !== undefined && !addresses.includes(a)) addresses.push(a);
  }
  const ports: SliceRecord['ports'][number][] = [];
  for (const p of Array.isArray(slice?.ports) ? slice.ports : []) {
    if (p && isPort(p.port)) ports.push({ name: typeof p.name === 'string' ? p.name : '', port: p.port, protocol: typeof p.protocol === 'string' ? p.protocol : 'TCP' });
  }
  return { namespace: namespaceOf(slice?.metadata), name, service, addresses: addresses.sort(), ports };
}

/**
 * The inventory's services: every Service with a cluster IP, its backends from its slices, each port's targetPort
 * resolved to a number (a named one from the slices' port of the same name; unresolved: the port itself).
 */
export function inventoryServices(services: Iterable<ServiceRecord>, slices: Iterable<SliceRecord>): InventoryService[] {
  const byService = new Map<string, SliceRecord[]>();
  for (const s of slices) {
    const key = `${s.namespace}/${s.service}`;
    const list = byService.get(key);
    if (list) list.push(s);
    else byService.set(key, [s]);
  }
  const out: InventoryService[] = [];
  for (const svc of services) {
    const mine = byService.get(`${svc.namespace}/${svc.name}`) ?? [];
    const backends = [...new Set(mine.flatMap((s) => s.addresses))].sort();
    const ports = svc.ports.map((p): InventoryServicePort => {
      if (typeof p.targetPort === 'number') return { port: p.port, targetPort: p.targetPort, protocol: p.protocol };
      const named = mine.flatMap((s) => s.ports).find((sp) => sp.name === p.name && sp.protocol === p.protocol);
      return { port: p.port, targetPort: named?.port ?? p.port, protocol: p.protocol };
    });
    out.push({ namespace: svc.namespace, name: svc.name, clusterIP: svc.clusterIP, ports, backends });
  }
  return out.sort((a, b) => (a.namespace + '/' + a.name < b.namespace + '/' + b.name ? -1 : 1));
}

export function sameService(a: ServiceRecord | undefined, b: ServiceRecord | undefined): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export function sameSlice(a: SliceRecord | undefined, b: SliceRecord | undefined): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
