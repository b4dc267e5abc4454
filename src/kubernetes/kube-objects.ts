/**
 * @module Pods and Nodes as the API serves them (typed from a list, plain JSON from a watch), reduced to what the
 * inventory holds: a pod's IPv4 addresses (Pod.status.podIP / podIPs) and a node's Pod CIDR (Node.spec.podCIDR /
 * podCIDRs) and InternalIP (Node.status.addresses). Never throws on a malformed object: it yields nothing.
 */
import type { InventoryNode } from '../inventory/inventory.js';
import { parseCidr, parseIpv4 } from '../net/ipv4.js';

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
  /** IPv4 addresses the pod holds now (none for a host-network, finished or not yet started pod). */
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
 * The pod's own IPv4 addresses: podIPs, else podIP. A host-network pod's address is the node's (it names no
 * pod); a Succeeded or Failed pod has given its address back (it may already belong to a new pod).
 */
export function podAddresses(pod: PodLike | null | undefined): string[] {
  if (!pod || pod.spec?.hostNetwork === true) return [];
  const phase = pod.status?.phase;
  if (phase === 'Succeeded' || phase === 'Failed') return [];
  const out: string[] = [];
  const add = (ip: unknown) => {
    if (typeof ip === 'string' && parseIpv4(ip) !== undefined && !out.includes(ip)) out.push(ip);
  };
  const list = pod.status?.podIPs;
  if (Array.isArray(list)) for (const entry of list) add(entry?.ip);
  add(pod.status?.podIP);
  return out;
}

/** Every IPv4 address the pod reports, whatever its phase: what it may have had flows with (not host-network). */
export function rawPodAddresses(pod: PodLike | null | undefined): string[] {
  if (!pod || pod.spec?.hostNetwork === true) return [];
  return podAddresses({ ...pod, status: { ...pod.status, phase: 'Running' } });
}

/**
 * The node as the inventory holds it: its first IPv4 Pod CIDR ('' when the CNI allocates addresses without
 * Node.spec.podCIDR, e.g. Calico's own IPAM) and first IPv4 InternalIP ('' when none).
 */
export function inventoryNode(node: NodeLike | null | undefined): InventoryNode | undefined {
  const name = node?.metadata?.name;
  if (typeof name !== 'string' || name === '') return undefined;
  const cidrs: unknown[] = [...(Array.isArray(node?.spec?.podCIDRs) ? node.spec.podCIDRs : []), node?.spec?.podCIDR];
  const podCIDR = cidrs.find((c): c is string => typeof c === 'string' && parseCidr(c) !== undefined) ?? '';
  const addresses = Array.isArray(node?.status?.addresses) ? node.status.addresses : [];
  const internal = addresses.find((a) => a?.type === 'InternalIP' && typeof a.address === 'string' && parseIpv4(a.address) !== undefined);
  return { name, podCIDR, internalIP: internal?.address ?? '' };
}

export function sameNode(a: InventoryNode | undefined, b: InventoryNode | undefined): boolean {
  return a?.name === b?.name && a?.podCIDR === b?.podCIDR && a?.internalIP === b?.internalIP;
}

export function samePod(a: PodRecord | undefined, b: PodRecord | undefined): boolean {
  if (!a || !b) return a === b;
  return a.node === b.node && a.terminating === b.terminating && a.ips.length === b.ips.length && a.ips.every((ip, i) => b.ips[i] === ip);
}
