/**
 * @module Pods and Nodes as the API serves them (typed from a list, plain JSON from a watch), reduced to what the
 * inventory holds: a pod's addresses (Pod.status.podIP / podIPs, IPv4 and IPv6) and a node's Pod CIDRs
 * (Node.spec.podCIDR / podCIDRs) and InternalIPs (Node.status.addresses). IPv6 is kept as canonical text
 * (RFC 5952), the form the decoder produces. Never throws on a malformed object: it yields nothing.
 */
import type { InventoryNode } from '../inventory/inventory.js';
import { parseCidr, parseIpv4 } from '../net/ipv4.js';
import { canonicalIpv6, parseCidr6 } from '../net/ipv6.js';

/** The fields of a Pod that are read; both V1Pod and a watch event's plain object fit. */
export interface PodLike {
  readonly metadata?: { readonly name?: string; readonly namespace?: string; readonly resourceVersion?: string; readonly deletionTimestamp?: unknown } | null;
  readonly spec?: { readonly nodeName?: string; readonly hostNetwork?: boolean } | null;
  readonly status?: { readonly phase?: string; readonly podIP?: string; readonly podIPs?: readonly ({ readonly ip?: string } | null)[] | null } | null;
}

/** The fields of a Node that are read. */
export interface NodeLike {
  readonly metadata?: { readonly name?: string; readonly resourceVersion?: string } | null;
  readonly spec?: { readonly podCIDR?: string; readonly podCIDRs?: readonly string[] | null } | null;
  readonly status?: { readonly addresses?: readonly ({ readonly type?: string; readonly address?: string } | null)[] | null } | null;
}

/** One pod on this node as the inventory keeps it. */
export interface PodRecord {
  readonly namespace: string;
  readonly name: string;
  readonly node: string;
  /** Addresses the pod holds now, IPv4 and IPv6 (none for a host-network, finished or not yet started pod). */
  readonly ips: readonly string[];
  /** Being deleted (metadata.deletionTimestamp set): loses to a live pod claiming the same address. */
  readonly terminating: boolean;
}

export function podKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/** The pod's identity, or undefined for an object without a name. */
export function podRecord(pod: PodLike | null | undefined, fallbackNode: string): PodRecord | undefined {
  const name = pod?.metadata?.name;
  if (typeof name !== 'string' || name === '') return undefined;
  const namespace = typeof pod?.metadata?.namespace === 'string' && pod.metadata.namespace !== '' ? pod.metadata.namespace : 'default';
  const node = typeof pod?.spec?.nodeName === 'string' && pod.spec.nodeName !== '' ? pod.spec.nodeName : fallbackNode;
  const terminating = pod?.metadata?.deletionTimestamp !== undefined && pod?.metadata?.deletionTimestamp !== null;
  return { namespace, name, node, ips: podAddresses(pod), terminating };
}

/**
 * The pod's own addresses (IPv4 as given, IPv6 canonical): podIPs, else podIP. A host-network pod's address is the node's (it names no
 * pod); a Succeeded or Failed pod has given its address back (it may already belong to a new pod).
 */
export function podAddresses(pod: PodLike | null | undefined): string[] {
  if (!pod || pod.spec?.hostNetwork === true) return [];
  const phase = pod.status?.phase;
  if (phase === 'Succeeded' || phase === 'Failed') return [];
  const out: string[] = [];
  const add = (ip: unknown) => {
    if (typeof ip !== 'string') return;
    const text = parseIpv4(ip) !== undefined ? ip : canonicalIpv6(ip);
    if (text !== undefined && !out.includes(text)) out.push(text);
  };
  const list = pod.status?.podIPs;
  if (Array.isArray(list)) for (const entry of list) add(entry?.ip);
  add(pod.status?.podIP);
  return out;
}

/** Every address the pod reports, whatever its phase: what it may have had flows with (not host-network). */
export function rawPodAddresses(pod: PodLike | null | undefined): string[] {
  if (!pod || pod.spec?.hostNetwork === true) return [];
  return podAddresses({ ...pod, status: { ...pod.status, phase: 'Running' } });
}

/**
 * The node as the inventory holds it: its first IPv4 Pod CIDR ('' when the CNI allocates addresses without
 * Node.spec.podCIDR, e.g. Calico's own IPAM) and first IPv4 InternalIP ('' when none); on a dual-stack node
 * (an IPv6 Pod CIDR or InternalIP) also every Pod CIDR (`podCIDRs`) and InternalIP (`internalIPs`).
 */
export function inventoryNode(node: NodeLike | null | undefined): InventoryNode | undefined {
  const name = node?.metadata?.name;
  if (typeof name !== 'string' || name === '') return undefined;
  const cidrs: unknown[] = [...(Array.isArray(node?.spec?.podCIDRs) ? node.spec.podCIDRs : []), node?.spec?.podCIDR];
  const podCIDR = cidrs.find((c): c is string => typeof c === 'string' && parseCidr(c) !== undefined) ?? '';
  const addresses = Array.isArray(node?.status?.addresses) ? node.status.addresses : [];
  const internal = addresses.find((a) => a?.type === 'InternalIP' && typeof a.address === 'string' && parseIpv4(a.address) !== undefined);
  const base: InventoryNode = { name, podCIDR, internalIP: internal?.address ?? '' };
  const podCIDRs = unique(cidrs.map(cidrText));
  const internalIPs = unique(addresses.map((a) => (a?.type === 'InternalIP' ? addressText(a.address) : undefined)));
  const dual = [...podCIDRs, ...internalIPs].some((x) => x.includes(':'));
  return dual ? { ...base, podCIDRs, internalIPs } : base;
}

/** A CIDR as the inventory keeps it (IPv6 canonical), or undefined when it is none. */
function cidrText(c: unknown): string | undefined {
  if (typeof c !== 'string') return undefined;
  if (parseCidr(c) !== undefined) return c;
  if (parseCidr6(c) === undefined) return undefined;
  const [addr, len] = c.split('/');
  return `${canonicalIpv6(addr ?? '')}/${len}`;
}

function addressText(a: unknown): string | undefined {
  if (typeof a !== 'string') return undefined;
  return parseIpv4(a) !== undefined ? a : canonicalIpv6(a);
}

function unique(list: readonly (string | undefined)[]): string[] {
  const out: string[] = [];
  for (const x of list) if (x !== undefined && !out.includes(x)) out.push(x);
  return out;
}

export function sameNode(a: InventoryNode | undefined, b: InventoryNode | undefined): boolean {
  return (
    a?.name === b?.name && a?.podCIDR === b?.podCIDR && a?.internalIP === b?.internalIP &&
    String(a?.podCIDRs ?? '') === String(b?.podCIDRs ?? '') && String(a?.internalIPs ?? '') === String(b?.internalIPs ?? '')
  );
}

export function samePod(a: PodRecord | undefined, b: PodRecord | undefined): boolean {
  if (!a || !b) return a === b;
  return a.node === b.node && a.terminating === b.terminating && a.ips.length === b.ips.length && a.ips.every((ip, i) => b.ips[i] === ip);
}
